"""Dense, BM25 and hybrid retrieval over an :class:`~qa.index.Index`.

Public interface:

    Retriever(index, encoder, settings, fusion=None)
    Retriever.search(query, k=None, retriever=None, doc_ids=None, query_vector=None)
        -> list[Passage]     # best first, at most k
    Retriever.scope(query) -> set[str] | None    # documents the query names
    Retriever.candidates(query, query_vector, rows=None) -> Candidates   # hybrid's features
    FusionModel.load(path=DEFAULT_FUSION_PATH) -> FusionModel

Retrievers:

- ``dense``: cosine similarity between the query embedding and chunk embeddings
  (inner product of L2-normalised vectors, FAISS).
- ``bm25``: Okapi BM25 over jieba words (Robertson & Zaragoza 2009; see
  :mod:`qa.index`), times the chunk's IDF-weighted coverage of the query. Only
  chunks sharing at least one token with the query are returned.
- ``hybrid``: a learned re-ranking of the union of both retrievers' top
  ``settings.fusion_depth``. Each candidate gets the features of
  :data:`FEATURES` (both scores, normalised per query, both ranks, reciprocal
  rank fusion, and products with query features: how much of the question's IDF
  mass BM25 matched at best and how much of it the index vocabulary lacks), and
  a logistic regression over them (:class:`FusionModel`, shipped in
  ``src/qa/data/retrieval/fusion.json``, refitted by ``qa retrieval fit``)
  orders them. The products make the fusion adapt to the question: when the
  question's words are the index's words BM25 leads, when they are everyday
  paraphrases (经济总量 for 地区生产总值) or English, BM25 matches little and the
  dense similarity decides. Year and kind agreement features let a question
  about 2018's actual figure prefer the report that reviews 2018 (titled 2019)
  and a section of results over one of plans, and a question about a target the
  reverse. Hierarchical features give each passage the best scores of its
  document and of its top-level section among the candidates, so a passage of
  the report (or chapter) that holds most of the evidence wins over a lone
  look-alike elsewhere.

Measurement (``python eval/fusion_lodo.py``; index of the shipped report + the
eight ``../shared/corpus-extra`` reports, 700 chunks; each question ranked by a
model fitted on the other documents' questions; hit@1 / hit@5 / MRR@10)::

    questions                    bm25            dense           fixed fusion    learned (LODO)
    extra_qa.jsonl (145)         0.69/0.91/0.79  0.57/0.81/0.66  0.79/0.97/0.86  0.86/0.98/0.91
      paraphrase (35)            0.31/0.66/0.46  0.54/0.77/0.65  0.54/0.89/0.67  0.74/0.97/0.83
    seed_qa.jsonl (55)           0.85/0.95/0.90  0.25/0.42/0.33  0.82/0.93/0.87  0.89/0.95/0.92
    seed_qa.jsonl, default report alone (shipped model)
                                 0.95/0.98/0.96  0.73/0.93/0.82  0.96/1.00/0.98  0.96/1.00/0.98

Without the hierarchical features the learned column read 0.83/0.98/0.89
(extra_qa) and 0.82/0.93/0.88 (seed_qa).
("fixed fusion" = the 0.78·BM25/max + 0.22·min-max(cosine) this replaced; the
document scope below applies to every column.) Plain reciprocal rank fusion
(Cormack et al. 2009) scored 0.62/0.90/0.74 on ``extra_qa.jsonl``: rank fusion
cannot tell a strong BM25 match from a weak one.

Document scope: a query that names a place or a year that only some documents'
titles or publishers name should search those documents (:meth:`Retriever.scope`
gives their ids for ``doc_ids``; :class:`DocumentKeys`, computed once per index,
looked up per query). A year names the reports about it (:func:`document_years`):
with the previous scope (a year named only its title's report, so 2018's results
were sought in the report that sets 2018's targets) the fixed fusion scored
0.72/0.89/0.79 on ``extra_qa.jsonl`` instead of 0.77/0.97/0.85.

Ties are broken by chunk order (document order), so results are deterministic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import Chunk
from qa.config import Settings
from qa.index import Index, tokenize

#: The shipped fusion model (see :class:`FusionModel`).
DEFAULT_FUSION_PATH = Path(__file__).resolve().parent / "data" / "retrieval" / "fusion.json"
#: Reciprocal rank fusion constant (Cormack, Clarke & Büttcher, SIGIR 2009).
RRF_K = 60

#: Features of a hybrid candidate, in the order of :attr:`Candidates.features`' columns.
#: ``b`` = BM25 / the query's attainable maximum (IDF mass), ``c`` = cosine,
#: ``bmax`` = the largest ``b`` among the candidates, ``oov`` = share of the
#: query's IDF mass in tokens the index has never seen; ranks are 1-based among
#: each retriever's top ``fusion_depth`` (a missing rank counts as 0 in ``1/rank``).
FEATURES = (
    "bm25_norm",        # b
    "cos",              # c
    "cos_minmax",       # (c - min c) / (max c - min c)
    "bm25_inv_rank",    # 1 / rank_bm25
    "dense_inv_rank",   # 1 / rank_dense
    "rrf",              # 60 * (1/(60 + rank_bm25) + 1/(60 + rank_dense))
    "cos_minmax*bmax",  # dense trusted less when BM25 matched much of the question
    "bm25_norm*bmax",
    "cos_minmax*oov",   # dense trusted more when the index lacks the question's words
    "bm25_norm*oov",
    "year_in_text",     # the question names a year and the chunk's text or section heading contains it
    "year_reviewed",    # ... and the chunk's report reviews that year (titled the year after)
    "year_planned",     # ... and the chunk's report is titled that year (its targets)
    "year_reviewed*target",  # the same, when the question asks about a target or plan
    "year_planned*target",
    "plan_section",     # the chunk's section heading is a plan (安排, 目标, 任务 …), question asks an actual
    "plan_section*target",   # ... question asks a target
    "target_text",      # the chunk's text states targets (力争, 目标, 确保 …), question asks an actual
    "target_text*target",    # ... question asks a target
    "year_reviewed*report",  # year agreement when the question is about a report itself
    "year_planned*report",   # (2023年政府工作报告是哪位市长作的: the year is the report's)
    "doc_max_bm25",     # the largest b among the candidates of the chunk's document
    "doc_max_cos",      # the largest cos_minmax among them
    "section_max_bm25",  # the same over the candidates of its top-level section
    "section_max_cos",
)
#: Words of a question about a target or plan rather than an actual figure.
TARGET_WORDS = re.compile(r"目标|计划|力争|预计|预期|打算|任务|target|plan|goal", re.I)
#: Words of a question about a report itself (who gave it, when, at which meeting).
REPORT_WORDS = re.compile(r"报告|公报|文件|会议|大会|report", re.I)
#: A section heading of plans (二、2019年工作安排) and a chunk text stating targets.
PLAN_HEADING = re.compile(r"安排|目标|任务|计划|思路|打算|重点工作")
TARGET_TEXT = re.compile(r"目标|力争|确保|预期|计划|预计|左右|以上|以内")


def _place_stems(words: Iterable[str]) -> set[str]:
    """Place names among title words, and their stems: ``海拉尔区`` → ``海拉尔区``, ``海拉尔``;
    ``东柳``, ``街道`` → ``东柳街道``, ``东柳``."""
    words = list(words)
    places: set[str] = set()
    for i, word in enumerate(words):
        if word in _PLACE_WORD_SUFFIXES and i > 0 and len(words[i - 1]) >= 2:
            places |= {words[i - 1] + word, words[i - 1]}
        elif len(word) >= 3 and word[-1] in _PLACE_SUFFIXES:
            places |= {word, word[:-1]}
    return places


_PLACE_SUFFIXES = "省市县区旗镇乡州盟村"
_PLACE_WORD_SUFFIXES = ("街道", "社区", "新区", "自治区", "自治州", "自治县")


@dataclass(frozen=True)
class DocumentKeys:
    """Which documents a place or year names, computed once for a set of documents.

    A *key* is a place name in a document's title or publisher (a word ending in
    省/市/县/区/旗/镇/乡/州/盟/村 or followed by 街道/社区/…, and its stem:
    ``海拉尔区`` and ``海拉尔``) or a year the document is about
    (:func:`document_years`: a report of 2019 is about 2018 and 2019). It
    *names* those documents, provided that is not all of them and they hold at
    least half of the documents whose text contains it (``海拉尔区``, ``东柳``,
    ``2024``; not a place every report mentions).

    Attributes:
        keys: key → ids of the documents it names.
    """

    keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, documents: Iterable) -> DocumentKeys:
        """Keys of ``documents`` (:class:`~qa.documents.Document`); none for fewer than two.

        Cost: one substring test of each candidate key against each text, once.
        """
        from qa.question import content_terms

        documents = list(documents)
        if len(documents) < 2:
            return cls({})
        heads = {d.id: f"{d.title} {d.metadata.get('publisher', '')}" for d in documents}
        places = {d.id: _place_stems(content_terms(heads[d.id])) for d in documents}
        years = {d.id: document_years(d) for d in documents}
        keys = {}
        for key in sorted(set().union(*places.values(), *years.values())):
            named = frozenset(d.id for d in documents if key in places[d.id] or key in years[d.id])
            if len(named) == len(documents):
                continue
            mentioned = sum(1 for d in documents if key in d.text)
            if 2 * len(named) >= mentioned:
                keys[key] = named
        return cls(keys)

    def scope(self, question: str) -> set[str] | None:
        """Ids of the documents ``question`` names, or None when it names none.

        The intersection over the keys the question contains (years as whole
        years, places as substrings); None when there is none or the
        intersection is empty (the keys contradict each other).
        """
        from qa.question import YEAR

        years = {m.group(1) for m in YEAR.finditer(question)}
        scope: frozenset[str] | None = None
        for key, named in self.keys.items():
            if key in years or (not key.isdigit() and key in question):
                scope = named if scope is None else scope & named
        return set(scope) if scope else None


def title_years(document) -> set[int]:
    """The years a document's title names (``2018`` for 政府工作报告（2018年3月7日…）),
    else the year of its ``date`` metadata, else none."""
    from qa.question import YEAR

    named = {int(m.group(1)) for m in YEAR.finditer(document.title)}
    if not named:
        match = YEAR.match(str(document.metadata.get("date", "")))
        named = {int(match.group(1))} if match else set()
    return named


def document_years(document) -> set[str]:
    """The years a document is about: each year ``Y`` its title names, and ``Y - 1``.

    A report given in ``Y`` reviews ``Y - 1`` (its 去年) and sets ``Y``'s targets;
    a bulletin titled ``Y`` compares with ``Y - 1``. A title without a year falls
    back to the year of the ``date`` metadata. ``{"2018", "2017"}`` for the
    海拉尔区 report of 2018-03-07.
    """
    return {str(y) for year in title_years(document) for y in (year - 1, year)}


def title_scope(question: str, documents: Iterable) -> set[str] | None:
    """Ids of the documents ``question`` names (:meth:`DocumentKeys.scope`), or None.

    For callers that hold documents rather than a :class:`Retriever` (which has
    :meth:`Retriever.scope`): the keys of one set of documents are computed once
    and cached (by document ids, which are content hashes), so a query costs a
    look-up of the keys, not a scan of the texts.
    """
    documents = list(documents)
    ids = tuple(d.id for d in documents)
    keys = _KEYS_CACHE.get(ids)
    if keys is None:
        keys = DocumentKeys.from_documents(documents)
        _KEYS_CACHE.clear()
        _KEYS_CACHE[ids] = keys
    return keys.scope(question)


_KEYS_CACHE: dict[tuple[str, ...], DocumentKeys] = {}


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


@dataclass(frozen=True)
class FusionModel:
    """Logistic regression over :data:`FEATURES`: ``score = intercept + coef · features``.

    Only the order of the scores matters for ranking; ``1 / (1 + exp(-score))`` is the
    model's probability that a candidate holds the answer's evidence.

    Attributes:
        coef: one weight per feature name.
        intercept: the bias.
        meta: how the model was made (data, command, date, validation figures).
    """

    coef: dict[str, float]
    intercept: float = 0.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.coef) - set(FEATURES))
        if unknown:
            raise ValueError(f"fusion model has unknown features {unknown}; known: {', '.join(FEATURES)}")

    @property
    def weights(self) -> np.ndarray:
        """``(len(FEATURES),)`` float64, 0 for a feature the model does not use."""
        return np.asarray([self.coef.get(name, 0.0) for name in FEATURES], dtype=np.float64)

    def score(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` scores of ``(n, len(FEATURES))`` candidate features."""
        return features @ self.weights + self.intercept

    @classmethod
    def load(cls, path: str | Path = DEFAULT_FUSION_PATH) -> FusionModel:
        """Read a model written by :meth:`save`.

        Raises:
            ValueError: the file is missing, not JSON, or lacks ``coef``, naming the file.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            coef = {str(k): float(v) for k, v in data["coef"].items()}
            return cls(coef, float(data.get("intercept", 0.0)), dict(data.get("meta", {})))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"cannot read the fusion model {path}: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (UTF-8, indented)."""
        data = {"coef": self.coef, "intercept": self.intercept, "meta": self.meta}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Candidates:
    """The hybrid candidates of one query: rows of both retrievers' top lists.

    Attributes:
        rows: ``(n,)`` int64 chunk rows, the dense list first, then BM25's new rows.
        features: ``(n, len(FEATURES))`` float64.
        rankings: the ``dense`` and ``bm25`` rankings the candidates came from.
    """

    rows: np.ndarray
    features: np.ndarray
    rankings: dict[str, Ranking]


