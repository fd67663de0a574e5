"""Features of a candidate: what the learned scorer (:mod:`qa.reader.scorer`) reads.

Every hand weight of the rule reader is a feature here, beside retrieval
evidence, the neural reader's probability, agreement on year, place and kind of
quantity, and the span's shape. :data:`FEATURE_NAMES` fixes the order of the
columns; the scorer's data file records the names it was trained with and
refuses another order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from qa.documents import Document
from qa.question import ANSWER_TYPES, Question, date_precision
from qa.reader import constraints
from qa.reader.records import Candidate
from qa.retrieval import Passage

KINDS = ("figure", "span", "item", "date", "meta", "sentence", "neural")
#: The generator whose candidates fit each answer type best.
EXPECTED_KINDS = {
    "quantity": ("figure",),
    "date": ("date",),
    "ordinal": ("item",),
    "rank": ("item",),
    "meta": ("meta",),
    "list": ("span", "neural"),
    "entity": ("span", "neural"),
    "description": ("sentence", "span", "neural"),
}
_OPEN_TYPES = ("list", "entity", "description", "date", "ordinal")
#: A date written to the precision the question asks for (:func:`qa.question.date_precision`).
_DATE_SHAPES = {
    "day": re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),
    "month": re.compile(r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月(?:份)?|\d{4}[-/.]\d{1,2}"),
    "year": re.compile(r"\d{4}\s*年"),
    "range": re.compile(r"\d{4}\s*年.*(?:至|到|-|—|–|~|～).*[年月日]"),
}
#: Words of a question about what happened (``增长了多少``, ``完成``): an actual, even
#: for the year a report sets targets for (another report reviews that year).
_PAST = re.compile(r"了|完成|实现|达到|一共|总共|全年")
#: A span that is a number and a short unit (``4.6个``, ``1.30米``, ``16万人次以上``): its unit.
_NUMBER_WITH_UNIT = re.compile(r"[约近超逾]?[\d.,]+\s*((?:[万亿千百])?[^\d\s.,，。；、]{0,3}?)(?:以上|左右|多|余)?")
_CUMULATIVE = re.compile(r"累计|五年来|过去五年|近五年|十[二三四]五|“十[二三四]五”|期间|以来")

FEATURE_NAMES: tuple[str, ...] = (
    "fit", "support", "rule_confidence",
    *(f"kind={k}" for k in KINDS),
    "kind_expected",
    *(f"type={t}" for t in ANSWER_TYPES),
    "rank_recip", "dense", "dense_gap", "bm25_rel",
    "neural", "neural_x_iou", "neural_x_open", "neural_x_exact",
    "closeness", "restated", "type_fit", "anchor", "semantic", "person",
    "log_length", "has_digit", "whole_sentence", "date_shape_fits",
    "unit_agree", "period_agree", "doc_year_agree", "place_agree",
    "change_agree", "target_agree", "cumulative_single_year", "per_capita_agree", "subgroup_agree", "variant",
    "part_of_year_agree",
    "number_agree", "answerable", "neural_joint",
)


def passage_context(passages: Sequence[Passage]) -> dict[str, float]:
    """Per-question normalisers: the best dense cosine and BM25 score among ``passages``."""
    dense = [p.scores["dense"] for p in passages if "dense" in p.scores]
    bm25 = [p.scores["bm25"] for p in passages if "bm25" in p.scores]
    return {"dense_max": max(dense, default=0.0), "bm25_max": max(bm25, default=0.0)}


def candidate_features(q: Question, cand: Candidate, passage: Passage, doc: Document,
                       context: dict[str, float]) -> np.ndarray:
    """``(len(FEATURE_NAMES),)`` float64 feature vector of one candidate.

    Args:
        q: the analysed (standalone) question.
        cand: the candidate; ``passage`` is the retrieved passage it comes from
            and ``doc`` its document (original text: offsets index into it).
        context: :func:`passage_context` of the question's passages.
    """
    text = doc.text[cand.start:cand.end]
    sentence = doc.text[cand.sentence.start:cand.sentence.end]
    kind_onehot = [float(cand.kind == k) for k in KINDS]
    type_onehot = [float(q.answer_type == t) for t in ANSWER_TYPES]
    dense = passage.scores.get("dense", 0.0)
    bm25 = passage.scores.get("bm25", 0.0)
    fig = cand.figure
    years = constraints.asked_years(q, doc)
    unit_agree = period_agree = change_agree = target_agree = cumulative = per_capita = subgroup = part_of_year = 0.0
    if fig is None and q.answer_type == "quantity":
        bare = _NUMBER_WITH_UNIT.fullmatch(text.strip())  # a neural or span candidate shaped like a figure
        unit_agree = constraints.unit_agreement(q, bare.group(1)) if bare and bare.group(1) else 0.0
    if fig is not None:
        unit_agree = constraints.unit_agreement(q, fig.unit)
        period_agree = constraints.period_agreement(q, doc, fig.period, sentence)
        change_agree = 1.0 if q.wants_change == fig.is_change else -1.0
        publication = constraints.document_scope(doc).publication_year
        asks_future = bool(years and publication and min(years) >= publication)
        wants_target = q.wants_target or (asks_future and not _PAST.search(q.match_text))
        target_agree = 0.0 if not fig.kind else (1.0 if wants_target == (fig.kind == "target") else -1.0)
        at = fig.start - cand.sentence.start  # the value's offset in its sentence
        clause = sentence[max(0, at - 30):at]
        cumulative = float(len(years) == 1 and bool(_CUMULATIVE.search(clause)))
        own_clause = constraints.figure_clause(sentence, at)
        per_capita = constraints.per_capita_agreement(q, own_clause, fig.is_change)
        subgroup = constraints.subgroup_agreement(q, fig.metric or own_clause)
        paragraph = doc.text.rfind("\n", 0, cand.sentence.start) + 1
        part_of_year = constraints.part_of_year_agreement(q, constraints.period_clause(
            sentence, at, doc.text[paragraph:cand.sentence.start]))
    values = [
        cand.fit, cand.support, cand.rule_confidence,
        *kind_onehot,
        float(cand.kind in EXPECTED_KINDS.get(q.answer_type, ())),
        *type_onehot,
        1.0 / (1.0 + cand.rank), dense, dense - context["dense_max"],
        bm25 / context["bm25_max"] if context["bm25_max"] > 0 else 0.0,
        # the overlap with the reader's span counts as much as the reader believes its span:
        # an exact match with a span it gives 0.01 says nothing
        cand.neural, cand.neural * cand.neural_iou, cand.neural * float(q.answer_type in _OPEN_TYPES),
        cand.neural * float(cand.neural_iou >= 0.999),
        cand.part("closeness"), cand.part("restated"), cand.part("type_fit"), cand.part("anchor"),
        cand.part("semantic"), cand.part("person"),
        math.log1p(len(text)) / math.log(61.0), float(bool(re.search(r"\d", text))),
        float(cand.end - cand.start >= 0.8 * max(1, cand.sentence.end - cand.sentence.start)),
        float(q.answer_type == "date" and bool(_DATE_SHAPES[date_precision(q.match_text)].fullmatch(text.strip()))),
        unit_agree, period_agree, constraints.document_year_agreement(q, doc),
        constraints.place_agreement(q, doc, sentence),
        change_agree, target_agree, cumulative, per_capita, subgroup, cand.part("variant"), part_of_year,
        constraints.number_agreement(q, text),
        cand.part("answerable"),
        cand.neural * cand.part("answerable"),  # the reader's P(its passage answers) · P(this span)
    ]
    return np.asarray(values, dtype=np.float64)
