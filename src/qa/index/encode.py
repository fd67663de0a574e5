"""Chunking documents and embedding chunks for the index (an encoder or an :data:`Embedder` job)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qa.chunking import Chunk
from qa.documents import Document
from qa.index.dense import _normalise


def _chunk(doc: Document, chunker: dict[str, int]) -> list[Chunk]:
    from qa.chunking import chunk_document

    return chunk_document(
        doc, max_chars=chunker["max_chars"], overlap_sentences=chunker["overlap_sentences"]
    )


#: An embedding job run elsewhere (e.g. :func:`qa.ray_build.ray_embedder`): passage
#: texts → ``(len(texts), dim)`` float32 rows in input order.
Embedder = Callable[[Sequence[str]], np.ndarray]


def _encode(chunks: Sequence[Chunk], titles: Sequence[str], encoder, batch_size: int,
            progress: bool, pause: Callable[[], None] | None = None,
            embedder: Embedder | None = None) -> np.ndarray:
    """Embeddings of ``chunk.embedding_text(title)``: ``(len(chunks), encoder.dim)`` float32, L2-normalised.

    Texts are encoded longest first in slices of ``8 * batch_size`` (less padding
    per batch), under one tqdm bar counting chunks, and put back in input order.
    With ``pause``, slices are one batch and ``pause()`` is called before each
    (a server lets its questions go first there). With ``embedder``, all texts
    go to it in one call instead (it batches and reports progress itself).

    Raises:
        ValueError: the encoder or embedder returns the wrong shape.
    """
    n = len(chunks)
    out = np.empty((n, encoder.dim), dtype=np.float32)
    if n == 0:
        return out
    texts = [c.embedding_text(t) for c, t in zip(chunks, titles, strict=True)]
    if embedder is not None:
        vectors = np.asarray(embedder(texts), dtype=np.float32)
        if vectors.shape != out.shape:
            raise ValueError(f"the embedding job returned shape {vectors.shape}, expected {out.shape}")
        out[:] = vectors
        _normalise(out)
        return out
    order = sorted(range(n), key=lambda i: -len(texts[i]))
    step = max(1, batch_size if pause is not None else 8 * batch_size)
    from tqdm.auto import tqdm

    with tqdm(total=n, unit="chunk", desc="Embedding chunks", disable=not progress) as bar:
        for lo in range(0, n, step):
            if pause is not None:
                pause()
            rows = order[lo : lo + step]
            vectors = np.asarray(
                encoder.encode_passages([texts[i] for i in rows], batch_size=batch_size),
                dtype=np.float32,
            )
            if vectors.shape != (len(rows), encoder.dim):
                raise ValueError(
                    f"encoder {encoder.name!r} returned shape {vectors.shape}, "
                    f"expected {(len(rows), encoder.dim)}"
                )
            out[rows] = vectors
            bar.update(len(rows))
    _normalise(out)
    return out
