"""Traditional → Simplified Chinese folding, for matching only (never for display).

The question patterns, jieba's dictionary and BM25 tokens are Simplified;
Traditional text (Taiwan, Hong Kong documents; DRCD) is folded before it is
matched. Folding keeps the length, so an offset into the folded text is an
offset into the original, and answers are still sliced from the original.
Conversion tables: OpenCC ``t2s`` (Apache-2.0).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """``text`` with Traditional characters replaced by Simplified ones, same length.

    OpenCC converts phrase by phrase; where that would change the length the
    text is converted character by character instead, keeping any character
    whose conversion is not a single character.
    """
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    out = []
    for ch in text:
        c = _converter().convert(ch)
        out.append(c if len(c) == 1 else ch)
    return "".join(out)
