"""Fitting and validating the hybrid retriever's fusion model (:class:`qa.retrieval.FusionModel`).

    queries = collect(retriever, examples)          # candidates + relevance per gold question
    model = fit(queries)                            # logistic regression (scikit-learn)
    ranks = lodo_ranks(queries)                     # leave-one-document-out evidence ranks
    table = rank_table(queries, ranks_by_method)    # hit@1 / hit@5 / MRR@10 per question type

Training data are gold-format questions (``eval/seed_qa.jsonl``,
``eval/extra_qa.jsonl``) over an index that holds their documents. Each question
is asked the way :meth:`qa.pipeline.Assistant.ask` asks it (cleaned, follow-ups
rewritten by :func:`qa.conversation.rewrite`, searched within the documents it
names); a candidate is *relevant* when :func:`qa.evaluation.runner.is_relevant`
says so (the chunk of the gold document that contains the whole evidence span).
Unanswerable questions and questions whose document is not indexed are left out.

The model is fitted pairwise (Herbrich et al. 2000; Joachims, KDD 2002): for each
question, every (relevant, competing non-relevant) candidate pair gives the
feature difference as a positive example and its negation as a negative one, so
only the order within a question is learned; *competing* = in either retriever's
top :data:`HARD_NEGATIVES`. scikit-learn is needed to fit, not to search.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.retrieval import FEATURES, Candidates, FusionModel, Retriever

#: Passages ranked per question for hit@k and MRR@10 (as :mod:`qa.evaluation.runner`).
RANK_DEPTH = 10
#: L2 regularisation of the logistic regression (scikit-learn ``C``).
DEFAULT_C = 1.0
#: Negatives paired with each relevant candidate: those in either retriever's top
#: this many (``Settings.top_k``, the passages the reader gets).
HARD_NEGATIVES = 5
#: The weights of the fixed fusion this model replaced: 0.78·BM25/max + 0.22·min-max(cosine).
OLD_FUSION = FusionModel({"bm25_norm": 0.78, "cos_minmax": 0.22})


@dataclass(frozen=True)
class Query:
    """One judged gold question with its hybrid candidates.

    Attributes:
        id, type, doc_id: the gold row's id, type and resolved document.
        text: the standalone question that was searched.
        candidates: its :class:`~qa.retrieval.Candidates`.
        relevant: ``(n,)`` bool, which candidates hold the evidence.
        base_ranks: ``{"bm25": r, "dense": r}``, the 1-based rank of the first
            relevant passage in each retriever's own top :data:`RANK_DEPTH`, None if none.
    """

    id: str
    type: str
    doc_id: str
    text: str
    candidates: Candidates
    relevant: np.ndarray
    base_ranks: dict[str, int | None]


def standalone(question: str, history: Sequence[str], max_chars: int) -> str:
    """The question as :meth:`qa.pipeline.Assistant.ask` searches it (cleaned, follow-up rewritten)."""
    from qa.conversation import rewrite
    from qa.question import clean_question

    cleaned = [h for h in (clean_question(h, max_chars)[0] for h in history) if h]
    return rewrite(clean_question(question, max_chars)[0], cleaned)


def collect(retriever: Retriever, examples: Sequence, progress: bool = False) -> list[Query]:
    """Candidates and relevance of every judged example (:class:`~qa.evaluation.datasets.EvalExample`).

    Examples without a ``doc_id`` are resolved from their evidence first; those
    that are unanswerable or whose document is not in the index are skipped.
    """
    from qa.evaluation.runner import is_judged, is_relevant, resolve_documents

    index = retriever.index
    examples = resolve_documents(examples, index.documents.values())
    examples = [e for e in examples if is_judged(e) and e.doc_id in index.documents]
    texts = [standalone(e.question, e.history, retriever.settings.max_question_chars) for e in examples]
    vectors = retriever.encoder.encode_queries(texts) if texts else []
    queries = []
    for example, text, vector in zip(examples, texts, vectors, strict=True):
        scope = retriever.scope(text)
        rows = None if scope is None else index.rows_of(scope)
        found = retriever.candidates(text, np.asarray(vector, dtype=np.float32), rows)
        relevant = np.asarray([is_relevant(example, index.chunks[r]) for r in found.rows.tolist()], dtype=bool)
        base = {}
        for name, ranking in found.rankings.items():
            hits = [is_relevant(example, index.chunks[r]) for r in ranking.rows[:RANK_DEPTH].tolist()]
            base[name] = next((i + 1 for i, hit in enumerate(hits) if hit), None)
        queries.append(Query(example.id, example.type, example.doc_id, text, found, relevant, base))
        if progress and len(queries) % 50 == 0:
            print(f"  {len(queries)}/{len(examples)} questions", flush=True)
    return queries


def first_relevant_rank(query: Query, scores: np.ndarray) -> int | None:
    """1-based rank of the first relevant candidate when ordered by ``scores`` (ties by row), within :data:`RANK_DEPTH`."""
    order = np.lexsort((query.candidates.rows, -scores))[:RANK_DEPTH]
    hits = np.flatnonzero(query.relevant[order])
    return int(hits[0]) + 1 if len(hits) else None


def pairs(queries: Sequence[Query], hard: int = HARD_NEGATIVES) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise training set: ``(X, y)`` with ``X`` ``(2p, len(FEATURES))`` and ``y`` in {0, 1}.

    Each relevant candidate is paired with each non-relevant one in either
    retriever's top ``hard`` (the passages that compete for the reader's places).
    """
    diffs = []
    rank_b, rank_d = FEATURES.index("bm25_inv_rank"), FEATURES.index("dense_inv_rank")
    for q in queries:
        f = q.candidates.features
        competing = (f[:, rank_b] >= 1.0 / hard) | (f[:, rank_d] >= 1.0 / hard)
        pos, neg = f[q.relevant], f[~q.relevant & competing]
        if len(pos) and len(neg):
            diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, len(FEATURES)))
    if not diffs:
        raise ValueError("no question has both a relevant and a non-relevant candidate: nothing to fit")
    x = np.concatenate(diffs)
    return np.concatenate([x, -x]), np.concatenate([np.ones(len(x)), np.zeros(len(x))])


