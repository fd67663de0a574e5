"""The app's event handlers, bound to one assistant, and the chat records they keep.

Every answer comes from ``Assistant.ask``; the handlers only format results through
:mod:`qa.render` (which escapes all text) and keep each conversation in the browser
through :mod:`qa.chat_store`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gradio as gr

from qa import chat_store, render
from qa.app.uploads import MAX_UPLOAD_BYTES, UploadError, upload_status, validate_upload
from qa.config import Settings

log = logging.getLogger("qa.app")

#: Earlier questions of the conversation passed to ``Assistant.ask`` (the latest).
MAX_HISTORY = 20
ALL_PERIODS = "全部"
ERROR_MESSAGE = "抱歉，处理时出错了，请稍后再试。"


class Handlers:
    """The event handlers of the app, bound to one assistant.

    Per-session data lives in a ``gr.State`` holding a list of turns, each
    ``{"question": str, "notice": str, "answer": Answer.to_dict(),
    "reply": str (HTML)}``, and the id of the conversation; every conversation is
    also kept in the browser (a ``gr.BrowserState`` holding a :mod:`qa.chat_store`
    value), so it survives a page refresh and can be reopened later. Nothing
    per-session is kept here.
    """

    def __init__(self, assistant: Any, export_dir: Path, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.assistant = assistant
        self.export_dir = export_dir
        self.max_upload_bytes = max_upload_bytes
        settings = getattr(assistant, "settings", None) or Settings()
        self.max_question_chars = settings.max_question_chars

    # --- chat -------------------------------------------------------------

    def ask(self, message: str, turns: list[dict], conversation: str = "", store: Any = None):
        """Answer ``message`` in the context of the session's earlier questions.

        Returns: (cleared input, chat messages, turns, source panel HTML, Markdown
        transcript, conversation id, browser store, past-conversations picker update).
        """
        turns = list(turns or [])
        question, notice = render.cut_question(message or "", self.max_question_chars)
        if not question:
            gr.Warning("请输入问题。")
            return ("", chat_messages(turns), turns, gr.skip(), render.export_markdown(turns),
                    gr.skip(), gr.skip(), gr.skip())
        history = tuple(t["question"] for t in turns[-MAX_HISTORY:])
        try:
            answer = self.assistant.ask(question, history=history)
            reply = render.answer_html(answer, notice)
            source = gr.skip() if render.is_empty_question(answer) else self._source(answer)
            record = answer.to_dict()
        except Exception:
            log.exception("ask failed for question %r (history %r)", question, history)
            reply = f'<div class="qa-reply"><b>{render.escape(ERROR_MESSAGE)}</b></div>'
            source, record = "", _error_record(question)
        turns.append({"question": question, "notice": notice, "answer": record, "reply": reply})
        conversation = conversation or chat_store.new_conversation_id()
        store = chat_store.save_conversation(store, conversation, turns, _now())
        return ("", chat_messages(turns), turns, source, render.export_markdown(turns),
                conversation, store, _picker(store, conversation))

    def _source(self, answer: Any) -> str:
        """The source panel for ``answer`` (whole cited chunk with the span marked)."""
        if answer.abstained or answer.citation is None:
            return render.source_html(answer, None)
        chunk = self.assistant.chunk(answer.citation.chunk_id)
        return render.source_html(answer, chunk.text, chunk.start)

    def restore(self, store: Any, conversation: str | None = None):
        """Show a conversation kept in the browser: the current one on page load,
        or ``conversation`` when the user picks it from the list.

        Returns: (chat messages, turns, source panel HTML, Markdown transcript,
        export file, conversation id, browser store, picker update).
        """
        conversation, restored = chat_store.restore_turns(store, conversation)
        turns = [
            {"question": t["question"], "notice": t["notice"], "answer": t["parsed"].to_dict(),
             "reply": render.answer_html(t["parsed"], t["notice"])}
            for t in restored
        ]
        source = _stored_source(restored[-1]["parsed"]) if restored else ""
        saved = gr.skip()
        if conversation and isinstance(store, dict) and store.get("current") != conversation:
            store = saved = {**store, "current": conversation}
        return (chat_messages(turns), turns, source, render.export_markdown(turns), None,
                conversation, saved, _picker(store, conversation))

    def open_conversation(self, conversation: str | None, store: Any):
        """The past conversation picked in the list (see :meth:`restore`)."""
        if not conversation:
            return tuple(gr.skip() for _ in range(8))
        return self.restore(store, conversation)

    def new_conversation(self, store: Any = None):
        """Start an empty conversation; the current one stays in the list.

        Returns: (chat, turns, source, transcript, export file, conversation id,
        browser store, picker update).
        """
        store = {**(store if isinstance(store, dict) else chat_store.new_store()), "current": ""}
        return [], [], "", "", None, "", store, _picker(store, None)

    def delete_conversation(self, conversation: str = "", store: Any = None):
        """Remove the current conversation from the browser and start an empty one."""
        if conversation:
            store = chat_store.save_conversation(store, conversation, [], _now())
        return self.new_conversation(store)

    def export(self, turns: list[dict], fmt: str) -> str | None:
        """Write the conversation as ``md`` or ``json`` and return the file path."""
        if not turns:
            gr.Warning("还没有可导出的对话。")
            return None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        records = [{k: t[k] for k in ("question", "notice", "answer")} for t in turns]
        text = (
            render.export_json(records, stamp)
            if fmt == "json"
            else render.export_markdown(records, stamp)
        )
        return str(self._write(f"qa-conversation-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}", text))

    def export_markdown(self, turns: list[dict]) -> str | None:
        """The conversation as a Markdown file."""
        return self.export(turns, "md")

    def export_json(self, turns: list[dict]) -> str | None:
        """The conversation as a JSON file."""
        return self.export(turns, "json")

    def _write(self, name: str, text: str) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.export_dir))  # one folder per file: no clashes
        path = folder / name
        path.write_text(text, encoding="utf-8-sig" if name.endswith(".csv") else "utf-8")
        return path

    # --- figures ----------------------------------------------------------

    def period_choices(self) -> list[str]:
        """``全部`` and every period found in the figures, oldest first."""
        return [ALL_PERIODS, *sorted({f.period for f in self.assistant.figures() if f.period})]

    def figure_periods(self) -> Any:
        """Dropdown update listing every period (refreshed on load: uploads add periods)."""
        return gr.update(choices=self.period_choices())

    def figures(self, query: str, period: str) -> list[list[Any]]:
        """Rows of the figures table matching ``query`` and ``period``."""
        found = self.assistant.figures(
            query=(query or "").strip() or None,
            period=None if period in (None, "", ALL_PERIODS) else period,
        )
        documents = {d.id: d for d in self.assistant.documents()}
        return render.figure_rows(found, documents)

    def figures_csv(self, query: str, period: str) -> str:
        """The current figures selection as a CSV file (UTF-8 with BOM, for Excel)."""
        rows = self.figures(query, period)
        return str(self._write("figures.csv", render.figures_csv(rows)))

    # --- documents --------------------------------------------------------

    def documents(self) -> list[list[Any]]:
        """Rows of the documents table with chunk counts."""
        chunks = getattr(getattr(self.assistant, "index", None), "chunks", ()) or ()
        counts = Counter(c.doc_id for c in chunks)
        return render.document_rows(self.assistant.documents(), counts)

    def add_documents(self, files: list[str] | None, progress=gr.Progress()):  # noqa: B008
        """Check and index uploaded files one by one; return (status Markdown, documents table).

        A file that cannot be added (type, size, unreadable, no text) is reported
        with its reason and skipped; the others are still indexed.
        """
        paths = [getattr(f, "name", f) for f in files or []]
        if not paths:
            return "请先选择要上传的文件。", self.documents()
        results: list[tuple[str, str, str]] = []  # (file name, outcome, reason)
        for number, path in enumerate(paths):
            name = Path(path).name
            progress(number / len(paths), desc=f"索引 {name}（{number + 1}/{len(paths)}）")
            results.append((name, *self._add_one(path)))
        return upload_status(results), self.documents()

    def _add_one(self, path: str) -> tuple[str, str]:
        """Add one uploaded file: ``("added" | "known" | "failed", reason)``."""
        from qa.documents import DocumentError

        try:
            checked = validate_upload(path, self.max_upload_bytes)
            added = list(self.assistant.add_files([str(checked)]))
        except (UploadError, DocumentError, OSError, ValueError) as exc:
            # the message may name the upload's temporary path: keep only the reason
            reason = " ".join(str(exc).replace(str(Path(path).parent) + os.sep, "").split())
            return "failed", reason.removeprefix(f"{Path(path).name}: ")
        except Exception as exc:
            log.exception("add_files failed for %s", path)
            return "failed", f"添加失败：{type(exc).__name__}（详情见服务器日志）"
        return ("added", "") if added else ("known", "")


def _now() -> str:
    """Local time as ``YYYY-MM-DD HH:MM`` (when a conversation was last updated)."""
    return time.strftime("%Y-%m-%d %H:%M")


def _picker(store: Any, conversation: str | None) -> dict:
    """Update of the past-conversations dropdown: the stored ones, the current selected."""
    options = chat_store.choices(store)
    return gr.update(choices=options,
                     value=conversation if any(v == conversation for _, v in options) else None)


def _stored_source(answer: Any) -> str:
    """The source panel of a restored answer, from the passages stored with it
    ('' when the cited passage was not kept, or nothing was asked)."""
    if render.is_empty_question(answer):
        return ""
    if answer.abstained or answer.citation is None:
        return render.source_html(answer, None)
    for passage in answer.passages:
        if passage.chunk.id == answer.citation.chunk_id:
            return render.source_html(answer, passage.chunk.text, passage.chunk.start)
    return ""


def _error_record(question: str) -> dict:
    """The exported record of a question that failed."""
    return {
        "question": question,
        "standalone_question": question,
        "text": "",
        "sentence": "",
        "citation": None,
        "confidence": 0.0,
        "abstained": True,
        "notice": ERROR_MESSAGE,
        "alternatives": [],
        "passages": [],
    }


def chat_messages(turns: list[dict]) -> list[dict]:
    """Chatbot messages (role/content dicts) rebuilt from the session's turns."""
    messages = []
    for t in turns:
        messages.append({"role": "user", "content": render.question_html(t["question"])})
        messages.append({"role": "assistant", "content": t["reply"]})
    return messages

