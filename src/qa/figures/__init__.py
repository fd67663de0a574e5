"""Every quantity in a document as a :class:`Figure` record (value, unit, metric, period).

Public API::

    extract_figures(doc, chunks) -> list[Figure]      # in document order
    filter_figures(figures, query=None, period=None) -> list[Figure]
    format_figures(figures, fmt="table") -> str         # "table" | "csv" | "json"
    parse_number(text) -> float                          # "60.3", "三", "1.6万" ...

How a figure is read (rules, not per-document cases; the unit tables below are
the whole vocabulary):

* **Number**: Arabic (``60.3``, ``1,234``, full-width digits) or Chinese
  (``三``, ``十``, ``二十五``, ``两``). ``Figure.value`` is the number *as written*
  and the unit carries the magnitude: ``60.3亿元`` → value 60.3, unit ``亿元``;
  ``1.6万余`` → value 1.6, unit ``万``, qualifier ``余``. :meth:`Figure.scaled_value`
  applies the magnitude (1.6万 → 16000).
* **Sign**: a ``-`` that does not stand between two numbers is a sign
  (``同比分别-6.2%、-19.3%`` → -6.2, -19.3; ``1-10月`` is a range).
* **Changes**: a rate (``%``, ``‰``, ``个百分点``, ``倍``) after a change word
  (``同比``, ``增长``, ``下降``, ``提高`` …) has ``is_change=True``. The value keeps
  the number as written; the direction is in ``direction`` (+1 up, -1 down):
  ``下降5.7%`` → value 5.7, direction -1; :attr:`Figure.change` gives -5.7.
  A level reached is not a change: after a change verb fused with 到/至
  (``提高到92%``, ``增至``, ``降至``, ``控制到``) and after ``由``/``从`` the figure is a
  level (``is_change=False``, ``direction`` 0); ``增长达到10%`` stays a change.
* **Qualifiers**: ``余``/``多`` inside or after the number (``1600余万元``, ``1.6万余``)
  and ``以上``/``以下``/``左右``/``以内`` after the unit (``4.6个以上``) are part of
  ``text``; leading ones (``约``, ``近``, ``超``, ``超过``, ``逾``, ``不足`` …) stand
  just before ``start`` and are only recorded in ``qualifier``.
* **Not figures**: years and durations (a number followed by ``年``), dates and
  times (``3月``, ``21日``, ``2024-03-21``, ``11:04``), ordinals (``第八批``),
  list and section numbers (``一是``, ``（1）``, ``1.``), footnote markers
  (``①``, ``[1]``), anything inside quotation marks or book-title marks
  (``“2332”``, ``“三个一点”``: names and slogans), codes glued to Latin letters
  (``5G``, ``A2``), a bare ``一`` (``一个``, ``一批``, ``一场接一场``: the article,
  not a count), Chinese numerals without a unit, and fixed political or
  statistical terms (:data:`FIXED_TERMS`: ``三次产业``, ``八项规定`` …).
  A bare Arabic number without a unit is a figure only after ``为``/``达``/``是``
  at the end of a clause (``指数为100.2。``); ratios (``3.9:39.0:57.1``, unit ``:``,
  value = first term) and fractions (``1/4``, value 0.25) always are.
* **Ranges** ``3-5个`` are one figure: ``value`` 3, ``value_to`` 5.
* **Metric**: on a table row (``油料｜产量：93770吨``, :mod:`qa.documents.tables`) the row
  label without its classification code or list number (``208 05 行政事业单位养老支出`` →
  ``行政事业单位养老支出``) when the clause names nothing before the number; else
  the noun phrase before the number in its clause, after dropping
  link words (``实现``, ``完成``, ``达到``, ``为``, ``同比增长`` …), footnote markers
  (``全市生产总值②达到`` → ``全市生产总值``) and leading adverbials (``全年``,
  ``其中``, ``累计``, ``力争`` …). A counted noun after a counter (``三部电梯加装`` →
  ``电梯加装``, ``提供575个岗位`` → ``岗位``) is preferred. A change without its own
  metric (``13.1亿元,同比增长20.4%``) takes the metric of the nearest level figure
  before it in the sentence; the respectively-construction
  (``A 60.3亿元,B 2亿元,同比分别-6.2%、-19.3%``) pairs the k changes with the k
  level figures before them, in order; items named before ``分别``
  (``A、B、C、D分别为a、b、c、d``) pair item i with value i, for any number of items.
  A level after a level verb in the same clause (``由85%提高到92%``) shares the
  metric before it. After a scope verb (``涉及1.6亿元的19项技术需求榜单``) a metric
  without a noun (jieba part-of-speech) gives way to the noun the quantity
  modifies. Inherited metrics keep the offsets of the words they were read from.
* **Period and kind**: see :mod:`qa.figures.periods`. The report's years are
  resolved once (title years, else the publication date read with the genre —
  a work report published in 2019 reviews 2018 and plans 2019, a bulletin
  reports the year before it is published —, else review/plan headings with a
  year, else the year the opening names most); each place is in a review or a
  plan (headings, else paragraphs opening with ``过去一年``/``今年``/``主要预期目标``
  …); a figure's sentence may name its own year, a range (``2014-2018年``,
  ``2014年以来``, ``“十三五”期间``, ``五年来``), a relative year (``今年``, ``去年``)
  or a planning cue (``力争``, ``预期目标`` …). ``kind`` is ``actual``, ``target``
  or ``cumulative`` (a multi-year or running total, period ``2016-2020``).

All offsets are characters into ``Document.text``, half-open ``[start, end)``;
``doc.text[f.start:f.end] == f.text`` and
``doc.text[f.metric_start:f.metric_end] == f.metric`` for every figure.
"""

from __future__ import annotations

from qa.figures.extract import extract_figures
from qa.figures.numbers import parse_number, unit_scale
from qa.figures.record import FORMATS, Figure, filter_figures, format_figures

__all__ = [
    "FORMATS",
    "Figure",
    "extract_figures",
    "filter_figures",
    "format_figures",
    "parse_number",
    "unit_scale",
]
