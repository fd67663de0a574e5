"""Word tokens for non-Chinese text, following NLTK's ``word_tokenize`` rules.

The official CMRC 2018 evaluation script (Cui et al., EMNLP-IJCNLP 2019;
``ymcui/cmrc2018: squad-style-data/cmrc2018_evaluate.py``) tokenises every run of
non-CJK characters with ``nltk.word_tokenize``. We do not depend on NLTK: this
module applies the same ordered regular-expression rules as NLTK's
``NLTKWordTokenizer`` (the Penn Treebank conventions, NLTK 3.x, ``nltk/tokenize/
destructive.py``), so English words, numbers such as ``3.88`` or ``1,000``,
clitics (``ca n't``) and punctuation come out as NLTK would give them.

Known difference: ``word_tokenize`` first splits its input into sentences with
the Punkt model, which turns a period followed by a new sentence *inside* one
non-CJK run (``"ends. Then"``) into its own token; here such a run is treated as
one sentence, so only its final period is split off. Answer spans in CMRC 2018
and DRCD almost never contain that pattern.
"""

from __future__ import annotations

import re

_Rule = tuple[re.Pattern[str], str]


def _rules(*pairs: tuple[str, str]) -> tuple[_Rule, ...]:
    return tuple((re.compile(pattern), replacement) for pattern, replacement in pairs)


# Applied in this order; each pads a token boundary with spaces.
_OPENING_QUOTES = _rules(
    (r"([«“‘„]|[`]+)", r" \1 "),  # typographic opening quotes and backticks
    (r'^"', r"``"),  # a straight double quote at the start opens
    (r"(``)", r" \1 "),
    (r"([ (\[{<])(\"|'{2})", r"\1 `` "),  # ... and after a space or opening bracket
    (r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),  # 'quoted, not 's
)
_PUNCTUATION = _rules(
    (r"([^.])(\.)([\]\)}>\"'»”’ ]*)\s*$", r"\1 \2 \3 "),  # the final period
    (r"([:,])([^\d])", r" \1 \2"),  # comma/colon, except inside numbers
    (r"([:,])$", r" \1 "),
    (r"\.{2,}", r" \g<0> "),  # ellipsis
    (r"[;@#$%&]", r" \g<0> "),
    (r"[\u2012-\u2015]", r" \g<0> "),  # figure, en and em dashes, horizontal bar
    (r"([^.])(\.)([\]\)}>\"']*)\s*$", r"\1 \2\3 "),
    (r"[?!]", r" \g<0> "),
    (r"([^'])' ", r"\1 ' "),
    (r"[*]", r" \g<0> "),
)
_BRACKETS = _rules((r"[\]\[(){}<>]", r" \g<0> "), (r"--", r" -- "))
_CLOSING_QUOTES = _rules(
    (r"([»”’])", r" \1 "),
    (r"''", r" '' "),
    (r'"', r" '' "),  # any other straight double quote closes
    (r"\s+", r" "),
    (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),  # clitics: 's 'm 'd
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
)
# Robert MacIntyre's contractions, split in two ("cannot" -> "can not").
_CONTRACTIONS = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?i)\b(can)(not)\b",
        r"(?i)\b(d)('ye)\b",
        r"(?i)\b(gim)(me)\b",
        r"(?i)\b(gon)(na)\b",
        r"(?i)\b(got)(ta)\b",
        r"(?i)\b(lem)(me)\b",
        r"(?i)\b(more)('n)\b",
        r"(?i)\b(wan)(na)(?=\s)",
        r"(?i) ('t)(is)\b",
        r"(?i) ('t)(was)\b",
    )
)


def word_tokenize(text: str) -> list[str]:
    """Split ``text`` into Treebank-style word tokens (whitespace is dropped).

    >>> word_tokenize("Good muffins cost $3.88 (roughly 3,36 euros).")
    ['Good', 'muffins', 'cost', '$', '3.88', '(', 'roughly', '3,36', 'euros', ')', '.']
    """
    for rules in (_OPENING_QUOTES, _PUNCTUATION, _BRACKETS):
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
    text = f" {text} "
    for pattern, replacement in _CLOSING_QUOTES:
        text = pattern.sub(replacement, text)
    for pattern in _CONTRACTIONS:
        text = pattern.sub(r" \1 \2 ", text)
    return text.split()
