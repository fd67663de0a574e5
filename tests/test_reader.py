"""Reader tests over hand-made documents: passages are given, no encoder needed."""

from __future__ import annotations

import hashlib

import pytest

from qa.chunking import chunk_document
from qa.documents import Document
from qa.figures import extract_figures
from qa.question import analyze
from qa.reader import Reader
from qa.retrieval import Passage


def make_reader(text: str, date: str = "2024-03-21", threshold: float | None = 0.0, title: str = "测试报告"):
    doc = Document(
        id=hashlib.sha256(text.encode()).hexdigest()[:16], path="/tmp/t.txt", title=title,
        text=text, metadata={"date": date}, body_start=0, body_end=len(text),
    )
    chunks = chunk_document(doc)
    reader = Reader({doc.id: doc}, chunks, extract_figures(doc, chunks), threshold)
    passages = [Passage(c, 1.0 - i * 0.1, {"dense": 0.88 - 0.01 * i, "bm25": 12.0 - i}, {"dense": i + 1, "bm25": i + 1})
                for i, c in enumerate(chunks)]
    return doc, reader, passages


def ask(reader, passages, question):
    return reader.read(analyze(question), passages, question)


REPORT = (
    "一、2023年工作回顾\n"
    "全年实现地区生产总值60.3亿元,一般公共预算收入2亿元,同比分别-6.2%、-19.3%。"
    "完成固定资产投资32.5亿元。新增托育驿站4家,新增托位124个。\n"
    "商会企业与盐源县拦河村结对共建,建成苹果酒厂房2座。\n"
    "二、2024年主要工作\n"
    "主要目标为:地区生产总值增长8%,固定资产投资达9亿元。\n"
)


def test_answer_is_the_exact_document_slice():
    doc, reader, passages = make_reader(REPORT)
    answer = ask(reader, passages, "2023年新增了多少个托位？")
    assert answer.text == "124个"
    c = answer.citation
    assert doc.text[c.start:c.end] == "124个"
    assert doc.text[c.sentence_start:c.sentence_end] == answer.sentence
    assert c.start == REPORT.index("124个")
    assert c.section_path == ("一、2023年工作回顾",)
    assert not answer.abstained and 0.0 < answer.confidence <= 1.0


def test_answer_just_before_full_stop_has_the_right_end_offset():
    doc, reader, passages = make_reader(REPORT)
    answer = ask(reader, passages, "2023年完成固定资产投资多少？")
    assert answer.text == "32.5亿元"
    assert answer.citation.end == REPORT.index("32.5亿元。") + len("32.5亿元")
    assert doc.text[answer.citation.end] == "。"


def test_period_separates_actual_from_target():
    _, reader, passages = make_reader(REPORT)
    assert ask(reader, passages, "2023年完成固定资产投资多少？").text == "32.5亿元"
    assert ask(reader, passages, "2024年固定资产投资目标是多少？").text == "9亿元"
    assert ask(reader, passages, "今年固定资产投资的目标是多少？").text == "9亿元"


def test_respectively_construction_links_each_change_to_its_metric():
    _, reader, passages = make_reader(REPORT)
    assert ask(reader, passages, "2023年地区生产总值同比变化多少？").text == "-6.2%"
    assert ask(reader, passages, "一般公共预算收入同比变化多少？").text == "-19.3%"


def test_percentage_is_returned_whole():
    text = "一、2023年工作回顾\n全年税收收入12亿元,同比增长25.1%，完成年度目标的103.5%。\n"
    _, reader, passages = make_reader(text)
    assert ask(reader, passages, "税收收入同比增长了多少？").text == "25.1%"


def test_entity_from_question_alignment():
    _, reader, passages = make_reader(REPORT)
    assert ask(reader, passages, "商会企业与哪个村结对共建？").text == "盐源县拦河村"


