"""Lines that are not content: portal footers, editor lines, running headers."""

from __future__ import annotations

import re
from collections import Counter

from qa.documents.header import _DATE, _HEADING_START
from qa.documents.lines import SPACE, iter_lines

_BRACKETS = r"\s|【】\[\]()（）<>《》·•"
#: Footer lines of portal pages: ``【打印本页】 【关闭窗口】 |`` and the like.
_FOOTER_LINE = re.compile(
    rf"^[{_BRACKETS}]*(?:(?:打印本页|关闭窗口|返回顶部|收藏本页|加入收藏|打印|关闭|分享到|字体)"
    rf"[{_BRACKETS}：:大中小]*)+$"
)
#: News-site editor lines ``（责任编辑：石兰兰）``.
_EDITOR_LINE = re.compile(
    r"^[（(]?\s*(?:责任编辑|编辑|责编|审核|校对|来源)\s*[：:].{0,30}?[)）]?\s*\|?$"
)
_RUNNING_MAX = 40
_RUNNING_MIN_REPEATS = 3


def is_boilerplate_line(line: str) -> bool:
    """A footer (``【打印本页】 【关闭窗口】``) or editor (``（责任编辑：…）``) line."""
    return bool(_FOOTER_LINE.match(line) or _EDITOR_LINE.match(line))


def footer_start(text: str, start: int, end: int) -> int:
    """End of the body: trailing footer/editor lines and a trailing table bar ``|`` removed."""
    lines = iter_lines(text, start, end)
    while lines and is_boilerplate_line(lines[-1].text):
        lines.pop()
    if not lines:
        return start  # nothing but boilerplate: an empty body
    e = lines[-1].end
    while e > lines[-1].start and text[e - 1] in SPACE + "|":
        e -= 1
    return e


def boilerplate_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Lines inside ``text[start:end]`` that are not content; the chunker skips them.

    A line is boilerplate when it is a footer or editor line
    (:func:`is_boilerplate_line`), or a *running header*: a short line (at most
    40 characters, not a numbered heading) repeated at least three times, such
    as a bulletin title left over from page headers and chart captions.

    Returns:
        sorted ``(start, end)`` character spans of the stripped lines (half-open).
    """
    lines = iter_lines(text, start, end)
    counts = Counter(ln.text for ln in lines if len(ln.text) <= _RUNNING_MAX)
    return [
        (ln.start, ln.end)
        for ln in lines
        if is_boilerplate_line(ln.text)
        or (
            counts.get(ln.text, 0) >= _RUNNING_MIN_REPEATS
            and not _HEADING_START.match(ln.text)
            and not _DATE.fullmatch(ln.text)
        )
    ]
