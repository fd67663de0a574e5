"""The persisted index: chunk store, FAISS dense index, BM25 index and manifest.

Public interface:

    tokenize(text) -> list[str]                       # BM25 tokens, chunks and queries alike
    Index.build(documents, encoder, settings, progress=True) -> Index
    Index.load(directory, encoder) -> Index           # validated; raises IndexStoreError
    index.add(documents, encoder, progress=False) -> list[str]   # ids of new documents
    index.extended(documents, encoder) -> (Index, ids)  # the same, as a new Index (copy on write)
    index.save(directory)                             # atomic, locked, never loses a document
    read_manifest(directory) -> dict
    write_lock(directory)                             # the index's inter-process write lock

On disk (``settings.index_dir``, default ``index/``), one *generation* ``<g>`` at a time::

    manifest.json            names the files of the current generation (swapped in last)
    documents-<g>.jsonl      one Document per line (JSON Lines, UTF-8, not ASCII-escaped)
    chunks-<g>.jsonl         one Chunk per line, in row order of both indexes
    dense-<g>.faiss          faiss.write_index of IndexFlatIP, IndexHNSWFlat or a compressed index
    vectors-<g>.npy          compressed indexes only: the exact embeddings, float32
                             (n, dim), memory-mapped at load (re-ranking, candidate scores)
    bm25-<g>/                bm25s.BM25.save (numpy arrays + JSON vocab/params, no pickle)
    .lock                    the write lock (filelock); its presence means nothing

:meth:`Index.save` writes a new generation next to the current one, then replaces
``manifest.json`` with ``os.replace`` (atomic on POSIX and Windows), then deletes the
older generations. A crash before the swap leaves the previous index loadable; a
crash after it leaves only stale files, removed by the next save. Other files in the
directory (a README, say) are left alone.

Concurrent writers (two ``qa index add``, an app upload and a CLI add) never lose a
document: :meth:`Index.save` holds the directory's inter-process lock
(:func:`write_lock`) from reading the current generation to swapping the manifest,
and when the generation on disk is no longer the one this index was loaded from
(another process saved meanwhile), it reloads that generation and re-applies this
index's additions to it (their chunks and embeddings are kept, not recomputed)
before writing: a compare-and-swap on the manifest generation, merged under the
lock. Embedding happens outside the lock, so writers wait only for each other's
saves. Readers take no lock: :meth:`Index.load` retries when the generation it
started reading is replaced under it.

Dense retrieval is inner product over L2-normalised embeddings, i.e. cosine
similarity: exact ``faiss.IndexFlatIP`` below ``settings.hnsw_min_chunks`` chunks,
approximate ``faiss.IndexHNSWFlat`` (Malkov & Yashunin, "Efficient and robust
approximate nearest neighbor search using Hierarchical Navigable Small World
graphs", IEEE TPAMI 2018) from there on, and from ``settings.compressed_min_chunks``
a compressed index (``settings.compressed_kind``: by default an inverted file over
8-bit scalar-quantised vectors, ``IVF1024,SQ8``; or product codes, Jégou, Douze &
Schmid, "Product quantization for nearest neighbor search", IEEE TPAMI 2011; or
HNSW over SQ8 codes) trained on a seeded sample, whose ``compressed_refine * k``
candidates are re-ranked by exact cosine (:meth:`Index.search_dense`). The embeddings are also kept (``Index.embeddings``:
in memory, or for a compressed index memory-mapped from ``vectors-<g>.npy``, as is
its BM25 index) for exact scoring of a candidate subset.

BM25 is Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework:
BM25 and Beyond", FnTIR 2009) as computed by ``bm25s`` with the Lucene IDF
``log(1 + (N - df + 0.5) / (df + 0.5))``, which is positive for every term, so a
term that occurs in every chunk still scores (a little) instead of zero or less.
Tokens come from :func:`tokenize` (jieba words), never from bm25s' own splitter,
which would keep a whole run of Han characters as one token.

Package layout (one job per module; everything above is importable from ``qa.index``):

    errors.py    IndexStoreError and its kinds, rebuild_hint
    bm25.py      tokenize, STOP_WORDS, bm25_text, the bm25s index
    records.py   documents and chunks to and from JSON records
    encode.py    chunking documents, embedding chunks (encoder or Embedder job)
    dense.py     the FAISS index: flat, HNSW or compressed, and its parameters
    store.py     manifest, write lock, generations, JSON Lines, atomic writes, model checks
    core.py      the Index class: build, add, extended, save, load
"""

from __future__ import annotations

# Re-exports (this file only re-exports): the names src/, tests and eval/ import from
# ``qa.index``; ``__all__`` below is unchanged from the single-module days.
# ruff: noqa: F401
from qa.index.bm25 import STOP_WORDS, bm25_text, tokenize
from qa.index.core import Index
from qa.index.dense import COMPRESSED, _dense_params, _make_dense
from qa.index.encode import Embedder
from qa.index.errors import (
    IndexCorruptError,
    IndexLockError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
    rebuild_hint,
)
from qa.index.records import chunk_from_dict, chunk_to_dict, document_from_dict, document_to_dict
from qa.index.store import (
    CROSS_BACKEND_MIN_COSINE,
    FORMAT_VERSION,
    LOCK_NAME,
    LOCK_NOTICE_S,
    LOCK_TIMEOUT_S,
    MANIFEST_NAME,
    check_model,
    describe,
    encoder_record,
    read_manifest,
    write_lock,
)

__all__ = [
    "FORMAT_VERSION",
    "Index",
    "IndexCorruptError",
    "IndexLockError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexStoreError",
    "STOP_WORDS",
    "bm25_text",
    "check_model",
    "encoder_record",
    "describe",
    "read_manifest",
    "rebuild_hint",
    "tokenize",
    "write_lock",
]
