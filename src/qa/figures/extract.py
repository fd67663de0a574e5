"""extract_figures: every quantity of a document as a Figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.documents import Document
from qa.figures.numbers import _quote_mask, _scan
from qa.figures.periods import (
    _date_year,
    _has_target_cue,
    _heading_kind,
    _heading_period,
    _title_period,
)
from qa.figures.reading import _read_sentence, _Reading
from qa.figures.record import Figure
from qa.figures.vocabulary import _TARGET_CUES, _WEAK_TARGET_CUES, _YEAR_RE
from qa.script import fold

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
            and their ``section_path`` gives the period. A chunk without
            sentences is read as one sentence.

    Returns:
        Figures sorted by ``start`` (see the module docstring for the rules).

    Raises:
        ValueError: a chunk belongs to another document or its offsets do not
            match ``doc.text``.
    """
    text = fold(doc.text)  # Traditional read as Simplified (same length); spans sliced from doc.text
    quoted = _quote_mask(text)
    title_year, title_kind = _title_period(doc.title or doc.metadata.get("title", ""))
    seen: set[tuple[int, int]] = set()
    figures: list[Figure] = []
    for chunk in sorted(chunks, key=lambda c: (c.start, c.end)):
        if chunk.doc_id != doc.id:
            raise ValueError(f"chunk {chunk.id} belongs to document {chunk.doc_id}, not {doc.id}")
        if doc.text[chunk.start : chunk.end] != chunk.text:
            raise ValueError(f"chunk {chunk.id} offsets do not match the document text")
        sec_year, sec_kind = _heading_period(chunk.section_path)
        if not sec_kind:
            sec_kind = next((k for k in map(_heading_kind, chunk.section_path) if k), "")
        sentences = [(s.start, s.end) for s in chunk.sentences] or [(chunk.start, chunk.end)]
        for lo, hi in sentences:
            if (lo, hi) in seen:
                continue
            seen.add((lo, hi))
            readings = _read_sentence(text, lo, hi, _scan(text, lo, hi, quoted))
            for r in readings:
                figures.append(
                    _figure(doc, chunk.id, text, lo, hi, r, sec_year, sec_kind, title_year, title_kind)
                )
    figures.sort(key=lambda f: (f.start, f.end))
    return figures


def _figure(
    doc: Document,
    chunk_id: str,
    text: str,
    lo: int,
    hi: int,
    r: _Reading,
    sec_year: str,
    sec_kind: str,
    title_year: str,
    title_kind: str,
) -> Figure:
    q = r.q
    years = [m for m in _YEAR_RE.finditer(text, lo, q.start)]
    if years:
        period = years[-1].group(1)
        kind = sec_kind if period == sec_year else ("" if sec_year else title_kind)
    elif sec_year:
        period, kind = sec_year, sec_kind
    elif title_year:
        period, kind = title_year, title_kind or sec_kind
    else:  # a dated brief (1-10月…): the year it was published
        period, kind = _date_year(doc.metadata.get("date", "")), sec_kind
    cues = _TARGET_CUES if sec_kind == "actual" else _TARGET_CUES + _WEAK_TARGET_CUES
    if _has_target_cue(text, lo, q.start, cues):
        kind = "target"
    ms, me = r.metric
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