def test_abstains_below_threshold_and_threshold_is_monotone():
    _, reader, passages = make_reader(REPORT)
    question = "东柳街道常住人口有多少？"
    answered = []
    for threshold in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        reader.abstain_threshold = threshold
        answered.append(not ask(reader, passages, question).abstained)
    assert answered == sorted(answered, reverse=True)
    reader.abstain_threshold = 0.5
    answer = ask(reader, passages, question)
    assert answer.abstained and answer.text == "" and answer.citation is None
    assert answer.passages  # the related passages are still shown


@pytest.mark.parametrize("question", ["2023年新增了多少个托位？", "商会企业与哪个村结对共建？",
                                      "主要目标是什么？", "地区生产总值是多少？"])
def test_every_answer_and_alternative_is_a_document_slice(question):
    doc, reader, passages = make_reader(REPORT)
    answer = ask(reader, passages, question)
    for a in (answer, *answer.alternatives):
        assert doc.text[a.citation.start:a.citation.end] == a.text
        assert doc.text[a.citation.sentence_start:a.citation.sentence_end] == a.sentence
    assert len(answer.alternatives) <= 2


def test_traditional_document_answers_are_sliced_from_the_original_text():
    text = "一、2023年工作回顧\n全年新增托位124個,新增托育驛站4家。商會企業與鹽源縣攔河村結對共建。\n"
    doc, reader, passages = make_reader(text)
    answer = ask(reader, passages, "商會企業與哪個村結對共建？")
    assert answer.text == "鹽源縣攔河村"  # Traditional, as in the document
    assert doc.text[answer.citation.start:answer.citation.end] == answer.text
    figure = ask(reader, passages, "2023年新增了多少个托育驿站？")  # asked in Simplified
    assert figure.text == "4家"


# ------------------------------------------------------------- neural span candidates
def neural_reader(text: str, proposals: dict[str, tuple[str, float]]):
    """A reader whose span proposer answers each passage containing a key of
    ``proposals`` with that key's span text and probability."""
    from qa.span_model import SpanPrediction

    def spans(question, contexts):
        out = []
        for context in contexts:
            hit = next(((s, p) for s, p in proposals.items() if s in context), None)
            if hit is None:
                out.append(None)
                continue
            start = context.index(hit[0])
            out.append(SpanPrediction(start, start + len(hit[0]), 5.0, -2.0, hit[1]))
        return out

    doc, reader, passages = make_reader(text)
    reader.spans = spans
    return doc, reader, passages


def test_confident_neural_span_beats_a_rule_sentence_and_is_cited_exactly():
    text = "一、民生\n街道启动老旧小区改造,原因是管网老化严重,居民反映强烈。\n"
    doc, reader, passages = neural_reader(text, {"管网老化严重": 0.95})
    answer = ask(reader, passages, "为什么启动老旧小区改造？")
    assert answer.text == "管网老化严重"
    assert doc.text[answer.citation.start:answer.citation.end] == "管网老化严重"


def test_neural_span_edges_lose_stray_punctuation_but_keep_balanced_quotes():
    from qa.reader.spans import trim_punctuation

    text = "他主演了《飞狐外传》。“巴士系数”一词常见,德祐二年（1276年）,"
    for raw, want in [("《飞狐外传》。", "《飞狐外传》"), ("。“巴士系数”一词", "“巴士系数”一词"),
                      ("德祐二年（1276年）,", "德祐二年（1276年）"), ("》。“巴士", "巴士"), ("（1276", "1276")]:
        start = text.index(raw)
        s, e = trim_punctuation(text, start, start + len(raw))
        assert text[s:e] == want


def test_quantity_question_keeps_the_figure_when_the_neural_span_overlaps_it():
    # the neural span "124" lacks the unit; the figure 124个 it confirms is the answer
    doc, reader, passages = neural_reader(REPORT, {"124": 0.9})
    answer = ask(reader, passages, "2023年新增了多少个托位？")
    assert answer.text == "124个"
    assert doc.text[answer.citation.start:answer.citation.end] == "124个"


