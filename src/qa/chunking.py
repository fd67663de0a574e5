"""Sentences and structure-aware chunks with exact offsets and section paths.

OWNER: chunking helper. Contract:

    split_sentences(text, start=0, end=None) -> list[Sentence]
    chunk_document(doc, max_chars=200, overlap_sentences=1) -> list[Chunk]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """A sentence: ``doc.text[start:end] == text`` (characters, half-open)."""

    start: int
    end: int
    text: str


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
            ``("一、2023年工作回顾", "(一)坚持“谋发展、促增长”,全力提振经济活力。", "紧盯关键指标")``.
        paragraph: 1-based paragraph number within the document body.
        sentences: the chunk's sentences, offsets into ``doc.text``.
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
