"""Structure-aware chunks with exact offsets and section paths (sentences: :mod:`qa.sentences`).

Contract:

    chunk_document(doc, max_chars=200, overlap_sentences=1, include_header=True) -> list[Chunk]

All offsets are character offsets into ``doc.text``, half-open ``[start, end)``,
and every record satisfies ``doc.text[start:end] == text``.

Structure (see :func:`chunk_document`): a *paragraph* is a line, or a segment of a
line where the source puts several paragraphs on one line separated by spaces
(government-portal exports). Headings (``一、``, ``（一）``/``(一)``, ``1.``/``1、``,
``（1）``, ``第X章``/``第X节``, Markdown ``#``) build the section path; a short
topic sentence opening a paragraph (``紧盯关键指标。``) is its last element.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from qa.documents import SPACE, Document, boilerplate_spans, iter_lines
from qa.documents.tables import LABEL_SEP
from qa.sentences import CLOSERS, TERMINATORS, Sentence, split_sentences

__all__ = ["HEADER_SECTION", "Chunk", "Sentence", "chunk_document", "split_sentences"]

#: Section label of the chunks made from the metadata header (``[0, body_start)``).
HEADER_SECTION = "文档信息"


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit, normally one paragraph.

    Attributes:
        id: stable id ``f"{doc_id}-{start}-{end}"``.
        doc_id: id of the :class:`~qa.documents.Document`.
        start, end: character offsets into ``doc.text`` (half-open);
            ``doc.text[start:end] == text``.
        text: the chunk text, exactly as in the document.
        section_path: headings from the top down, e.g.
            ``("一、2023年工作回顾", "(一)坚持“谋发展、促增长”,全力提振经济活力。", "紧盯关键指标")``;
            ``(HEADER_SECTION,)`` for a chunk of the metadata header.
        paragraph: 1-based paragraph number within the document body (0 for a
            chunk of the metadata header).
        sentences: the chunk's sentences, offsets into ``doc.text``; a sentence
            cut by the chunk boundary (only when one sentence is longer than the
            chunk limit) appears clipped to the chunk.
    """

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    section_path: tuple[str, ...]
    paragraph: int
    sentences: tuple[Sentence, ...]

    def embedding_text(self, title: str = "") -> str:
        """Text given to the encoder: title and section path, then the chunk text."""
        head = " > ".join(p for p in (title, *self.section_path) if p)
        return f"{head}\n{self.text}" if head else self.text


# --------------------------------------------------------------------------- sentences


_NUM = "一二三四五六七八九十百零〇两"
#: Numbered heading markers and their rank (smaller is higher in the outline),
#: following the usual order of Chinese official documents (GB/T 9704-2012 §7.3.3:
#: ``一、`` → ``（一）`` → ``1.`` → ``（1）``), with chapters/sections above them.
HEADING_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (0, re.compile(rf"第[{_NUM}\d]+(?:编|篇|部分)")),
    (1, re.compile(rf"第[{_NUM}\d]+章")),
    (2, re.compile(rf"第[{_NUM}\d]+节")),
    (3, re.compile(rf"[{_NUM}]+、")),
    (4, re.compile(rf"[（(][{_NUM}]+[)）]")),
    (5, re.compile(r"\d{1,2}[.．、](?!\d)")),
    (6, re.compile(r"[（(]\d{1,2}[)）]")),
)
_MARKDOWN = re.compile(r"(#{1,6})[ \t]+(\S.*?)[ \t#]*$")
_PLAIN_RANK = 3  # unnumbered headings (``名词解释``) and labels (``注释：``) sit with ``一、``
#: Longest heading, in characters; a longer numbered line is a numbered paragraph.
HEADING_MAX_CHARS = 50
_UNNUMBERED_MAX = 25
_LABEL_MAX = 12
_TOPIC_MAX = 16
_NO_HEADING_CHARS = '。，,；;！？!?、“”"：:()（）'
_DATE_ONLY = re.compile(r"[\d年月日号\-./]+")


@dataclass(frozen=True)
class _Block:
    """A paragraph candidate: stripped ``[start, end)``; ``whole_line``: nothing else on its line."""

    start: int
    end: int
    line_end: bool  # nothing follows on the same line
    whole_line: bool


def _marker_rank(s: str) -> int | None:
    for rank, pattern in HEADING_MARKERS:
        if pattern.match(s):
            return rank
    return None


def _is_standalone_heading(s: str) -> bool:
    """Numbered and short, with no sentence end except possibly a final one."""
    return (
        _marker_rank(s) is not None
        and len(s) <= HEADING_MAX_CHARS
        and not any(ch in TERMINATORS for ch in s[:-1])
    )