def test_the_readers_answer_probability_of_each_read_chunk_is_a_feature_of_its_candidates():
    from qa.reader.features import FEATURE_NAMES
    from qa.span_model import SpanPrediction

    doc, reader, passages = make_reader(REPORT)
    answering = next(p.chunk.id for p in passages if "124个" in p.chunk.text)

    def spans(question, contexts):  # the chunk with 124个 answers (0.9), the others hardly (0.1)
        return [SpanPrediction(0, 2, 1.0, 0.0, 0.5, 0.9 if "124个" in c else 0.1) for c in contexts]

    reader.spans = spans
    q = analyze("2023年新增了多少个托位？")
    candidates, features = reader.featurize(q, passages)
    read = {p.chunk.id for p in passages[:reader.generator.span_passages]}
    column = FEATURE_NAMES.index("answerable")
    joint = FEATURE_NAMES.index("neural_joint")
    for cand, row in zip(candidates, features, strict=True):
        want = 0.9 if cand.chunk.id == answering else 0.1 if cand.chunk.id in read else 0.0
        assert row[column] == want
        assert row[joint] == pytest.approx(cand.neural * want)  # P(passage answers) · P(span)
        # overlap with the reader's span counts as much as the reader believes it
        assert row[FEATURE_NAMES.index("neural_x_iou")] == pytest.approx(cand.neural * cand.neural_iou)
    assert any(c.kind == "neural" and f[joint] == pytest.approx(0.45)
               for c, f in zip(candidates, features, strict=True))
    assert any(c.chunk.id == answering for c in candidates)
    reader.spans = None  # the rule reader: no reader read any chunk
    _, features = reader.featurize(q, passages)
    assert not features[:, [column, joint]].any()


def test_span_reader_alone_answers_with_the_span_of_the_passage_most_likely_to_answer():
    from qa.span_model import SpanPrediction

    doc, reader, passages = make_reader(REPORT, threshold=None)
    read = passages[:reader.generator.span_passages]

    def spans(question, contexts):  # the 2024 plan's chunk is confident of its span, but hardly answers
        out = []
        for c in contexts:
            word, probability, answers = ("8%", 0.99, 0.2) if "8%" in c else ("盐源县拦河村", 0.6, 0.9)
            start = c.find(word)
            out.append(SpanPrediction(start, start + len(word), 3.0, 0.0, probability, answers) if start >= 0 else None)
        return out

    reader.spans, reader.span_only = spans, True
    assert len(read) > 1 and any("8%" in p.chunk.text for p in read)
    answer = ask(reader, passages, "商会企业与哪个村结对共建？")
    # 0.9 · 0.6 beats 0.2 · 0.99; no rule candidate competes; confidence = the passage's answer probability
    assert (answer.text, answer.confidence, answer.abstained) == ("盐源县拦河村", 0.9, False)
    assert doc.text[answer.citation.start:answer.citation.end] == "盐源县拦河村"
    assert reader.abstain_threshold == 0.5  # the Bayes decision on a calibrated probability
    reader.spans = lambda q, contexts: [None if "盐源" in c else SpanPrediction(0, 2, 1.0, 0.0, 0.9, 0.3)
                                         for c in contexts]
    assert ask(reader, passages, "商会企业与哪个村结对共建？").abstained  # best passage: 0.3 < 0.5
    reader.spans = None
    assert ask(reader, passages, "商会企业与哪个村结对共建？").abstained  # no span reader: nothing to say


def test_a_table_value_is_answered_as_printed_when_the_question_names_its_unit():
    from qa.reader.candidates import as_printed_end

    text = ("表1 2023年主要工业产品产量\n黄金｜产量：5120.50千克；比上年增长：23.9%\n"
            "一、工业\n全年白银产量4131.71千克，比上年增长16.6%。\n")
    doc, reader, passages = make_reader(text)  # passages in document order: the table row ranks first
    table = ask(reader, passages, "黄金产量是多少千克？")
    assert table.text == "5120.50"  # the unit 千克 came from the table's header, not the cell
    assert doc.text[table.citation.start:table.citation.end] == "5120.50"
    assert "5120.50千克" in table.sentence  # the cited row still shows it
    figures = {f.text: f for p in passages for f in reader.generator.figures_in(p.chunk)}
    assert doc.text[figures["23.9%"].start:as_printed_end(doc.text, figures["23.9%"], "增长多少%")] == "23.9%"
    # a question that does not name the unit gets it with the number
    assert ask(reader, passages, "黄金产量是多少？").text == "5120.50千克"
    prose = ask(reader, passages, "2023年白银产量是多少千克？")
    assert prose.text == "4131.71千克"


