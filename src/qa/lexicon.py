"""Everyday words for statistical indicators → the reports' own words.

``2023年洛阳的经济总量有多大？`` becomes ``2023年洛阳的生产总值有多大？``
before retrieval and reading, so lexical evidence (BM25, the reader's IDF
support) finds the passage that names the indicator; the question's own
``多少`` stays (``打了多少粮食`` → ``粮食产量多少``). The rules are data
(:data:`LEXICON_PATH`, with where they come from); the rewritten question is
shown to the user as the question understood.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from qa.config import PACKAGE_DIR

LEXICON_PATH = PACKAGE_DIR / "data" / "lexicon" / "indicators.json"


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[re.Pattern, str], ...]:
    data = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))
    return tuple((re.compile(pattern), official) for pattern, official in data["rules"])


def official_terms(question: str) -> str:
    """``question`` with everyday indicator words replaced by the official ones
    (each rule once, first match; a question that names the indicator already
    is unchanged; a question without Chinese is returned as it is). Pure; never
    raises on any string."""
    if not re.search(r"[\u3400-\u9fff]", question):  # English: left to the cross-lingual path
        return question
    out = question
    for pattern, official in _rules():
        if official.replace("\\1", "") in out:
            continue
        out = pattern.sub(official, out, count=1)
    return out
