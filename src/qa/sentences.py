"""Sentences with exact offsets: ``split_sentences(text, start=0, end=None) -> list[Sentence]``.

Every offset is a character offset into ``text``, half-open ``[start, end)``, and
``text[s.start:s.end] == s.text``. Sentence ends are the full- and half-width
terminators (``。！？；!?;``) with the closing quotes and brackets after them; a
decimal point, an abbreviation or a URL does not end a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.documents import SPACE


@dataclass(frozen=True)
class Sentence:
    """A sentence: ``doc.text[start:end] == text`` (characters, half-open)."""

    start: int
    end: int
    text: str


#: Full-width and half-width sentence ends (:mod:`qa.chunking` reads headings by them too).
#: ``；``/``;`` end a sentence: in Chinese reports they separate complete clauses
#: (``增长10.1%;地方财政…``).
TERMINATORS = "。！？；!?;"
#: Terminators after which a closing quote ends the sentence (not ``；``).
_STRONG = "。！？!?．."
#: Closing quotes and brackets kept with the sentence they follow.
CLOSERS = "”’」』）)】》〉"
_QUOTES = {"“": "”", "「": "」", "『": "』"}
_ABBREVIATIONS = frozenset("mr mrs ms dr prof no vs etc e.g i.e co ltd inc st fig".split())
_URLISH = re.compile(r"[A-Za-z0-9/=&%#_~+\-]")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """Sentences of ``text[start:end]`` with offsets into ``text`` (characters, half-open).

    A sentence ends after ``。！？；`` or half-width ``!?;``, together with any
    closing quotes/brackets and further terminators right after it
    (``。”``, ``！）``, ``？！``); after ``.``/``．`` only when it is not part of a
    number (``60.3``), a list marker (``1.``), an abbreviation (``Mr.``, ``U.S.``)
    or a URL. A newline always ends a sentence. Nothing inside a balanced
    ``“…”``/``「…」``/``『…』`` (or straight ``"…"``) on the same line is split;
    a quote closing right after ``。！？`` ends the sentence. Percentages and
    dates (``2024-03-21``) contain no terminator and are never cut. Whitespace
    around sentences is not part of them; blank sentences are dropped.

    Raises:
        ValueError: ``start``/``end`` outside ``0 <= start <= end <= len(text)``.
    """
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"need 0 <= start <= end <= len(text)={len(text)}, got {start}, {end}")
    out: list[Sentence] = []
    seg = start
    i = start
    expect: list[str] = []  # closing quotes awaited, innermost last
    while i < end:
        c = text[i]
        if c == "\n":
            _emit(text, seg, i, out)
            seg, i, expect = i + 1, i + 1, []
            continue
        if expect and c == expect[-1]:
            expect.pop()
            if not expect and i > start and text[i - 1] in _STRONG:
                j = _absorb(text, i + 1, end)
                _emit(text, seg, j, out)
                seg = i = j
                continue
        elif c in _QUOTES and _QUOTES[c] not in expect and _closes(text, i, end, _QUOTES[c]):
            expect.append(_QUOTES[c])
        elif c == '"' and _closes(text, i, end, '"'):
            expect.append('"')
        elif not expect and _is_terminator(text, i, start, end):
            j = _absorb(text, i + 1, end)
            _emit(text, seg, j, out)
            seg = i = j
            continue
        i += 1
    _emit(text, seg, end, out)
    return out


def _closes(text: str, i: int, end: int, closer: str) -> bool:
    """Does ``closer`` occur after ``i`` on the same line, before ``end``?"""
    nl = text.find("\n", i + 1, end)
    return text.find(closer, i + 1, end if nl < 0 else nl) >= 0


def _absorb(text: str, j: int, end: int) -> int:
    """Skip closing quotes/brackets and repeated terminators after a sentence end."""
    while j < end and (text[j] in CLOSERS or text[j] in TERMINATORS or text[j] == "…"):
        j += 1
    return j


def _is_terminator(text: str, i: int, start: int, end: int) -> bool:
    c = text[i]
    if c in "。！？；":
        return True
    prev = text[i - 1] if i > start else ""
    nxt = text[i + 1] if i + 1 < end else ""
    if (
        c in "!?;"
        and prev
        and nxt
        and _URLISH.match(prev)
        and _URLISH.match(nxt)
        and prev.isascii()
    ):
        return False  # inside a URL or code: ``?infoid=5665``
    if c in "!?;":
        return True
    if c not in ".．":
        return False
    if nxt in ".．" or (prev.isdigit() and nxt and nxt not in SPACE):
        return False  # ellipsis, decimal ``60.3``, list marker ``2.提升``
    if nxt and not (nxt in SPACE or nxt in CLOSERS or _is_cjk(nxt)):
        return False  # ``e.g.x``, ``file.txt``
    m = re.search(r"([A-Za-z][A-Za-z.]*)$", text[max(start, i - 8) : i])
    word = m.group(1) if m else ""
    if word and (len(word) == 1 or "." in word or word.lower() in _ABBREVIATIONS):
        return False  # ``U.S.``, ``Mr.``
    return True


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _emit(text: str, s: int, e: int, out: list[Sentence]) -> None:
    while s < e and text[s] in SPACE + "\n":
        s += 1
    while e > s and text[e - 1] in SPACE + "\n":
        e -= 1
    if s < e:
        out.append(Sentence(s, e, text[s:e]))


