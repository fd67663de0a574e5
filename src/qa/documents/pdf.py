"""Text of a PDF's text layer, with a page map (uses ``pdfplumber``, MIT).

:func:`pdf_text` returns the canonical text of a PDF:

* lines in reading order (top to bottom per page, as pdfplumber groups characters);
* a line that runs to the right margin continues on the next line unless that
  line is indented or starts a heading (``一、``, ``（一）``, ``1.``, ``表1``):
  hard line breaks inside a paragraph are removed, also across a page break;
* running headers and footers (a line in the top or bottom margin repeated on
  half the pages or more) and page numbers (``— 1 —``, ``- 2 -``, ``第3页``) dropped;
* tables pdfplumber finds with rows and columns become one line per data row
  (:mod:`qa.documents.tables`); a table with only its header row ruled (rows
  separated by space) turns the text lines below it that end in as many numbers
  as it has value columns into row lines, also on the next page.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.documents.errors import DocumentError
from qa.documents.tables import (
    CAPTION,
    caption_unit,
    close_up_spacing,
    header_cells,
    table_lines,
    text_row,
)

#: Lines that are only a page number: ``1``, ``— 1 —``, ``- 2 -``, ``第 3 页``, ``3/21``, ``— —``.
_PAGE_NUMBER = re.compile(
    r"^[\s—–\-－·]*(?:第\s*)?\d{0,4}\s*(?:页)?(?:\s*[/／]\s*\d+|\s*共\s*\d+\s*页)?[\s—–\-－·]*$"
)
#: Line starts that open a new paragraph: numbered headings and table captions.
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十百]+[、.．]|[（(][一二三四五六七八九十百]+[）)]|\d{1,2}[.．、](?!\d)"
    r"|[（(]\d{1,2}[）)]|表\s*\d|第[一二三四五六七八九十百\d]+[章节条部分]|附件|注[:：\d]|资料来源)"
)
_MARGIN = 0.1  # share of the page height at the top and bottom holding running lines
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass
class _Item:
    """A line of text on one page, or the lines of a table."""

    page: int
    top: float
    text: str
    kind: str = "line"  # "line", "table" (text already row lines), "header" (a ruled header row)
    full: bool = False  # runs to the right margin (the paragraph may go on)
    indented: bool = False
    standalone: bool = False  # set in far from the left margin (a centred title): ends its paragraph
    cells: tuple[str, ...] = ()
    unit: str = ""
    x0: float = 0.0
    x1: float = 0.0
    h: float = 0.0
    bottom: float = 0.0
    margin: bool = False  # in the top or bottom margin of the page


def pdf_text(path: str | Path, data: bytes | None = None) -> tuple[str, list[int], dict[str, str]]:
    """The canonical text of the PDF at ``path``, the offset where each page starts, metadata.

    ``data``, when given, is the file's content already read (the file is not read
    again; ``path`` then only names it in errors).

    Returns:
        ``(text, pages, metadata)``: ``pages[i]`` is the character offset in ``text``
        where page ``i + 1`` starts (a page without text starts where the next
        text starts); ``metadata`` holds ``page_count`` and, when it is a Chinese
        title, the PDF's declared ``/Title`` as ``pdf_title``.

    Raises:
        qa.documents.DocumentError: encrypted, corrupt, or no text layer (scanned).
    """
    import pdfplumber


    try:
        pdf = pdfplumber.open(io.BytesIO(data) if data is not None else str(path))
    except Exception as exc:  # pdfminer raises many types on a damaged file
        raise _open_error(path, exc) from exc
    try:
        with pdf:
            carried: dict[str, str] = {}
            pages = [_page_items(page, i, carried) for i, page in enumerate(pdf.pages)]
            count = len(pdf.pages)
            declared = _declared_title(pdf.metadata or {})
    except Exception as exc:
        raise _open_error(path, exc) from exc
    if not any(item.text.strip() for items in pages for item in items):
        raise DocumentError.at(path, "no text layer: run OCR first, e.g. ocrmypdf")
    _drop_running(pages)
    text, starts = _assemble(pages)
    if not text.strip():
        raise DocumentError.at(path, "no text layer: run OCR first, e.g. ocrmypdf")
    meta = {"page_count": str(count)}
    if declared:
        meta["pdf_title"] = declared
    return text, starts, meta


def _open_error(path: str | Path, exc: Exception) -> DocumentError:
    """The error for a PDF that pdfplumber/pdfminer failed on: encrypted, else corrupt."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect


    text = repr(exc).lower()
    if isinstance(exc, (PDFPasswordIncorrect, PDFEncryptionError)) or "password" in text or "encrypt" in text:
        return DocumentError.at(path, "encrypted PDF: remove the password first, e.g. qpdf --decrypt")
    return DocumentError.at(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})"[:300])


def _declared_title(info: dict) -> str:
    """The PDF's ``/Title`` when it is a Chinese title (not a file name or tool default), else ''."""
    title = info.get("Title")
    if isinstance(title, bytes):
        try:
            title = title.decode("utf-16" if title[:2] in (b"\xfe\xff", b"\xff\xfe") else "utf-8")
        except UnicodeDecodeError:
            return ""
    if not isinstance(title, str):
        return ""
    title = " ".join(title.split())
    if (not re.search(r"[\u4e00-\u9fff]{2}", title) or re.search(r"\.(docx?|wps|pdf|xlsx?)$", title, re.I)
            or title.lower().startswith("microsoft") or len(title) > 80):
        return ""
    return title


