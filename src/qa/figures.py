"""Every quantity in a document as a :class:`Figure` record (value, unit, metric, period).

OWNER: figures helper. Contract:

    extract_figures(doc, chunks) -> list[Figure]     # in document order
    parse_number(text) -> float                       # "60.3", "三", "1.6万" ...
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One quantity found in a document.

    Offsets are characters into ``Document.text``, half-open.

    Attributes:
        doc_id, chunk_id: where it is.
        text: the surface form, exactly ``doc.text[start:end]``: number with its
            sign, qualifier and unit (``60.3亿元``, ``-6.2%``, ``1600余万元``,
            ``三部``, ``4.6个以上``, ``1.6万余``).
        start, end: offsets of ``text``.
        value: the number as a float, sign included (``三`` → 3.0, ``-6.2%`` → -6.2).
        unit: ``亿元``, ``万元``, ``%``, ``个``, ``家``, ``人次`` … ('' if none).
        qualifier: ``余``, ``以上``, ``约`` … ('' if none).
        metric: what it measures (``地区生产总值``), '' if unknown.
        metric_start, metric_end: offsets of the metric words (-1 if unknown).
        period: year the figure refers to (``"2023"``), '' if unknown.
        kind: ``actual`` (a result), ``target`` (a plan or goal) or ''.
        is_change: True for a year-on-year or growth rate (``同比增长20.4%``).
        sentence_start, sentence_end: offsets of the sentence it stands in.
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
