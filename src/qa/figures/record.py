"""The :class:`Figure` record, filtering and output formats."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from qa.figures.numbers import unit_scale


@dataclass(frozen=True)
class Figure:
    """One quantity found in a document.

    Offsets are characters into ``Document.text``, half-open.

    Attributes:
        doc_id, chunk_id: where it is (the first chunk holding its sentence).
        text: the surface form, exactly ``doc.text[start:end]``: number with its
            sign, trailing qualifier and unit (``60.3亿元``, ``-6.2%``, ``1600余万元``,
            ``三部``, ``4.6个以上``, ``1.6万余``).
        start, end: offsets of ``text``.
        value: the number as written, as a float, sign included (``三`` → 3.0,
            ``-6.2%`` → -6.2, ``60.3亿元`` → 60.3: the magnitude stays in ``unit``).
        unit: ``亿元``, ``万元``, ``%``, ``个``, ``家``, ``人次``, ``万`` … ('' if none;
            ``:`` for a ratio).
        qualifier: ``余``, ``以上``, ``约`` … ('' if none; a leading and a trailing
            one are concatenated, leading first).
        metric: what it measures (``地区生产总值``), '' if unknown; exactly
            ``doc.text[metric_start:metric_end]``.
        metric_start, metric_end: offsets of the metric words (-1 if unknown).
        period: year the figure refers to (``"2023"``), or a range of years
            (``"2016-2020"``: a five-year total, a ``“十四五”`` target); '' only
            when the document names no year at all.
        kind: ``actual`` (a result of one period), ``target`` (a plan or goal),
            ``cumulative`` (a result summed over several years or to date:
            ``五年来累计``, ``累计拆除``); always set by :func:`extract_figures`.
        is_change: True for a year-on-year or growth rate (``同比增长20.4%``);
            False for a level, including a level reached (``提高到92%``).
        sentence_start, sentence_end: offsets of the sentence it stands in.
        direction: for a change, +1 (增长, 提高 …) or -1 (下降, 减少 …, or a
            negative number); 0 otherwise.
        value_to: upper end of a range (``3-5个`` → 5.0), else None.
    """

    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    value: float
    unit: str
    qualifier: str
    metric: str
    metric_start: int
    metric_end: int
    period: str
    kind: str
    is_change: bool
    sentence_start: int
    sentence_end: int
    direction: int = 0
    value_to: float | None = None

    @property
    def measure(self) -> str:
        """``change`` for a rate of change (``增长6%``), ``level`` otherwise (``提高到92%``)."""
        return "change" if self.is_change else "level"

    @property
    def change(self) -> float | None:
        """The signed change for a rate of change (``下降5.7%`` → -5.7), else None."""
        if not self.is_change:
            return None
        return -abs(self.value) if self.direction < 0 else self.value

    def scaled_value(self) -> float:
        """``value`` times the magnitude in ``unit`` (``1.6万`` → 16000.0)."""
        return self.value * unit_scale(self.unit)

    def to_dict(self) -> dict:
        """All fields as a JSON-ready dict (field name → value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def filter_figures(
    figures: Iterable[Figure], query: str | None = None, period: str | int | None = None
) -> list[Figure]:
    """The figures that match a query and a period, in their order.

    Args:
        figures: figures from :func:`extract_figures`.
        query: whitespace-separated terms; a figure matches when every term occurs
            in its metric, text or unit (``托位`` matches ``新增托位``). None or
            blank matches all.
        period: a four-digit year (``2023`` or ``"2023"``) or a range as figures
            carry it (``"2016-2020"``); matched exactly, so a five-year total is
            not a figure of one of its years. None matches all.

    Raises:
        ValueError: ``period`` is not a four-digit year or a range of two.
    """
    year = ""
    if period is not None and str(period).strip():
        year = str(period).strip()
        if not re.fullmatch(r"[0-9]{4}(?:-[0-9]{4})?", year):
            raise ValueError(f"period must be a four-digit year such as 2023, got {period!r}")
    terms = query.split() if query else []
    out = []
    for f in figures:
        if year and f.period != year:
            continue
        hay = f"{f.metric} {f.text} {f.unit}"
        if all(t in hay for t in terms):
            out.append(f)
    return out


#: Output formats of :func:`format_figures`.
FORMATS = ("table", "csv", "json")
_TABLE_COLUMNS = ("period", "kind", "metric", "text", "value", "unit", "qualifier", "change", "start", "end")


def format_figures(figures: Sequence[Figure], fmt: str = "table") -> str:
    """Render figures as an aligned text table, CSV (all fields, header row) or JSON.

    The table shows period, kind, metric, text, value, unit, qualifier, the signed
    change (for rates of change) and the offsets; column widths count East Asian
    wide characters as two. JSON is a list of :meth:`Figure.to_dict` objects
    (non-ASCII kept as is).

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps([f.to_dict() for f in figures], ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        names = [f.name for f in fields(Figure)]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for f in figures:
            writer.writerow(["" if getattr(f, n) is None else getattr(f, n) for n in names])
        return buf.getvalue()
    rows = [list(_TABLE_COLUMNS)]
    for f in figures:
        change = f.change
        rows.append([
            f.period, f.kind, f.metric, f.text, f"{f.value:g}", f.unit, f.qualifier,
            "" if change is None else f"{change:+g}", str(f.start), str(f.end),
        ])
    widths = [max(_width(r[i]) for r in rows) for i in range(len(_TABLE_COLUMNS))]
    lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _width(s: str) -> int:
    """Display width: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