def candidate_features(bm25_norm: np.ndarray, cos: np.ndarray, bm25_rank: np.ndarray,
                       dense_rank: np.ndarray, oov: float, years: np.ndarray | None = None,
                       target: bool = False, report: bool = False,
                       groups: tuple[Sequence[str], Sequence[str]] | None = None) -> np.ndarray:
    """The :data:`FEATURES` matrix ``(n, len(FEATURES))`` of ``n`` candidates of one query.

    Args:
        bm25_norm: BM25 score / the query's attainable maximum, in ``[0, 1)``.
        cos: cosine similarity to the query.
        bm25_rank, dense_rank: 1-based ranks, 0 where the retriever did not list it.
        oov: share of the query's IDF mass in tokens absent from the index, in ``[0, 1]``.
        years: ``(n, 5)`` 0/1 columns ``year_in_text``, ``year_reviewed``,
            ``year_planned``, plan heading, target text (:meth:`Retriever.candidates`);
            zeros when None.
        target: the question asks about a target or plan (:data:`TARGET_WORDS`).
        report: the question is about a report itself (:data:`REPORT_WORDS`).
        groups: ``(documents, sections)``, each candidate's document id and top-level
            section key, for the hierarchical features (``doc_max_*``, ``section_max_*``:
            a passage's score backed by the best passage of its document or section, the
            document-level evidence of passage retrieval, e.g. Callan, SIGIR 1994);
            each candidate its own group when None.
    """
    b = np.asarray(bm25_norm, dtype=np.float64)
    c = np.asarray(cos, dtype=np.float64)
    if len(b) == 0:
        return np.zeros((0, len(FEATURES)))
    bmax = float(b.max())
    low, high = float(c.min()), float(c.max())
    c_mm = (c - low) / (high - low) if high > low else np.zeros_like(c)

    def inv(rank):
        rank = np.asarray(rank, dtype=np.float64)
        return np.where(rank > 0, 1.0 / np.maximum(rank, 1.0), 0.0)

    def rrf(rank):
        rank = np.asarray(rank, dtype=np.float64)
        return np.where(rank > 0, RRF_K / (RRF_K + rank), 0.0)

    columns = {
        "bm25_norm": b,
        "cos": c,
        "cos_minmax": c_mm,
        "bm25_inv_rank": inv(bm25_rank),
        "dense_inv_rank": inv(dense_rank),
        "rrf": rrf(bm25_rank) + rrf(dense_rank),
        "cos_minmax*bmax": c_mm * bmax,
        "bm25_norm*bmax": b * bmax,
        "cos_minmax*oov": c_mm * oov,
        "bm25_norm*oov": b * oov,
    }
    years = np.zeros((len(b), 5)) if years is None else np.asarray(years, dtype=np.float64)
    t = float(target)
    columns["year_in_text"], columns["year_reviewed"], columns["year_planned"] = years[:, :3].T
    columns["year_reviewed*target"] = years[:, 1] * t
    columns["year_planned*target"] = years[:, 2] * t
    columns["plan_section"], columns["plan_section*target"] = years[:, 3] * (1 - t), years[:, 3] * t
    columns["target_text"], columns["target_text*target"] = years[:, 4] * (1 - t), years[:, 4] * t
    columns["year_reviewed*report"] = years[:, 1] * float(report)
    columns["year_planned*report"] = years[:, 2] * float(report)
    documents, sections = groups if groups is not None else (range(len(b)), range(len(b)))
    columns["doc_max_bm25"], columns["doc_max_cos"] = _group_max(documents, b), _group_max(documents, c_mm)
    columns["section_max_bm25"], columns["section_max_cos"] = _group_max(sections, b), _group_max(sections, c_mm)
    return np.column_stack([columns[name] for name in FEATURES])


