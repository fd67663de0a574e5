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
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.chunking import Chunk, Sentence
from qa.config import Settings
from qa.documents import Document
from qa.script import fold

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load faiss/bm25s/jieba
    import bm25s
    import faiss

#: Version of the on-disk layout and BM25 tokenisation; an index with another
#: version is refused. 2: Traditional Chinese folded to Simplified before jieba.
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
#: The write lock's file inside the index directory (see :func:`write_lock`).
LOCK_NAME = ".lock"
#: Seconds a writer waits for the lock before giving up (:class:`IndexLockError`).
LOCK_TIMEOUT_S = 300.0
#: Least cosine between the ``torch`` and ``onnx`` backends' vectors of one text
#: (measured over 200 corpus passages and 100 questions; ``eval/benchmark.py``): the
#: bound under which an index built by one backend is searched with the other's queries.
CROSS_BACKEND_MIN_COSINE = 0.99
#: Seconds of waiting after which the writer says what it is waiting for.
LOCK_NOTICE_S = 2.0

_GENERATION_FILE = re.compile(
    r"^(?:(?:chunks|documents)-(\d+)\.jsonl|dense-(\d+)\.faiss|bm25-(\d+)|vectors-(\d+)\.npy)$")
#: Dense index type of the compressed tier (manifest ``dense.type``).
COMPRESSED = "compressed"


# --------------------------------------------------------------------------- errors


class IndexStoreError(Exception):
    """Base class: the index on disk is missing, damaged or built for something else.

    Every message ends with how to rebuild (``qa index build --index DIR``).
    """

    def __init__(self, message: str, directory: str | os.PathLike | None = None,
                 hint: str | None = None):
        self.directory = None if directory is None else Path(directory)
        if hint is None and directory is not None:
            hint = rebuild_hint(directory)
        super().__init__(f"{message}; {hint}" if hint else message)


class IndexNotFoundError(IndexStoreError):
    """No ``manifest.json`` in the directory (never built, or wrong ``--index``)."""


class IndexCorruptError(IndexStoreError):
    """Manifest unreadable, a referenced file missing or unreadable, or counts disagree."""


class IndexMismatchError(IndexStoreError):
    """Built with another model (name, fingerprint or dimension) or an unsupported format."""


class IndexLockError(IndexStoreError):
    """Another process kept the index's write lock longer than the timeout."""


def rebuild_hint(directory: str | os.PathLike, model: str | None = None) -> str:
    """The sentence appended to every :class:`IndexStoreError` message."""
    flag = f" --model {model}" if model else ""
    return f"rebuild it with `qa index build --index {directory}{flag}`"


# --------------------------------------------------------------------------- tokenisation

#: Function words and question words dropped by :func:`tokenize`. Kept short on
#: purpose: BM25's IDF already discounts frequent words; these are the ones that
#: occur in questions far more than in answers (多少, 什么 …) or carry no content.
STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 及 及其 以及 或 或者 等 等等 也 都 就 而 并 并且 且 之 其 这 那 这个 那个
    这些 那些 该 此 着 过 被 把 将 对 对于 于 由 从 向 为 为了 以 让 给 吗 呢 吧 啊 呀 么 嘛
    什么 多少 哪些 哪个 哪里 哪 几 几个 如何 怎么 怎样 怎么样 是否 是不是 有没有 请问 请 一下
    你 我 他 她 它 你们 我们 他们 它们 自己
    a an and are as at be by for from how in is it of on or that the this to was what when
    where which who why with
    """.split()
)


@functools.lru_cache(maxsize=1)
def _segmenter():
    """jieba's default tokenizer (``jieba.dt``), initialised once.

    The same instance (and dictionary) the part-of-speech tagger ``jieba.posseg``
    of the question analysis and the figure reader uses: a private
    ``jieba.Tokenizer()`` with the same default dictionary cut identically but
    loaded the dictionary a second time (~0.8 s and ~75 MB at every start)."""
    import jieba

    jieba.dt.initialize()
    return jieba.dt


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text``: jieba search-mode words, normalised and filtered.

    Steps: Unicode NFKC (full-width ``６０％``/``（一）`` → ``60%``/``(一)``),
    Traditional characters folded to Simplified (:func:`qa.script.fold`: jieba's
    dictionary is Simplified) and lower-casing; jieba ``cut_for_search`` (words plus the shorter words inside long
    ones: ``生产总值`` → ``生产``, ``总值``, ``生产总值``), so a question that says 总值
    still matches; then tokens without a letter or digit (punctuation, spaces) and
    :data:`STOP_WORDS` are dropped. Numbers stay whole (``60.3``, ``6.2%``).
    The same function tokenises chunks and queries.

    Example: ``tokenize("2023年地区生产总值是多少？")`` →
    ``["2023", "年", "地区", "生产", "总值", "生产总值"]``.
    """
    text = fold(unicodedata.normalize("NFKC", text)).lower()
    return [
        token
        for token in _segmenter().lcut_for_search(text)
        if token not in STOP_WORDS and any(ch.isalnum() for ch in token)
    ]


