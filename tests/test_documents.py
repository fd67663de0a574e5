"""Tests for :mod:`qa.documents`: encodings, portal metadata, HTML extraction, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qa.documents import (
    DocumentError,
    LoadReport,
    SkippedFile,
    boilerplate_spans,
    decode_bytes,
    load_document,
    load_documents,
    normalize_text,
    read_documents,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILE = ROOT / "src" / "qa" / "data" / "corpus" / "dongliu-2023-review-2024-plan.txt"
GOLD_FILE = ROOT / "eval" / "seed_qa.jsonl"
EXTRA_DIR = ROOT.parent / "shared" / "corpus-extra"

needs_extra = pytest.mark.skipif(
    not EXTRA_DIR.is_dir(), reason=f"shared extra corpus not present at {EXTRA_DIR}"
)


@pytest.fixture(scope="module")
def dongliu():
    return load_document(CORPUS_FILE)


# --------------------------------------------------------------------------- default corpus


def test_default_corpus_text_is_the_file_text(dongliu):
    raw = CORPUS_FILE.read_text(encoding="utf-8")
    assert dongliu.text == raw.replace("\r\n", "\n")
    assert dongliu.path == str(CORPUS_FILE.resolve())
    assert dongliu.id == hashlib.sha256(dongliu.text.encode("utf-8")).hexdigest()[:16]
    assert load_document(CORPUS_FILE).id == dongliu.id


def test_default_corpus_metadata(dongliu):
    m = dongliu.metadata
    assert dongliu.title == "东柳街道2023年工作总结和2024年工作思路"
    assert m["title"] == dongliu.title
    assert m["publisher"] == "东柳街道"
    assert m["date"] == "2024-03-21"
    assert m["datetime"] == "2024-03-21 11:04"
    assert m["index_number"] == "K16059504/2024-117342"
    assert m["source"] == "东柳街道"
    assert m["encoding"] == "utf-8"


def test_default_corpus_body_span_excludes_header_and_footer(dongliu):
    assert (dongliu.body_start, dongliu.body_end) == (209, 6166)
    body = dongliu.text[dongliu.body_start : dongliu.body_end]
    assert body.startswith("一、2023年工作回顾 2023年是")
    assert body.endswith("用政府“勤廉指数”换取群众“幸福指数”。")
    assert dongliu.text[dongliu.body_end :] == " |\n【打印本页】 【关闭窗口】 |"
    assert "索引号" not in body and "【" not in body


def test_gold_offsets_index_the_canonical_text(dongliu):
    for line in GOLD_FILE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("evidence_start") is not None:
            assert dongliu.text[row["evidence_start"] : row["evidence_end"]] == row["evidence"]


# --------------------------------------------------------------------------- encodings and text


def test_gbk_crlf_fixture(tmp_path):
    text = "政 府 工 作 报 告\r\n\r\n——2018年3月7日在某区人民代表大会上\r\n\r\n各位代表：\r\n\r\n　　全年地区生产总值完成60.3亿元，增长6.2%。\r\n"
    path = tmp_path / "report.txt"
    path.write_bytes(text.encode("gbk"))
    doc = load_document(path)
    assert doc.metadata["encoding"] == "gb18030"
    assert doc.text == text.replace("\r\n", "\n")
    assert "\r" not in doc.text
    assert doc.title == "政府工作报告（2018年3月7日在某区人民代表大会上）"
    assert doc.metadata["date"] == "2018-03-07"
    assert doc.text[doc.body_start :].startswith("各位代表：")


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
def test_byte_order_marks(tmp_path, bom, encoding):
    text = "标题行\n正文第一句。第二句。\n"
    path = tmp_path / "bom.txt"
    path.write_bytes(bom + text.encode(encoding))
    assert load_document(path).text == text


def test_control_characters_keep_length():
    raw = "正文\x07内容\x0c下一页\r旧式换行\t制表\x1b[0m\x85结束"
    out = normalize_text(raw)
    assert len(out) == len(raw)
    assert out == "正文 内容\n下一页\n旧式换行\t制表 [0m\n结束"
    assert normalize_text("a\r\nb") == "a\nb"


def test_control_characters_in_a_file(tmp_path):
    path = tmp_path / "ctl.txt"
    path.write_bytes("通知标题\r\n\r\n第一段\x01内容。\r\n".encode())
    doc = load_document(path)
    assert doc.text == "通知标题\n\n第一段 内容。\n"
    assert doc.title == "通知标题"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty file"),
        (b"  \n\r\n\t", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
        (b"\x01\x02\x03\x04abc" * 50, "binary file"),
    ],
)
def test_unreadable_content_raises(tmp_path, data, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=match):
        load_document(path)


def test_decode_rejects_unknown_bytes():
    with pytest.raises(DocumentError, match="binary|cannot detect"):
        decode_bytes(bytes(range(128, 256)) * 8, source="x")


def test_unsupported_missing_and_directory_paths(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(
        DocumentError, match=r"unsupported file type '\.xlsx'.*\.txt, \.md, \.html, \.htm, \.pdf, \.docx"
    ):
        load_document(tmp_path / "a.xlsx")
    with pytest.raises(DocumentError, match="cannot read file"):
        load_document(tmp_path / "missing.txt")
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(DocumentError, match="cannot read file"):
        load_document(tmp_path / "folder.txt")
    with pytest.raises(DocumentError, match="no such file or directory"):
        load_documents([tmp_path / "missing"])


def test_header_only_file_has_no_body(tmp_path):
    path = tmp_path / "header.txt"
    path.write_text(
        "索引号 | X-1 | |\n发布机构 | 某街道 |\n某标题 |\n【打印本页】 【关闭窗口】 |\n",
        encoding="utf-8",
    )
    with pytest.raises(DocumentError, match="no body text"):
        load_document(path)


def test_boilerplate_only_body_and_title_only_page(tmp_path):
    path = tmp_path / "footer.txt"
    path.write_text("通知\n\n【打印本页】 【关闭窗口】\n（责任编辑：某某）\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="no body text"):
        load_document(path)
    page = tmp_path / "title.html"
    page.write_text("<html><head><title>只有标题</title></head><body></body></html>", "utf-8")
    with pytest.raises(DocumentError, match="no body text"):
        load_document(page)


def test_prepended_metadata_block_and_editor_line(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text(
        "标题：2022年某市政府工作报告\n发文单位：某市人民政府\n发文时间：未知\n"
        "来源URL：http://example.cn/a.shtml\n\n正文：\n\n"
        "――2022年1月23日在某市第十六届人民代表大会第二次会议上\n某市人民政府市长 张三\n"
        "各位代表：\n全年生产总值增长6.1%。\n（责任编辑：李四）\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert (
        doc.title == "2022年某市政府工作报告（2022年1月23日在某市第十六届人民代表大会第二次会议上）"
    )
    assert doc.metadata["publisher"] == "某市人民政府"
    assert doc.metadata["date"] == "2022-01-23"
    assert doc.metadata["speaker"] == "市长 张三"
    assert doc.metadata["source_url"] == "http://example.cn/a.shtml"
    assert doc.text[doc.body_start : doc.body_end] == "各位代表：\n全年生产总值增长6.1%。"


def test_running_headers_are_boilerplate():
    text = (
        "统计公报\n一、综合\n第一段。\n统计公报\n第二段。\n统计公报\n第三段。\n（责任编辑：王五）\n"
    )
    spans = boilerplate_spans(text)
    assert [text[s:e] for s, e in spans] == ["统计公报"] * 3 + ["（责任编辑：王五）"]


# --------------------------------------------------------------------------- HTML and Markdown

PAGE = """<html><head><meta charset="utf-8"><title>植树通知_某市人民政府</title>
<meta name="ArticleTitle" content="关于春季植树活动的通知"><meta name="PubDate" content="2024-03-05 10:00">
<meta name="ContentSource" content="某市林业局">
<style>.nav{color:red} body{font-size:12px}</style>
<script>var x = "脚本内容"; document.write("不应出现");</script></head>
<body><div class="nav"><a href="/">首页</a><a href="/g">政务公开</a><a href="/s">办事服务</a></div>
<nav><ul><li>导航一</li><li>导航二</li></ul></nav>
<div class="main"><h1>关于春季植树活动的通知</h1><div class="info">发布日期：2024-03-05 索引号：ABC-2024-001</div>
<div class="content"><p>　　各单位：定于3月12日开展植树活动\x01。</p>
<p>　　一、活动时间：2024年3月12日上午9时。</p><p>&nbsp;</p>
<p>二、活动地点：城东公园，预计植树1.5万株。<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></p>
<script>alert("再一段脚本")</script></div></div>
<div class="footer">版权所有 网站标识码：1234 <a href="/about">关于我们</a></div></body></html>"""


def test_html_script_style_nav_and_controls_removed(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load_document(path)
    assert doc.text == (
        "关于春季植树活动的通知\n各单位：定于3月12日开展植树活动 。\n"
        "一、活动时间：2024年3月12日上午9时。\n二、活动地点：城东公园，预计植树1.5万株。"
    )
    assert doc.title == "关于春季植树活动的通知"
    assert doc.text[doc.body_start :].startswith("各单位")
    assert doc.metadata["date"] == "2024-03-05"
    assert doc.metadata["publisher"] == "某市林业局"
    assert doc.metadata["index_number"] == "ABC-2024-001"
    for junk in ("脚本", "首页", "导航", "font-size", "base64", "网站标识码", "关于我们"):
        assert junk not in doc.text


def test_markdown_headings_stay_in_text(tmp_path):
    path = tmp_path / "notes.md"
    text = "# 年度总结\n\n## 一、经济\n\n全年增长5.2%。\n"
    path.write_text(text, encoding="utf-8")
    doc = load_document(path)
    assert doc.text == text
    assert doc.title == "年度总结"
    assert doc.body_start == 0


# --------------------------------------------------------------------------- load_documents


def test_load_documents_walks_sorts_and_dedups(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "same.txt").write_text("甲文件\n内容一。\n", encoding="utf-8")
    (tmp_path / "b" / "same.txt").write_text("乙文件\n内容二。\n", encoding="utf-8")
    (tmp_path / "b" / "copy.txt").write_text("甲文件\n内容一。\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# about this folder\n\nWhat the files are.\n", encoding="utf-8")
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("隐藏\n", encoding="utf-8")
    docs = load_documents(tmp_path)
    assert [Path(d.path).relative_to(tmp_path).as_posix() for d in docs] == [
        "a/same.txt",
        "b/same.txt",
    ]
    assert (
        load_documents([tmp_path / "a" / "same.txt", tmp_path / "b" / "copy.txt"])[0].id
        == docs[0].id
    )
    assert len(load_documents([tmp_path / "a", tmp_path / "a"])) == 1
    # an explicit README path is read
    assert load_documents(tmp_path / "README.md")[0].title == "about this folder"


def test_load_documents_strict_and_lenient(tmp_path):
    (tmp_path / "good.txt").write_text("标题\n正文。\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DocumentError, match="empty"):
        load_documents(tmp_path)
    assert [Path(d.path).name for d in load_documents(tmp_path, strict=False)] == ["good.txt"]


def test_read_documents_skips_bad_files_and_says_why(tmp_path):
    (tmp_path / "a-good.txt").write_text("防汛通知\n各街道做好防汛准备。\n", encoding="utf-8")
    (tmp_path / "b-source-only.txt").write_text("（出处：北京市防汛手册）\n", encoding="utf-8")
    (tmp_path / "c-empty.txt").write_bytes(b"")
    (tmp_path / "d-good.html").write_text(
        "<html><head><title>通知</title></head><body><p>汛期自6月1日起。</p></body></html>", encoding="utf-8")
    (tmp_path / "e-binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "f.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "README.md").write_text("# about\n", encoding="utf-8")
    met: list[SkippedFile] = []
    report = read_documents(tmp_path, on_skip=met.append)
    assert [Path(d.path).name for d in report.documents] == ["a-good.txt", "d-good.html"]
    assert report.files == 5 and report.read == 2 and report.other_types == {".xlsx": 1}
    assert report.skipped == met
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("b-source-only.txt", "no body text after removing metadata and boilerplate"),
        ("c-empty.txt", "empty file (0 bytes, no text)"),
        ("e-binary.txt", "binary file (contains NUL bytes; read as UTF-16-BE without a byte-order mark: "
                         "illegal UTF-16 surrogate at byte 232), not a text document"),
    ]
    assert report.summary("indexed", limit=2) == (
        "indexed 2 of 5 files; 3 skipped: b-source-only.txt (no body text after removing metadata "
        "and boilerplate), c-empty.txt (empty file (0 bytes, no text)), …; not read (unsupported types): 1 .xlsx"
    )
    with pytest.raises(DocumentError, match="b-source-only.txt: no body text"):
        read_documents(tmp_path, strict=True)


def test_load_report_summary_counts_with_thousands_separators():
    skipped = [SkippedFile(f"/d/a{i:05d}.txt", "no body text") for i in range(12)]
    report = LoadReport([], skipped, 2058)
    assert report.summary("indexed", limit=1) == "indexed 2,046 of 2,058 files; 12 skipped: a00000.txt (no body text), …"
    assert LoadReport([], [], 3).summary() == "read 3 of 3 files"


@pytest.mark.parametrize("content", ["\u3000\u2003\u200b\ufeff  \n", "\n\n\n\ufeff", "\u2003\n\u200b\n", "\u3000" * 50])
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_white_space_only_file_is_refused(tmp_path, content, suffix):
    path = tmp_path / f"blank{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentError, match="no visible text, only white space"):
        load_document(path)


def test_white_space_only_file_names_the_invisible_characters(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\u3000\u2003\n\u200b\ufeff  \n", encoding="utf-8")
    with pytest.raises(DocumentError) as error:
        load_document(path)
    assert error.value.reason == (
        "no visible text, only white space and invisible characters (U+2003, U+200B, U+3000, U+FEFF)"
    )


def test_invisible_first_line_is_not_the_title(tmp_path):
    path = tmp_path / "notice.txt"
    path.write_text("\u2003\u200b\n\n防汛工作通知\n各街道做好防汛准备。\n", encoding="utf-8")
    assert load_document(path).title == "防汛工作通知"


def test_headings_only_body_is_refused(tmp_path):
    path = tmp_path / "outline.txt"
    path.write_text("工作要点\n一、目标\n二、措施\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="no paragraphs to index"):
        load_document(path)


NOTICE = "关于做好2024年防汛工作的通知\n各街道：\n为切实做好今年防汛工作，现将有关事项通知如下。\n一、汛期自6月1日起至9月30日止。\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_decoded(tmp_path, encoding):
    path = tmp_path / "notice.txt"
    path.write_bytes(NOTICE.encode(encoding))
    doc = load_document(path)
    assert doc.text == NOTICE
    assert doc.metadata["encoding"] == encoding
    assert doc.title == "关于做好2024年防汛工作的通知"


def test_utf16_without_bom_that_does_not_decode_says_so():
    data = NOTICE.encode("utf-16-le")
    broken = data[:8] + "\udc00".encode("utf-16-le", "surrogatepass") + data[8:]
    with pytest.raises(DocumentError) as error:
        decode_bytes(broken, source="x.txt")
    assert error.value.reason == (
        "binary file (contains NUL bytes; read as UTF-16-LE without a byte-order mark: "
        "illegal encoding at byte 8), not a text document"
    )


def test_stray_nul_bytes_in_utf8_are_still_binary():
    with pytest.raises(DocumentError, match="binary file"):
        decode_bytes("正文内容。".encode() + b"\x00" + "更多内容".encode() + b"\x00", source="x")


def test_symlink_loop_and_broken_link_say_so(tmp_path):
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    dead = tmp_path / "dead.txt"
    dead.symlink_to(tmp_path / "gone.txt")
    with pytest.raises(DocumentError) as error:
        load_document(loop)
    assert error.value.reason == "cannot read file: symbolic link loop (the link never reaches a file)"
    with pytest.raises(DocumentError) as error:
        load_document(dead)
    assert error.value.reason == f"cannot read file: broken symbolic link (its target {tmp_path / 'gone.txt'} does not exist)"
    (tmp_path / "good.txt").write_text("通知\n内容。\n", encoding="utf-8")
    report = read_documents(tmp_path, on_skip=lambda s: None)
    assert [Path(d.path).name for d in report.documents] == ["good.txt"]
    assert sorted(Path(s.path).name for s in report.skipped) == ["dead.txt", "loop.txt"]


# --------------------------------------------------------------------------- extra corpus

EXTRA = {
    # file: (title, publisher, date, body starts with, body ends with)
    "hailar-2014-report.txt": (
        "政府工作报告（2014年2月19日在海拉尔区第十四届人民代表大会第三次会议上）",
        "海拉尔区人民政府", "2014-02-19", "各位代表：", "开创区域经济中心和区域中心城市建设新局面而努力奋斗!",
    ),
    "hailar-2018-report.txt": (
        "政府工作报告（2018年3月7日在海拉尔区第十五届人民代表大会第二次会议上）",
        "海拉尔区人民政府", "2018-03-07", "各位代表：", "开创决胜全面建成小康社会新局面而不懈奋斗！",
    ),
    "hailar-2019-report.txt": (
        "政府工作报告（2019年3月4日在呼伦贝尔市海拉尔区第十五届人民代表大会第三次会议上）",
        "呼伦贝尔市海拉尔区人民政府", "2019-03-04", "各位代表：", "以优异成绩庆祝新中国成立70周年！",
    ),
    "luoyang-2023-stats-bulletin.txt": (
        "2023年洛阳市国民经济和社会发展统计公报",
        "洛阳市统计局、国家统计局洛阳调查队", "2024-04-30", "2023年，面对严峻复杂", "其他数据均来自市统计局。",
    ),
    "baoding-2022-report.txt": (
        "2022年保定市政府工作报告（2022年1月23日在保定市第十六届人民代表大会第二次会议上）",
        "保定市人民政府", "2022-01-23", "各位代表：", "协调发展的国有出资企业格局。",
    ),
    "baoding-2023-report-summary.txt": (
        "2023年保定市政府工作报告（2023年1月30日在保定市第十六届人民代表大会第四次会议上）",
        "保定市人民政府", "2023-01-30", "2022年政府工作回顾", "全面推进中华民族伟大复兴而不懈奋斗！",
    ),
    "gaoyang-2018-report.txt": (
        "高阳县2018年政府工作报告（2018年1月31日在高阳县第十七届人民代表大会第二次会议上）",
        "高阳县人民政府", "2018-01-31", "各位代表：", "开创新时代高阳经济社会发展新局面而努力奋斗！",
    ),
    "deqing-2016-investment-brief.html": (
        "1-10月德清县固定资产投资结构趋稳趋优",
        "省发改委", "2016-11-22", "1-10月，全县固定资产投资完成246.79亿元", "总体全县投资结构趋稳趋优。（德清县发改局）",
    ),
}  # fmt: skip
BOILERPLATE = (
    "责任编辑",
    "【打印本页】",
    "关闭窗口",
    "来源URL",
    "正文：",
    "发文单位",
    "发文时间",
    "http",
)


@needs_extra
def test_extra_corpus_is_fully_covered():
    names = {p.name for p in EXTRA_DIR.iterdir() if p.suffix in (".txt", ".html")}
    assert names == set(EXTRA)
    docs = load_documents(EXTRA_DIR)  # README.md is skipped
    assert sorted(Path(d.path).name for d in docs) == sorted(EXTRA)


@needs_extra
@pytest.mark.parametrize("name", sorted(EXTRA))
def test_extra_document(name):
    title, publisher, date, head, tail = EXTRA[name]
    doc = load_document(EXTRA_DIR / name)
    assert doc.title == title
    assert doc.metadata["publisher"] == publisher
    assert doc.metadata["date"] == date
    body = doc.text[doc.body_start : doc.body_end]
    assert body.startswith(head)
    assert body.endswith(tail)
    for junk in BOILERPLATE:
        assert junk not in body, junk
    assert "\r" not in doc.text


@needs_extra
@pytest.mark.parametrize(
    "name", ["hailar-2014-report.txt", "hailar-2018-report.txt", "hailar-2019-report.txt"]
)
def test_extra_gbk_files_decode_exactly(name):
    data = (EXTRA_DIR / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    expected = data.decode("gbk").replace("\r\n", "\n")
    doc = load_document(EXTRA_DIR / name)
    assert doc.metadata["encoding"] == "gb18030"
    assert doc.text == expected
    assert "海拉尔" in doc.text and "\ufffd" not in doc.text


@needs_extra
def test_extra_html_page_keeps_only_the_article():
    doc = load_document(EXTRA_DIR / "deqing-2016-investment-brief.html")
    assert len(doc.text) < 400  # the article is ~290 characters of a 196,674-character page
    for figure in ("246.79亿元", "82.3%", "15.3%", "1.1:50.3:48.6"):
        assert figure in doc.text
    for junk in ("{", "}", "base64", "网站标识码", "浙公网安备", "分享到", "javascript"):
        assert junk not in doc.text
    assert doc.metadata["site_name"] == "浙江省发展和改革委员会"
    assert doc.metadata["datetime"] == "2016-11-22 09:53"


@needs_extra
def test_extra_running_title_is_boilerplate():
    doc = load_document(EXTRA_DIR / "luoyang-2023-stats-bulletin.txt")
    spans = boilerplate_spans(doc.text, doc.body_start, doc.body_end)
    assert len(spans) == 10
    assert {doc.text[s:e] for s, e in spans} == {"洛阳市2023年国民经济和社会发展统计公报"}