def test_without_a_neural_proposal_the_rules_answer():
    _, reader, passages = neural_reader(REPORT, {})
    assert ask(reader, passages, "商会企业与哪个村结对共建？").text == "盐源县拦河村"


# ------------------------------------------- fault kinds of issue 11 (constructed documents)
CITY = (
    "2024年洛川市政府工作报告\n"
    "一、2023年工作回顾\n"
    "过去一年，全市实现地区生产总值5481.6亿元，增长5.3%。五年来累计完成固定资产投资1200亿元。"
    "全年完成固定资产投资260亿元，实施重点项目502项。\n"
    "二、2024年主要目标\n"
    "地区生产总值增长6%左右。\n"
)


def city_reader():
    return make_reader(CITY, date="2024-01-20", threshold=None, title="2024年洛川市政府工作报告")


def test_paraphrased_metric_is_answered_through_the_official_name():
    from qa.lexicon import official_terms

    _, reader, passages = city_reader()
    question = official_terms("2023年洛川市的经济总量是多少？")
    assert question == "2023年洛川市的生产总值是多少？"
    answer = ask(reader, passages, question)
    assert (answer.text, answer.abstained) == ("5481.6亿元", False)


def test_a_year_the_report_does_not_cover_is_refused():
    _, reader, passages = city_reader()
    assert ask(reader, passages, "2023年洛川市地区生产总值是多少？").text == "5481.6亿元"
    refused = ask(reader, passages, "2019年洛川市地区生产总值是多少？")
    assert refused.abstained and refused.citation is None


def test_another_citys_name_is_refused():
    _, reader, passages = city_reader()
    refused = ask(reader, passages, "北京市2023年地区生产总值是多少？")
    assert refused.abstained and refused.text == ""


def test_a_five_year_total_is_not_returned_for_a_single_year():
    _, reader, passages = city_reader()
    answer = ask(reader, passages, "2023年完成固定资产投资多少？")
    assert answer.text == "260亿元"
    assert "1200亿元" not in {a.text for a in answer.alternatives}


def test_an_investment_amount_is_not_answered_with_a_count():
    _, reader, passages = city_reader()
    answer = ask(reader, passages, "2023年重点项目完成投资多少？")
    assert answer.text != "502项"


def test_person_name_after_an_office_title():
    text = ("2018年某县政府工作报告\n报告人：某县人民政府县长 闫向阳\n"
            "一、2017年工作回顾\n全县生产总值完成119.7亿元。\n")
    _, reader, passages = make_reader(text, date="2018-01-31", title="2018年某县政府工作报告")
    assert ask(reader, passages, "2018年某县政府工作报告是哪位县长作的？").text == "闫向阳"


def test_meeting_date_is_the_full_date_as_written():
    text = ("政府工作报告\n——2019年3月4日在某区第十五届人民代表大会第三次会议上\n"
            "一、2018年工作回顾\n全区生产总值完成192.3亿元。\n")
    _, reader, passages = make_reader(text, date="2019-03-04", title="政府工作报告")
    answer = ask(reader, passages, "某区第十五届人民代表大会第三次会议是哪天召开的？")
    assert answer.text == "2019年3月4日"


