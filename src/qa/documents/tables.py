"""Tables as text lines the rest of the pipeline reads (pure functions).

One line per data row::

    全州总户籍人口｜年末数：4899310人；比重：100.0%

the row label, then for each value its column header and the value with its
unit. A unit comes from the column header (``年末数（人）``, ``比重（%）``) or
from the caption (``单位：万元``); a header's own unit wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A table value: a number with optional thousands separators, sign, decimals and %.
_NUMBER = re.compile(r"[-+−]?\d[\d,，]*(?:\.\d+)?%?|[-+−]?\.\d+%?|[-—–]{1,2}")
#: ``单位：万元`` / ``计量单位: 元`` in a caption or note.
_CAPTION_UNIT = re.compile(r"(?:计量)?单位\s*[：:]\s*([^\s，,；;）)]{1,8})")
#: A unit in parentheses at the end of a header: ``年末数（人）``, ``比重(%)``.
_HEADER_UNIT = re.compile(r"^(.*?)\s*[（(]\s*([^（()）]{1,8}?)\s*[)）]\s*$")
#: Units a header may carry in parentheses (a longer parenthesis is not a unit).
_UNIT_WORD = re.compile(
    r"^(?:%|‰|[万亿千百]?(?:元|人|户|个|家|台|辆|套|吨|公斤|千克|斤|头|只|亩|公顷|平方米|平方公里|"
    r"立方米|千瓦时|千瓦|瓦|公里|千米|米|人次|次|件|项|所|张|床|册|部|座|起|元/人|美元))$"
)
_UNIT_HEADERS = ("单位", "计量单位")
#: Row separators: between the label and the values, and between values.
LABEL_SEP = "｜"
VALUE_SEP = "；"


def row_label_span(text: str, pos: int) -> tuple[int, int] | None:
    """``(line_start, separator)`` of the table row (a line ``label｜values``) whose values
    hold offset ``pos`` of ``text``: its label is ``text[line_start:separator]``; None
    when ``pos`` is not in a table row's values."""
    line = text.rfind("\n", 0, pos) + 1
    sep = text.find(LABEL_SEP, line, pos)
    return (line, sep) if sep >= 0 else None


_SPACED = re.compile(r"[\u4e00-\u9fff、（）()]+(?: [\u4e00-\u9fff]{1,2})+")


def close_up_spacing(line: str) -> str:
    """A letter-spaced short line with its spaces removed: ``一、综 合`` → ``一、综合``,
    ``税 务 总 局 办 公 厅`` → ``税务总局办公厅``; other lines unchanged. Only lines of
    Chinese characters whose spaced pieces are one or two characters long, at most
    20 characters without the spaces (a heading or a header, not a sentence)."""
    squeezed = " ".join(line.split())
    if _SPACED.fullmatch(squeezed) and len(squeezed.replace(" ", "")) <= 20:
        return squeezed.replace(" ", "")
    return line


def caption_unit(text: str) -> str:
    """The unit named by ``单位：万元`` in ``text`` ('' when none)."""
    m = _CAPTION_UNIT.search(text)
    return m.group(1) if m else ""


def split_header(header: str) -> tuple[str, str]:
    """``年末数（人）`` → ``("年末数", "人")``; a header without a unit → ``(header, "")``."""
    header = " ".join(header.split())
    m = _HEADER_UNIT.match(header)
    if m and m.group(1) and _UNIT_WORD.match(m.group(2)):
        return m.group(1), m.group(2)
    return header, ""


def is_number(cell: str) -> bool:
    """Whether a cell is a table value (``3,296,600``, ``-2.5``, ``33.8%``, ``—``)."""
    return bool(_NUMBER.fullmatch(cell.strip()))


def _clean(cell: str | None) -> str:
    return " ".join((cell or "").split())


def _close_up(header: str) -> str:
    """A header with spaces between Chinese characters removed (``产 量`` → ``产量``)."""
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", _clean(header))


def with_unit(value: str, unit: str) -> str:
    """``value`` followed by ``unit`` unless it has a percent sign or is a dash."""
    if not unit or value.endswith(("%", "‰")) or not re.search(r"\d", value):
        return value
    return value + unit


def header_names(rows: Sequence[Sequence[str | None]]) -> list[str]:
    """One name per column from the header ``rows`` (merged cells are None).

    The deepest non-empty cell of a column names it; a column empty in every
    row takes the name of the nearest named column to its left in the top row
    (a merged header spanning columns).
    """
    width = max((len(r) for r in rows), default=0)
    names: list[str] = []
    for j in range(width):
        name = ""
        for row in rows:
            if j < len(row) and _clean(row[j]):
                name = _close_up(row[j] or "")
        names.append(name)
    for j in range(width):
        if not names[j] and j:
            names[j] = names[j - 1]
    return names