def _heading(text: str, b: _Block) -> tuple[int, int, str] | None:
    """``(rank, heading_end, label)`` when block ``b`` opens with a heading, else None.

    ``heading_end == b.end`` for a heading that is the whole block; otherwise the
    heading is the block's first sentence (``（一）三大攻坚战强力突破。…``) and
    the body text follows it.
    """
    s = text[b.start : b.end]
    if LABEL_SEP in s:
        return None  # a table row (``六、大洋洲｜出口额：…``, ``# 美国｜…``), never a heading
    if b.whole_line:
        md = _MARKDOWN.match(s)
        if md:
            return len(md.group(1)) - 7, b.end, md.group(2)
        if (
            len(s) <= _UNNUMBERED_MAX
            and not any(ch in _NO_HEADING_CHARS or ch in SPACE for ch in s)
            and not _DATE_ONLY.fullmatch(s)
            and not s[-1].isdigit()
            and s[-1] != "%"
        ):
            return _PLAIN_RANK, b.end, s
        if (
            len(s) <= _LABEL_MAX
            and s[-1] in "：:"
            and not any(ch in _NO_HEADING_CHARS for ch in s[:-1])
        ):
            return _PLAIN_RANK, b.end, s
    rank = _marker_rank(s)
    if rank is None:
        return None
    if _is_standalone_heading(s):
        return rank, b.end, s
    first = split_sentences(text, b.start, b.end)[0]
    if (
        first.end - first.start <= HEADING_MAX_CHARS
        and first.text[-1] in TERMINATORS
        and first.end < b.end
    ):
        return rank, first.end, first.text
    return None


def _topic(sentences: list[Sentence]) -> str:
    """The short topic sentence opening a paragraph (``紧盯关键指标。``) without its full stop, or ``""``.

    A topic is a first sentence of 2–16 characters ending in ``。`` with no
    comma, colon, quote or digit, followed by more text in the paragraph.
    """
    if len(sentences) < 2:
        return ""
    s = sentences[0].text
    body = s[:-1]
    if (
        s[-1] == "。"
        and 2 <= len(body) <= _TOPIC_MAX
        and not any(ch in "，,；;：:“”\"'" or ch.isdigit() or ch in SPACE for ch in body)
    ):
        return body
    return ""


# --------------------------------------------------------------------------- paragraphs


def _ends_sentence(s: str) -> bool:
    s = s.rstrip(CLOSERS)
    return bool(s) and s[-1] in TERMINATORS