def bm25_text(chunk: Chunk, title: str) -> str:
    """Text BM25 indexes for a chunk: the same as the encoder sees (title, section path, text).

    The title lets a question that names the place or year of a document find it
    among several; the section path carries the topic sentence of the paragraph.
    """
    return chunk.embedding_text(title)


# --------------------------------------------------------------------------- (de)serialisation


def document_to_dict(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "path": doc.path,
        "title": doc.title,
        "metadata": dict(doc.metadata),
        "body_start": doc.body_start,
        "body_end": doc.body_end,
        "text": doc.text,
    }


def document_from_dict(data: dict[str, Any]) -> Document:
    return Document(
        id=data["id"],
        path=data["path"],
        title=data["title"],
        text=data["text"],
        metadata=dict(data.get("metadata") or {}),
        body_start=int(data.get("body_start", 0)),
        body_end=int(data.get("body_end", -1)),
    )


def chunk_to_dict(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "start": chunk.start,
        "end": chunk.end,
        "section_path": list(chunk.section_path),
        "paragraph": chunk.paragraph,
        "sentences": [[s.start, s.end, s.text] for s in chunk.sentences],
        "text": chunk.text,
    }


def chunk_from_dict(data: dict[str, Any]) -> Chunk:
    return Chunk(
        id=data["id"],
        doc_id=data["doc_id"],
        start=int(data["start"]),
        end=int(data["end"]),
        text=data["text"],
        section_path=tuple(data["section_path"]),
        paragraph=int(data["paragraph"]),
        sentences=tuple(Sentence(int(s), int(e), t) for s, e, t in data["sentences"]),
    )


def _text_sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- index


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


def _normalise(vectors: np.ndarray) -> None:
    """L2-normalise the rows of ``(n, d)`` float32 ``vectors`` in place (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)


def _make_dense(embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """A FAISS inner-product index over ``embeddings`` ``(n, d)`` float32, L2-normalised."""
    import faiss

    d = embeddings.shape[1]
    if params["type"] == COMPRESSED:
        return _make_compressed(embeddings, params)
    if params["type"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, params["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["ef_construction"]
        index.hnsw.efSearch = params["ef_search"]
    else:
        index = faiss.IndexFlatIP(d)
    if len(embeddings):
        index.add(embeddings)
    return index


def _make_compressed(embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """``faiss.index_factory(d, params["factory"])`` over ``embeddings`` ``(n, d)``,
    trained on a seeded sample of ``params["train_size"]`` rows, search parameters set.
    """
    import faiss

    n, d = embeddings.shape
    pq = re.search(r",PQ(\d+)", params["factory"])
    if pq and d % int(pq.group(1)):
        raise ValueError(f"ivf_pq_m={pq.group(1)} does not divide the embedding dimension {d}; "
                         f"choose a divisor of {d}")
    rng = np.random.default_rng(params["seed"])
    take = min(n, params["train_size"])
    sample = embeddings if take == n else embeddings[np.sort(rng.choice(n, take, replace=False))]
    index = faiss.index_factory(d, params["factory"], faiss.METRIC_INNER_PRODUCT)
    if "ef_construction" in params:
        index.hnsw.efConstruction = params["ef_construction"]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    _tune(index, params)
    for lo in range(0, n, 65_536):  # bounded temporary memory
        index.add(np.ascontiguousarray(embeddings[lo:lo + 65_536], dtype=np.float32))
    return index


def _tune(index: faiss.Index, params: dict[str, Any]) -> None:
    """Set a compressed index's search parameter (``nprobe`` or ``efSearch``) from ``params``."""
    import faiss

    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "ef_search" in params:
        index.hnsw.efSearch = int(params["ef_search"])


def _make_bm25(chunks: Sequence[Chunk], titles: dict[str, str], params: dict[str, Any]) -> bm25s.BM25:
    """A bm25s index with one BM25 document per chunk, in chunk order."""
    import bm25s

    corpus = [tokenize(bm25_text(c, titles[c.doc_id])) for c in chunks]
    bm25 = bm25s.BM25(k1=params["k1"], b=params["b"], method=params["method"])
    bm25.index(corpus, show_progress=False)
    return bm25


