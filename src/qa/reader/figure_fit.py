"""How a figure fits a question: its unit, change, period and kind against what the
question asks (:func:`figure_type_fit`), and the span that answers with it (:func:`as_printed_end`)."""

from __future__ import annotations

from qa.documents.tables import row_label_span
from qa.figures import Figure
from qa.question import Question


def as_printed_end(text: str, fig: Figure, question: str = "") -> int:
    """End offset of ``fig``'s answer span: the value as printed in its source.

    On a table row (``label｜header：value unit；…``, :mod:`qa.documents.tables`) a
    unit other than ``%``/``‰`` was attached by the table reader from a header, a
    unit column or a caption: the cell itself holds the bare number, which answers a
    ``question`` that names the unit (``黄金产量是多少千克？`` → ``4131.71``; the unit
    stays in the cited row). A question that does not name it gets the unit
    (``…是多少？`` → ``4131.71千克``), as everywhere else: the figure's own end
    (number, qualifier and unit as written).
    """
    on_table_row = row_label_span(text, fig.start) is not None
    if (on_table_row and fig.unit and fig.unit not in ("%", "‰") and fig.unit in question
            and text[fig.start:fig.end].endswith(fig.unit)):
        return fig.end - len(fig.unit)
    return fig.end


def figure_type_fit(q: Question, fig: Figure, years: tuple[int, ...], pub_year: int | None) -> float:
    """Agreement of a figure with the question's unit, change and period, in [0, 1]."""
    score = 0.0
    # unit
    if q.unit_hint:
        if fig.unit and (fig.unit == q.unit_hint or fig.unit.endswith(q.unit_hint)):
            score += 0.3
        elif q.unit_hint == "个" and fig.unit not in ("%", "‰"):
            score += 0.15
    elif q.wants_percent:
        score += 0.3 if fig.unit in ("%", "‰") else 0.0
    else:
        score += 0.1 if fig.unit in ("%", "‰") else 0.2
    # change
    if q.wants_change == fig.is_change:
        score += 0.3
    elif q.wants_change and fig.unit in ("%", "‰"):
        score += 0.15
    # period
    period = int(fig.period) if fig.period.isdigit() else None
    if years and period is not None:
        score += 0.25 if period in years else 0.0
    else:
        score += 0.12
    is_target = fig.kind == "target"
    asks_future = bool(years and pub_year and min(years) >= pub_year)
    if (q.wants_target or asks_future) == is_target:
        score += 0.15
    return score
