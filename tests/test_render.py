"""Tests for qa.render: escaping, exact highlighting, exports with citations."""

from __future__ import annotations

import csv
import io
import json

import pytest

from qa import render
from qa.chunking import Chunk
from qa.config import NO_ANSWER_MESSAGE
from qa.reader import Answer, Citation
from qa.retrieval import Passage

TITLE = "东柳街道2023年工作总结和2024年工作思路"
SECTION = ("一、2023年工作回顾", "(三)坚持“聚民意、暖民心”,民生福祉持续增进。", "持续优化服务供给")


def span(text: str, needle: str) -> tuple[int, int]:
    """Half-open offsets of the first ``needle`` in ``text``."""
    start = text.index(needle)
    return start, start + len(needle)


def paragraph(text: str) -> tuple[int, int]:
    """The 持续优化服务供给 paragraph of the corpus."""
    start = text.index("持续优化服务供给")
    return start, text.index("托育服务圈。", start) + len("托育服务圈。")


def make_answer(text: str, answer: str, sentence: str, doc_text: str | None = None, **kw) -> Answer:
    """An answer whose offsets point into ``doc_text`` (default ``text``)."""
    doc_text = doc_text or text
    s0, s1 = span(doc_text, sentence)
    a0 = doc_text.index(answer, s0)
    p0, p1 = paragraph(doc_text) if "持续优化服务供给" in doc_text else (s0, s1)
    citation = Citation(
        "doc1", TITLE, SECTION, f"doc1-{p0}-{p1}", 14, a0, a0 + len(answer), s0, s1
    )
    question = kw.pop("question", "2023年新增了多少个托位？")
    return Answer(
        question,
        kw.pop("standalone_question", question),
        doc_text[a0 : a0 + len(answer)],
        doc_text[s0:s1],
        citation,
        kw.pop("confidence", 0.91),
        False,
        **kw,
    )


@pytest.fixture()
def answer_124(corpus_text) -> Answer:
    """The real answer to 2023年新增了多少个托位？ at its corpus offsets."""
    return make_answer(corpus_text, "124个", "新增托育驿站4家,新增托位124个,")


def test_escape_neutralises_markup():
    out = render.escape('<script>alert("x")</script><img src=x onerror=alert(1)>')
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out


def test_highlight_marks_exact_offsets(corpus_text):
    start, end = span(corpus_text, "124个")
    p0, p1 = paragraph(corpus_text)
    out = render.highlight(corpus_text[p0:p1], start, end, offset=p0)
    assert out.count("<mark>") == 1
    assert "新增托位<mark>124个</mark>,建立" in out


def test_highlight_applies_offsets_before_escaping():
    text = "a<b>124个</b>&c"
    start, end = span(text, "124个")
    assert render.highlight(text, start, end) == "a&lt;b&gt;<mark>124个</mark>&lt;/b&gt;&amp;c"
    # a span covering markup escapes it inside the mark as well
    assert render.highlight(text, 1, 4) == "a<mark>&lt;b&gt;</mark>124个&lt;/b&gt;&amp;c"


def test_highlight_rejects_span_outside_text():
    with pytest.raises(ValueError, match="outside the text"):
        render.highlight("abc", 2, 5)
    with pytest.raises(ValueError, match="outside the text"):
        render.highlight("abc", 1, 2, offset=5)


def test_cut_question():
    assert render.cut_question("  问题  ", 10) == ("问题", "")
    cut, notice = render.cut_question("问" * 12, 10)
    assert cut == "问" * 10 and "10" in notice


def test_answer_html_short_answer_sentence_citation(answer_124):
    html = render.answer_html(answer_124)
    short, rest = html.split("</b>", 1)
    assert short.endswith("124个")  # the short answer comes first
    assert "新增托位<mark>124个</mark>" in rest
    c = answer_124.citation
    assert f"字符 {c.start}–{c.end}" in rest and "第 14 段" in rest and TITLE in rest
    assert "持续优化服务供给" in rest  # section path
    assert "\n\n" not in html  # one HTML block for the chat's Markdown renderer


