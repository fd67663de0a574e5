"""Tests for qa.figures: exact values on hand-built inputs, then the real corpora."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from conftest import CORPUS_FILE, EXTRA_DIR

from qa.chunking import Chunk, Sentence
from qa.documents import Document
from qa.figures import (
    Figure,
    extract_figures,
    filter_figures,
    format_figures,
    parse_number,
    unit_scale,
)


def make_doc(*sections: tuple[str, str], title: str = "") -> tuple[Document, list[Chunk]]:
    """A document of ``heading\\nbody`` sections, one chunk per body, sentences at 。；!?"""
    text, spans = "", []
    for heading, body in sections:
        if heading:
            text += heading + "\n"
        start = len(text)
        text += body + "\n"
        spans.append((heading, start, start + len(body)))
    doc = Document("d0c", "/tmp/x.txt", title, text)
    chunks = []
    for i, (heading, s, e) in enumerate(spans):
        sents = tuple(
            Sentence(s + m.start(), s + m.end(), m.group())
            for m in re.finditer(r"[^。！？]+[。！？]?", text[s:e])
        )
        path = (heading,) if heading else ()
        chunks.append(Chunk(f"d0c-{s}-{e}", doc.id, s, e, text[s:e], path, i + 1, sents))
    return doc, chunks


def figures_of(body: str, heading: str = "一、2023年工作回顾", **kw) -> list[Figure]:
    doc, chunks = make_doc((heading, body), **kw)
    figs = extract_figures(doc, chunks)
    for f in figs:
        assert doc.text[f.start : f.end] == f.text
        assert f.metric_start == -1 or doc.text[f.metric_start : f.metric_end] == f.metric
        assert doc.text[f.sentence_start : f.sentence_end].find(f.text) != -1
    return figs


def by_text(figs: list[Figure]) -> dict[str, Figure]:
    return {f.text: f for f in figs}


# --------------------------------------------------------------------- hand-built


def test_respectively_construction_links_changes_to_their_metrics():
    body = "全年实现地区生产总值60.3亿元,一般公共预算收入2亿元,同比分别-6.2%、-19.3%。"
    figs = figures_of(body)
    assert [f.text for f in figs] == ["60.3亿元", "2亿元", "-6.2%", "-19.3%"]
    gdp, rev, d_gdp, d_rev = figs
    assert (gdp.value, gdp.unit, gdp.metric, gdp.is_change) == (60.3, "亿元", "地区生产总值", False)
    assert (rev.value, rev.unit, rev.metric) == (2.0, "亿元", "一般公共预算收入")
    assert (d_gdp.value, d_gdp.unit, d_gdp.metric, d_gdp.is_change) == (-6.2, "%", "地区生产总值", True)
    assert (d_rev.value, d_rev.metric, d_rev.is_change) == (-19.3, "一般公共预算收入", True)
    assert d_gdp.direction == d_rev.direction == -1
    assert d_gdp.change == -6.2
    # inherited metrics point at the words they were read from
    assert (d_gdp.metric_start, d_gdp.metric_end) == (gdp.metric_start, gdp.metric_end)
    assert {f.period for f in figs} == {"2023"} and {f.kind for f in figs} == {"actual"}


def test_chinese_numerals_with_counters():
    figs = by_text(figures_of("完成锦苑、园丁、中兴小区三部电梯加装。全年共举办五场招聘会,提供575个岗位。"
                              "十项经济指标全年取得5盏绿灯。"))
    assert figs["三部"].value == 3.0 and figs["三部"].unit == "部"
    assert figs["三部"].metric == "电梯加装"
    assert figs["五场"].value == 5.0 and figs["五场"].metric == "招聘会"
    assert figs["十项"].value == 10.0 and figs["十项"].metric == "经济指标"
    assert figs["575个"].metric == "岗位"


def test_qualifiers_stay_in_text():
    figs = by_text(figures_of("兑现政策资金1600余万元。对现有1.6万余流动人口全部实现登记。"
                              "累计走访企业400余次。"))
    f = figs["1600余万元"]
    assert (f.value, f.unit, f.qualifier, f.metric) == (1600.0, "万元", "余", "兑现政策资金")
    f = figs["1.6万余"]
    assert (f.value, f.unit, f.qualifier, f.metric) == (1.6, "万", "余", "流动人口")
    assert f.scaled_value() == 16000.0
    assert figs["400余次"].qualifier == "余"


def test_qualifier_after_unit_and_target():
    (f,) = figures_of("新建婴幼儿照护驿站,力争千人口托位数达到4.6个以上。", heading="二、2024年主要工作")
    assert (f.text, f.value, f.unit, f.qualifier) == ("4.6个以上", 4.6, "个", "以上")
    assert (f.metric, f.period, f.kind) == ("千人口托位数", "2024", "target")


def test_leading_qualifier_is_recorded_outside_text():
    (f,) = figures_of("全年引进资金约60亿元。")
    assert (f.text, f.qualifier) == ("60亿元", "约")
    assert f.metric == "引进资金"


def test_percentage_followed_by_comma_comes_back_whole():
    figs = figures_of("限上社会消费品零售总额13.1亿元,同比增长25.1%，完成年度目标的103.5%。")
    assert [f.text for f in figs] == ["13.1亿元", "25.1%", "103.5%"]
    growth, share = figs[1], figs[2]
    assert (growth.value, growth.is_change, growth.direction) == (25.1, True, 1)
    assert growth.metric == "限上社会消费品零售总额"
    assert growth.end == growth.start + len("25.1%")
    assert (share.is_change, share.metric, share.kind) == (False, "年度目标", "actual")


def test_fixed_asset_investment_2023_actual_vs_2024_target():
    doc, chunks = make_doc(
        ("一、2023年工作回顾", "紧盯关键指标。完成固定资产投资32.5亿元,完成限上社会消费品零售总额13.1亿元。"),
        ("二、2024年主要工作", "2024年街道经济社会发展的主要目标为:地区生产总值增长8%;固定资产投资达9亿元。"),
    )
    figs = [f for f in extract_figures(doc, chunks) if f.metric == "固定资产投资"]
    assert [(f.text, f.value, f.period, f.kind) for f in figs] == [
        ("32.5亿元", 32.5, "2023", "actual"),
        ("9亿元", 9.0, "2024", "target"),
    ]
    (gdp,) = filter_figures(extract_figures(doc, chunks), query="地区生产总值", period=2024)
    assert (gdp.text, gdp.is_change, gdp.kind) == ("8%", True, "target")


def test_decrease_keeps_written_number_and_sets_direction():
    (f,) = figures_of("全年电信网络诈骗发案数同比下降5.7%。")
    assert (f.value, f.is_change, f.direction, f.change) == (5.7, True, -1, -5.7)
    assert f.metric == "电信网络诈骗发案数"


def test_footnote_marker_between_metric_and_number():
    figs = figures_of("初步核算，全年全市生产总值②达到5481.6亿元，按可比价计算，比上年增长3.5%。"
                      "三次产业结构③为3.9:39.0:57.1。出生率为7.20‰；自然增长率为-0.57‰。",
                      heading="一、综合", title="2023年洛阳市国民经济和社会发展统计公报")
    f = by_text(figs)
    assert f["5481.6亿元"].metric == "全市生产总值"
    assert (f["3.5%"].metric, f["3.5%"].is_change) == ("全市生产总值", True)
    assert (f["3.9:39.0:57.1"].unit, f["3.9:39.0:57.1"].metric) == (":", "三次产业结构")
    assert (f["7.20‰"].value, f["7.20‰"].unit) == (7.2, "‰")
    assert f["-0.57‰"].value == -0.57
    assert {x.period for x in figs} == {"2023"} and {x.kind for x in figs} == {"actual"}
    assert "三次" not in f


def test_years_dates_ordinals_and_list_numbers_are_not_figures():
    body = ("2023年是开局之年,发布日期2024-03-21 11:04。2024年3月21日召开会议。一是推进华光城等第八批未来社区创建;"
            "（1）打造“2332”标准化流程,落实中央八项规定,引进一批企业。1-10月投资增长,"
            "5G基站建成。市十六届人大四次会议召开。")
    assert figures_of(body) == []


def test_range_and_fraction():
    f = by_text(figures_of("打造5至10家数字工厂。缉毒量占全区的1/4。"))
    assert (f["5至10家"].value, f["5至10家"].value_to, f["5至10家"].unit) == (5.0, 10.0, "家")
    assert f["1/4"].value == 0.25


def test_quantities_before_a_shared_metric_and_increments():
    f = by_text(figures_of("建档立卡贫困户301户611人全部脱贫。存款余额7833.2亿元，比年初增加468.6亿元。"))
    assert f["301户"].metric == f["611人"].metric == "建档立卡贫困户"
    inc = f["468.6亿元"]
    assert (inc.is_change, inc.direction, inc.metric) == (False, 1, "存款余额")


def test_sentence_year_overrides_section():
    (f,) = figures_of("确定2024年民生微实事项目17件。")
    assert (f.period, f.kind) == ("2024", "target")  # the year after the one reviewed


def test_chunk_of_another_document_is_rejected():
    doc, chunks = make_doc(("", "新增托位124个。"))
    other = Document("other", "/tmp/y.txt", "", doc.text)
    with pytest.raises(ValueError, match="belongs to document"):
        extract_figures(other, chunks)


# --------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "value"),
    [("60.3", 60.3), ("1,234", 1234.0), ("-6.2", -6.2), ("三", 3.0), ("十", 10.0),
     ("二十五", 25.0), ("两", 2.0), ("一千五百", 1500.0), ("一万五千", 15000.0),
     ("1.6万", 16000.0), ("60.3亿", 6.03e9), ("三万", 30000.0), ("１２", 12.0)],
)
def test_parse_number(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "一二", "十四五", "千万"])
def test_parse_number_rejects(text):
    with pytest.raises(ValueError, match="not a number"):
        parse_number(text)


def test_unit_scale():
    assert (unit_scale("亿元"), unit_scale("万平方米"), unit_scale("%"), unit_scale("千米")) == (1e8, 1e4, 1.0, 1.0)


def test_filter_and_format():
    figs = figures_of("新增托育驿站4家,新增托位124个。")
    assert [f.text for f in filter_figures(figs, query="托位")] == ["124个"]
    assert filter_figures(figs, period="2024") == []
    assert len(filter_figures(figs, query="", period=None)) == 2
    with pytest.raises(ValueError, match="four-digit year"):
        filter_figures(figs, period="去年")

    table = format_figures(figs)
    assert table.splitlines()[0].split()[:4] == ["period", "kind", "metric", "text"]
    assert "新增托位" in table and "124个" in table
    rows = list(csv.DictReader(io.StringIO(format_figures(figs, "csv"))))
    assert rows[1]["text"] == "124个" and rows[1]["value"] == "124.0" and rows[1]["value_to"] == ""
    data = json.loads(format_figures(figs, "json"))
    assert data[0]["metric"] == "新增托育驿站" and data[0]["unit"] == "家"
    with pytest.raises(ValueError, match="table, csv, json"):
        format_figures(figs, "xml")


# --------------------------------------------------------------------- real corpora


def _real(path):
    from qa.chunking import chunk_document
    from qa.documents import load_document

    doc = load_document(path)
    return doc, extract_figures(doc, chunk_document(doc))


@pytest.fixture(scope="module")
def dongliu():
    return _real(CORPUS_FILE)


def _is_quantity(answer: str) -> bool:
    return bool(re.search(r"[0-9一二三四五六七八九十两]", answer)) and "、" not in answer


def test_every_gold_quantity_answer_is_a_figure(dongliu, gold):
    doc, figs = dongliu
    rows = [r for r in gold if r["type"] in ("figure", "target") and _is_quantity(r["answers"][0])]
    assert len(rows) >= 40
    missed = []
    for r in rows:
        lo, hi = r["evidence_start"], r["evidence_end"]
        hits = [f for f in figs if lo <= f.start < hi and any(a == f.text or a in f.text for a in r["answers"])]
        if not hits:
            missed.append((r["id"], r["answers"][0]))
    assert missed == []


def test_default_corpus_invariants(dongliu):
    doc, figs = dongliu
    assert len(figs) == 82
    assert [f.start for f in figs] == sorted(f.start for f in figs)
    for f in figs:
        assert doc.text[f.start : f.end] == f.text
        assert doc.text[f.sentence_start : f.sentence_end].count(f.text) >= 1
        assert not re.fullmatch(r"(19|20)[0-9]{2}年?", f.text)
        assert f.period in ("2023", "2024")
    f = by_text(figs)
    assert (f["-6.2%"].metric, f["-19.3%"].metric) == ("地区生产总值", "一般公共预算收入")
    assert (f["9亿元"].period, f["9亿元"].kind, f["32.5亿元"].period) == ("2024", "target", "2023")


@pytest.mark.skipif(not EXTRA_DIR.is_dir(), reason="shared/corpus-extra not present")
def test_extra_corpora_invariants():
    for path in sorted(EXTRA_DIR.iterdir()):
        if path.name == "README.md":
            continue
        doc, figs = _real(path)
        assert figs, path.name
        for f in figs:
            assert doc.text[f.start : f.end] == f.text, path.name
            assert f.metric_start == -1 or doc.text[f.metric_start : f.metric_end] == f.metric
            assert f.sentence_start <= f.start < f.end <= f.sentence_end
            assert not re.fullmatch(r"(19|20)[0-9]{2}", f.text)
        if path.name.startswith("luoyang"):
            gdp = next(x for x in figs if x.text == "5481.6亿元")
            assert (gdp.metric, gdp.period, gdp.kind) == ("全市生产总值", "2023", "actual")


def test_traditional_chinese_figures_keep_the_original_text():
    from qa.chunking import chunk_document
    from qa.documents import Document
    from qa.figures import extract_figures

    text = "一、2023年工作回顧\n全年新增托位124個,實到內資17億元。\n"
    doc = Document("t" * 16, "/tmp/t.txt", "報告", text, {}, 0, len(text))
    figures = extract_figures(doc, chunk_document(doc))
    assert [(f.text, f.unit) for f in figures] == [("124個", "个"), ("17億元", "亿元")]
    assert all(doc.text[f.start:f.end] == f.text for f in figures)


# --------------------------------------------------------------------- issue 11: figures on other reports


def test_level_reached_is_not_a_change():
    figs = by_text(figures_of("城镇化率由85%提高到92%，森林覆盖率提高0.5个百分点，城镇登记失业率降至3.2%，"
                              "粮食产量增长到60万吨，工业增加值增长达到10%。"))
    for level in ("85%", "92%", "3.2%", "60万吨"):
        assert (figs[level].is_change, figs[level].change) == (False, None), level
    assert (figs["92%"].metric, figs["3.2%"].metric) == ("城镇化率", "城镇登记失业率")
    assert (figs["0.5个百分点"].is_change, figs["0.5个百分点"].change) == (True, 0.5)
    assert (figs["92%"].measure, figs["0.5个百分点"].measure) == ("level", "change")
    assert figs["10%"].is_change  # the growth rate itself reached 10%


def test_respectively_list_of_four_pairs_item_i_with_value_i():
    figs = figures_of("全年小麦、玉米、大豆、蔬菜产量分别为12.5万吨、30万吨、4.2万吨、66万吨，"
                      "分别增长1.2%、2.3%、-0.4%和5%。")
    pairs = [(f.metric, f.text) for f in figs]
    assert pairs[:4] == [("小麦", "12.5万吨"), ("玉米", "30万吨"), ("大豆", "4.2万吨"), ("蔬菜产量", "66万吨")]
    changes = [(f.metric, f.change) for f in figs[4:]]
    assert changes == [("小麦", 1.2), ("玉米", 2.3), ("大豆", -0.4), ("蔬菜产量", 5.0)]
    # a bare modifier shares the long head noun of the last item
    figs = figures_of("城镇和农村居民人均可支配收入分别达到4.5万元和2.1万元。")
    assert [(f.metric, f.text) for f in figs] == [
        ("城镇和农村居民人均可支配收入", "4.5万元"), ("农村居民人均可支配收入", "2.1万元")]


def test_report_without_publication_date_takes_its_years_from_the_title():
    doc, chunks = make_doc(
        ("一、过去一年工作回顾", "全区地区生产总值完成120亿元，增长7%。"),
        ("二、今年工作安排", "地区生产总值增长6.5%左右，一般公共预算收入达到9亿元。"),
        title="2019年某区政府工作报告",
    )
    got = [(f.text, f.period, f.kind) for f in extract_figures(doc, chunks)]
    assert got == [("120亿元", "2018", "actual"), ("7%", "2018", "actual"),
                   ("6.5%左右", "2019", "target"), ("9亿元", "2019", "target")]


def test_report_without_title_or_date_takes_its_years_from_the_text():
    doc, chunks = make_doc(
        ("", "2020年，面对复杂形势，全县经济稳中有进。全县粮食产量达到45万吨。"),
        ("", "今年经济社会发展的主要预期目标是：粮食产量稳定在46万吨以上。"),
    )
    got = [(f.text, f.period, f.kind) for f in extract_figures(doc, chunks)]
    assert got == [("45万吨", "2020", "actual"), ("46万吨以上", "2021", "target")]


def test_statistical_bulletin_title_names_the_year_it_reports():
    doc, chunks = make_doc(("一、综合", "全年全市生产总值为812.3亿元，比上年增长5.1%。"),
                           title="2023年某市国民经济和社会发展统计公报")
    assert [(f.period, f.kind) for f in extract_figures(doc, chunks)] == [("2023", "actual")] * 2


def test_five_year_total_is_cumulative_with_a_period_range():
    doc, chunks = make_doc(
        ("一、过去五年工作回顾", "五年来，全区累计完成固定资产投资1200亿元。"),
        ("", "“十三五”期间，新增城镇就业3.2万人。2020年，全区地区生产总值增长3%。"),
        ("二、2021年工作安排", "全年新增城镇就业5000人以上，“十四五”期间新建学校20所。"),
        title="2021年某区政府工作报告",
    )
    f = by_text(extract_figures(doc, chunks))
    assert (f["1200亿元"].period, f["1200亿元"].kind) == ("2016-2020", "cumulative")
    assert (f["3.2万人"].period, f["3.2万人"].kind) == ("2016-2020", "cumulative")
    assert (f["3%"].period, f["3%"].kind) == ("2020", "actual")
    assert (f["5000人以上"].period, f["5000人以上"].kind) == ("2021", "target")
    assert (f["20所"].period, f["20所"].kind) == ("2021-2025", "target")
    assert filter_figures(f.values(), period=2020) == [f["3%"]]  # the totals are not 2020 figures


def test_target_in_a_plan_section_without_a_cue():
    figs = figures_of("新建5G基站800个，改造老旧小区36个，城镇调查失业率控制在5.5%以内。",
                      heading="二、2024年主要预期目标", title="某县2023年工作总结和2024年工作计划")
    assert [(f.text, f.period, f.kind) for f in figs] == [
        ("800个", "2024", "target"), ("36个", "2024", "target"), ("5.5%以内", "2024", "target")]


def test_a_compilation_of_bulletins_gives_each_part_its_own_year():
    """Four years' bulletins in one file: a dateline on its own line followed by
    the year before it opens a part; 全年 figures take that part's year."""
    parts = [
        "南京市2024年国民经济和社会发展统计公报\n南京市统计局\n2025年3月\n"
        "2024年是关键一年。\n一、综合\n全年实现地区生产总值18500.81亿元。\n",
        "南京市统计局\n2024年3月\n2023年是开局之年。\n一、综合\n全年实现地区生产总值17421.40亿元。\n",
        "南京市统计局\n2023年3月\n2022年是极不平凡的一年。\n一、综合\n全年实现地区生产总值16907.85亿元。\n",
    ]
    text = "".join(parts)
    doc = Document("d0c", "/tmp/x.txt", "南京市2024年国民经济和社会发展统计公报", text)
    chunks = [Chunk(f"d0c-{m.start()}-{m.end()}", doc.id, m.start(), m.end(), m.group(), ("一、综合",), i + 1,
                    (Sentence(m.start(), m.end(), m.group()),))
              for i, m in enumerate(re.finditer(r"全年实现地区生产总值[\d.]+亿元。", text))]
    periods = {f.text: (f.period, f.kind) for f in extract_figures(doc, chunks)}
    assert periods == {"18500.81亿元": ("2024", "actual"), "17421.40亿元": ("2023", "actual"),
                       "16907.85亿元": ("2022", "actual")}


def test_a_closing_dateline_opens_no_new_part():
    doc, chunks = make_doc(("一、2023年工作回顾", "全年新增托位124个。"), title="2024年东柳街道工作报告")
    text = doc.text + "东柳街道办事处\n2024年3月21日\n"
    doc = Document("d0c", "/tmp/x.txt", doc.title, text)
    assert {f.text: f.period for f in extract_figures(doc, chunks)} == {"124个": "2023"}


@pytest.mark.parametrize(("row", "value", "metric"), [
    ("油料｜产量：93770吨；比上年增长：3.6%", "93770吨", "油料"),
    ("208 05 行政事业单位养老支出｜合计：3343704.00元", "3343704.00元", "行政事业单位养老支出"),
    ("其中：住户本外币贷款｜绝对值：16711.05亿元", "16711.05亿元", "住户本外币贷款"),
    ("八、其他用品及服务｜2020年：8.0%；2021年：1.4%", "1.4%", "其他用品及服务"),
])
def test_a_table_row_figure_takes_the_row_label_as_its_metric(row, value, metric):
    # table rows (qa.documents.tables) have no clause before the number: the label names it
    fig = by_text(figures_of(row, heading="一、综合"))[value]
    assert fig.metric == metric