def _dense_params(n_chunks: int, settings: dict[str, Any]) -> dict[str, Any]:
    """The dense index for ``n_chunks`` chunks under the manifest's ``settings``: flat,
    HNSW or (from ``compressed_min_chunks``, absent in older manifests) compressed IVF."""
    compressed_min = settings.get("compressed_min_chunks")
    if compressed_min is not None and n_chunks >= compressed_min:
        train = min(n_chunks, settings["compressed_train_size"])
        kind = settings["compressed_kind"]
        params: dict[str, Any] = {"type": COMPRESSED, "kind": kind}
        if kind == "hnsw-sq8":
            params.update(factory=f"HNSW{settings['hnsw_m']},SQ8",
                          ef_construction=settings["hnsw_ef_construction"],
                          ef_search=settings["hnsw_ef_search"])
        else:
            nlist = max(1, min(settings["ivf_nlist"], train // 39))
            codec = "SQ8"
            if kind == "ivf-pq":  # 2**bits centroids per sub-vector need that many samples
                # "np": no polysemous re-ordering of the codes (3x the training time, unused here)
                codec = f"PQ{settings['ivf_pq_m']}x{max(1, min(8, int(np.log2(max(2, train)))))}np"
            params.update(factory=f"IVF{nlist},{codec}", nprobe=settings["ivf_nprobe"])
        params.update(refine=settings["compressed_refine"], train_size=train, seed=0)
        return params
    kind = "hnsw" if n_chunks >= settings["hnsw_min_chunks"] else "flat"
    params: dict[str, Any] = {"type": kind}
    if kind == "hnsw":
        params.update(m=settings["hnsw_m"], ef_construction=settings["hnsw_ef_construction"],
                      ef_search=settings["hnsw_ef_search"])
    return params


def _extended_dense(dense: faiss.Index, embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """A copy of ``dense`` with ``embeddings`` ``(n, d)`` float32 added (``dense`` is unchanged)."""
    import faiss

    out = faiss.clone_index(dense)
    if params["type"] == "hnsw":
        out.hnsw.efSearch = params["ef_search"]
    elif params["type"] == COMPRESSED:
        _tune(out, params)
    if len(embeddings):
        out.add(embeddings)
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _Addition:
    """Documents chunked and embedded, ready to join an index.

    ``chunks`` are grouped by document in ``documents`` order; ``embeddings`` is
    ``(len(chunks), dim)`` float32, L2-normalised, row ``i`` for ``chunks[i]``.
    """

    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    embeddings: np.ndarray


class Index:
    """Documents, their chunks, and the dense and BM25 indexes over those chunks.

    Row ``i`` of every structure is chunk ``chunks[i]``: ``embeddings[i]``, FAISS id
    ``i`` and BM25 document ``i``.

    Attributes:
        documents: document id → :class:`~qa.documents.Document`, in insertion order.
        chunks: every chunk, grouped by document in insertion order.
        embeddings: ``(len(chunks), dim)`` float32, L2-normalised.
        dense: ``faiss.IndexFlatIP``, ``faiss.IndexHNSWFlat`` or (compressed) an
            compressed index holding ``embeddings``; search it with :meth:`search_dense`.
        bm25: ``bm25s.BM25`` over :func:`tokenize` of :func:`bm25_text` of each chunk.
        manifest: the record written to ``manifest.json`` (see :meth:`save`).

    Build with :meth:`build` or :meth:`load`; the constructor only wires parts
    together and does not check them.
    """

    def __init__(self, documents: dict[str, Document], chunks: list[Chunk],
                 embeddings: np.ndarray, dense: faiss.Index, bm25: bm25s.BM25,
                 manifest: dict[str, Any]):
        self.documents = documents
        self.chunks = chunks
        self.embeddings = embeddings
        self.dense = dense
        self.bm25 = bm25
        self.manifest = manifest
        self._doc_rows: dict[str, np.ndarray] | None = None
        #: (resolved directory, generation) this index was loaded from or last saved to.
        self._origin: tuple[Path, Any] | None = None
        #: Additions made since then, re-applied by :meth:`save` if another process saved meanwhile.
        self._pending: list[_Addition] = []

    # ---- queries about the content

    def __len__(self) -> int:
        """Number of chunks."""
        return len(self.chunks)

    @property
    def dim(self) -> int:
        return int(self.manifest["model"]["dim"])

    def rows_of(self, doc_ids: Iterable[str]) -> np.ndarray:
        """Chunk rows (int64, ascending) of the given documents.

        Raises ``ValueError`` naming any id that is not in the index.
        """
        if self._doc_rows is None:
            grouped: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                grouped.setdefault(chunk.doc_id, []).append(row)
            self._doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in grouped.items()}
        doc_ids = list(doc_ids)
        unknown = [d for d in doc_ids if d not in self.documents]
        if unknown:
            raise ValueError(f"unknown document id(s): {', '.join(unknown)}")
        parts = [self._doc_rows.get(d, np.empty(0, np.int64)) for d in dict.fromkeys(doc_ids)]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def search_dense(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest chunks of each query by cosine: ``(scores, rows)``, both ``(q, k)``.

        ``query_vectors`` is ``(q, dim)`` float32, L2-normalised. Rows are -1 (score
        -inf) where fewer than ``k`` were found. Exact for a flat index, approximate
        for HNSW; a compressed index's ``refine * k`` candidates are re-scored with
        the exact vectors, so the scores are exact cosines in every case.
        """
        params = self.manifest.get("dense", {})
        if params.get("type") != COMPRESSED or params.get("refine", 1) <= 1:
            return self.dense.search(query_vectors, k)
        _, found = self.dense.search(query_vectors, k * int(params["refine"]))
        scores = np.full((len(query_vectors), k), -np.inf, dtype=np.float32)
        rows = np.full((len(query_vectors), k), -1, dtype=np.int64)
        for i, candidates in enumerate(found):
            candidates = np.unique(candidates[candidates >= 0])  # sorted: mmap reads in file order
            exact = np.asarray(self.embeddings[candidates] @ query_vectors[i], dtype=np.float32)
            best = np.argsort(-exact, kind="stable")[:k]
            scores[i, :len(best)], rows[i, :len(best)] = exact[best], candidates[best]
        return scores, rows

    # ---- building

    @classmethod
    def build(cls, documents: Iterable[Document], encoder, settings: Settings,
              progress: bool = True, embedder: Embedder | None = None) -> Index:
        """Chunk, embed and index ``documents``.

        Documents with an id already seen (same text) are indexed once. The
        embedding text of a chunk is ``chunk.embedding_text(doc.title)``.

        Args:
            documents: the documents, e.g. from :func:`qa.documents.load_documents`.
            encoder: a :mod:`qa.embedding` encoder (``name``, ``dim``, ``fingerprint``,
                ``encode_passages``).
            settings: chunker, BM25 and HNSW parameters and the batch size are read
                from it and recorded in the manifest (``add`` reuses them).
            progress: show a tqdm bar (on stderr) while embedding.
            embedder: embeds every chunk text in one job (a Ray cluster, say) instead
                of ``encoder.encode_passages``; ``encoder`` then only names the model
                (``name``, ``fingerprint``, ``dim``). Everything else is the same.

        Raises:
            ValueError: no documents, or the encoder returns the wrong shape.
        """
        unique = list({doc.id: doc for doc in documents}.values())  # first occurrence wins
        if not unique:
            raise ValueError("nothing to index: no documents given")
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": _now(),
            "updated": None,
            "generation": 0,
            "model": encoder_record(encoder),
            "chunker": {
                "max_chars": settings.chunk_max_chars,
                "overlap_sentences": settings.chunk_overlap_sentences,
            },
            "embedding_text": "title > section path, newline, chunk text",
            "bm25": {
                "method": "lucene",
                "k1": settings.bm25_k1,
                "b": settings.bm25_b,
                "tokenizer": "jieba cut_for_search, NFKC, lower-case, stop words and punctuation dropped",
                "text": "title > section path, newline, chunk text",
            },
            "settings": {
                "batch_size": settings.batch_size,
                "hnsw_min_chunks": settings.hnsw_min_chunks,
                "hnsw_m": settings.hnsw_m,
                "hnsw_ef_construction": settings.hnsw_ef_construction,
                "hnsw_ef_search": settings.hnsw_ef_search,
                "compressed_min_chunks": settings.compressed_min_chunks,
                "compressed_kind": settings.compressed_kind,
                "ivf_nlist": settings.ivf_nlist,
                "ivf_nprobe": settings.ivf_nprobe,
                "ivf_pq_m": settings.ivf_pq_m,
                "compressed_refine": settings.compressed_refine,
                "compressed_train_size": settings.compressed_train_size,
            },
        }
        empty = np.empty((0, int(encoder.dim)), dtype=np.float32)
        base = cls({}, [], empty, None, None, manifest)
        index, _ = base._with(base._prepare(unique, encoder, progress, embedder=embedder))
        index.manifest["updated"] = None
        index._pending = []  # a build replaces whatever is on disk: nothing to merge
        return index

    def add(self, documents: Iterable[Document], encoder, progress: bool = False) -> list[str]:
        """Add documents not yet in the index; return the ids of those added.

        Existing chunks are not re-embedded. A document whose id (content hash) is
        already present is skipped, so adding the same file twice changes nothing;
        two files with the same name in different folders have different paths and
        are two documents (unless their texts are identical, when they are one). A
        document at the *same path* as an indexed one but with new content replaces
        it (its old chunks are dropped). The chunker, BM25 and HNSW settings are the
        ones recorded at build time. Call :meth:`save` to persist.

        Raises:
            IndexMismatchError: ``encoder`` is not the model the index was built with.
        """
        new, added = self.extended(documents, encoder, progress=progress)
        if added:
            self._adopt(new)
        return added

    def extended(self, documents: Iterable[Document], encoder, progress: bool = False,
                 pause: Callable[[], None] | None = None) -> tuple[Index, list[str]]:
        """:meth:`add` without modifying this index: ``(new index, ids added)``.

        The new index shares nothing mutable with this one, so a reader may keep
        searching this one while the documents are embedded, then swap in the new
        one (the Assistant does). With nothing new, returns ``(self, [])``.
        ``pause`` is called before each embedding batch (see :func:`_encode`).

        Raises:
            IndexMismatchError: ``encoder`` is not the model the index was built with,
                or runs another backend (its vectors would be mixed with the stored ones).
        """
        self.check_encoder(encoder, writing=True)
        addition = self._prepare(documents, encoder, progress, pause)
        if not addition.documents:
            return self, []
        return self._with(addition)

    def _prepare(self, documents: Iterable[Document], encoder, progress: bool,
                 pause: Callable[[], None] | None = None,
                 embedder: Embedder | None = None) -> _Addition:
        """Chunk and embed the documents not yet indexed (first occurrence of each id)."""
        seen = set(self.documents)
        new: list[Document] = []
        for doc in documents:
            if doc.id not in seen:
                seen.add(doc.id)
                new.append(doc)
        chunks: list[Chunk] = []
        titles: list[str] = []
        for doc in new:
            for chunk in _chunk(doc, self.manifest["chunker"]):
                chunks.append(chunk)
                titles.append(doc.title)
        embeddings = _encode(chunks, titles, encoder, self.manifest["settings"]["batch_size"],
                             progress, pause, embedder)
        return _Addition(tuple(new), tuple(chunks), embeddings)

    def _with(self, addition: _Addition) -> tuple[Index, list[str]]:
        """A new index: this one plus ``addition``'s documents not already present,
        which replace indexed documents at the same path. ``self`` is unchanged.

        Nothing is embedded here; the dense index is copied and extended (or
        rebuilt when its kind changes or documents were replaced), BM25 rebuilt.
        """
        docs = [d for d in addition.documents if d.id not in self.documents]
        if not docs:
            return self, []
        if len(docs) < len(addition.documents):
            ids = {d.id for d in docs}
            rows = [i for i, c in enumerate(addition.chunks) if c.doc_id in ids]
            addition = _Addition(tuple(docs), tuple(addition.chunks[i] for i in rows),
                                 addition.embeddings[rows])
        manifest = copy.deepcopy(self.manifest)
        paths = {d.path for d in docs}
        stale = {d for d, doc in self.documents.items() if doc.path in paths}
        if stale:
            keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in stale]
            chunks = [self.chunks[i] for i in keep]
            embeddings = self.embeddings[keep]
            documents = {d: doc for d, doc in self.documents.items() if d not in stale}
            dense = None  # rebuilt from the kept embeddings
        else:
            chunks, embeddings = list(self.chunks), self.embeddings
            documents, dense = dict(self.documents), self.dense
        documents.update((doc.id, doc) for doc in docs)
        chunks.extend(addition.chunks)
        embeddings = np.concatenate([embeddings, addition.embeddings])
        params = _dense_params(len(chunks), manifest["settings"])
        if dense is not None and params == manifest.get("dense"):
            dense = _extended_dense(dense, addition.embeddings, params)
        else:
            dense = _make_dense(embeddings, params)
        manifest["dense"] = params
        manifest["bm25"]["num_docs"] = len(chunks)
        manifest["updated"] = _now()
        bm25 = _make_bm25(chunks, {d: doc.title for d, doc in documents.items()}, manifest["bm25"])
        index = Index(documents, chunks, embeddings, dense, bm25, manifest)
        index._refresh_manifest()
        index._origin = self._origin
        index._pending = [*self._pending, addition]
        return index, [doc.id for doc in docs]

    def _adopt(self, other: Index) -> None:
        """Take over ``other``'s state (the in-place :meth:`add` and :meth:`save`)."""
        self.__dict__.update(other.__dict__)

    def _refresh_manifest(self) -> None:
        counts = {}
        for chunk in self.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        self.manifest["documents"] = [
            {
                "id": doc.id,
                "sha256": _text_sha256(doc.text),
                "path": doc.path,
                "title": doc.title,
                "chunks": counts.get(doc.id, 0),
            }
            for doc in self.documents.values()
        ]
        self.manifest["counts"] = {
            "documents": len(self.documents),
            "chunks": len(self.chunks),
            "vectors": int(self.dense.ntotal),
            "bm25_docs": len(self.chunks),
        }

    def check_encoder(self, encoder, directory: str | os.PathLike | None = None,
                      writing: bool = False) -> None:
        """Raise :class:`IndexMismatchError` unless ``encoder`` is the model the index was built with.

        Name, fingerprint (content hash of the weights) and dimension must all
        match: a different model of the same dimension is refused too. See
        :func:`check_model` for backends (``writing``: vectors are to be added).
        """
        check_model(self.manifest, encoder, directory or self._directory_name(), writing=writing)

    def _directory_name(self) -> str | os.PathLike:
        """The directory this index was loaded from or saved to, for messages (``DIR`` if none)."""
        return self._origin[0] if getattr(self, "_origin", None) else "DIR"

    # ---- persistence

    def save(self, directory: str | os.PathLike, lock_timeout: float = LOCK_TIMEOUT_S) -> Path:
        """Write the index to ``directory`` atomically; return the manifest path.

        Under the directory's write lock (:func:`write_lock`): if this index was
        loaded from (or last saved to) ``directory`` and another process has saved
        a newer generation since, that generation is loaded and this index's
        additions are re-applied to it (no re-embedding), so neither writer loses
        a document; this index then holds the merged state. A new generation of
        data files is written and fsynced, a temporary manifest naming them
        replaces ``manifest.json`` in one ``os.replace``, then older generations
        are deleted. Files that are not index files are never touched. An index
        from :meth:`build`, or saved to another directory, replaces what is there.

        Raises:
            IndexLockError: another writer held the lock for ``lock_timeout`` seconds.
            IndexMismatchError: the directory was rebuilt with another model or
                chunker while documents were being added.
        """
        directory = Path(directory)
        with write_lock(directory, timeout=lock_timeout):
            current = self._rebased(directory)
            if current is not self:
                self._adopt(current)
            generation = _next_generation(directory)
            files = {
                "documents": f"documents-{generation}.jsonl",
                "chunks": f"chunks-{generation}.jsonl",
                "dense": f"dense-{generation}.faiss",
                "bm25": f"bm25-{generation}",
            }
            if self.manifest.get("dense", {}).get("type") == COMPRESSED:
                files["vectors"] = f"vectors-{generation}.npy"
                np.save(directory / files["vectors"], np.asarray(self.embeddings, dtype=np.float32))
                _fsync_path(directory / files["vectors"])
            _write_jsonl(directory / files["documents"], (document_to_dict(d) for d in self.documents.values()))
            _write_jsonl(directory / files["chunks"], (chunk_to_dict(c) for c in self.chunks))
            import faiss

            faiss.write_index(self.dense, str(directory / files["dense"]))
            _fsync_path(directory / files["dense"])
            bm25_dir = directory / files["bm25"]
            self.bm25.save(str(bm25_dir), show_progress=False)
            for path in bm25_dir.iterdir():
                _fsync_path(path)
            _fsync_path(bm25_dir)
            manifest = dict(self.manifest, generation=generation, files=files, saved=_now())
            _write_manifest(directory, manifest)
            self.manifest = manifest
            self._origin = (directory.resolve(), generation)
            self._pending = []
            _remove_other_generations(directory, keep=generation)
        return directory / MANIFEST_NAME

    def _rebased(self, directory: Path) -> Index:
        """This index, or (when another process saved ``directory`` since this index
        was loaded from or saved to it) that newer generation plus this index's
        pending additions. Called with the write lock held."""
        if self._origin is None or self._origin[0] != directory.resolve():
            return self
        try:
            on_disk = read_manifest(directory)
        except IndexNotFoundError:
            return self
        if on_disk.get("generation") == self._origin[1]:
            return self
        for key in ("model", "chunker"):
            if on_disk.get(key) != self.manifest.get(key):
                raise IndexMismatchError(
                    f"the index in {directory} was rebuilt with another {key} while documents "
                    f"were being added to it, so they were not saved",
                    directory, hint="add them again",
                )
        merged = Index.load(directory, encoder=None)
        for addition in self._pending:
            merged, _ = merged._with(addition)
        return merged

    @classmethod
    def load(cls, directory: str | os.PathLike, encoder) -> Index:
        """Load and validate the index in ``directory``.

        Checks, in order: ``manifest.json`` exists and parses; the format version is
        this one; the encoder's name, fingerprint and dimension match the manifest
        (skipped when ``encoder`` is None, e.g. for ``qa index info``); the files it
        names exist and read; vector count = chunk count = BM25 document count =
        the counts recorded; every chunk belongs to a stored document.

        Raises:
            IndexNotFoundError, IndexCorruptError, IndexMismatchError: see above;
            each message says how to rebuild.
        """
        directory = Path(directory)
        for attempt in range(5):
            manifest = read_manifest(directory)
            if encoder is not None:
                check_model(manifest, encoder, directory)
            try:
                index = cls._load_generation(directory, manifest)
            except IndexCorruptError:
                # a writer may have swapped in a new generation and deleted this one's files
                if attempt < 4 and _generation_on_disk(directory) != manifest.get("generation"):
                    continue
                raise
            index._origin = (directory.resolve(), manifest.get("generation"))
            return index
        raise AssertionError("unreachable")

    @classmethod
    def _load_generation(cls, directory: Path, manifest: dict[str, Any]) -> Index:
        """The generation ``manifest`` names, validated (see :meth:`load`)."""
        import bm25s
        import faiss

        try:
            files = manifest["files"]
            compressed = manifest.get("dense", {}).get("type") == COMPRESSED
            keys = ("documents", "chunks", "dense", "bm25") + (("vectors",) if compressed else ())
            paths = {key: directory / files[key] for key in keys}
            expected = manifest["counts"]
            dim = int(manifest["model"]["dim"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"manifest in {directory} lacks {exc}", directory) from exc
        missing = [str(p) for p in paths.values() if not p.exists()]
        if missing:
            raise IndexCorruptError(f"index files missing: {', '.join(missing)}", directory)
        try:
            documents = {d.id: d for d in map(document_from_dict, _read_jsonl(paths["documents"]))}
            chunks = [chunk_from_dict(c) for c in _read_jsonl(paths["chunks"])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"cannot read the chunk store in {directory}: {exc}", directory) from exc
        try:
            dense = faiss.read_index(str(paths["dense"]))
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read {paths['dense']}: {exc}", directory) from exc
        try:
            # a compressed (large) index maps its BM25 arrays instead of reading them into RAM
            bm25 = bm25s.BM25.load(str(paths["bm25"]), show_progress=False, mmap=compressed)
            bm25_docs = int(bm25.scores["num_docs"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"cannot read {paths['bm25']}: {exc}", directory) from exc
        counts = {
            "documents": len(documents),
            "chunks": len(chunks),
            "vectors": int(dense.ntotal),
            "bm25_docs": bm25_docs,
        }
        if counts != {key: expected.get(key) for key in counts} or not (
            counts["chunks"] == counts["vectors"] == counts["bm25_docs"]
        ):
            raise IndexCorruptError(
                f"counts disagree in {directory}: found {counts}, manifest says {expected}", directory
            )
        if dense.d != dim:
            raise IndexCorruptError(f"dense index has dimension {dense.d}, manifest says {dim}", directory)
        orphans = {c.doc_id for c in chunks} - set(documents)
        if orphans:
            raise IndexCorruptError(f"chunks of unknown documents {sorted(orphans)}", directory)
        if manifest.get("dense", {}).get("type") == "hnsw":
            dense.hnsw.efSearch = int(manifest["dense"]["ef_search"])
        if compressed:
            _tune(dense, manifest["dense"])
            try:
                embeddings = np.load(paths["vectors"], mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise IndexCorruptError(f"cannot read {paths['vectors']}: {exc}", directory) from exc
            if embeddings.shape != (len(chunks), dim) or embeddings.dtype != np.float32:
                raise IndexCorruptError(f"{paths['vectors']} holds {embeddings.dtype} {embeddings.shape}, "
                                        f"expected float32 {(len(chunks), dim)}", directory)
            return cls(documents, chunks, embeddings, dense, bm25, manifest)
        embeddings = dense.reconstruct_n(0, dense.ntotal) if dense.ntotal else np.empty((0, dim), np.float32)
        return cls(documents, chunks, np.ascontiguousarray(embeddings, dtype=np.float32), dense, bm25, manifest)


# --------------------------------------------------------------------------- manifest and files


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``manifest.json`` of ``directory``, format version checked.

    Raises:
        IndexNotFoundError: no directory or no manifest in it.
        IndexCorruptError: the manifest is not a readable JSON object.
        IndexMismatchError: the format version is not :data:`FORMAT_VERSION`.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise IndexNotFoundError(f"no index in {directory} (no {MANIFEST_NAME})", directory)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"cannot read {path}: {exc}", directory) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not a JSON object", directory)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {directory} has format version {version!r}; this qa reads version {FORMAT_VERSION}",
            directory,
        )
    return manifest


def encoder_record(encoder) -> dict[str, Any]:
    """``manifest["model"]`` for ``encoder``: name, fingerprint of the base model files,
    dimension, and the backend that computed the vectors with its fingerprint
    (:func:`qa.embedding.load_encoder`; encoders without one are ``torch``)."""
    return {
        "name": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dim": int(encoder.dim),
        "backend": getattr(encoder, "backend", "torch"),
        "backend_fingerprint": getattr(encoder, "backend_fingerprint", encoder.fingerprint),
    }


def _known_backend(built: dict[str, Any], base_fingerprint: str) -> bool:
    """True when ``built`` (a manifest's model record) names a backend whose vectors are
    within :data:`CROSS_BACKEND_MIN_COSINE` of the other's for this base model: the fp32
    reference (``torch``), or the current onnx export recipe."""
    backend = built.get("backend", "torch")
    recorded = built.get("backend_fingerprint")
    if backend == "torch":
        return recorded in (None, built.get("fingerprint"))
    if backend == "onnx":
        from qa.onnx_build import backend_fingerprint

        return recorded == backend_fingerprint(base_fingerprint)
    return False


def check_model(manifest: dict[str, Any], encoder, directory: str | os.PathLike,
                writing: bool = False) -> None:
    """Raise :class:`IndexMismatchError` unless ``encoder`` matches ``manifest["model"]``.

    Name, base-model fingerprint and dimension must match. Backends: vectors of the
    ``torch`` (fp32) and ``onnx`` (int8) backends of one base model agree within
    cosine :data:`CROSS_BACKEND_MIN_COSINE` (measured, README "Backends"), so an
    index built by one is *searched* with the other's query vectors; *adding*
    vectors (``writing``) needs the backend the index was built with, so that one
    index never holds both. An unknown backend or export recipe is refused.
    """
    try:
        built = manifest["model"]
        name, fingerprint, dim = built["name"], built["fingerprint"], int(built["dim"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"manifest in {directory} has no valid model record", directory) from exc
    matches = getattr(encoder, "matches", lambda f: f == encoder.fingerprint)
    if (name, dim) != (encoder.name, int(encoder.dim)) or not matches(fingerprint):
        raise IndexMismatchError(
            f"index in {directory} was built with model {name!r} (fingerprint {fingerprint}, "
            f"dim {dim}) but the encoder is {encoder.name!r} (fingerprint {encoder.fingerprint}, "
            f"dim {encoder.dim})",
            directory,
            hint=f"use `--model {name}` or {rebuild_hint(directory, encoder.name)}",
        )
    backend = getattr(encoder, "backend", "torch")
    own = getattr(encoder, "backend_fingerprint", encoder.fingerprint)
    built_backend = built.get("backend", "torch")
    if built_backend == backend and built.get("backend_fingerprint", own) == own:
        return
    if writing or not (_known_backend(built, encoder.fingerprint)
                       and _known_backend(encoder_record(encoder), encoder.fingerprint)):
        reason = ("adding vectors would mix two backends in one index" if writing
                  and _known_backend(built, encoder.fingerprint)
                  else "an export this qa has no measured tolerance for")
        raise IndexMismatchError(
            f"index in {directory} was built with the {built_backend!r} backend (fingerprint "
            f"{built.get('backend_fingerprint')}) but the encoder runs the {backend!r} backend "
            f"(fingerprint {own}), {reason}",
            directory,
            hint=f"set QA_BACKEND={built_backend} or {rebuild_hint(directory)} "
                 f"(with QA_BACKEND={backend})",
        )


@contextlib.contextmanager
def write_lock(directory: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S,
               notice_after: float = LOCK_NOTICE_S,
               notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the inter-process write lock of the index in ``directory`` (created if missing).

    The lock is ``directory/.lock`` (:mod:`filelock`: an OS lock, released when the
    process exits, however it exits). Each acquisition is independent, so threads
    of one process exclude each other too; do not nest it. After ``notice_after``
    seconds of waiting, ``notify`` (default: a line on stderr) is told what it waits for.

    Raises:
        IndexLockError: still locked after ``timeout`` seconds.
    """
    from filelock import FileLock, Timeout

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    lock = FileLock(path)
    try:
        lock.acquire(timeout=max(0.0, min(notice_after, timeout)))
    except Timeout:
        (notify or _notify_stderr)(
            f"waiting for another process to finish writing the index in {directory} "
            f"(lock {path}; giving up after {timeout:.0f} s)"
        )
        try:
            lock.acquire(timeout=max(0.0, timeout - notice_after))
        except Timeout:
            raise IndexLockError(
                f"the index in {directory} was still being written by another process after "
                f"{timeout:.0f} s (lock {path})",
                directory, hint="try again when the other `qa index` command or upload has finished",
            ) from None
    try:
        yield
    finally:
        lock.release()


def _notify_stderr(message: str) -> None:
    print(f"qa: {message}", file=sys.stderr, flush=True)


def _generation_on_disk(directory: Path) -> Any:
    """The generation ``manifest.json`` names now, or None when it cannot be read."""
    try:
        return json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8")).get("generation")
    except (OSError, ValueError, AttributeError):
        return None


def _next_generation(directory: Path) -> int:
    """One more than any generation named by the manifest or found on disk."""
    named = _generation_on_disk(directory)
    found = [0, named] if isinstance(named, int) else [0]
    for entry in directory.iterdir():
        match = _GENERATION_FILE.match(entry.name)
        if match:
            found.append(int(next(g for g in match.groups() if g is not None)))
    return max(found) + 1


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fsync_path(path: Path) -> None:
    """fsync a file or (where the OS allows) a directory; best effort for directories."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Replace ``manifest.json`` atomically: write a temporary file, fsync, ``os.replace``."""
    tmp = directory / f".{MANIFEST_NAME}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / MANIFEST_NAME)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_path(directory)


def _remove_other_generations(directory: Path, keep: int) -> None:
    import shutil

    for entry in directory.iterdir():
        match = _GENERATION_FILE.match(entry.name)
        if match and int(next(g for g in match.groups() if g is not None)) != keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    for entry in directory.glob(f".{MANIFEST_NAME}.*.tmp"):
        entry.unlink(missing_ok=True)


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """A short summary of a manifest for ``qa index info`` (no document texts)."""
    return {
        key: manifest.get(key)
        for key in ("format_version", "generation", "created", "updated", "saved", "model",
                    "counts", "dense", "chunker", "bm25", "documents")
    }


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
