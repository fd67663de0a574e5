"""Dense, BM25 and hybrid retrieval over an :class:`~qa.index.Index`.

OWNER: index helper. Contract:

    Retriever(index, encoder, settings)
    Retriever.search(query, k=None, retriever=None, doc_ids=None, query_vector=None)
        -> list[Passage]     # best first, at most k
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