def row_line(cells: Sequence[str | None], headers: Sequence[str], unit: str) -> str | None:
    """The text of one data row, or None when it holds no value.

    The label is the run of cells that are not numbers before the values (codes
    such as ``201 05`` stay in it); each later non-empty cell is a value under its
    column's header: ``label｜header：value unit；header：value unit``. A row of two
    tables side by side (a label after a value: 收入 | 金额 | 支出 | 金额) gives one
    such part per label, each on its own line.
    """
    cells = [_clean(c) for c in cells]
    unit_cols = {j for j, h in enumerate(headers) if h in _UNIT_HEADERS}
    row_unit = next((cells[j] for j in sorted(unit_cols) if j < len(cells) and cells[j]), "")
    cells = ["" if j in unit_cols else c for j, c in enumerate(cells)]
    lines: list[str] = []
    label_cells: list[str] = []
    parts: list[str] = []

    def flush() -> None:
        if parts:
            label = " ".join(label_cells)
            lines.append(f"{label}{LABEL_SEP}{VALUE_SEP.join(parts)}" if label else VALUE_SEP.join(parts))
        elif label_cells:
            lines.append(" ".join(label_cells))

    for j, c in enumerate(cells):
        if not c:
            continue
        numeric = is_number(c) and not (not parts and _is_code(c, cells, j, label_cells))
        if not numeric:
            if parts:
                flush()
                label_cells, parts = [], []
            label_cells.append(c)
            continue
        name, own_unit = split_header(headers[j] if j < len(headers) else "")
        value = with_unit(c, own_unit or row_unit or unit)
        parts.append(f"{name}：{value}" if name else value)
    if not parts and not lines:
        return None
    flush()
    return "\n".join(lines)


def _is_code(cell: str, cells: Sequence[str], j: int, before: Sequence[str]) -> bool:
    """A classification code (``201``, ``05``) opening the row's label, before its name
    cell: only codes stand before it in the label so far, and a name follows."""
    return (
        bool(_CODE.fullmatch(cell))
        and all(_CODE.fullmatch(c) for c in before)
        and any(c and not is_number(c) for c in cells[j + 1 :])
    )


_CODE = re.compile(r"\d{2,3}")


def table_lines(rows: Sequence[Sequence[str | None]], unit: str = "") -> list[str]:
    """Text lines of a table: header rows (until the first row with a value) are
    folded into column names; each data row becomes :func:`row_line`; a row of
    text only (a sub-heading inside the table) is kept as its text.

    Args:
        rows: cells by row (None for a merged cell), as pdfplumber or python-docx give them.
        unit: the caption's unit (``万元``), attached to values whose header has none.
    """
    rows = [[_clean(c) for c in r] for r in rows if any(_clean(c) for c in r)]
    k = 0
    while k < len(rows) and not any(is_number(c) and re.search(r"\d", c) for c in rows[k][1:]):
        k += 1
    if k == len(rows):  # no values at all: a text table, one line per row
        return [" ".join(c for c in r if c) for r in rows]
    headers = header_names(rows[:k]) if k else []
    out = []
    for r in rows[k:]:
        line = row_line(r, headers, unit)
        out.append(line if line is not None else " ".join(c for c in r if c))
    return out


#: A table caption line: ``表1 2023年…``.
CAPTION = re.compile(r"^表\s*\d+")


def header_cells(line: str) -> list[str] | None:
    """The cells of a header line printed as text (``指标名称 单位 产量 比上年增长(%)``),
    or None when the line is not one (fewer than two cells, or a number among them)."""
    cells = line.split()
    if len(cells) < 2 or any(is_number(c) for c in cells) or any(len(c) > 20 for c in cells):
        return None
    return cells


def text_row(line: str, header: Sequence[str], unit: str = "") -> str | None:
    """The row line of a table row printed as text under ``header``, or None when
    ``line`` does not end in one number per value column.

    ``#城镇 1654272 33.8`` under ``指标名称 年末数（人） 比重（%）`` →
    ``#城镇｜年末数：1654272人；比重：33.8%``. A ``单位`` column gives the row's unit
    (``猪肉 万吨 13.49 7.4``); a header's own unit wins, then the row's, then ``unit``.
    """
    names = [_close_up(c) for c in header if c]
    unit_col = next((j for j, c in enumerate(names) if c in _UNIT_HEADERS), None)
    values_n = len(names) - 1 - (unit_col is not None)
    tokens = line.split()
    if values_n < 1 or len(tokens) < values_n + 1 + (unit_col is not None):
        return None
    values, rest = tokens[len(tokens) - values_n :], tokens[: len(tokens) - values_n]
    if not all(is_number(v) and re.search(r"\d", v) for v in values):
        return None
    row_unit = ""
    if unit_col is not None:
        row_unit = rest.pop()
        if is_number(row_unit) or len(row_unit) > 6:
            return None
    label = " ".join(rest)
    if not label or is_number(label):
        return None
    value_names = [c for j, c in enumerate(names) if j and j != unit_col]
    parts = []
    for name, value in zip(value_names, values, strict=False):
        name, own = split_header(name)
        parts.append(f"{name}：{with_unit(value, own or row_unit or unit)}")
    return label + LABEL_SEP + VALUE_SEP.join(parts)
