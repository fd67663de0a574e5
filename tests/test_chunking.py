"""Tests for :mod:`qa.chunking`: structure-aware chunks, exact offsets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.chunking import HEADER_SECTION, Chunk, chunk_document, split_sentences
from qa.documents import Document, document_id, load_document

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILE = ROOT / "src" / "qa" / "data" / "corpus" / "dongliu-2023-review-2024-plan.txt"
GOLD_FILE = ROOT / "eval" / "seed_qa.jsonl"
EXTRA_DIR = ROOT.parent / "shared" / "corpus-extra"

needs_extra = pytest.mark.skipif(
    not EXTRA_DIR.is_dir(), reason=f"shared extra corpus not present at {EXTRA_DIR}"
)

#: Every chunk of the default corpus with max_chars=200, overlap_sentences=1:
#: two header chunks, then the body (paragraph 1 … 37).
DONGLIU_SPANS = [
    (0, 161), (162, 208), (221, 416), (370, 443), (469, 582), (583, 736), (737, 913),
    (939, 1083), (1084, 1222), (1223, 1367), (1368, 1523), (1549, 1714), (1683, 1777),
    (1778, 1961), (1916, 2008), (2009, 2125), (2126, 2287), (2313, 2490), (2491, 2655),
    (2656, 2822), (2749, 2912), (2938, 3077), (3078, 3257), (3258, 3373), (3374, 3559),
    (3530, 3621), (3634, 3682), (3682, 3836), (3837, 3918), (3940, 4063), (4064, 4185),
    (4186, 4303), (4325, 4462), (4463, 4598), (4599, 4728), (4750, 4872), (4873, 5006),
    (5007, 5161), (5183, 5322), (5323, 5476), (5477, 5593), (5616, 5691), (5692, 5850),
    (5851, 6007), (6008, 6166),
]  # fmt: skip
DONGLIU_PARAGRAPHS = [
    0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 10, 11, 12, 13, 14, 15, 15, 16, 17, 18, 19,
    19, 20, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
]  # fmt: skip
SECTION_1 = "一、2023年工作回顾"
SECTION_1_1 = "(一)坚持“谋发展、促增长”,全力提振经济活力。"


@pytest.fixture(scope="module")
def dongliu() -> Document:
    return load_document(CORPUS_FILE)


@pytest.fixture(scope="module")
def chunks(dongliu) -> list[Chunk]:
    return chunk_document(dongliu)


def _extra_docs() -> list[Document]:
    if not EXTRA_DIR.is_dir():
        return []
    return [load_document(p) for p in sorted(EXTRA_DIR.iterdir()) if p.suffix in (".txt", ".html")]


def _check_invariants(doc: Document, chunks: list[Chunk]) -> None:
    body_end = len(doc.text) if doc.body_end < 0 else doc.body_end
    last_paragraph = 0
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.id == f"{doc.id}-{c.start}-{c.end}"
        assert c.doc_id == doc.id
        assert c.text == c.text.strip(" \t\n\u3000")
        assert c.sentences and c.sentences[0].start == c.start and c.sentences[-1].end == c.end
        for s in c.sentences:
            assert c.start <= s.start < s.end <= c.end
            assert doc.text[s.start : s.end] == s.text
        if c.paragraph == 0:
            assert c.section_path == (HEADER_SECTION,)
            assert c.end <= doc.body_start
        else:
            assert doc.body_start <= c.start and c.end <= body_end
            assert c.paragraph in (last_paragraph, last_paragraph + 1)
            last_paragraph = c.paragraph


# --------------------------------------------------------------------------- default corpus


def test_default_corpus_exact_chunk_offsets(dongliu, chunks):
    assert [(c.start, c.end) for c in chunks] == DONGLIU_SPANS
    assert [c.paragraph for c in chunks] == DONGLIU_PARAGRAPHS
    _check_invariants(dongliu, chunks)
    assert chunks[2].id == f"{dongliu.id}-221-416"


def test_default_corpus_chunk_lengths(chunks):
    body = [c for c in chunks if c.paragraph]
    assert max(len(c.text) for c in body) <= 200
    assert min(len(c.text) for c in body) >= 40


def test_section_path_with_topic_sentence(chunks):
    c = next(c for c in chunks if c.text.startswith("紧盯关键指标。"))
    assert (c.start, c.end) == (469, 582)
    assert c.section_path == (SECTION_1, SECTION_1_1, "紧盯关键指标")
    assert c.text.endswith("引进亿元以上重大项目4个。")


def test_section_paths_follow_the_outline(chunks):
    by_start = {c.start: c for c in chunks}
    assert by_start[221].section_path == (SECTION_1,)
    assert by_start[1549].section_path == (
        SECTION_1, "(三)坚持“聚民意、暖民心”,民生福祉持续增进。", "持续优化服务供给",
    )  # fmt: skip
    assert by_start[3374].section_path == (SECTION_1, "(五)坚持“聚合力、增效能”,政府建设更添活力。")
    assert by_start[3634].section_path == ("二、2024年主要工作",)
    assert by_start[5616].section_path == (
        "二、2024年主要工作",
        "(五)坚持和加强党的领导,提升履职服务能力",
    )
    assert by_start[0].section_path == by_start[162].section_path == (HEADER_SECTION,)


def test_heading_on_the_body_line_is_left_out(dongliu, chunks):
    # "一、2023年工作回顾 2023年是…": the body text after the heading starts the chunk.
    assert dongliu.text[209:220] == SECTION_1
    assert chunks[2].text.startswith("2023年是全面贯彻党的二十大精神开局之年")
    headings = {label for c in chunks for label in c.section_path[:2]}
    for c in chunks:
        assert c.text not in headings
        assert not any(c.text.startswith(h) for h in headings if h != HEADER_SECTION)


def test_space_inside_a_sentence_does_not_split_a_paragraph(chunks):
    c = next(c for c in chunks if c.text.startswith("2024年是奋进"))
    assert (
        c.text
        == "2024年是奋进“主城新生” 争创“幸福典范”东柳的奋进之年,做好各项工作,意义非凡、责任重大。"
    )


def test_long_paragraph_pieces_overlap_by_one_sentence(chunks):
    first, second = chunks[2], chunks[3]
    assert first.paragraph == second.paragraph == 1
    shared = first.sentences[-1]
    assert (
        shared.text == "全年实现地区生产总值60.3亿元,一般公共预算收入2亿元,同比分别-6.2%、-19.3%。"
    )
    assert second.sentences[0] == shared


def test_no_overlap_when_asked(dongliu):
    chunks = chunk_document(dongliu, max_chars=120, overlap_sentences=0)
    assert [(c.start, c.end) for c in chunks if c.paragraph == 1] == [
        (221, 257),
        (257, 370),
        (370, 443),
    ]
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_short_tail_joins_the_piece_before(dongliu):
    # 221–416 fits 200 characters; the 26-character last sentence joins it (222 <= 250).
    pieces = [c for c in chunk_document(dongliu, overlap_sentences=0) if c.paragraph == 1]
    assert [(c.start, c.end) for c in pieces] == [(221, 443)]


def test_header_chunk_holds_the_publication_date(chunks):
    assert chunks[1].text == "发布日期: 2024-03-21 11:04 信息来源: 东柳街道 信息来源: 东柳街道 |"


def test_header_can_be_left_out(dongliu):
    assert all(c.paragraph > 0 for c in chunk_document(dongliu, include_header=False))


def test_gold_evidence_lies_inside_a_chunk(chunks):
    rows = [json.loads(line) for line in GOLD_FILE.read_text(encoding="utf-8").splitlines() if line]
    spans = [
        (r["evidence_start"], r["evidence_end"])
        for r in rows
        if r.get("evidence_start") is not None
    ]
    assert len(spans) == 55
    for s, e in spans:
        holders = [c for c in chunks if c.start <= s and e <= c.end]
        assert 1 <= len(holders) <= 2, (s, e)  # two only where overlapping pieces share it


def test_numbers_dates_and_quotes_are_never_split(dongliu):
    sentences = split_sentences(dongliu.text, dongliu.body_start, dongliu.body_end)
    cuts = {s.end for s in sentences} | {s.start for s in sentences}
    for m in re.finditer(r"-?\d+(?:\.\d+)?%?|\d{4}-\d{2}-\d{2}", dongliu.text):
        assert not any(m.start() < cut < m.end() for cut in cuts), m.group()
    for s in sentences:
        assert s.text.count("“") == s.text.count("”"), s.text
    assert any(
        s.text.endswith("60.3亿元,一般公共预算收入2亿元,同比分别-6.2%、-19.3%。") for s in sentences
    )


def test_chunking_is_pure(dongliu, chunks):
    assert chunk_document(dongliu) == chunks


def test_bad_arguments():
    doc = Document(id="x", path="x", title="", text="正文。")
    with pytest.raises(ValueError, match="max_chars must be at least 1"):
        chunk_document(doc, max_chars=0)
    with pytest.raises(ValueError, match="overlap_sentences must be 0 or more"):
        chunk_document(doc, overlap_sentences=-1)
    with pytest.raises(ValueError, match="outside text"):
        chunk_document(Document(id="x", path="x", title="", text="正文。", body_start=5))


# --------------------------------------------------------------------------- structure


def _doc(text: str, body_start: int = 0) -> Document:
    return Document(id=document_id(text), path="mem", title="t", text=text, body_start=body_start)


def test_heading_lines_attach_to_the_next_paragraph():
    text = "一、工作回顾\n\n（一）经济发展\n\n　　稳住基本盘。全年增长5.2%，好于预期。\n\n（二）民生\n\n就业稳定。"
    chunks = chunk_document(_doc(text))
    assert [c.text for c in chunks] == [
        "一、工作回顾\n\n（一）经济发展\n\n　　稳住基本盘。全年增长5.2%，好于预期。",
        "（二）民生\n\n就业稳定。",
    ]
    assert chunks[0].section_path == ("一、工作回顾", "（一）经济发展", "稳住基本盘")
    assert chunks[1].section_path == ("一、工作回顾", "（二）民生")
    assert [c.paragraph for c in chunks] == [1, 2]


def test_inline_heading_sentence_is_left_out_of_the_chunk():
    text = "（一）三大攻坚战强力突破。坚决贯彻落实上级决策部署，全年脱贫301户。\n（二）城市建管水平有效提升。投资1100万元。"
    chunks = chunk_document(_doc(text))
    assert [c.text for c in chunks] == [
        "坚决贯彻落实上级决策部署，全年脱贫301户。",
        "投资1100万元。",
    ]
    assert chunks[0].section_path == ("（一）三大攻坚战强力突破。",)


def test_heading_levels_and_markdown():
    text = "# 总则\n\n## 概况\n\n第一章 总体要求\n\n第一节 目标\n\n1.增长目标\n\n（1）生产总值增长5%左右。\n\n2.就业目标\n\n新增就业1万人。"
    chunks = chunk_document(_doc(text))
    assert [c.section_path for c in chunks] == [
        ("总则", "概况", "第一章 总体要求", "第一节 目标", "1.增长目标"),
        ("总则", "概况", "第一章 总体要求", "第一节 目标", "2.就业目标"),
    ]
    # the first chunk carries all the heading lines above its paragraph, which is
    # the numbered item "（1）…。" (an item, not a heading: no paragraph follows it)
    assert chunks[0].text == text[: text.index("\n\n2.")]
    assert chunks[1].text == "2.就业目标\n\n新增就业1万人。"


def test_numbered_items_are_content_not_headings():
    text = "二、主要目标\n1.地区生产总值增长6%。\n2.城镇新增就业1万人。\n3.粮食产量稳定。\n三、重点工作\n抓好项目建设。"
    chunks = chunk_document(_doc(text))
    assert [c.text for c in chunks] == [
        "二、主要目标\n1.地区生产总值增长6%。\n2.城镇新增就业1万人。\n3.粮食产量稳定。",
        "三、重点工作\n抓好项目建设。",
    ]
    assert [c.section_path for c in chunks] == [("二、主要目标",), ("三、重点工作",)]


def test_empty_sections_and_trailing_headings_are_dropped():
    text = "一、空的一节\n二、有内容的一节\n正文一句。\n三、末尾标题"
    chunks = chunk_document(_doc(text))
    assert [c.text for c in chunks] == ["二、有内容的一节\n正文一句。"]
    assert chunks[0].section_path == ("二、有内容的一节",)


def test_long_sentence_is_cut_at_clause_marks_without_splitting_numbers():
    sentence = "，".join(f"第{i}项指标完成{i}.5亿元增长{i}.25%" for i in range(1, 30)) + "。"
    chunks = chunk_document(_doc(sentence), max_chars=60)
    assert len(chunks) > 3
    assert all(len(c.text) <= 60 for c in chunks)
    for c in chunks:
        assert re.search(r"\d\.$|^\.\d|^\d", c.text) is None or c.text.startswith("第"), c.text


def test_running_headers_are_not_chunked():
    text = "统计公报\n一、综合\n第一段内容。\n统计公报\n第二段内容。\n统计公报\n第三段内容。"
    chunks = chunk_document(_doc(text))
    assert all("统计公报" not in c.text for c in chunks)
    assert [c.text for c in chunks][0] == "一、综合\n第一段内容。"


# --------------------------------------------------------------------------- extra corpus


@needs_extra
def test_extra_documents_chunk_cleanly():
    docs = _extra_docs()
    assert len(docs) == 8
    for doc in docs:
        chunks = chunk_document(doc)
        _check_invariants(doc, chunks)
        body = [c for c in chunks if c.paragraph]
        assert body, doc.path
        assert max(len(c.text) for c in body) <= 250, doc.path
        for c in body:
            for junk in (
                "责任编辑",
                "【打印本页】",
                "来源URL",
                "洛阳市2023年国民经济和社会发展统计公报",
            ):
                assert junk not in c.text, (doc.path, c.text)
            assert c.text not in {label for label in c.section_path}


@needs_extra
def test_extra_section_paths():
    doc = load_document(EXTRA_DIR / "hailar-2019-report.txt")
    chunks = chunk_document(doc)
    c = next(
        c for c in chunks if c.text.startswith("坚决贯彻落实上级党委、政府关于打好“三大攻坚战”")
    )
    assert c.section_path == ("一、2018年工作回顾", "（一）三大攻坚战强力突破。")
    doc = load_document(EXTRA_DIR / "hailar-2014-report.txt")
    c = next(c for c in chunk_document(doc) if "区域商贸中心地位不断增强。" in c.text)
    assert c.text.startswith("（一）经济保持较快发展\n\n　　区域商贸中心地位不断增强。")
    assert c.section_path == (
        "一、2013年工作回顾",
        "（一）经济保持较快发展",
        "区域商贸中心地位不断增强",
    )
    doc = load_document(EXTRA_DIR / "luoyang-2023-stats-bulletin.txt")
    c = next(c for c in chunk_document(doc) if "全市生产总值②达到5481.6亿元" in c.text)
    assert c.section_path == ("一、综合",)


def test_table_rows_are_never_headings():
    """Rows rendered by qa.documents.tables (``label｜header：value``) keep the
    section of the table: neither a numbered row label (``六、大洋洲``) nor a
    ``#`` sub-item row (``# 美国``, read as Markdown) opens a section."""
    text = ("六、对外经济\n全年进出口总额5000亿元。\n"
            "五、北美洲｜出口额：692.9亿元；进口额：157.9亿元\n"
            "# 美国｜出口额：633.0亿元；进口额：123.9亿元\n"
            "六、大洋洲｜出口额：100.5亿元；进口额：156.4亿元\n"
            "外资规模稳步提升。全年实际使用外资48.5亿美元。\n")
    doc = Document("d1", "/tmp/t.txt", "", text)
    paths = {c.section_path for c in chunk_document(doc, max_chars=60, overlap_sentences=0)}
    assert paths == {("六、对外经济",), ("六、对外经济", "外资规模稳步提升")}  # the second: a topic sentence
