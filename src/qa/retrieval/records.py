"""Retrieval records: a retrieved :class:`Passage` and a retriever's :class:`Ranking`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.chunking import Chunk


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores.

    Attributes:
        chunk: the retrieved chunk.
        score: the score it was ranked by (fused score for ``hybrid``).
        scores: each retriever's raw score, e.g. ``{"dense": 0.83, "bm25": 7.1}``
            (cosine similarity for dense, BM25 score for bm25).
        ranks: each retriever's 1-based rank of this chunk; a retriever that did
            not return it is absent.
    """

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict, written out field by field (offsets: characters, half-open)."""
        chunk = self.chunk
        return {
            "chunk_id": chunk.id,
            "doc_id": chunk.doc_id,
            "section_path": list(chunk.section_path),
            "paragraph": chunk.paragraph,
            "start": chunk.start,
            "end": chunk.end,
            "score": float(self.score),
            "scores": {name: float(v) for name, v in self.scores.items()},
            "ranks": {name: int(r) for name, r in self.ranks.items()},
            "text": chunk.text,
        }


@dataclass(frozen=True)
class Ranking:
    """One retriever's result over chunk rows: ``rows`` (int64) best first, ``scores`` (float32) aligned."""

    rows: np.ndarray
    scores: np.ndarray

    def ranks(self) -> dict[int, int]:
        """Chunk row → 1-based rank."""
        return {int(row): i + 1 for i, row in enumerate(self.rows)}


def _top(scores: np.ndarray, rows: np.ndarray, depth: int) -> Ranking:
    """The ``depth`` best of ``scores`` (aligned with ``rows``), ties by ascending row."""
    order = np.lexsort((rows, -scores))[:depth]
    return Ranking(rows[order], scores[order])
