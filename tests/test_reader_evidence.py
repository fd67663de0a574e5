"""Lexical evidence: IDF weights, passage support and closeness (qa.reader.evidence)."""

from __future__ import annotations

import math

import pytest

from qa.chunking import Sentence
from qa.reader.evidence import LexicalEvidence

TEXTS = ["新增托位124个", "新增托育驿站4家", "公园建设"]


def test_idf_weighs_rare_and_missing_words_more():
    evidence = LexicalEvidence(TEXTS)
    assert evidence.idf("托位") == pytest.approx(math.log(1 + 3 / 1.1))
    assert evidence.idf("新增") == pytest.approx(math.log(1 + 3 / 2.1))
    assert evidence.idf("缺失") == pytest.approx(math.log(31.0))  # in no chunk: the strongest sign
    assert evidence.idf("4") == pytest.approx(math.log(1 + 3 / 1.1))  # a number counts only whole: not in 124


@pytest.mark.parametrize(("text", "expected"), [
    ("新增托位124个", 1.0),  # right before the span
    ("托位，新增124个", math.exp(-(6 + 3 * 0.5) / 12)),  # one clause break and 3 characters away
    ("新增124个托位", math.exp(-10 / 12)),  # right after the span: counts as 10 characters away
])
def test_closeness_decays_with_distance_and_clause_breaks(text, expected):
    evidence = LexicalEvidence(TEXTS)
    start = text.index("124")
    closeness = evidence.closeness({"托位": 1.0}, text, start, start + 4, "", Sentence(0, len(text), text))
    assert closeness == pytest.approx(expected)
    # inside the figure's metric a word counts in full, wherever it stands
    assert evidence.closeness({"托位": 1.0}, text, start, start + 4, "新增托位", Sentence(0, len(text), text)) == 1.0


def test_without_subject_drops_the_documents_own_place_and_issuer_only():
    units = {"普陀区": 3.0, "司法局": 2.5, "2026": 1.0, "三公": 4.0, "预算": 0.5}
    subject = "上海市普陀区2026年区级部门预算 上海市普陀区司法局"
    kept = LexicalEvidence.without_subject(units, subject, ["普陀"])
    # the place and the issuer hold for every sentence of the budget; 预算 is a topic word
    assert kept == {"2026": 1.0, "三公": 4.0, "预算": 0.5}
    # a place the title does not name still counts
    assert LexicalEvidence.without_subject(units, "上海市2026年预算", ["普陀"]) == units
    # a question about the title itself keeps its words (nothing but a year would be left)
    about_title = {"海拉尔区": 3.0, "2018": 1.0}
    assert LexicalEvidence.without_subject(about_title, "2018年海拉尔区政府工作报告", ["海拉尔"]) == about_title
