"""The :class:`Index`: build, add (copy on write), save (atomic, locked, merged) and load."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.chunking import Chunk
from qa.config import Settings
from qa.documents import Document
from qa.index.bm25 import _make_bm25
from qa.index.dense import COMPRESSED, _dense_params, _extended_dense, _make_dense, _tune
from qa.index.encode import Embedder, _chunk, _encode
from qa.index.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from qa.index.records import (
    _text_sha256,
    chunk_from_dict,
    chunk_to_dict,
    document_from_dict,
    document_to_dict,
)
from qa.index.store import (
    FORMAT_VERSION,
    LOCK_TIMEOUT_S,
    MANIFEST_NAME,
    _fsync_path,
    _generation_on_disk,
    _next_generation,
    _read_jsonl,
    _remove_other_generations,
    _write_jsonl,
    _write_manifest,
    check_model,
    encoder_record,
    read_manifest,
    write_lock,
)

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load faiss/bm25s/jieba
    import bm25s
    import faiss


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
