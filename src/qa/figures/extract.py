"""extract_figures: every quantity of a document as a Figure."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.documents import Document
from qa.documents.tables import row_label_span
from qa.figures.numbers import _quote_mask, _scan
from qa.figures.periods import (
    ReportFrame,
    document_parts,
    figure_period_kind,
    heading_mode,
    heading_year,
    paragraph_modes,
    part_at,
)
from qa.figures.reading import _read_sentence, _Reading
from qa.figures.record import Figure
from qa.script import fold

#: What leads a table row's label before its name: a heading mark (``# ``), a budget
#: classification code (``204 06 04 ``), ``其中：`` and a list number (``五、``, ``5.``).
_LABEL_LEAD = re.compile(r"(?:[#＃]\s*)?(?:\d{3}(?:\s+\d{2})*\s+)?(?:其中\s*[：:]\s*)?"
                         r"(?:[一二三四五六七八九十]+[、.．]|\d{1,2}[、.．](?!\d))?\s*")

if TYPE_CHECKING:  # pragma: no cover
    from qa.chunking import Chunk

# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def extract_figures(doc: Document, chunks: Sequence[Chunk]) -> list[Figure]:
    """Every quantity in ``doc`` as a :class:`Figure`, in document order.

    Args:
        doc: the document; every offset indexes ``doc.text``. Traditional
            Chinese is read through its Simplified folding (:func:`qa.script.fold`,
            same length), so units and cues match; ``text`` and ``metric`` are
            sliced from the original.
        chunks: its chunks (from :func:`qa.chunking.chunk_document`); their
            sentences are read, each sentence once even where chunks overlap,
            and their ``section_path`` tells review from plan sections. A chunk without
            sentences is read as one sentence.

    Returns:
        Figures sorted by ``start`` (see the module docstring for the rules).

    Raises:
        ValueError: a chunk belongs to another document or its offsets do not
            match ``doc.text``.
    """
    text = fold(doc.text)  # Traditional read as Simplified (same length); spans sliced from doc.text
    quoted = _quote_mask(text)
    ordered = sorted(chunks, key=lambda c: (c.start, c.end))
    parts = document_parts(doc.title or doc.metadata.get("title", ""), doc.metadata, text, doc.body_start, ordered)
    frame = parts[0][1]
    for chunk in ordered:
        if chunk.doc_id != doc.id:
            raise ValueError(f"chunk {chunk.id} belongs to document {chunk.doc_id}, not {doc.id}")
        if doc.text[chunk.start : chunk.end] != chunk.text:
            raise ValueError(f"chunk {chunk.id} offsets do not match the document text")
    modes = _ModeTrack(text, ordered, frame)
    seen: set[tuple[int, int]] = set()
    figures: list[Figure] = []
    for chunk in ordered:
        sec_year, _ = heading_year(chunk.section_path)
        joined_headings = "".join(chunk.section_path)
        sentences = [(s.start, s.end) for s in chunk.sentences] or [(chunk.start, chunk.end)]
        for lo, hi in sentences:
            if (lo, hi) in seen:
                continue
            seen.add((lo, hi))
            mode = modes.at(chunk, lo)
            readings = _read_sentence(text, lo, hi, _scan(text, lo, hi, quoted))
            for r in readings:
                part = part_at(parts, lo)
                period, kind = figure_period_kind(
                    text, lo, r.q.start - len(r.q.lead), part, mode, sec_year, joined_headings
                )
                figures.append(_figure(doc, chunk.id, lo, hi, r, period, kind))
    figures.sort(key=lambda f: (f.start, f.end))
    return figures


class _ModeTrack:
    """Whether a place in the text reviews or plans (see :mod:`qa.figures.periods`).

    A chunk whose headings say so takes their mode; otherwise the latest mode
    set before it by a paragraph that opens with a cue or by a heading of the
    same top-level section (a chunk without headings: by any heading; a table
    of contents listing ``建议和提案办理`` sets nothing for the sections after it);
    before any, ``review`` for a bulletin or a brief and '' for a report.
    """

    def __init__(self, text: str, chunks: Sequence[Chunk], frame: ReportFrame) -> None:
        self._heading: dict[str, str] = {}
        by_top: dict[str, list[tuple[int, str]]] = {}
        for chunk in chunks:
            mode = next((m for m in map(heading_mode, reversed(chunk.section_path)) if m), "")
            self._heading[chunk.id] = mode
            if mode:
                by_top.setdefault(chunk.section_path[0], []).append((chunk.start, mode))
        self._paragraphs = sorted(paragraph_modes(text, chunks[0].start, chunks[-1].end)) if chunks else []
        # a heading's mode stays under its top-level heading; a chunk without headings sees them all
        self._under = {top: sorted(self._paragraphs + events) for top, events in by_top.items()}
        self._every = sorted(self._paragraphs + [e for events in by_top.values() for e in events])
        self._default = "" if frame.genre == "report" else "review"

    def at(self, chunk: Chunk, pos: int) -> str:
        if self._heading.get(chunk.id):
            return self._heading[chunk.id]
        if chunk.section_path:
            events = self._under.get(chunk.section_path[0], self._paragraphs)
        else:
            events = self._every
        i = bisect.bisect_right(events, (pos, "\uffff")) - 1
        return events[i][1] if i >= 0 else self._default


def _figure(doc: Document, chunk_id: str, lo: int, hi: int, r: _Reading, period: str, kind: str) -> Figure:
    q = r.q
    ms, me = r.metric if r.metric[0] >= 0 else _row_label(doc.text, q.start)
    return Figure(
        doc_id=doc.id,
        chunk_id=chunk_id,
        text=doc.text[q.start : q.end],
        start=q.start,
        end=q.end,
        value=q.value,
        unit=q.unit,
        qualifier=q.lead + q.trail,
        metric=doc.text[ms:me] if ms >= 0 else "",
        metric_start=ms,
        metric_end=me,
        period=period,
        kind=kind,
        is_change=r.is_change,
        sentence_start=lo,
        sentence_end=hi,
        direction=r.direction,
        value_to=q.value_to,
    )


def _row_label(text: str, pos: int) -> tuple[int, int]:
    """The ``(start, end)`` of the row label of a table line (``油料｜产量：93770吨…``,
    :mod:`qa.documents.tables`) when ``pos`` lies in its values, without a leading code,
    ``其中：`` or list number (``208 05 行政事业单位养老支出`` → ``行政事业单位养老支出``);
    ``(-1, -1)`` off a table line or for an empty label."""
    row = row_label_span(text, pos)
    if row is None:
        return -1, -1
    line, sep = row
    start = _LABEL_LEAD.match(text, line, sep).end()
    end = sep
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else (-1, -1)
