"""Year, place and kind agreement (qa.reader.constraints) and the scorer's vetoes."""

from __future__ import annotations

import numpy as np
import pytest

from qa.documents import Document
from qa.question import analyze
from qa.reader import constraints
from qa.reader.features import FEATURE_NAMES
from qa.reader.scorer import Scorer, ScorerError, vetoed

TEXT = ("一、2018年工作回顾\n全区生产总值完成192.3亿元。" + "坚持稳中求进工作总基调，推动高质量发展。" * 20
        + "与蒙古国成吉思市结为友好城市。\n")


def make_doc(title="政府工作报告（2019年3月4日在呼伦贝尔市海拉尔区第十五届人民代表大会第三次会议上）",
             date="2019-03-04", publisher="呼伦贝尔市海拉尔区人民政府"):
    return Document(id="d1", path="/tmp/d1.txt", title=title, text=TEXT,
                    metadata={"date": date, "publisher": publisher}, body_start=0, body_end=len(TEXT))


@pytest.mark.parametrize(("question", "places"), [
    ("北京市2022年地区生产总值是多少？", (("北京", True),)),
    ("2023年洛阳市房地产开发投资完成了多少？", (("洛阳", True),)),
    ("东柳街道常住人口有多少？", (("东柳", True),)),
    ("郑州2023年地区生产总值是多少？", (("郑州", False),)),
    ("全市地区生产总值是多少？", ()),
    ("2023年新增了多少个托位？", ()),
    ("去年街道地区生产总值有多大？", ()),
    ("2024年计划新建几个街道级老年食堂？", ()),
    # generic areas and a common noun before the verb 省 name no place; rare names before a suffix do
    ("2018年海拉尔区与蒙古国哪个城市新结为友好城市？", (("海拉尔", True), ("蒙古国", False))),
    ("2022年保定退税降费给企业省了多少钱？", ()),
    ("2023年改造了多少个住宅小区和棚户区？", ()),
    ("与俄罗斯赤塔市的友城关系如何？", (("俄罗斯", False), ("赤塔", True))),
])
def test_question_places(question, places):
    assert constraints.question_places(analyze(question).match_text) == places


def test_place_agreement_uses_the_documents_own_place():
    doc = make_doc()
    assert constraints.place_agreement(analyze("海拉尔区2018年生产总值是多少？"), doc, "") == 1.0
    assert constraints.place_agreement(analyze("北京市2018年生产总值是多少？"), doc, "") == -1.0
    assert constraints.place_agreement(analyze("2018年生产总值是多少？"), doc, "") == 0.0
    # a place named only in the candidate's own sentence is not vetoed
    assert constraints.place_agreement(analyze("成吉思市是哪年结为友好城市的？"), doc,
                                       "与蒙古国成吉思市结为友好城市") == 0.5


def test_report_years_include_the_year_reviewed():
    doc = make_doc()  # published 2019: reviews 2018, plans 2019
    assert constraints.document_year_agreement(analyze("2018年生产总值是多少？"), doc) == 1.0
    assert constraints.document_year_agreement(analyze("2019年的目标是多少？"), doc) == 1.0
    assert constraints.document_year_agreement(analyze("2013年生产总值是多少？"), doc) == -1.0
    assert constraints.document_year_agreement(analyze("生产总值是多少？"), doc) == 0.0


def _undated(text):
    return Document(id="w", path="/tmp/w.txt", title="于乐", text=text, metadata={}, body_start=0,
                    body_end=len(text))


def test_a_year_followed_by_a_month_is_a_year_the_document_names():
    doc = _undated("2011年于乐在中超联赛只出场7次。2012年2月，于乐以自由转会方式加盟深圳红钻。")
    assert constraints.document_scope(doc).years == {2011, 2012}
    assert constraints.document_year_agreement(analyze("2012年于乐以什么方式加盟深圳红钻？"), doc) == 1.0


@pytest.mark.parametrize(("text", "agreement"), [
    ("2002年青少年机器人世界杯在日本福冈举办。", 1.0),
    ("青少年机器人世界杯2002在日本福冈举办。", 0.0),  # written, though not as a year: no veto
    ("1960年代初，褐树蛇大量杀害了关岛的鸟类。", 0.0),  # a decade
    ("青少年机器人世界杯在日本福冈举办。", -1.0),
])
def test_a_year_the_text_writes_only_as_a_number_or_a_decade_is_not_vetoed(text, agreement):
    question = "青少年机器人世界杯2002在哪里举办？" if "世界杯" in text else "1960年代初，什么动物大量杀害了关岛的鸟类？"
    assert constraints.document_year_agreement(analyze(question), _undated(text)) == agreement


