"""Period and kind of a figure: the report's years, its sections, sentence cues."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.figures.numbers import _is_clause_sep
from qa.figures.vocabulary import (
    _ACHIEVED,
    _ACTUAL_HEADINGS,
    _ACTUAL_TITLES,
    _TARGET_HEADINGS,
    _TITLE_YEAR_RE,
    _YEAR_RE,
)


def _heading_period(section_path: Sequence[str]) -> tuple[str, str]:
    """(year, kind) from the innermost heading that names a year."""
    for heading in reversed(section_path):
        m = _YEAR_RE.search(heading)
        if m:
            return m.group(1), _heading_kind(heading)
    return "", ""


def _heading_kind(heading: str) -> str:
    if any(w in heading for w in _ACTUAL_HEADINGS):
        return "actual"
    if any(w in heading for w in _TARGET_HEADINGS):
        return "target"
    return ""


def _title_period(title: str) -> tuple[str, str]:
    years = {m.group(1) for m in _TITLE_YEAR_RE.finditer(title)}
    if len(years) != 1:
        return "", ""
    kind = "actual" if any(w in title for w in _ACTUAL_TITLES) else ""
    return years.pop(), kind


def _date_year(date: str) -> str:
    m = re.match(r"((?:19|20)[0-9]{2})-", date)
    return m.group(1) if m else ""


def _has_target_cue(text: str, lo: int, pos: int, cues: Sequence[str]) -> bool:
    """A planning cue before ``pos`` in the sentence, not after 完成/实现 in its clause."""
    seg = text[lo:pos]
    for cue in cues:
        k = seg.find(cue)
        while k != -1:
            clause_start = max([0] + [i + 1 for i in range(k) if _is_clause_sep(seg, i)])
            done = seg.startswith("了", k + len(cue))  # 确保了: it happened
            if not done and not any(w in seg[clause_start:k] for w in _ACHIEVED):
                return True
            k = seg.find(cue, k + 1)
    return False
