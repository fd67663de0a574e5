"""Small PDF and DOCX files written by the tests (fpdf2 with a CJK font, python-docx)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: CJK fonts tried, in order (fonts-wqy-microhei, fonts-noto-cjk).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

RUNNING_HEADER = "内部资料 注意保存"
TITLE = "示例市2023年国民经济和社会发展统计公报"
LONG_PARAGRAPH = (
    "初步核算，全年全市地区生产总值1234.56亿元，比上年增长5.2%。其中，第一产业增加值"
    "100.10亿元，增长3.1%；第二产业增加值400.20亿元，增长4.5%；第三产业增加值734.26亿元，增长6.0%。"
)


def cjk_font() -> str | None:
    """Path of an installed CJK font, or None."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            path = line.split(":")[0].strip()
            if path.endswith((".ttf", ".ttc", ".otf")):
                return path
    return None


def write_pdf(path: Path, font: str, *, encrypt: bool = False) -> Path:
    """A two-page A4 PDF: running header and ``— n —`` footer on each page; page 1 a
    title, a heading and a paragraph wrapped over lines; page 2 a paragraph, a
    caption with ``单位：万人`` and a ruled 3×3 table."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("cjk", fname=font)
    pdf.set_auto_page_break(False)

    def frame(number: int) -> None:
        pdf.set_font("cjk", size=9)
        pdf.set_xy(20, 12)
        pdf.cell(170, 6, RUNNING_HEADER, align="C")
        pdf.set_xy(20, 282)
        pdf.cell(170, 6, f"— {number} —", align="C")
        pdf.set_font("cjk", size=12)

    pdf.add_page()
    frame(1)
    pdf.set_xy(20, 40)
    pdf.cell(170, 10, TITLE, align="C")
    pdf.set_xy(20, 60)
    pdf.cell(170, 8, "一、综合")
    pdf.set_xy(20, 72)
    pdf.multi_cell(170, 8, LONG_PARAGRAPH)
    pdf.add_page()
    frame(2)
    pdf.set_xy(20, 40)
    pdf.cell(170, 8, "年末全市常住人口100.5万人。")
    pdf.set_xy(20, 56)
    pdf.cell(170, 8, "表1 2023年年末人口构成", align="C")
    pdf.set_xy(20, 64)
    pdf.cell(170, 8, "单位：万人", align="R")
    rows = [("指标", "年末数", "比重（%）"), ("城镇", "60.3", "60.0"), ("乡村", "40.2", "40.0")]
    for k, row in enumerate(rows):
        pdf.set_xy(20, 74 + 10 * k)
        for cell in row:
            pdf.cell(56, 10, cell, border=1, align="C")
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.output(str(path))
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A one-page PDF with drawings but no text layer (as a scanner writes)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def write_docx(path: Path) -> Path:
    """A DOCX: title, a Heading 1 ``一、综合``, a paragraph, two list items, a caption
    with ``单位：亿元`` and a 3×3 table, then a ``二、`` heading and a paragraph."""
    import docx

    d = docx.Document()
    d.add_heading("示例县2022年财政预算执行情况的报告", level=0)
    d.add_heading("一、综合", level=1)
    d.add_paragraph("全年一般公共预算收入56.78亿元，比上年增长7.2%。")
    d.add_paragraph("税收收入40.12亿元", style="List Bullet")
    d.add_paragraph("非税收入16.66亿元", style="List Bullet")
    d.add_paragraph("表1 财政收支情况（单位：亿元）")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("项目", "绝对数", "比上年增长（%）"), ("财政总收入", "80.50", "6.1"),
                             ("一般公共预算支出", "120.30", "-2.4")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_heading("二、农业", level=1)
    d.add_paragraph("全年粮食产量35.2万吨。")
    d.save(str(path))
    return path