def _group_max(keys: Sequence, values: np.ndarray) -> np.ndarray:
    """``(n,)``: for each item, the largest of ``values`` over the items with the same key."""
    best: dict = {}
    for key, value in zip(keys, values.tolist(), strict=True):
        best[key] = max(value, best.get(key, value))
    return np.asarray([best[key] for key in keys], dtype=np.float64)


_DEFAULT_MODEL: FusionModel | None = None


def default_fusion() -> FusionModel:
    """The shipped :class:`FusionModel` (read once)."""
    global _DEFAULT_MODEL
    if _DEFAULT_MODEL is None:
        _DEFAULT_MODEL = FusionModel.load(DEFAULT_FUSION_PATH)
    return _DEFAULT_MODEL


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
        self._title_years: dict[str, set[int]] = {}
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
        self._title_years = {d.id: title_years(d) for d in self.index.documents.values()}
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
            rows: chunk rows to search (a document restriction), None for all.
            depth: how many each retriever contributes (default ``settings.fusion_depth``).
        """
        return self._candidates(query, query_vector, rows, depth, self._bm25(query))

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

    def _year_agreement(self, query: str, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), 5)`` 0/1: the chunk's text or heading names a year of the query;
        its report reviews one (is titled the year after); its report is titled one;
        its heading is a plan's (:data:`PLAN_HEADING`); its text states targets (:data:`TARGET_TEXT`)."""
        from qa.question import YEAR

        years = {int(m.group(1)) for m in YEAR.finditer(query)}
        out = np.zeros((len(rows), 5))
        out[:, 3:] = self._chunk_flags[rows]  # query-independent, computed once per index
        if not years:
            return out
        for i, row in enumerate(rows.tolist()):
            chunk, heading = self.index.chunks[row], self._headings[row]
            titled = self._title_years.get(chunk.doc_id, set())
            out[i, :3] = (any(str(y) in chunk.text or str(y) in heading for y in years),
                          any(y + 1 in titled for y in years),
                          any(y in titled for y in years))
        return out

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
        rows = None if doc_ids is None else self.index.rows_of(doc_ids)
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
