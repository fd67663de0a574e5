"""Evaluation metrics: answer EM/F1, retrieval hit@k and MRR, citations, abstention, latency.

Units: every score is a fraction in [0, 1] (not ×100 as the CMRC 2018 leaderboard
prints it); latencies are milliseconds; ranks are 1-based, ``None`` = not retrieved.

Answer scores follow the official CMRC 2018 evaluation (Cui et al., "A
Span-Extraction Dataset for Chinese Machine Reading Comprehension", EMNLP-IJCNLP
2019; script ``ymcui/cmrc2018: squad-style-data/cmrc2018_evaluate.py``):

* both strings are lower-cased and stripped of surrounding whitespace;
* :data:`PUNCTUATION` characters are deleted;
* EM: the cleaned strings are equal;
* F1: tokens are single CJK characters (U+4E00–U+9FA5) and NLTK word tokens of the
  runs in between; the overlap is the longest common *contiguous* token run
  (not SQuAD's bag of tokens); precision = overlap / predicted tokens, recall =
  overlap / gold tokens;
* the best score over all gold answers counts; every question counts, and a
  missing prediction scores 0.

Questions without an answer (SQuAD 2.0, Rajpurkar et al., ACL 2018) score 1 when
the prediction is empty (the system abstained) and 0 otherwise, as in the SQuAD
2.0 evaluation script; CMRC 2018 has no such questions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from qa.evaluation.treebank import word_tokenize

#: The punctuation the CMRC 2018 script deletes, one character each. The script's
#: list also has the two-character string "……", which can never equal a single
#: character and so deletes nothing; ASCII , . ? ! " ' ( ) and ‘ are kept.
PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")

_CJK = re.compile(r"[\u4e00-\u9fa5]")


def clean(text: str) -> str:
    """Lower-case, strip whitespace at both ends, then delete :data:`PUNCTUATION`.

    The string EM compares (CMRC 2018 ``remove_punctuation``). Stripping happens
    before the deletion, so ``" -a"`` becomes ``"a"`` but ``"- a"`` becomes ``" a"``.
    """
    return "".join(c for c in text.lower().strip() if c not in PUNCTUATION)


def tokens(text: str) -> list[str]:
    """CMRC 2018 F1 tokens: each CJK character, and NLTK word tokens of other runs.

    Lower-cased and stripped; :data:`PUNCTUATION` characters are skipped *without*
    ending the current non-CJK run (as in the official ``mixed_segmentation`` with
    ``rm_punc=True``), so ``"3-5"`` is the single token ``"35"``.
    """
    out: list[str] = []
    run = ""
    for char in text.lower().strip():
        if char in PUNCTUATION:
            continue
        if _CJK.match(char):
            if run:
                out.extend(word_tokenize(run))
                run = ""
            out.append(char)
        else:
            run += char
    if run:
        out.extend(word_tokenize(run))
    return out


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous token sequence found in both ``a`` and ``b``.

    Dynamic programming over (len(a)+1) × (len(b)+1) cells, one row kept at a time.
    """
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the cleaned ``prediction`` equals any cleaned gold answer, else 0.0.

    CMRC 2018 EM (see the module docstring). No gold answers means the question
    is unanswerable: 1.0 when ``prediction`` cleans to '' (an abstention).
    """
    predicted = clean(prediction)
    if not golds:
        return float(predicted == "")
    return float(any(predicted == clean(gold) for gold in golds))


def f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token F1 over ``golds``, overlap = longest common contiguous run (CMRC 2018).

    No gold answers: 1.0 when ``prediction`` is empty after cleaning, else 0.0.
    An empty prediction scores 0.0 against any non-empty gold.
    """
    if not golds:
        return float(clean(prediction) == "")
    predicted = tokens(prediction)
    best = 0.0
    for gold in golds:
        expected = tokens(gold)
        overlap = longest_common_run(expected, predicted)
        if overlap == 0:
            continue
        precision = overlap / len(predicted)
        recall = overlap / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def hit_at_k(rank: int | None, k: int) -> float:
    """1.0 if a relevant passage is ranked within the top ``k`` (``rank`` is 1-based).

    Top-k retrieval accuracy as used for open-domain QA by Chen et al. (DrQA,
    ACL 2017). ``rank`` None means no relevant passage was retrieved.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float(rank is not None and rank <= k)


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1 / rank of the first relevant passage if within the top ``k``, else 0.0.

    Averaged over questions this is MRR@k (Voorhees, "The TREC-8 Question
    Answering Track Report", TREC 1999).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def first_relevant_rank(relevant: Iterable[bool]) -> int | None:
    """1-based position of the first True in ``relevant`` (passages best first), or None."""
    for position, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            return position
    return None


def spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True if half-open character spans ``[a0, a1)`` and ``[b0, b1)`` share a character."""
    return max(a[0], b[0]) < min(a[1], b[1])


def span_contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """True if half-open span ``inner`` lies within ``outer`` (characters)."""
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def abstention_precision_recall(
    abstained: Sequence[bool], unanswerable: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision and recall of abstaining, with "unanswerable" as the positive class.

    precision = abstentions on unanswerable questions / all abstentions;
    recall = abstentions on unanswerable questions / all unanswerable questions
    (the no-answer detection view of SQuAD 2.0, Rajpurkar et al., ACL 2018).
    Each is None when its denominator is 0 (no abstentions / no unanswerable
    questions): undefined, not 0 or 1.
    """
    if len(abstained) != len(unanswerable):
        raise ValueError(
            f"abstained and unanswerable differ in length: {len(abstained)} != {len(unanswerable)}"
        )
    true_positive = sum(a and u for a, u in zip(abstained, unanswerable, strict=True))
    n_abstained = sum(abstained)
    n_unanswerable = sum(unanswerable)
    precision = true_positive / n_abstained if n_abstained else None
    recall = true_positive / n_unanswerable if n_unanswerable else None
    return precision, recall


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of ``values``, linear interpolation; None if empty.

    Linear interpolation between closest ranks (Hyndman & Fan 1996, definition 7;
    numpy's default). Used for latency p50/p95 in milliseconds.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean of the non-None ``values``; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