def fit(queries: Sequence[Query], c: float = DEFAULT_C, meta: dict | None = None) -> FusionModel:
    """A :class:`FusionModel` fitted pairwise on ``queries`` (scikit-learn logistic regression).

    Raises:
        ValueError: no question with both a relevant and a non-relevant candidate.
    """
    from sklearn.linear_model import LogisticRegression

    x, y = pairs(queries)
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(x, y)
    coef = {name: round(float(w), 6) for name, w in zip(FEATURES, model.coef_[0], strict=True)}
    return FusionModel(coef, 0.0, dict(meta or {}))


def lodo_ranks(queries: Sequence[Query], c: float = DEFAULT_C,
               fitter: Callable[..., FusionModel] | None = None) -> dict[str, int | None]:
    """Leave-one-document-out hybrid ranks: each question ranked by a model fitted on the other documents' questions.

    Returns ``{query id: 1-based rank of its first relevant passage, or None}``.
    """
    fitter = fitter or fit
    by_doc: dict[str, list[Query]] = defaultdict(list)
    for q in queries:
        by_doc[q.doc_id].append(q)
    ranks: dict[str, int | None] = {}
    for doc_id, held_out in by_doc.items():
        model = fitter([q for q in queries if q.doc_id != doc_id], c=c)
        for q in held_out:
            ranks[q.id] = first_relevant_rank(q, model.score(q.candidates.features))
    return ranks


def model_ranks(queries: Sequence[Query], model: FusionModel) -> dict[str, int | None]:
    """``{query id: rank}`` of each question's candidates ordered by ``model``."""
    return {q.id: first_relevant_rank(q, model.score(q.candidates.features)) for q in queries}


def summary(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 of 1-based first-relevant ranks (None = none in the top 10)."""
    n = len(ranks)
    if not n:
        return {"hit@1": 0.0, "hit@5": 0.0, "mrr": 0.0}
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1.0 / r for r in ranks if r is not None) / n,
    }


def rank_table(queries: Sequence[Query], methods: dict[str, dict[str, int | None]]) -> dict[str, dict[str, dict]]:
    """``{question type or "all": {method: summary}}``, types in order of first appearance."""
    types = list(dict.fromkeys(q.type for q in queries))
    table = {}
    for t in [*types, "all"]:
        chosen = [q for q in queries if t in ("all", q.type)]
        table[t] = {"n": len(chosen), **{m: summary([r[q.id] for q in chosen]) for m, r in methods.items()}}
    return table


def format_table(table: dict[str, dict[str, dict]], methods: Sequence[str]) -> str:
    """Plain-text table: one row per type, ``hit@1 hit@5 MRR`` per method."""
    head = f"{'type':<15}{'n':>4}  " + "  ".join(f"{m:^17}" for m in methods)
    sub = f"{'':<15}{'':>4}  " + "  ".join(f"{'h@1   h@5   MRR':^17}" for _ in methods)
    lines = [head, sub]
    for t, row in table.items():
        cells = "  ".join(f"{row[m]['hit@1']:.2f}  {row[m]['hit@5']:.2f}  {row[m]['mrr']:.2f}" for m in methods)
        lines.append(f"{t:<15}{row['n']:>4}  {cells}")
    return "\n".join(lines)


def print_tables(by_file: dict[str, Sequence[Query]], ranks: dict[str, dict[str, int | None]],
                 methods: Sequence[str], note: str) -> dict[str, dict[str, dict]]:
    """Print each data file's :func:`rank_table` under ``"{file}: {n} judged questions{note}"``.

    Returns ``{data file: its rank_table}``.
    """
    tables = {}
    for path, queries in by_file.items():
        tables[path] = rank_table(queries, ranks)
        print(f"\n{path}: {len(queries)} judged questions{note}")
        print(format_table(tables[path], methods))
    return tables


def base_ranks(queries: Sequence[Query]) -> dict[str, dict[str, int | None]]:
    """``{"bm25": {query id: rank}, "dense": {...}}``: each retriever alone (:attr:`Query.base_ranks`)."""
    return {name: {q.id: q.base_ranks[name] for q in queries} for name in ("bm25", "dense")}


def all_ranks(queries: Sequence[Query], c: float = DEFAULT_C) -> dict[str, dict[str, int | None]]:
    """Ranks of every method: ``bm25``, ``dense``, ``rrf``, ``hybrid-old`` and ``hybrid-new`` (LODO)."""
    rrf = FusionModel({"rrf": 1.0})
    return {
        **base_ranks(queries),
        "rrf": model_ranks(queries, rrf),
        "hybrid-old": model_ranks(queries, OLD_FUSION),
        "hybrid-new": lodo_ranks(queries, c=c),
    }