def _split_line(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one stripped line into paragraph segments at spaces.

    A run of spaces separates paragraphs when the text before it ends a
    sentence, or is a numbered heading (not a bare marker: ``第一章 总则``
    stays whole), or the text after it starts with a
    Chinese-numeral heading (``一、``, ``（一）``, ``第X章``). Other spaces
    (``2024年是奋进“主城新生” 争创…``) stay inside the paragraph.
    """
    segments = []
    seg = start
    for m in re.finditer(f"[{SPACE}]+", text[start:end]):
        ws, we = start + m.start(), start + m.end()
        before, after = text[seg:ws], text[we:end]
        rank_after = _marker_rank(after)
        marker_only = any(pattern.fullmatch(before) for _, pattern in HEADING_MARKERS)
        if (
            _ends_sentence(before)
            or (_is_standalone_heading(before) and not marker_only)
            or (rank_after is not None and rank_after <= 4)
        ):
            segments.append((seg, ws))
            seg = we
    segments.append((seg, end))
    return segments


_BREAK = None  # a skipped boilerplate line between blocks


def _blocks(text: str, start: int, end: int) -> Iterator[_Block | None]:
    """Paragraph candidates of ``text[start:end]``; ``None`` where a boilerplate line was skipped."""
    skip = set(boilerplate_spans(text, start, end))
    for line in iter_lines(text, start, end):
        s, e = line.start, line.end
        if (s, e) in skip:
            yield _BREAK
            continue
        segments = _split_line(text, s, e)
        for k, (a, b) in enumerate(segments):
            yield _Block(a, b, line_end=k == len(segments) - 1, whole_line=len(segments) == 1)


# --------------------------------------------------------------------------- packing


def _units(text: str, sentences: list[Sentence], max_chars: int) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence longer than ``max_chars`` cut at clause marks."""
    out: list[tuple[int, int]] = []
    for s in sentences:
        if s.end - s.start <= max_chars:
            out.append((s.start, s.end))
        else:
            out.extend(_split_long(text, s.start, s.end, max_chars))
    return out


_CLAUSE = "，,、：:"
_NUMBERISH = re.compile(r"[0-9.．%‰,，:：\-]")


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Pieces of at most ``max_chars`` cut after ``，,、：:``; a hard cut never splits a number."""
    pieces = []
    s = start
    while end - s > max_chars:
        limit = s + max_chars
        cut = max(
            (
                k + 1
                for k in range(s + 1, limit)
                if text[k] in _CLAUSE
                and not (text[k - 1].isdigit() and text[k + 1 : k + 2].isdigit())
            ),
            default=0,
        )
        if not cut:
            cut = limit
            while cut > s + 1 and _NUMBERISH.match(text[cut - 1]) and _NUMBERISH.match(text[cut]):
                cut -= 1
            if cut == s + 1:
                cut = limit
        pieces.append((s, cut))
        s = cut
        while s < end and text[s] in SPACE:
            s += 1
    if s < end:
        pieces.append((s, end))
    return pieces


def _pack(
    units: list[tuple[int, int]],
    max_chars: int,
    overlap: int,
    first_start: int,
    merge_tail: bool = True,
) -> list[tuple[int, int]]:
    """Greedy runs of units of at most ``max_chars`` characters.

    Consecutive runs share up to ``overlap`` units (fewer when the shared units
    and the next new unit would not fit together, so that every run adds
    text). With ``merge_tail``, a last run shorter than ``max_chars // 4`` is
    merged into the run before it when the merged run stays within
    ``1.25 * max_chars``, so a paragraph does not end in a stub. The first run starts at ``first_start``
    (an attached heading), which may make it longer than ``max_chars``.
    """
    pieces: list[tuple[int, int]] = []
    i, n = 0, len(units)
    while i < n:
        s = first_start if not pieces else units[i][0]
        j = i + 1
        while j < n and units[j][1] - s <= max_chars:
            j += 1
        pieces.append((s, units[j - 1][1]))
        if j >= n:
            break
        i = max(j - overlap, i + 1)
        while i < j and units[j][1] - units[i][0] > max_chars:
            i += 1
    if merge_tail and len(pieces) > 1:
        (ps, _), (ls, le) = pieces[-2], pieces[-1]
        if le - ls < max_chars // 4 and le - ps <= max_chars * 5 // 4:
            pieces[-2:] = [(ps, le)]
    return pieces


# --------------------------------------------------------------------------- chunks


def chunk_document(
    doc: Document, max_chars: int = 200, overlap_sentences: int = 1, include_header: bool = True
) -> list[Chunk]:
    """Structure-aware chunks of ``doc`` (a pure function of its text and spans).

    Rules:

    * Only the body ``[doc.body_start, doc.body_end)`` is split into paragraphs;
      boilerplate lines inside it (:func:`qa.documents.boilerplate_spans`) are
      skipped.
    * A paragraph is a line, or a space-separated segment of a line (see
      :func:`_split_line`). One paragraph is one chunk when it fits in
      ``max_chars``; a longer one is cut at sentence boundaries into pieces of at
      most ``max_chars`` characters, consecutive pieces repeating
      ``overlap_sentences`` sentences. A single sentence longer than
      ``max_chars`` is cut at clause marks (``，、：``). Two exceptions to the
      limit (see :func:`_pack`): an attached heading adds to the first piece,
      and a stub under ``max_chars // 4`` at the end of a paragraph joins the
      piece before it (up to ``1.25 * max_chars``).
    * Headings update the section path and are never chunks of their own. A
      heading on its own line starts the chunk of the next paragraph (its text is
      in the chunk); a heading followed by body text on the same line
      (``一、2023年工作回顾 2023年是…``, ``（一）三大攻坚战强力突破。坚决…``) is
      left out of the chunk, which starts at the body text. A heading with no
      paragraph before the next heading of the same or higher rank is dropped.
    * A topic sentence opening a paragraph (``紧盯关键指标。``) stays in the
      chunk and is the last element of its section path.
    * ``include_header``: the metadata header ``[0, body_start)`` becomes
      chunks too (section path ``(HEADER_SECTION,)``, paragraph 0) when it holds
      more than one line, so that questions about the publisher or the date
      find it; lines are packed up to ``max_chars``.

    Returns:
        chunks in document order; ``doc.text[c.start:c.end] == c.text`` and
        ``c.id == f"{doc.id}-{c.start}-{c.end}"``.

    Raises:
        ValueError: ``max_chars < 1``, ``overlap_sentences < 0``, or body offsets
            outside the text.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    text = doc.text
    body_end = len(text) if doc.body_end < 0 else doc.body_end
    if not 0 <= doc.body_start <= body_end <= len(text):
        raise ValueError(
            f"document {doc.id}: body span [{doc.body_start}, {body_end}) outside text of "
            f"length {len(text)}"
        )
    chunks = _header_chunks(doc, max_chars) if include_header else []
    stack: list[tuple[int, str]] = []  # (rank, label) from the top of the outline down
    # headings awaiting their paragraph: (rank, start, attach to its chunk?)
    pending: list[tuple[int, int, bool]] = []
    number = 0
    for item in _outline(text, doc.body_start, body_end):
        if item is _BREAK:
            pending = [(r, s, False) for r, s, _ in pending]
            continue
        block, head = item
        start = block.start
        if head is not None:
            rank, head_end, label = head
            stack = [(r, lab) for r, lab in stack if r < rank] + [(rank, label)]
            pending = [p for p in pending if p[0] < rank]
            if head_end >= block.end:
                pending.append((rank, block.start, block.line_end))
                continue
            start = head_end
            while text[start] in SPACE:
                start += 1
        number += 1
        attached = [s for _, s, attach in pending if attach]
        first_start = min(attached, default=start)
        pending = []
        sentences = split_sentences(text, start, block.end)
        topic = _topic(sentences)
        path = tuple(lab for _, lab in stack) + ((topic,) if topic else ())
        units = _units(text, sentences, max_chars)
        for s, e in _pack(units, max_chars, overlap_sentences, first_start):
            chunks.append(_make_chunk(doc, s, e, path, number))
    return chunks


_Heading = tuple[int, int, str]  # (rank, heading_end, label), see _heading


def _outline(text: str, start: int, end: int) -> list[tuple[_Block, _Heading | None] | None]:
    """Blocks of ``text[start:end]`` with their heading (or None); ``None`` items are skipped lines.

    Numbered *items* are told from headings: a whole numbered block ending in a
    sentence end (``（1）生产总值增长5%左右。``) that is followed by no paragraph
    (the next block is a heading of the same or a higher rank, or there is none)
    is a list item, and so is every such block right after an item of the same
    rank. Items are content, not headings: a run of them becomes one paragraph
    block, so that no text is lost and the outline is not filled with them.
    """
    raw = [None if b is _BREAK else (b, _heading(text, b)) for b in _blocks(text, start, end)]
    # the heading of the next block (None: a paragraph; False: no next block)
    following: list[_Heading | None | bool] = [False] * len(raw)
    nxt: _Heading | None | bool = False
    for k in range(len(raw) - 1, -1, -1):
        following[k] = nxt
        if raw[k] is not None:
            nxt = raw[k][1]
    out: list[tuple[_Block, _Heading | None] | None] = []
    item_rank: int | None = None  # rank of the list item just emitted
    for k, entry in enumerate(raw):
        if entry is None:
            out.append(None)
            item_rank = None
            continue
        block, head = entry
        whole = head is not None and head[1] >= block.end
        if not (whole and _ends_sentence(text[block.start : block.end])):
            out.append(entry)
            item_rank = None
            continue
        after = following[k]
        orphan = after is False or (after is not None and after[0] <= head[0])
        if not orphan and item_rank != head[0]:
            out.append(entry)
            item_rank = None
            continue
        if item_rank == head[0] and out and out[-1] is not None:
            prev = out[-1][0]
            block = _Block(prev.start, block.end, block.line_end, whole_line=False)
            out[-1] = (block, None)
        else:
            out.append((block, None))
        item_rank = head[0]
    return out


def _header_chunks(doc: Document, max_chars: int) -> list[Chunk]:
    """Chunks of the metadata header ``[0, body_start)``: its lines packed up to ``max_chars``."""
    lines = [(s.start, s.end) for s in split_sentences(doc.text, 0, doc.body_start)]
    lines = [(s, e) for s, e in lines if any(ch.isalnum() for ch in doc.text[s:e])]
    if len(lines) < 2:
        return []
    return [
        _make_chunk(doc, s, e, (HEADER_SECTION,), 0)
        for s, e in _pack(lines, max_chars, 0, lines[0][0], merge_tail=False)
    ]


def _make_chunk(
    doc: Document, start: int, end: int, path: tuple[str, ...], paragraph: int
) -> Chunk:
    return Chunk(
        id=f"{doc.id}-{start}-{end}",
        doc_id=doc.id,
        start=start,
        end=end,
        text=doc.text[start:end],
        section_path=path,
        paragraph=paragraph,
        sentences=tuple(split_sentences(doc.text, start, end)),
    )
