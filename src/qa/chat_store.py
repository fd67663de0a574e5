"""Conversations kept in the browser (the app's ``gr.BrowserState``): serialise and restore.

Pure functions over plain JSON; nothing here imports Gradio or touches the model.

The stored value (``store``) is::

    {"version": 1,
     "current": "<conversation id>",
     "conversations": [                      # newest first, at most MAX_CONVERSATIONS
        {"id": str, "title": str, "updated": "YYYY-MM-DD HH:MM",
         "turns": [{"question": str, "notice": str, "answer": Answer.to_dict()}, ...]}]}

A value read back from the browser is untrusted: :func:`restore_turns` rebuilds every
answer through :func:`answer_from_dict` (the app renders replies again from it, so no
stored HTML is ever shown) and drops what does not parse. The whole value is bounded:
at most :data:`MAX_CONVERSATIONS` conversations of :data:`MAX_TURNS` turns, each answer
keeping only the passages the app shows, and at most :data:`MAX_STORE_CHARS` characters
of JSON (older conversations are dropped first).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from qa.chunking import Chunk
from qa.reader import Answer, Citation
from qa.retrieval import Passage

VERSION = 1
#: Past conversations kept (newest first).
MAX_CONVERSATIONS = 20
#: Turns kept per conversation (the latest).
MAX_TURNS = 100
#: Largest stored value, in characters of JSON (browsers allow about 5 M per site).
MAX_STORE_CHARS = 1_500_000
#: Passages kept per answer besides the cited one (the related passages of an abstention).
KEEP_PASSAGES = 3
#: Characters of the first question used as a conversation's title.
TITLE_CHARS = 30


def new_store() -> dict:
    """An empty store (no conversations)."""
    return {"version": VERSION, "current": "", "conversations": []}


def new_conversation_id() -> str:
    """A fresh random conversation id (32 hex digits)."""
    return uuid.uuid4().hex


def answer_from_dict(data: Mapping[str, Any]) -> Answer:
    """The :class:`Answer` that ``Answer.to_dict()`` wrote as ``data``.

    Passages come back with their chunk text and offsets but no sentence list.

    Raises:
        KeyError, TypeError, ValueError: ``data`` is not such a dict.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"an answer must be a dict, got {type(data).__name__}")
    cit = data["citation"]
    citation = None
    if cit is not None:
        citation = Citation(
            _str(cit["doc_id"]), _str(cit["title"]), _strs(cit["section_path"]), _str(cit["chunk_id"]),
            int(cit["paragraph"]), int(cit["start"]), int(cit["end"]),
            int(cit["sentence_start"]), int(cit["sentence_end"]),
            page=int(cit["page"]) if cit.get("page") else None,
        )
    passages = tuple(
        Passage(
            Chunk(_str(p["chunk_id"]), _str(p["doc_id"]), int(p["start"]), int(p["end"]),
                  _str(p["text"]), _strs(p["section_path"]), int(p["paragraph"]), ()),
            float(p.get("score", 0.0)),
        )
        for p in data.get("passages", ())
    )
    return Answer(
        _str(data["question"]),
        _str(data["standalone_question"]),
        _str(data["text"]),
        _str(data["sentence"]),
        citation,
        float(data["confidence"]),
        bool(data["abstained"]),
        tuple(answer_from_dict(a) for a in data.get("alternatives", ())),
        passages,
        _str(data.get("notice", "")),
    )


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strs(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list | tuple):
        raise TypeError(f"expected a list of strings, got {type(values).__name__}")
    return tuple(_str(v) for v in values)


def compact_turn(turn: Mapping[str, Any]) -> dict:
    """``{"question", "notice", "answer"}`` of a session turn, the answer keeping only
    the passages the app shows (the first :data:`KEEP_PASSAGES` and the cited one)."""
    answer = dict(turn["answer"])
    cited = (answer.get("citation") or {}).get("chunk_id")
    answer["passages"] = [
        p for i, p in enumerate(answer.get("passages", ()))
        if i < KEEP_PASSAGES or p.get("chunk_id") == cited
    ]
    return {"question": turn["question"], "notice": turn.get("notice", ""), "answer": answer}


def _conversations(store: Any) -> list[dict]:
    """The well-formed conversation records of an untrusted ``store`` (others dropped)."""
    if not isinstance(store, Mapping) or store.get("version") != VERSION:
        return []
    found = store.get("conversations")
    return [
        c for c in (found if isinstance(found, list) else [])
        if isinstance(c, Mapping) and isinstance(c.get("id"), str) and c["id"]
        and isinstance(c.get("turns"), list) and isinstance(c.get("title", ""), str)
        and isinstance(c.get("updated", ""), str)
    ]


def save_conversation(store: Any, conversation_id: str, turns: Sequence[Mapping[str, Any]],
                      updated: str) -> dict:
    """A new store with conversation ``conversation_id`` set to ``turns`` (session turns
    ``{"question", "notice", "answer", ...}``), made current and moved to the front.

    An empty ``turns`` removes the conversation. The result is bounded (see module doc);
    ``store`` itself is not changed and may be anything (it came from the browser).
    """
    others = [c for c in _conversations(store) if c["id"] != conversation_id]
    conversations = others
    if turns:
        kept = [compact_turn(t) for t in turns[-MAX_TURNS:]]
        title = " ".join(str(turns[0]["question"]).split())[:TITLE_CHARS]
        conversations = [{"id": conversation_id, "title": title, "updated": updated, "turns": kept},
                         *others]
    conversations = conversations[:MAX_CONVERSATIONS]
    out = {"version": VERSION, "current": conversation_id, "conversations": conversations}
    while len(out["conversations"]) > 1 and _chars(out) > MAX_STORE_CHARS:
        out["conversations"].pop()  # the oldest
    if _chars(out) > MAX_STORE_CHARS:  # one conversation alone too large: drop its oldest turns
        only = out["conversations"][0]
        while len(only["turns"]) > 1 and _chars(out) > MAX_STORE_CHARS:
            only["turns"] = only["turns"][len(only["turns"]) // 2:]
    return out


def _chars(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def restore_turns(store: Any, conversation_id: str | None = None) -> tuple[str, list[dict]]:
    """The conversation ``conversation_id`` (default: the store's current one) as
    ``(id, [{"question", "notice", "answer": dict, "parsed": Answer}, ...])``.

    Turns whose answer does not parse are dropped; an unknown id (or an empty or
    foreign store) gives ``("", [])``.
    """
    wanted = conversation_id if conversation_id is not None else (
        store.get("current", "") if isinstance(store, Mapping) else "")
    for conv in _conversations(store):
        if conv["id"] != wanted:
            continue
        turns = []
        for t in conv["turns"]:
            try:
                parsed = answer_from_dict(t["answer"])
                question, notice = _str(t["question"]), _str(t.get("notice", ""))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            turns.append({"question": question, "notice": notice, "answer": t["answer"],
                          "parsed": parsed})
        return conv["id"], turns
    return "", []


def choices(store: Any) -> list[tuple[str, str]]:
    """``(label, id)`` of the stored conversations, newest first, for a picker:
    label ``"MM-DD HH:MM · title（n 问）"``."""
    return [
        (f"{c.get('updated', '')[5:]} · {c.get('title', '')}（{len(c['turns'])} 问）", c["id"])
        for c in _conversations(store)
    ]