def test_period_agreement_refuses_a_multi_year_total_for_one_year():
    doc = make_doc()
    q = analyze("2018年完成固定资产投资多少？")
    assert constraints.period_agreement(q, doc, "2014-2018", "五年来累计完成投资") == -1.0
    assert constraints.period_agreement(analyze("五年来累计完成投资多少？"), doc, "2014-2018", "") == 0.0
    assert constraints.period_agreement(q, doc, "2018", "") == 1.0
    assert constraints.period_agreement(q, doc, "2017", "") == -1.0
    assert constraints.period_agreement(q, doc, "2017", "2018年完成投资") == 1.0


@pytest.mark.parametrize(("question", "unit", "agreement"), [
    ("重点项目完成投资多少？", "项", -1.0),
    ("重点项目完成投资多少？", "亿元", 1.0),
    ("城镇化率是多少？", "%", 1.0),
    ("新增了多少个托位？", "亿元", -1.0),
    ("新增了多少个托位？", "个", 1.0),
    ("有什么进展？", "个", 0.0),
    ("空气质量优良天数有多少天？", "台", -1.0),
    ("空气质量优良天数有多少天？", "天", 1.0),
    ("新修了多少公里道路？", "公里", 1.0),
    ("新修了多少公里道路？", "万平方米", -1.0),
    ("东柳街道常住人口有多少？", "个", -1.0),
    ("东柳街道常住人口有多少？", "万人", 1.0),
    ("2023年到黔东南州旅游的一共有多少人次？", "万人次", 1.0),
    # a physical measure the question names is the figure's own kind (area before length in 平方米)
    ("细颗粒物年平均浓度是多少？", "天", -1.0),
    ("细颗粒物年平均浓度是多少？", "%", -1.0),
    ("细颗粒物年平均浓度是多少？", "微克/立方米", 1.0),
    ("人均公园绿地面积是多少？", "平方米", 1.0),
    ("人均公园绿地面积是多少？", "米", -1.0),
    ("耕地面积有多少万亩？", "万亩", 1.0),
    ("城市道路里程是多少？", "吨", -1.0),
    ("绿地面积增长了多少？", "%", 1.0),
    ("街道的邮政编码是多少？", "万", -1.0),  # an identifier is no quantity
    ("街道的邮政编码是多少？", "", 0.0),  # a change: in percent, not in an area
])
def test_unit_agreement(question, unit, agreement):
    assert constraints.unit_agreement(analyze(question), unit) == agreement


def test_vetoed_rows_are_those_with_a_minus_one_veto_feature():
    rows = np.zeros((3, len(FEATURE_NAMES)))
    rows[1, FEATURE_NAMES.index("place_agree")] = -1.0
    rows[2, FEATURE_NAMES.index("unit_agree")] = 1.0
    assert vetoed(rows).tolist() == [False, True, False]


def test_shipped_scorer_loads_and_refuses_other_features(tmp_path):
    scorer = Scorer.load()
    assert scorer.feature_names == FEATURE_NAMES and 0.0 < scorer.threshold < 1.0
    assert "leave_one_document_out" in scorer.provenance
    p = scorer.probability(np.zeros((2, len(FEATURE_NAMES))))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))
    data = scorer.to_dict()
    data["features"].pop("fit")
    with pytest.raises(ScorerError, match=r"missing \['fit'\].*qa reader fit"):
        Scorer.from_dict(data)
    with pytest.raises(ScorerError, match="no scorer file"):
        Scorer.load(tmp_path / "none.json")
    scorer.save(tmp_path / "s.json")
    again = Scorer.load(tmp_path / "s.json")
    np.testing.assert_allclose(again.coef, scorer.coef)
    assert again.threshold == scorer.threshold


@pytest.mark.parametrize(("question", "clause", "is_change", "agreement"), [
    ("南京市2024年地区生产总值是多少？", "人均地区生产总值｜2024年：", False, -1.0),
    ("南京市2024年人均地区生产总值是多少？", "人均地区生产总值｜2024年：", False, 1.0),
    ("老百姓平均每人一年收入多少？", "城镇居民人均可支配收入", False, 1.0),
    ("居民收入增长多少？", "城乡居民人均可支配收入增长", True, 0.0),
    ("地区生产总值是多少？", "全年全市实现地区生产总值", False, 0.0),
    ("城镇居民人均可支配收入是多少？", "农村居民", False, 0.0),
])
def test_per_capita_agreement(question, clause, is_change, agreement):
    assert constraints.per_capita_agreement(analyze(question), clause, is_change) == agreement


