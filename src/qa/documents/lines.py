"""Lines of a text and visible characters (pure functions shared by the readers)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Characters treated as spaces around and between Chinese text (ASCII space,
#: tab, ideographic space U+3000 used for indentation, no-break space).
SPACE = " \t\u3000\xa0"


@dataclass(frozen=True)
class Line:
    """A non-blank line of a text with surrounding :data:`SPACE` removed.

    ``start``/``end`` are character offsets of the stripped content (half-open).
    """

    start: int
    end: int
    text: str


def iter_lines(text: str, start: int = 0, end: int | None = None) -> list[Line]:
    """Non-blank lines of ``text[start:end]``, each stripped of :data:`SPACE`."""
    end = len(text) if end is None else end
    out: list[Line] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        s, e = pos, stop
        while s < e and text[s] in SPACE:
            s += 1
        while e > s and text[e - 1] in SPACE:
            e -= 1
        if s < e:
            out.append(Line(s, e, text[s:e]))
        pos = stop + 1
    return out


def first_line(text: str, start: int, end: int, limit: int = 60) -> str:
    """The first line of ``text[start:end]`` with a visible character, trimmed, at most ``limit`` long."""
    for line in iter_lines(text, start, end):
        visible = visible_strip(line.text)
        if visible:
            return visible[:limit]


def is_visible(ch: str) -> bool:
    """A letter, number, punctuation mark or symbol (not white space, a control or a
    format character such as U+200B or U+FEFF)."""
    return unicodedata.category(ch)[0] in "LNPS"


def visible_strip(s: str) -> str:
    """``s`` without leading and trailing invisible characters (see :func:`is_visible`)."""
    start, end = 0, len(s)
    while start < end and not is_visible(s[start]):
        start += 1
    while end > start and not is_visible(s[end - 1]):
        end -= 1
    return s[start:end]
