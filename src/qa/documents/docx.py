"""Text of a Word ``.docx`` file (uses ``python-docx``, MIT).

:func:`docx_text` returns one line per non-empty paragraph in document order
(headings, list items and body paragraphs alike; white space inside a line
collapsed to one space; a list item starts with :data:`LIST_MARK`) and, where a table stands, one line per table row
(:mod:`qa.documents.tables`), with the unit of a caption (``单位：万元``) in the
paragraph before the table or in a merged first row attached to the values.
A merged first row spanning the table (a caption) stays a line of its own.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from qa.documents.errors import DocumentError
from qa.documents.tables import caption_unit, close_up_spacing, table_lines

_HEADING_STYLES = ("heading", "title", "标题")
#: Put before a list item (Word draws a bullet or number there; the text lacks it),
#: so a short item is not taken for a heading.
LIST_MARK = "• "


def _numbered(paragraph) -> bool:
    """Whether a paragraph carries Word list numbering of its own (``w:numPr``)."""
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _clean(text: str) -> str:
    return " ".join(text.split())


def docx_text(path: str | Path, data: bytes | None = None) -> tuple[str, dict[str, str]]:
    """The canonical text of the ``.docx`` at ``path`` and its metadata.

    ``data``, when given, is the file's content already read (the file is not read
    again; ``path`` then only names it in errors).

    Returns:
        ``(text, metadata)``; ``metadata["headings"]`` counts the paragraphs in a
        Word heading style.

    Raises:
        qa.documents.DocumentError: not a valid ``.docx`` (corrupt, or another format
            renamed).
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph


    try:
        document = docx.Document(io.BytesIO(data) if data is not None else str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentError.at(path, f"corrupt or not a .docx file ({type(exc).__name__}: {exc})"[:300]) from exc
    lines: list[str] = []
    headings = 0
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = close_up_spacing(_clean(block.text))
            if not text:
                continue
            style = (block.style.name if block.style is not None else "").lower()
            heading = style.startswith(_HEADING_STYLES)
            headings += heading
            if not heading and (style.startswith("list") or _numbered(block)):
                text = LIST_MARK + text
            lines.append(text)
        elif isinstance(block, Table):
            lines.extend(_table(block, lines[-2:]))
    return "\n".join(lines), {"headings": str(headings)}


def _table(table, before: list[str]) -> list[str]:
    """Lines of a Word table; ``before`` are the paragraphs above it (a caption)."""
    rows: list[list[str | None]] = []
    for row in table.rows:
        cells: list[str | None] = []
        seen = None
        for cell in row.cells:
            if cell._tc is seen:  # a horizontally merged cell repeats
                cells.append(None)
                continue
            seen = cell._tc
            cells.append(_clean(cell.text))
        rows.append(cells)
    out: list[str] = []
    unit = next((u for u in map(caption_unit, reversed(before)) if u), "")
    while rows and len(rows[0]) > 1 and rows[0][0] and all(c is None for c in rows[0][1:]):
        caption = rows[0][0]
        out.append(caption)  # a merged caption row
        unit = caption_unit(caption) or unit
        rows.pop(0)
    return out + table_lines(rows, unit)