@pytest.mark.parametrize(("sentence", "span", "question", "expected"), [
    ("集中供热项目投资7.2亿元由江苏中圣集团建设。", "集中供热项目投资7.2亿元由江苏中圣集团",
     "集中供热项目是由哪家企业建设的？", ["江苏中圣集团"]),
    ("保定被党中央、国务院授予全国脱贫攻坚先进集体。", "国务院授予全国脱贫攻坚先进集体",
     "保定被授予了什么荣誉？", ["全国脱贫攻坚先进集体"]),
    ("胜利社区卫生服务中心被授予国家级示范中心称号。", "胜利社区卫生",
     "哪家社区卫生服务中心被授予国家级示范中心称号？", ["胜利社区卫生服务中心"]),
    ("新增托位124个。", "托位", "新增了多少个托位？", []),
])
def test_span_variants(sentence, span, question, expected):
    from qa.reader.spans import variants

    start = sentence.index(span)
    got = [sentence[s:e] for s, e in variants(sentence, start, start + len(span), question)]
    assert got == expected



@pytest.mark.parametrize(("text", "term", "found"), [
    ("全年共引进企业137家", "37", False),      # a question's 37 is not inside 137
    ("增长37.5%", "37", False),                # nor the start of 37.5
    ("新增37家，增长3.7%", "37", True),
    ("2023年完成投资", "2023", True),
    ("合计2023.5万元", "2023", False),
    ("新增托位124个", "托位", True),
])
def test_a_number_in_the_question_matches_only_a_whole_number(text, term, found):
    from qa.reader.spans import contains, coverage, term_pattern

    assert contains(text, term) is found
    assert (term_pattern(term).search(text) is not None) is found
    assert coverage({term: 1.0}, text) == (1.0 if found else 0.0)


RANKS = (
    "一、2023年工作回顾\n"
    "第一产业增加值5亿元。南京在科研城市榜单中位居全球第五,在创新指数中排名第21位。"
    "本区第六次荣获全国科技进步先进区称号,第三批试点通过验收。"
    "工业增加值在第三季度增长最快,全区综合考核位居全市第二。\n"
)


@pytest.mark.parametrize("question, expected", [
    ("南京在科研城市榜单中排名全球第几？", "第五"),
    ("南京在创新指数中排第几位？", "第21位"),
    ("本区是第几次荣获全国科技进步先进区称号？", "第六次"),
    ("工业增加值在第几季度增长最快？", "第三季度"),  # a series word must follow and is kept
    ("全区综合考核位居全市第几名？", "第二"),  # a ranking: the bare position answers 第几名
])
def test_rank_questions_answer_the_position(question, expected):
    doc, reader, passages = make_reader(RANKS)
    cands = reader.generator.candidates(analyze(question), passages)
    ranks = [doc.text[c.start:c.end] for c in cands if c.kind == "item"]
    # the position closest to the question's words first; 第一产业 and 第三批 are not ranks
    assert ranks[0] == expected
    assert "第一" not in ranks and "第三" not in ranks


def test_split_question_leaves_the_class_noun_of_a_which_question_out_of_the_words_after():
    from qa.reader.spans import split_question

    question = "高阳县的集中供热项目是由哪家企业建设的？"
    wh = question.index("哪家")
    assert split_question(question, wh, wh + 2) == ("高阳县的集中供热项目是由", "企业", "建设的")


def test_a_neural_span_keeps_the_class_noun_it_ends_with():
    from qa.reader.spans import shape_neural_span

    # 菜场 is also among the question's words after the gap (获评省四星级菜场): still kept
    text = "东柳菜场、东海菜场获评省四星级菜场"
    assert shape_neural_span("哪两个菜场获评省四星级菜场？", "list", text, 0, 9) == (0, 9)