def _page_items(page, index: int, carried: dict[str, str] | None = None) -> list[_Item]:
    """Lines and tables of one page, top to bottom, with margin flags set.

    ``carried["unit"]`` is the caption unit of the last table read: a table at the
    top of a page with no caption above it (a table continued from the page
    before) takes it.
    """
    carried = {} if carried is None else carried
    lines = [ln for ln in page.extract_text_lines() if ln["text"].strip()]
    height = float(page.height)
    tables = []
    try:
        found = page.find_tables()
    except Exception:  # a damaged drawing: read the text without tables
        found = []
    for table in found:
        rows = table.extract()
        x0, top, x1, bottom = table.bbox
        inside = [ln for ln in lines if top - 1 <= (ln["top"] + ln["bottom"]) / 2 <= bottom + 1]
        if not inside:
            continue  # an empty frame
        full_rows = [r for r in rows if sum(1 for c in r if c and c.strip()) >= 2]
        multiline = sum(1 for r in rows for c in r if c and c.count("\n") >= 2)
        above = [ln for ln in lines if ln["bottom"] <= top + 1]
        unit = next((u for u in (caption_unit(ln["text"]) for ln in reversed(above[-3:])) if u), "")
        if unit:
            carried["unit"] = unit
        elif all(ln["top"] < _MARGIN * float(page.height) for ln in above):  # continued table
            unit = carried.get("unit", "")
        if len(full_rows) >= 2 and not multiline:
            tables.append((top, bottom, _Item(index, top, "\n".join(table_lines(rows, unit)), "table")))
        elif len(rows) == 1 and len(full_rows) == 1 and not multiline and len(rows[0]) >= 2:
            cells = tuple(" ".join((c or "").split()) for c in rows[0])
            tables.append((top, bottom, _Item(index, top, " ".join(c for c in cells if c), "header",
                                               cells=cells, unit=unit)))
    items: list[_Item] = []
    for ln in lines:
        mid = (ln["top"] + ln["bottom"]) / 2
        if any(t - 1 <= mid <= b + 1 for t, b, _ in tables):
            continue
        top, bottom = float(ln["top"]), float(ln["bottom"])
        items.append(_Item(index, top, close_up_spacing(ln["text"].strip()), x0=float(ln["x0"]), x1=float(ln["x1"]),
                           h=bottom - top, bottom=bottom,
                           margin=not (_MARGIN * height < top and bottom < (1 - _MARGIN) * height)))
    body = [it for it in items if not it.margin] or items
    if body:
        left = min(it.x0 for it in body)
        right = max(it.x1 for it in body)
        char = statistics.median(it.h for it in body)
        for it in items:
            it.full = it.x1 >= right - 2.2 * char
            it.indented = it.x0 > left + 0.8 * char
            it.standalone = it.x0 > left + 4 * char
    items.extend(t for _, _, t in tables)
    items.sort(key=lambda it: it.top)
    return items


def _shape(text: str) -> str:
    """A line with its digits blanked, so ``— 3 —`` and ``— 4 —`` are the same running line."""
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _drop_running(pages: list[list[_Item]]) -> None:
    """Remove page numbers and running headers/footers from the margins, in place."""
    shapes: Counter = Counter()
    for items in pages:
        shapes.update({_shape(it.text) for it in items if it.margin})
    need = max(2, (len(pages) + 1) // 2)
    for items in pages:
        items[:] = [
            it for it in items
            if not it.margin
            or not (_PAGE_NUMBER.match(it.text) or (len(pages) > 1 and shapes[_shape(it.text)] >= need))
        ]


def _assemble(pages: list[list[_Item]]) -> tuple[str, list[int]]:
    """Join the items into the canonical text; the offset where each page starts."""
    parts: list[str] = []
    length = 0
    starts: list[int] = []
    prev: _Item | None = None
    header: _Item | None = None  # a ruled header row whose rows are text lines below it
    pending: list[int] = []  # pages with no text yet, waiting for the next text offset
    for items in pages:
        pending.append(len(starts))
        starts.append(-1)
        for it in items:
            text = it.text
            kind = it.kind
            if kind == "header":
                header = it
            elif kind == "line" and header is not None and (row := text_row(text, header.cells, header.unit)):
                text, kind = row, "row"
            elif kind == "line" and prev is not None and CAPTION.match(prev.text) and header_cells(text):
                header = _Item(it.page, it.top, text, "header", cells=tuple(header_cells(text) or ()),
                               unit=caption_unit(prev.text))
            else:
                header = None
            joined = (
                prev is not None and prev.kind == "line" and kind == "line" and prev.full
                and not prev.standalone and not it.indented and not _HEADING.match(text)
            )
            if joined:
                sep = " " if _ASCII_WORD.match(text[0]) and _ASCII_WORD.match(parts[-1][-1]) else ""
                piece = sep + text
            else:
                piece = ("\n" if parts else "") + text
            at = length + len(piece) - len(text)
            for p in pending:
                starts[p] = at
            pending = []
            parts.append(piece)
            length += len(piece)
            prev = _Item(it.page, it.top, text, "table" if kind == "row" else kind, it.full, it.indented,
                         it.standalone)
    for p in pending:
        starts[p] = length
    return "".join(parts), starts