def test_answer_html_shows_rewrite_only_when_different(answer_124):
    assert "理解" not in render.answer_html(answer_124)
    follow = make_answer(
        answer_124.sentence, "4家", answer_124.sentence,
        question="托育驿站呢？", standalone_question="2023年新增了多少个托育驿站？",
    )
    assert "按“2023年新增了多少个托育驿站？”理解" in render.answer_html(follow)


def test_answer_html_escapes_document_and_question_text():
    doc = '前文。新增<script>alert(1)</script>托位<img src=x onerror=alert(2)>124个。'
    ans = make_answer(
        doc, "124个", doc[3:], question="<script>x</script>", standalone_question="<b>q</b>"
    )
    html = render.answer_html(ans, notice="<i>n</i>")
    assert "<script" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;<mark>124个</mark>" in html
    assert "&lt;b&gt;q&lt;/b&gt;" in html
    source = render.source_html(ans, doc, 0)
    assert "<script" not in source and "<img" not in source
    assert "<mark>124个</mark>" in source


def test_question_html_escapes():
    assert render.question_html("<script>alert(1)</script>") == (
        '<div class="qa-question">&lt;script&gt;alert(1)&lt;/script&gt;</div>'
    )


def abstention(corpus_text: str) -> Answer:
    """An abstention whose related passage is the 托位 paragraph."""
    p0, p1 = paragraph(corpus_text)
    chunk = Chunk(f"doc1-{p0}-{p1}", "doc1", p0, p1, corpus_text[p0:p1], SECTION, 14, ())
    q = "东柳街道常住人口有多少？"
    return Answer(q, q, "", "", None, 0.1, True, passages=(Passage(chunk, 0.3),))


def test_abstention_says_so_and_lists_related_once(corpus_text):
    ans = abstention(corpus_text)
    html = render.answer_html(ans)
    assert NO_ANSWER_MESSAGE in html and "相关段落" in html
    assert html.count("持续优化服务供给。深入推进") == 1
    source = render.source_html(ans, None)
    assert NO_ANSWER_MESSAGE in source and "相关段落列在对话中" in source
    assert "持续优化服务供给" not in source and "<ol" not in source  # not repeated in the panel


def emptied(question: str = "<img src=x onerror=alert(1)>") -> Answer:
    """What Assistant.ask returns for a question that cleaning empties."""
    return Answer(question, "", "", "", None, 0.0, True, notice="请输入问题。")


def test_question_emptied_by_cleaning_shows_only_the_notice():
    ans = emptied()
    assert render.is_empty_question(ans)
    html = render.answer_html(ans)
    assert html == '<div class="qa-reply"><div class="qa-short"><b>请输入问题。</b></div></div>'
    md = render.export_markdown([{"question": ans.question, "notice": "", "answer": ans.to_dict()}])
    assert "> 请输入问题。" in md and NO_ANSWER_MESSAGE not in md and "理解为" not in md


def test_abstention_is_not_an_empty_question(corpus_text):
    assert not render.is_empty_question(abstention(corpus_text))


def test_citation_line_without_section_has_no_stray_separator():
    c = Citation("d", "东柳街道通知", (), "d-0-9", 1, 3, 7, 0, 9)
    assert render.citation_line(c) == "东柳街道通知（第 1 段，字符 3–7）"
    c = Citation("d", "东柳街道通知", ("一、总体要求", ""), "d-0-9", 2, 3, 7, 0, 9)
    assert render.citation_line(c) == "东柳街道通知 > 一、总体要求（第 2 段，字符 3–7）"
    assert render.citation_path("", ("一、总体要求",)) == "一、总体要求"


