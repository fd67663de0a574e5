"""The hybrid fusion: candidate features (:data:`FEATURES`, :func:`candidate_features`)
and the learned re-ranker over them (:class:`FusionModel`, shipped in
``src/qa/data/retrieval/fusion.json``, refitted by ``qa retrieval fit``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.retrieval.records import Ranking

#: The shipped fusion model (see :class:`FusionModel`).
DEFAULT_FUSION_PATH = Path(__file__).resolve().parents[1] / "data" / "retrieval" / "fusion.json"
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
    "year_in_text",     # the question names a year and the chunk's text or section heading contains it,
                        # in a report (part) that neither reviews nor plans that year (a five-year review)
    "year_in_text*framed",   # ... in a report (part) that reviews or plans that year anyway
    "year_in_text*report",   # ... any chunk, when the question is about a report itself: the year names
                             # the report (2023年保定市政府工作报告是哪位市长作的), not the passage
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
    in_text, columns["year_reviewed"], columns["year_planned"] = years[:, :3].T
    framed, r = np.maximum(years[:, 1], years[:, 2]), float(report)
    columns["year_in_text"] = in_text * (1 - framed) * (1 - r)
    columns["year_in_text*framed"] = in_text * framed * (1 - r)
    columns["year_in_text*report"] = in_text * r
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