def test_figure_clause_starts_after_the_last_comma_and_keeps_table_row_labels():
    sentence = "全年实现地区生产总值18500.81亿元，按常住人口计算，人均地区生产总值193483元。"
    assert constraints.figure_clause(sentence, sentence.index("193483")) == "人均地区生产总值"
    assert constraints.figure_clause(sentence, sentence.index("18500")) == "全年实现地区生产总值"
    row = "人均地区生产总值｜2024年：193483元；比上年增长：4.6%"
    assert constraints.figure_clause(row, row.index("193483")) == "人均地区生产总值｜2024年："


@pytest.mark.parametrize(("question", "value", "agreement"), [
    ("德清县2016年全年固定资产投资完成了多少？", "246.79", -1.0),  # 1-10月 for the whole year: a veto
    ("德清县2016年1-10月固定资产投资完成了多少？", "246.79", 1.0),
    ("德清县2016年固定资产投资完成了多少？", "246.79", 0.0),
    ("德清县2016年全年固定资产投资完成了多少？", "300", 0.0),  # its own clause says 全年
    ("德清县2016年前三季度固定资产投资完成了多少？", "246.79", -1.0),
])
def test_part_of_year_agreement(question, value, agreement):
    sentence = "1-10月，全县完成固定资产投资246.79亿元，同比增长12%；全年预计完成300亿元。"
    clause = constraints.period_clause(sentence, sentence.index(value))
    assert constraints.part_of_year_agreement(analyze(question), clause) == agreement


@pytest.mark.parametrize(("question", "text", "agreement"), [
    ("部门预算中人员编制有多少人？", "万元", -1.0),
    ("部门预算中人员编制有多少人？", "主要用于公共法律服务", -1.0),
    ("部门预算中人员编制有多少人？", "三十二人", 0.0),
    ("新增了多少个托位？", "124个", 0.0),
    ("商会企业与哪个村结对共建？", "盐源县拦河村", 0.0),
])
def test_number_agreement(question, text, agreement):
    assert constraints.number_agreement(analyze(question), text) == agreement


def test_part_of_year_is_read_from_the_paragraphs_opening_clause():
    """A brief's ``1-10月，…。其中…`` scopes every sentence of the paragraph."""
    opening = "1-10月，全县固定资产投资完成246.79亿元，同比增长15.3%。"
    sentence = "其中项目投资完成220.53亿元，占全部投资的89.4%。"
    clause = constraints.period_clause(sentence, sentence.index("220.53"), opening)
    assert constraints.part_of_year_agreement(analyze("德清县2016年全年项目投资完成了多少？"), clause) == -1.0
    assert constraints.part_of_year_agreement(analyze("德清县2016年1-10月项目投资完成了多少？"), clause) == 1.0


@pytest.mark.parametrize(("question", "metric", "agreement"), [
    # residents as a whole: the urban or rural residents' figure is not the answer
    ("2023年居民人均可支配收入是多少？", "城镇居民人均可支配收入", -1.0),
    ("2023年居民人均可支配收入是多少？", "全市居民人均可支配收入", 0.0),
    ("2023年居民人均消费支出是多少？", "农村常住居民人均消费支出", -1.0),
    # a group asked: its own figure, never the other group's
    ("城镇居民人均可支配收入是多少？", "城镇居民人均可支配收入", 1.0),
    ("农民人均纯收入是多少？", "城镇居民人均可支配收入", -1.0),
    ("农村居民人均可支配收入是多少？", "农民人均纯收入", 1.0),
    # both groups in one clause (城镇和农村…分别), or no resident group: nothing to check
    ("城镇居民人均可支配收入是多少？", "城镇和农村居民人均可支配收入", 0.0),
    ("城镇居民人均可支配收入是多少？", "城乡居民人均可支配收入", 0.0),
    ("新增就业多少人？", "城镇新增就业", 0.0),
    ("帮农民工讨回了多少欠薪？", "农民工工资", 0.0),
])
def test_subgroup_agreement(question, metric, agreement):
    assert constraints.subgroup_agreement(analyze(question), metric) == agreement