def test_citation_line_in_the_reply_is_not_small_print(answer_124):
    html = render.answer_html(answer_124)
    cite = html[html.index('<div class="qa-cite">'):]
    assert cite.startswith(f'<div class="qa-cite">出处：《{TITLE}》')
    assert "<small>" not in cite.split("</div>", 1)[0]


def test_source_html_whole_paragraph_and_alternatives(corpus_text, answer_124):
    alt = make_answer(corpus_text, "4家", "新增托育驿站4家,新增托位124个,", confidence=0.4)
    ans = Answer(**{**answer_124.__dict__, "alternatives": (alt, alt, alt)})
    p0, p1 = paragraph(corpus_text)
    html = render.source_html(ans, corpus_text[p0:p1], p0)
    assert html.startswith('<div class="qa-source">')
    assert "持续优化服务供给" in html and "托育服务圈。" in html  # the whole paragraph
    assert html.count("<mark>124个</mark>") == 1  # the paragraph (the alternatives mark 4家)
    assert html.count("<mark>4家</mark>") == 2  # at most two alternatives


def test_answer_to_dict_is_json_ready(corpus_text, answer_124):
    d = answer_124.to_dict()
    assert json.loads(json.dumps(d)) == d
    c = d["citation"]
    assert corpus_text[c["start"] : c["end"]] == "124个"
    assert corpus_text[c["sentence_start"] : c["sentence_end"]] == d["sentence"]
    assert c["section_path"] == list(SECTION) and c["paragraph"] == 14


def turns(corpus_text: str, answer: Answer) -> list[dict]:
    return [
        {"question": answer.question, "notice": "", "answer": answer.to_dict()},
        {"question": "东柳街道常住人口有多少？", "notice": "问题过长",
         "answer": abstention(corpus_text).to_dict()},
    ]


def test_export_markdown_contains_citations(corpus_text, answer_124):
    md = render.export_markdown(turns(corpus_text, answer_124), "2024-01-01 00:00:00")
    c = answer_124.citation
    assert "## 1. 2023年新增了多少个托位？" in md
    assert "**答案：** 124个" in md
    assert f"字符 [{c.start}, {c.end})" in md and f"《{TITLE}》" in md and "第 14 段" in md
    assert f"**答案：** {NO_ANSWER_MESSAGE}" in md and "> 问题过长" in md


def test_export_json_contains_citations(corpus_text, answer_124):
    data = json.loads(render.export_json(turns(corpus_text, answer_124), "now"))
    first, second = data["turns"]
    assert first["answer"]["citation"]["start"] == answer_124.citation.start
    assert first["answer"]["text"] == "124个"
    assert second["answer"]["abstained"] and second["answer"]["passages"]
    assert "托位" in render.export_json([first])  # Chinese kept as is, not \\u escapes


class _Fig:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_figure_rows_and_csv(corpus_text):
    start, end = span(corpus_text, "124个")
    s0, s1 = span(corpus_text, "新增托育驿站4家,新增托位124个,")
    fig = _Fig(doc_id="doc1", text="124个", start=start, end=end, value=124.0, unit="个",
               metric="新增托位", period="2023", kind="actual", is_change=False,
               sentence_start=s0, sentence_end=s1)
    doc = _Fig(title=TITLE, text=corpus_text)
    rows = render.figure_rows([fig], {"doc1": doc})
    assert rows[0][:8] == [TITLE, "新增托位", "124个", 124.0, "个", "2023", "实际", ""]
    assert rows[0][9] == corpus_text[s0:s1]
    parsed = list(csv.reader(io.StringIO(render.figures_csv(rows))))
    assert parsed[0] == render.FIGURE_HEADERS and parsed[1][2] == "124个"


def test_document_rows():
    doc = _Fig(id="abc", title="T", text="x" * 10, path="/a/b/report.txt",
               metadata={"publisher": "东柳街道", "date": "2024-03-21"})
    assert render.document_rows([doc], {"abc": 7}) == [
        ["T", "东柳街道", "2024-03-21", "", 10, 7, "report.txt", "abc"]
    ]