def test_trim_question_context_cuts_the_questions_own_words_from_a_span():
    from qa.reader.spans import trim_question_context

    span = "自然人纳税人识别号为唯一标识"
    assert trim_question_context(span, "个人纳税信用记录以", "作为唯一标识") == (0, 9)  # 自然人纳税人识别号
    assert trim_question_context("作者张三", "这本书的作者", "") == (2, 4)
    assert trim_question_context("张三", "这本书的作者", "") == (0, 2)  # nothing left to cut
    # next to the question word, one character is enough: 受谁重用 / 以什么语言广播的电影频道
    assert trim_question_context("受清太祖努尔哈赤", "索尼的父亲受", "重用过") == (1, 8)
    assert trim_question_context("华语广播的电影频道", "一条以", "广播的电影频道") == (0, 2)
    # an aligned span keeps a word the question names away from its question word
    assert trim_question_context("普陀区真金路口", "普陀区新建工程位于", "", anywhere=False) == (0, 7)
    assert trim_question_context("普陀区真金路口", "普陀区新建工程位于", "") == (3, 7)


def test_place_in_span_takes_the_one_place_of_the_asked_kind():
    from qa.reader.spans import place_in_span

    assert place_in_span("据凯里市城市", "市") == (1, 4)
    assert place_in_span("成吉思市新缔结友城关系", "市") == (0, 4)
    assert place_in_span("凯里市和都匀市", "市") is None  # two: the span is a list
    assert place_in_span("城市物价", "市") is None


def test_which_city_question_is_answered_with_the_city():
    from qa.chunking import Chunk
    from qa.documents import Document
    from qa.question import analyze
    from qa.reader.candidates import CandidateGenerator
    from qa.retrieval import Passage
    from qa.sentences import split_sentences

    text = "据凯里市城市物价抽样调查，居民消费价格比上年上涨1.5%。"
    doc = Document("d1", "/tmp/d1.txt", "黔东南州统计公报", text)
    chunk = Chunk(f"d1-0-{len(text)}", "d1", 0, len(text), text, (), 1, tuple(split_sentences(text, 0, len(text))))
    generator = CandidateGenerator({"d1": doc}, [chunk], [])
    q = analyze("居民消费价格涨幅是根据哪个城市的物价抽样调查得出的？")
    spans = {text[c.start:c.end] for c in generator.candidates(q, [Passage(chunk, 1.0, {}, {})]) if c.kind == "span"}
    assert "凯里市" in spans and "据凯里市城市" not in spans


@pytest.mark.parametrize(("question", "text", "expected", "run_on"), [
    ("武穴酥糖一般只在什么时候生产销售？", "武穴酥糖一般只在春节时期生产销售。", "春节时期", "春节时期生产销售"),
    ("卫视卡式台是一条以什么语言广播的电影频道？", "卫视卡式台是一条以华语广播的电影频道。", "华语", "华语广播的电影频道"),
    # the question's 合作开发的 is not in the text whole; its word 开发 is
    ("这款游戏是由哪两家公司合作开发的？", "这款游戏是由甲公司和乙工作室开发的系列第三部作品。", "甲公司和乙工作室",
     "甲公司和乙工作室开发的系列第三部作品"),
    # 哪个学院: the answer ends with the class noun
    ("张三在本市大学哪个学院教授课程？", "张三在本市大学新闻学院兼职，讲授写作课。", "新闻学院", "新闻学院兼职"),
])
def test_an_aligned_span_stops_before_the_words_after_the_class_noun(question, text, expected, run_on):
    from qa.chunking import Chunk
    from qa.documents import Document
    from qa.question import analyze
    from qa.reader.candidates import CandidateGenerator
    from qa.retrieval import Passage
    from qa.sentences import split_sentences

    doc = Document("d3", "/tmp/d3.txt", "百科", text)
    chunk = Chunk(f"d3-0-{len(text)}", "d3", 0, len(text), text, (), 1, tuple(split_sentences(text, 0, len(text))))
    generator = CandidateGenerator({"d3": doc}, [chunk], [])
    spans = {text[c.start:c.end] for c in generator.candidates(analyze(question), [Passage(chunk, 1.0, {}, {})])
             if c.kind == "span"}
    # 什么时候 / 什么语言: the class noun stands between the question word and the words that follow;
    # a span that would run to its clause's end stops at the class noun or the question's words
    assert expected in spans and run_on not in spans



