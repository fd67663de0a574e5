"""The :class:`Retriever`: dense, BM25 and hybrid search over one index."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from qa.config import Settings
from qa.index import Index, tokenize
from qa.retrieval.fusion import (
    PLAN_HEADING,
    REPORT_WORDS,
    TARGET_TEXT,
    TARGET_WORDS,
    Candidates,
    FusionModel,
    candidate_features,
    default_fusion,
)
from qa.retrieval.records import Passage, Ranking, _top
from qa.retrieval.scope import DocumentKeys, part_years


class Retriever:
    """Searches one :class:`~qa.index.Index` with one encoder.

    Args:
        index: the loaded index.
        encoder: the encoder the index was built with (checked: name, fingerprint, dim).
        settings: ``top_k``, ``retriever`` and ``fusion_depth`` are read.
        fusion: the hybrid re-ranker (default: the shipped one, :func:`default_fusion`).

    Raises:
        IndexMismatchError: the encoder is not the index's model.
        ValueError: the shipped fusion model cannot be read (on the first hybrid search).
    """

    def __init__(self, index: Index, encoder, settings: Settings, fusion: FusionModel | None = None):
        index.check_encoder(encoder)
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._fusion = fusion
        self._idf: np.ndarray | None = None  # IDF per BM25 token id, computed on first use
        self._idf_unseen = 0.0
        self._keys: DocumentKeys | None = None
        self._part_years: list[tuple[int | None, int | None]] = []  # per chunk row: (review, plan) year
        self._in_compilation = np.zeros(0, dtype=bool)  # per chunk row: its document has several parts
        self._headings: list[str] = []  # per chunk row: its section path, joined
        self._doc_ids = np.empty(0, dtype=object)  # per chunk row: its document id
        self._sections = np.empty(0, dtype=object)  # per chunk row: document id + top-level heading
        self._chunk_flags = np.zeros((0, 2))  # per chunk row: plan heading, target text (0/1)
        # the BM25 model the per-index state above was computed for (index.add replaces it)
        self._built_for = None

    @property
    def fusion(self) -> FusionModel:
        """The hybrid re-ranker in use."""
        if self._fusion is None:
            self._fusion = default_fusion()
        return self._fusion

    def _refresh(self) -> None:
        bm25 = self.index.bm25
        if self._built_for is bm25:
            return
        n_docs = int(bm25.scores["num_docs"])
        df = np.diff(np.asarray(bm25.scores["indptr"]))  # CSC: one column per token id
        self._idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        self._idf_unseen = float(np.log1p((n_docs + 0.5) / 0.5))
        self._keys = DocumentKeys.from_documents(self.index.documents.values())
        by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.index.chunks):
            by_doc.setdefault(chunk.doc_id, []).append(row)
        self._part_years = [(None, None)] * len(self.index.chunks)
        self._in_compilation = np.zeros(len(self.index.chunks), dtype=bool)
        for doc_id, rows in by_doc.items():
            years = part_years(self.index.documents[doc_id], [self.index.chunks[r] for r in rows])
            for row, frame in zip(rows, years, strict=True):
                self._part_years[row] = frame
            self._in_compilation[rows] = len(set(years)) > 1
        self._headings = [" ".join(c.section_path) for c in self.index.chunks]
        self._doc_ids = np.asarray([c.doc_id for c in self.index.chunks], dtype=object)
        self._sections = np.asarray([f"{c.doc_id}\t{c.section_path[0] if c.section_path else ''}"
                                     for c in self.index.chunks], dtype=object)
        self._chunk_flags = np.asarray(
            [(bool(PLAN_HEADING.search(h)), bool(TARGET_TEXT.search(c.text)))
             for h, c in zip(self._headings, self.index.chunks, strict=True)], dtype=np.float64).reshape(-1, 2)
        self._built_for = bm25

    # ---- document scope

    def scope(self, query: str) -> set[str] | None:
        """Ids of the documents ``query`` names by place or year (:class:`DocumentKeys`), or None."""
        self._refresh()
        return self._keys.scope(query)

    # ---- the two base rankings

    def dense_ranking(self, query_vector: np.ndarray, depth: int, rows: np.ndarray | None = None) -> Ranking:
        """Chunks by cosine similarity to ``query_vector`` ``(dim,)`` float32, L2-normalised.

        Without ``rows``, FAISS returns the top ``depth`` of the whole index (exact
        for ``IndexFlatIP``, approximate for HNSW and the compressed index, see
        :meth:`qa.index.Index.search_dense`). With ``rows`` (a document
        restriction), those rows are scored exactly with numpy.
        """
        depth = min(depth, len(self.index) if rows is None else len(rows))
        if depth <= 0:
            return Ranking(np.empty(0, np.int64), np.empty(0, np.float32))
        if rows is not None:
            return _top(self.index.embeddings[rows] @ query_vector, rows, depth)
        scores, ids = self.index.search_dense(query_vector[None, :], depth)
        keep = ids[0] >= 0  # FAISS pads with -1 when it finds fewer than depth
        return Ranking(ids[0][keep].astype(np.int64), scores[0][keep])

    def bm25_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query``: ``(len(index),)`` float32 (0 = no shared token).

        Each score is multiplied by the chunk's coordination: the IDF-weighted
        share of the query's tokens it contains (the ``coord`` factor of
        Lucene's classic similarity, weighted by IDF). A chunk that repeats the
        common words of a question (工业, 增加值 twice) no longer outranks one
        that has all of them, rare ones included (规上).
        """
        return self._bm25(query)[0]

    def bm25_max(self, query: str) -> float:
        """Upper bound of any chunk's BM25 score for ``query``: the sum of its tokens' IDF.

        With the Lucene/Robertson term-frequency factor ``tf / (tf + k1 * (1 - b + b * dl / avgdl))``
        below 1, a token contributes less than its IDF ``log(1 + (N - df + 0.5) / (df + 0.5))``.
        Tokens not in the vocabulary count with the largest IDF (``df = 0``): a question whose
        words the corpus lacks is one BM25 should not be trusted with.
        """
        return self._bm25(query)[1]

    def _bm25(self, query: str) -> tuple[np.ndarray, float, float]:
        """(scores, attainable maximum, share of that maximum in unseen tokens)."""
        self._refresh()
        bm25 = self.index.bm25
        tokens = tokenize(query)
        ids = bm25.get_tokens_ids(tokens)  # tokens outside the vocabulary are dropped
        unseen = (len(tokens) - len(ids)) * self._idf_unseen
        top = float(self._idf[ids].sum()) + unseen
        oov = unseen / top if top > 0 else 0.0
        if not ids:
            return np.zeros(len(self.index), dtype=np.float32), top, oov
        scores = np.asarray(bm25.get_scores_from_ids(ids), dtype=np.float32)
        indptr, indices = bm25.scores["indptr"], bm25.scores["indices"]
        covered = np.zeros(len(self.index), dtype=np.float32)
        for i in dict.fromkeys(ids):
            covered[indices[indptr[i]:indptr[i + 1]]] += self._idf[i]
        return scores * covered / top, top, oov

    def bm25_ranking(self, scores: np.ndarray, depth: int, rows: np.ndarray | None = None) -> Ranking:
        """The top ``depth`` chunks with a positive BM25 score (``scores`` from :meth:`bm25_scores`)."""
        rows = np.arange(len(scores), dtype=np.int64) if rows is None else rows
        sub = scores[rows]
        positive = sub > 0
        return _top(sub[positive], rows[positive], depth)

    def candidates(self, query: str, query_vector: np.ndarray, rows: np.ndarray | None = None,
                   depth: int | None = None) -> Candidates:
        """The hybrid candidates of ``query`` and their :data:`FEATURES`.

        Args:
            query: the question (tokenised for BM25).
            query_vector: its embedding ``(dim,)`` float32, L2-normalised.
            rows: chunk rows to search (a document restriction), None for all; a
                compilation's parts about other years than the query's are left out
                (:meth:`_asked_parts`).
            depth: how many each retriever contributes (default ``settings.fusion_depth``).
        """
        return self._candidates(query, query_vector, self._asked_parts(query, rows), depth, self._bm25(query))

    def _candidates(self, query: str, query_vector: np.ndarray, rows: np.ndarray | None,
                    depth: int | None, bm25: tuple[np.ndarray, float, float]) -> Candidates:
        """:meth:`candidates` with the query's :meth:`_bm25` already computed."""
        depth = self.settings.fusion_depth if depth is None else depth
        bm25_all, bm25_max, oov = bm25
        rankings = {"dense": self.dense_ranking(query_vector, depth, rows),
                    "bm25": self.bm25_ranking(bm25_all, depth, rows)}
        rows_out = np.fromiter(
            dict.fromkeys([*rankings["dense"].rows.tolist(), *rankings["bm25"].rows.tolist()]), dtype=np.int64
        )
        ranks = {name: r.ranks() for name, r in rankings.items()}
        features = candidate_features(
            bm25_all[rows_out] / bm25_max if bm25_max > 0 else np.zeros(len(rows_out)),
            self.index.embeddings[rows_out] @ query_vector if len(rows_out) else np.zeros(0),
            [ranks["bm25"].get(r, 0) for r in rows_out.tolist()],
            [ranks["dense"].get(r, 0) for r in rows_out.tolist()],
            oov,
            self._year_agreement(query, rows_out),
            bool(TARGET_WORDS.search(query)),
            bool(REPORT_WORDS.search(query)),
            (self._doc_ids[rows_out].tolist(), self._sections[rows_out].tolist()),
        )
        return Candidates(rows_out, features, rankings)

    def _asked_parts(self, query: str, rows: np.ndarray | None) -> np.ndarray | None:
        """``rows`` (None: all) less the chunks of a compilation's parts about other years.

        A question that names a year searches, in a file that gathers several
        years' bulletins (:func:`~qa.retrieval.scope.part_years`), only the parts
        that review or plan that year, and chunks elsewhere that name it in their
        text or headings: as a year picks the reports about it
        (:meth:`scope`), it picks the parts of a compilation. Documents of one
        part are untouched.
        """
        self._refresh()
        years = _query_years(query)
        if not years or not self._in_compilation.any():
            return rows
        other = [r for r in np.flatnonzero(self._in_compilation).tolist()
                 if not years & set(self._part_years[r]) and not self._names_year(r, years)]
        if not other:
            return rows
        excluded = np.zeros(len(self.index.chunks), dtype=bool)
        excluded[other] = True
        return np.flatnonzero(~excluded) if rows is None else rows[~excluded[rows]]

    def _year_agreement(self, query: str, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), 5)`` 0/1: the chunk's text or heading names a year of the query;
        its report (its part of a compilation, :func:`~qa.retrieval.scope.part_years`) reviews
        one; it plans one;
        its heading is a plan's (:data:`PLAN_HEADING`); its text states targets (:data:`TARGET_TEXT`)."""
        years = _query_years(query)
        out = np.zeros((len(rows), 5))
        out[:, 3:] = self._chunk_flags[rows]  # query-independent, computed once per index
        if not years:
            return out
        for i, row in enumerate(rows.tolist()):
            review, plan = self._part_years[row]
            out[i, :3] = (self._names_year(row, years), review in years, plan in years)
        return out

    def _names_year(self, row: int, years: set[int]) -> bool:
        """The text or section heading of chunk ``row`` names one of ``years``."""
        text, heading = self.index.chunks[row].text, self._headings[row]
        return any(str(y) in text or str(y) in heading for y in years)

    # ---- search

    def search(self, query: str, k: int | None = None, retriever: str | None = None,
               doc_ids: Iterable[str] | None = None, query_vector: np.ndarray | None = None) -> list[Passage]:
        """The best ``k`` chunks for ``query``, best first.

        Args:
            query: the question. An empty or blank query returns ``[]``.
            k: how many passages (default ``settings.top_k``); more than the corpus
                returns every candidate.
            retriever: ``dense``, ``bm25`` or ``hybrid`` (default ``settings.retriever``).
            doc_ids: restrict to chunks of these documents (reading-comprehension
                evaluation, or :meth:`scope`: the documents the query names); None
                searches everything, an empty collection nothing.
            query_vector: the query's embedding ``(dim,)`` or ``(1, dim)`` float32,
                L2-normalised, when the caller has encoded it already; otherwise
                ``encoder.encode_queries([query])`` is called (not for ``bm25``).

        Returns:
            Passages. ``score`` is the ranking score (cosine, BM25, or the fusion
            model's log-odds). ``scores`` holds the BM25 score when positive
            (whatever the retriever) and the cosine whenever a query vector is
            known (``dense``, ``hybrid``, or ``query_vector`` given); ``ranks``
            holds the rank from each retriever that ran (``hybrid`` runs both),
            when the chunk is in its top ``k`` (``max(k, fusion_depth)`` for ``hybrid``).

        Raises:
            ValueError: unknown retriever, ``k < 1``, unknown document id, or a
                query vector of the wrong size.
        """
        settings = self.settings
        k = settings.top_k if k is None else k
        retriever = retriever or settings.retriever
        if retriever not in Settings.RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}; choose one of {', '.join(Settings.RETRIEVERS)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not query or not query.strip():
            return []
        rows = self._asked_parts(query, None if doc_ids is None else self.index.rows_of(doc_ids))
        if rows is not None and len(rows) == 0:
            return []
        bm25 = self._bm25(query)  # reported for every retriever; hybrid's features reuse it
        bm25_all = bm25[0]
        qvec = None
        if retriever != "bm25" or query_vector is not None:
            qvec = self._query_vector(query, query_vector)
        if retriever == "hybrid":
            found = self._candidates(query, qvec, rows, max(k, settings.fusion_depth), bm25)
            fused = self.fusion.score(found.features)
            order = np.lexsort((found.rows, -fused))[:k]
            final = Ranking(found.rows[order], fused[order])
            rankings = found.rankings
        elif retriever == "dense":
            final = self.dense_ranking(qvec, k, rows)
            rankings = {"dense": final}
        else:
            final = self.bm25_ranking(bm25_all, k, rows)
            rankings = {"bm25": final}
        return self._passages(final, rankings, bm25_all, qvec)

    def _query_vector(self, query: str, query_vector: np.ndarray | None) -> np.ndarray:
        dim = self.index.dim
        if query_vector is None:
            query_vector = self.encoder.encode_queries([query])
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if vector.shape != (dim,):
            raise ValueError(f"query vector has {vector.size} values, the index has dimension {dim}")
        return np.ascontiguousarray(vector)

    def _passages(self, final: Ranking, rankings: dict[str, Ranking],
                  bm25_all: np.ndarray | None, qvec: np.ndarray | None) -> list[Passage]:
        rank_maps = {name: r.ranks() for name, r in rankings.items()}
        rows = final.rows
        cosines = (self.index.embeddings[rows] @ qvec).tolist() if qvec is not None and len(rows) else None
        passages = []
        for i, row in enumerate(rows.tolist()):
            scores: dict[str, float] = {}
            if cosines is not None:
                scores["dense"] = float(cosines[i])
            if bm25_all is not None and bm25_all[row] > 0:
                scores["bm25"] = float(bm25_all[row])
            ranks = {name: m[row] for name, m in rank_maps.items() if row in m}
            passages.append(Passage(self.index.chunks[row], float(final.scores[i]), scores, ranks))
        return passages


def _query_years(query: str) -> set[int]:
    """The years a query names (``2023年``, :data:`qa.question.YEAR`)."""
    from qa.question import YEAR

    return {int(m.group(1)) for m in YEAR.finditer(query)}
