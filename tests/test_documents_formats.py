"""PDF and DOCX documents: canonical text, page map, tables as rows, errors.

The fixtures are written by the tests (``formats_fixtures``): a two-page PDF set
in a CJK font (skipped when none is installed) and a DOCX from python-docx.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from formats_fixtures import (
    LONG_PARAGRAPH,
    RUNNING_HEADER,
    TITLE,
    cjk_font,
    write_docx,
    write_pdf,
    write_scanned_pdf,
)

from qa.chunking import chunk_document
from qa.documents import DocumentError, load_document, page_of, page_starts, read_documents
from qa.documents.tables import (
    caption_unit,
    close_up_spacing,
    row_label_span,
    split_header,
    table_lines,
    text_row,
)
from qa.figures import extract_figures

pytest.importorskip("pdfplumber")
pytest.importorskip("docx")

PDF_TEXT = (
    f"{TITLE}\n一、综合\n{LONG_PARAGRAPH}\n"
    "年末全市常住人口100.5万人。\n表1 2023年年末人口构成\n单位：万人\n"
    "城镇｜年末数：60.3万人；比重：60.0%\n乡村｜年末数：40.2万人；比重：40.0%"
)
DOCX_TEXT = (
    "示例县2022年财政预算执行情况的报告\n一、综合\n全年一般公共预算收入56.78亿元，比上年增长7.2%。\n"
    "• 税收收入40.12亿元\n• 非税收入16.66亿元\n表1 财政收支情况（单位：亿元）\n"
    "财政总收入｜绝对数：80.50亿元；比上年增长：6.1%\n"
    "一般公共预算支出｜绝对数：120.30亿元；比上年增长：-2.4%\n二、农业\n全年粮食产量35.2万吨。"
)


@pytest.fixture(scope="module")
def font() -> str:
    path = cjk_font()
    if path is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    return path


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory, font) -> Path:
    return write_pdf(tmp_path_factory.mktemp("pdf") / "bulletin.pdf", font)


@pytest.fixture(scope="module")
def docx_path(tmp_path_factory) -> Path:
    return write_docx(tmp_path_factory.mktemp("docx") / "report.docx")


def test_fixtures_are_small(pdf_path, docx_path):
    assert pdf_path.stat().st_size < 200_000
    assert docx_path.stat().st_size < 200_000


def test_pdf_text_joins_lines_and_drops_running_header_and_page_numbers(pdf_path):
    doc = load_document(pdf_path)
    assert doc.text == PDF_TEXT
    assert RUNNING_HEADER not in doc.text
    assert "— 1 —" not in doc.text and "— 2 —" not in doc.text
    assert doc.title == TITLE
    assert doc.metadata["format"] == "pdf"
    assert doc.metadata["page_count"] == "2"


def test_pdf_page_map(pdf_path):
    doc = load_document(pdf_path)
    second = doc.text.index("年末全市常住人口")
    assert page_starts(doc) == [0, second]
    assert page_of(doc, 0) == 1
    assert page_of(doc, doc.text.index("1234.56亿元")) == 1
    assert page_of(doc, second - 1) == 1  # the line break before page 2
    assert page_of(doc, second) == 2
    assert page_of(doc, doc.text.index("40.2万人")) == 2


def test_pdf_table_rows_are_figures_with_units(pdf_path):
    doc = load_document(pdf_path)
    figures = extract_figures(doc, chunk_document(doc))
    found = {(f.text, f.unit, f.value) for f in figures}
    assert ("60.3万人", "万人", 60.3) in found
    assert ("40.2万人", "万人", 40.2) in found
    city = next(f for f in figures if f.text == "60.3万人")
    assert doc.text[city.start:city.end] == "60.3万人"
    assert city.start == PDF_TEXT.index("60.3万人")
    assert page_of(doc, city.start) == 2


def test_docx_text_heading_list_and_table(docx_path):
    doc = load_document(docx_path)
    assert doc.text == DOCX_TEXT
    assert doc.title == "示例县2022年财政预算执行情况的报告"
    assert page_of(doc, 10) is None  # Word files have no page map
    paths = {c.text.split("\n")[-1]: c.section_path for c in chunk_document(doc)}
    assert paths["全年粮食产量35.2万吨。"] == ("二、农业",)
    assert paths["• 税收收入40.12亿元"] == ("一、综合",)  # a list item is not a heading
    figures = {f.text: f for f in extract_figures(doc, chunk_document(doc))}
    spending = figures["120.30亿元"]
    assert (spending.value, spending.unit) == (120.30, "亿元")
    assert spending.start == DOCX_TEXT.index("120.30亿元")


def test_scanned_pdf_without_text_layer(tmp_path):
    path = write_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert info.value.reason == "no text layer: run OCR first, e.g. ocrmypdf"


def test_encrypted_pdf(tmp_path, font):
    path = write_pdf(tmp_path / "locked.pdf", font, encrypt=True)
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert info.value.reason == "encrypted PDF: remove the password first, e.g. qpdf --decrypt"


@pytest.mark.parametrize("name", ["form.doc", "notice.wps"])
def test_legacy_word_files_say_how_to_convert(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(DocumentError) as info:
        load_document(path)
    suffix = name.rsplit(".", 1)[1]
    assert info.value.reason == (
        f"legacy .{suffix} file is not supported: convert it first, "
        f"e.g. libreoffice --headless --convert-to docx {name}"
    )


def test_corrupt_files(tmp_path):
    pdf = tmp_path / "broken.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj <<\nthis is not a pdf")
    with pytest.raises(DocumentError, match=r"corrupt or unreadable PDF"):
        load_document(pdf)
    docx = tmp_path / "broken.docx"
    docx.write_bytes(b"PK\x03\x04 not a zip archive")
    with pytest.raises(DocumentError, match=r"corrupt or not a \.docx file"):
        load_document(docx)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"empty file"):
        load_document(empty)


def test_folder_with_bad_files_indexes_the_rest(tmp_path, pdf_path, docx_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(pdf_path.read_bytes())
    (folder / "b.docx").write_bytes(docx_path.read_bytes())
    (folder / "c.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    write_scanned_pdf(folder / "d.pdf")
    report = read_documents(folder, on_skip=lambda s: None)
    assert sorted(Path(d.path).name for d in report.documents) == ["a.pdf", "b.docx"]
    assert [(Path(s.path).name, s.reason.split(":")[0]) for s in report.skipped] == [
        ("c.doc", "legacy .doc file is not supported"),
        ("d.pdf", "no text layer"),
    ]
    assert report.files == 4


# --------------------------------------------------------------------------- tables


def test_split_header_and_caption_unit():
    assert split_header("年末数（人）") == ("年末数", "人")
    assert split_header("比重(%)") == ("比重", "%")
    assert split_header("薯类（折粮）") == ("薯类（折粮）", "")
    assert caption_unit("编制部门：某街道办事处 单位：元") == "元"
    assert caption_unit("表1 财政收支情况（单位：亿元）") == "亿元"
    assert caption_unit("表1 主要指标") == ""


def test_table_lines_fold_header_rows_and_attach_units():
    rows = [
        ["项目", None, "收入预算", None],
        ["科目编码", "科目名称", "合计", "财政拨款收入"],
        ["201", "一般公共服务支出", "3,296,600", "3,296,600"],
        ["201 05", "统计信息事务", "438,300", "0"],
    ]
    assert table_lines(rows, unit="元") == [
        "201 一般公共服务支出｜合计：3,296,600元；财政拨款收入：3,296,600元",
        "201 05 统计信息事务｜合计：438,300元；财政拨款收入：0元",
    ]


def test_table_side_by_side_and_unit_column():
    rows = [["收入项目", "预算数", "支出项目", "预算数"], ["一、财政拨款收入", "100", "一、教育支出", "60"]]
    assert table_lines(rows, unit="万元") == ["一、财政拨款收入｜预算数：100万元\n一、教育支出｜预算数：60万元"]
    rows = [["指标", "单位", "产量", "比上年增长（%）"], ["猪肉", "万吨", "13.49", "7.4"]]
    assert table_lines(rows) == ["猪肉｜产量：13.49万吨；比上年增长：7.4%"]


def test_text_row_under_a_printed_header():
    header = ["指标名称", "年末数（人）", "比重（%）"]
    assert text_row("#城镇 1654272 33.8", header) == "#城镇｜年末数：1654272人；比重：33.8%"
    assert text_row("全州城镇新增就业60188人。", header) is None
    unit_header = ["指标名称", "单 位", "产量", "比上年增长(%)"]
    assert text_row("牛肉 万吨 2.07 -4.4", unit_header) == "牛肉｜产量：2.07万吨；比上年增长：-4.4%"


def test_letter_spaced_headings_are_closed_up():
    assert close_up_spacing("一、综 合") == "一、综合"
    assert close_up_spacing("税 务 总 局 办 公 厅") == "税务总局办公厅"
    assert close_up_spacing("八、金 融") == "八、金融"
    assert close_up_spacing("全年 地区生产总值 增长") == "全年 地区生产总值 增长"  # pieces too long
    assert close_up_spacing("2019 年 8 月") == "2019 年 8 月"


def test_row_label_span_finds_the_label_of_a_table_row():
    text = "全年产量增长5%。\n黄金｜产量：4131.71千克；比上年增长：23.9%\n"
    line = text.index("黄金")
    assert row_label_span(text, text.index("4131")) == (line, line + 2)
    assert row_label_span(text, text.index("23.9")) == (line, line + 2)
    assert row_label_span(text, text.index("5%")) is None  # prose
    assert row_label_span(text, line + 1) is None  # inside the label, not its values