@pytest.mark.parametrize(("question", "expected"), [
    ("公报是哪个月发布的？", "2017年3月"),
    ("公报是哪一年发布的？", "2017年"),
    ("公报是哪天发布的？", "2017年3月16日"),
])
def test_date_candidates_have_the_precision_asked(question, expected):
    from qa.chunking import Chunk
    from qa.documents import Document
    from qa.question import analyze
    from qa.reader.candidates import CandidateGenerator
    from qa.retrieval import Passage
    from qa.sentences import split_sentences

    text = "统计公报于2017年3月16日发布。"
    doc = Document("d2", "/tmp/d2.txt", "统计公报", text)
    chunk = Chunk(f"d2-0-{len(text)}", "d2", 0, len(text), text, (), 1, tuple(split_sentences(text, 0, len(text))))
    q = analyze(question)
    assert q.answer_type == "date"
    dates = {text[c.start:c.end] for c in CandidateGenerator({"d2": doc}, [chunk], []).candidates(q, [Passage(chunk, 1.0)])
             if c.kind == "date"}
    assert dates == {expected}


def test_a_question_about_a_stretch_of_time_gets_the_range_from_one_date_to_another():
    from qa.chunking import Chunk
    from qa.documents import Document
    from qa.question import analyze
    from qa.reader.candidates import CandidateGenerator
    from qa.retrieval import Passage
    from qa.sentences import split_sentences

    text = "报名时间为2024年3月1日至3月15日，逾期不予受理。项目实施周期：2025年1月1日-2025年12月31日。"
    doc = Document("d4", "/tmp/d4.txt", "通知", text)
    chunk = Chunk(f"d4-0-{len(text)}", "d4", 0, len(text), text, (), 1, tuple(split_sentences(text, 0, len(text))))
    generator = CandidateGenerator({"d4": doc}, [chunk], [])

    def dates(question):
        q = analyze(question)
        assert q.answer_type == "date"
        return {text[c.start:c.end] for c in generator.candidates(q, [Passage(chunk, 1.0)]) if c.kind == "date"}

    assert {"2024年3月1日至3月15日", "2025年1月1日-2025年12月31日"} <= dates("报名的起止时间是什么？")
    assert "2024年3月1日至3月15日" not in dates("报名什么时候开始？")  # one day asked: no range


@pytest.mark.parametrize(("question", "best_kind", "tightened"), [
    ("这款游戏是由哪两家公司合作开发的？", "span", True),
    ("这款游戏是由哪两家公司合作开发的？", "figure", False),  # a figure keeps its own extent
    ("这款游戏卖了多少套？", "span", False),  # not an open question
])
def test_the_readers_span_inside_the_best_rule_span_answers_an_open_question(question, best_kind, tightened):
    from qa.chunking import Chunk
    from qa.reader import tighter_reader_span
    from qa.reader.records import Candidate
    from qa.sentences import split_sentences

    text = "这款游戏是由甲公司和乙工作室开发的系列第三部作品。"
    sentences = tuple(split_sentences(text, 0, len(text)))
    chunk = Chunk(f"d5-0-{len(text)}", "d5", 0, len(text), text, (), 1, sentences)
    rule = Candidate(chunk, 6, 24, sentences[0], 0.8, 0.5, best_kind)
    reader = Candidate(chunk, 6, 14, sentences[0], 0.6, 0.5, "neural")
    other = Candidate(Chunk("d6-0-5", "d6", 0, 5, "其他公司。", (), 1, ()), 0, 4, sentences[0], 0.5, 0.5, "neural")
    ranked = tighter_reader_span(analyze(question), [(rule, 0.9), (other, 0.4), (reader, 0.3)])
    if tightened:
        assert [(text[c.start:c.end] if c.chunk is chunk else "other", p) for c, p in ranked] == [
            ("甲公司和乙工作室", 0.9), ("甲公司和乙工作室开发的系列第三部作品", 0.9), ("other", 0.4)]
    else:
        assert ranked[0] == (rule, 0.9) and len(ranked) == 3
