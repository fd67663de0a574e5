"""Everyday indicator words → the reports' own (qa.lexicon)."""

from __future__ import annotations

import pytest

from qa.lexicon import official_terms
from qa.question import analyze


@pytest.mark.parametrize(("question", "rewritten"), [
    ("2023年洛阳的经济总量有多大？", "2023年洛阳的生产总值有多大？"),
    ("2022年保定一共打了多少粮食？", "2022年保定一共粮食产量多少？"),
    ("2018年海拉尔空气好的日子占全年的比例是多少？", "2018年海拉尔空气质量优良天数占全年的比例是多少？"),
    ("2013年海拉尔机场的客流量有多少？", "2013年海拉尔机场的旅客吞吐量有多少？"),
    ("2017年高阳县全部财政收入完成了多少？", "2017年高阳县全部财政收入完成了多少？"),  # a named metric stays
    ("2023年新增了多少个托位？", "2023年新增了多少个托位？"),
    ("年末银行里的存款有多少？", "年末金融机构存款余额有多少？"),
    ("2025年买公车和用公车的预算是多少？", "2025年公务用车购置及运行费的预算是多少？"),
    ("全县一共住了多少人？", "全县一共常住人口多少？"),
    ("2024年老百姓人均能自由支配的收入有多少？", "2024年居民人均可支配收入有多少？"),
    ("What was the GDP in 2023?", "What was the GDP in 2023?"),  # English: the cross-lingual path
])
def test_official_terms(question, rewritten):
    assert official_terms(question) == rewritten


def test_the_question_form_survives_the_rewrite():
    q = analyze(official_terms("2013年海拉尔区农民平均一年挣多少钱？"))
    assert q.answer_type == "quantity" and "农村居民" in q.terms
