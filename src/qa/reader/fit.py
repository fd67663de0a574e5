"""Fitting the answer scorer from gold questions, validated leave-one-document-out.

For every gold question the pipeline runs as when answering (conversation →
question analysis → retrieval → candidates → features, :meth:`Assistant.prepare`
and :meth:`Reader.featurize`); a candidate is labelled correct when its text
matches a gold answer (CMRC 2018 exact match). A logistic regression
(scikit-learn) is fitted on all candidates; the abstention threshold is the one
with the best utility on out-of-fold probabilities (+1 for a right answer or a
right abstention, -:data:`WRONG_ANSWER_COST` for a wrong answer).

Validation is leave-one-document-out: the questions about one document (and a
share of the unanswerable ones, dealt round-robin) are scored by a scorer
fitted on the others' questions only. :func:`cross_validate` reports that figure;
:func:`fit_scorer` then fits on everything for the shipped file.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from qa.reader.features import FEATURE_NAMES
from qa.reader.scorer import Scorer

#: Inverse regularisation strength of the logistic regression (scikit-learn's default).
C = 1.0
#: Fold name of unanswerable questions' documents: dealt round-robin over the real folds.
UNANSWERABLE = "(unanswerable)"


@dataclass
class QuestionRows:
    """One gold question's candidates.

    Attributes:
        id, type: the gold row's id and type.
        fold: the document the question is about (its id), for leave-one-document-out.
        answerable: the question has gold answers.
        texts: candidate texts, aligned with ``features`` rows and ``labels``.
        features: ``(n, F)`` float64.
        labels: ``(n,)`` bool, the candidate's text is a gold answer.
        source: the gold file the question comes from ('' if unknown).
    """

    id: str
    type: str
    fold: str
    answerable: bool
    texts: list[str]
    features: np.ndarray
    labels: np.ndarray
    source: str = ""


def collect(assistant, examples: Sequence, progress: bool = True, source: str = "") -> list[QuestionRows]:
    """Candidates and labels of every example through ``assistant``'s answering path.

    ``examples`` are :class:`qa.evaluation.datasets.EvalExample` with ``doc_id``
    resolved (:func:`qa.evaluation.runner.resolve_documents`).
    """
    from qa.evaluation.metrics import exact_match

    rows = []
    folds = sorted({e.doc_id for e in examples if e.doc_id})
    dealt = 0
    for example in tqdm(examples, desc="candidates", unit="q", disable=not progress):
        prepared = assistant.prepare(example.question, example.history)
        candidates, features = ([], np.zeros((0, len(FEATURE_NAMES))))
        if prepared.q is not None:
            candidates, features = assistant.reader.featurize(prepared.q, prepared.passages)
        texts = [assistant.index.documents[c.chunk.doc_id].text[c.start:c.end] for c in candidates]
        labels = np.array([bool(example.answers) and exact_match(t, example.answers) == 1.0 for t in texts],
                          dtype=bool)
        fold = example.doc_id
        if not example.answers or fold is None:
            fold, dealt = folds[dealt % len(folds)] if folds else UNANSWERABLE, dealt + 1
        rows.append(QuestionRows(example.id, example.type, fold, bool(example.answers), texts, features, labels,
                                 source))
    return rows


def fit(rows: Sequence[QuestionRows], provenance: dict | None = None) -> Scorer:
    """A :class:`Scorer` fitted on ``rows``, with its abstention threshold.

    The threshold is chosen (:func:`best_threshold`) on out-of-fold probabilities:
    each document's questions scored by weights fitted on the other documents'
    (:func:`out_of_fold_tops`), since probabilities on the rows a model was fitted
    on are too confident and put the threshold too low. With one document the
    rows' own probabilities are used.

    Raises:
        ValueError: no candidate is labelled correct (nothing to learn from).
    """
    scorer = _fit_weights(rows, provenance)
    tops = out_of_fold_tops(rows) if len({r.fold for r in rows}) >= 2 else [_top(scorer, r) for r in rows]
    return dataclasses.replace(scorer, threshold=best_threshold(tops, rows))


def _fit_weights(rows: Sequence[QuestionRows], provenance: dict | None = None) -> Scorer:
    """The logistic regression on ``rows`` (threshold left at 0.5)."""
    from sklearn.linear_model import LogisticRegression

    features = np.concatenate([r.features for r in rows if len(r.texts)])
    labels = np.concatenate([r.labels for r in rows if len(r.texts)])
    if not labels.any():
        raise ValueError("no candidate matches a gold answer; check the index holds the gold documents")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=5000)
    model.fit((features - mean) / scale, labels)
    return Scorer(FEATURE_NAMES, mean, scale, model.coef_[0].astype(np.float64),
                  float(model.intercept_[0]), 0.5, provenance or {})


def out_of_fold_tops(rows: Sequence[QuestionRows]) -> list[tuple[float, bool]]:
    """For each row, its best candidate's probability and whether it is right, under
    weights fitted on the rows of the other folds (documents)."""
    tops: list[tuple[float, bool] | None] = [None] * len(rows)
    for fold in sorted({r.fold for r in rows}):
        held = [i for i, r in enumerate(rows) if r.fold == fold]
        train = [r for r in rows if r.fold != fold]
        if not any(r.labels.any() for r in train if len(r.texts)):
            continue
        scorer = _fit_weights(train)
        for i in held:
            tops[i] = _top(scorer, rows[i])
    return [t if t is not None else (-1.0, False) for t in tops]


def _top(scorer: Scorer, row: QuestionRows) -> tuple[float, bool]:
    """The best candidate's probability (-1 without candidates) and whether it is right."""
    if not len(row.texts):
        return -1.0, False
    probabilities = scorer.probability(row.features)
    best = int(np.argmax(probabilities))
    return float(probabilities[best]), bool(row.labels[best])


def decide(scorer: Scorer, row: QuestionRows, threshold: float) -> tuple[bool, bool]:
    """``(answered, correct)`` for one question: the best candidate answers when
    its probability reaches ``threshold``; correct means a right answer, or an
    abstention on an unanswerable question."""
    probability, right = _top(scorer, row)
    if probability < threshold:
        return False, not row.answerable
    return True, right


#: What a wrong answer costs against a right one when the threshold is chosen: a confident
#: wrong figure misleads, an abstention only shows the passages, so a wrong answer takes
#: back what a right one gives. Leave-one-document-out on the three gold files (indexes
#: built on the onnx backend; thresholds from out-of-fold probabilities), costs 0.5 and 1.0
#: gave EM 0.905 with abstention recall 0.92 (threshold 0.06 and 0.13 when fitted on all),
#: 2.0 gave 0.901 and 0.96.
WRONG_ANSWER_COST = 1.0


#: Half-width of the window (grid steps of 0.01) the utility is averaged over before its
#: best threshold is taken. The utility of the gold questions is flat within a few points
#: from 0.05 to 0.17, and one question moved its raw maximum from 0.13 to 0.05 between two
#: fits; averaged over ±0.02 it stays in 0.07–0.14.
SMOOTHING = 2


def best_threshold(tops: Sequence[tuple[float, bool]], rows: Sequence[QuestionRows],
                   wrong_cost: float = WRONG_ANSWER_COST) -> float:
    """The threshold in [0.05, 0.95] (steps of 0.01) with the best utility over ``rows``,
    given each row's best probability and whether that candidate is right (``tops``):
    +1 for each right answer or abstention on an unanswerable question,
    ``-wrong_cost`` for each wrong answer (:data:`WRONG_ANSWER_COST`), 0 for an
    abstention on an answerable one. The utility is averaged over the thresholds within
    ±:data:`SMOOTHING` grid steps, so one question does not move the threshold across a
    flat stretch; ties go to the middle of the best run."""
    step = 0.01
    wide = np.round(np.arange(0.05 - SMOOTHING * step, 0.951 + SMOOTHING * step, step), 2)
    probability = np.array([p for p, _ in tops])
    if_answered = np.array([1.0 if right else -wrong_cost for _, right in tops])
    if_abstained = np.array([float(not row.answerable) for row in rows])
    scores = np.array([np.where(probability < t, if_abstained, if_answered).sum() for t in wide])
    window = 2 * SMOOTHING + 1
    scores = np.convolve(scores, np.ones(window) / window, mode="valid")  # one per threshold of the grid
    grid = wide[SMOOTHING:len(wide) - SMOOTHING]
    winners = grid[np.isclose(scores, scores.max())]
    return float(winners[len(winners) // 2])


def evaluate(decisions: Sequence[tuple[QuestionRows, bool, bool]]) -> dict:
    """Accuracy figures of ``(row, answered, correct)`` triples.

    Returns ``{"n", "em", "em_answerable", "abstain_recall", "false_abstention",
    "by_type": {type: em}}``: ``em`` counts a right abstention on an unanswerable
    question as correct (as ``qa eval`` does); ``false_abstention`` is the share of
    answerable questions abstained on.
    """
    answerable = [(r, a, c) for r, a, c in decisions if r.answerable]
    unanswerable = [(r, a, c) for r, a, c in decisions if not r.answerable]
    by_type: dict[str, list[bool]] = defaultdict(list)
    for row, _, correct in decisions:
        by_type[row.type].append(correct)
    share = lambda xs: round(float(np.mean(xs)), 3) if xs else None  # noqa: E731
    return {
        "n": len(decisions),
        "em": share([c for _, _, c in decisions]),
        "em_answerable": share([c for _, _, c in answerable]),
        "abstain_recall": share([not a for _, a, _ in unanswerable]),
        "false_abstention": share([not a for _, a, _ in answerable]),
        "by_type": {t: share(v) for t, v in sorted(by_type.items())},
    }


def cross_validate(rows: Sequence[QuestionRows]) -> tuple[dict, dict[str, dict]]:
    """Leave-one-document-out: ``(overall figures, {fold: figures})`` (see :func:`evaluate`).

    The overall figures also hold ``by_source``: the same figures for the
    questions of each gold file.
    """
    folds = sorted({r.fold for r in rows})
    decisions, per_fold = [], {}
    for fold in folds:
        train = [r for r in rows if r.fold != fold]
        test = [r for r in rows if r.fold == fold]
        scorer = fit(train)
        fold_decisions = [(r, *decide(scorer, r, scorer.threshold)) for r in test]
        per_fold[fold] = evaluate(fold_decisions)
        decisions += fold_decisions
    overall = evaluate(decisions)
    sources = sorted({r.source for r in rows if r.source})
    if len(sources) > 1:
        overall["by_source"] = {src: evaluate([d for d in decisions if d[0].source == src]) for src in sources}
    return overall, per_fold


def in_sample(rows: Sequence[QuestionRows], scorer: Scorer) -> dict:
    """Figures of ``scorer`` on the rows it was fitted on (labelled in-sample)."""
    return evaluate([(r, *decide(scorer, r, scorer.threshold)) for r in rows])


def fit_scorer(rows: Sequence[QuestionRows], command: str, data: Sequence[str], index: Sequence[str] | str,
               documents: dict[str, str]) -> Scorer:
    """Leave-one-document-out figures, then the scorer fitted on every row, with its provenance."""
    if len({r.fold for r in rows}) >= 2:
        lodo, per_fold = cross_validate(rows)
    else:  # one document: nothing to hold out
        lodo, per_fold = None, {}
    provenance = {
        "command": command,
        "data": list(data),
        "index": index if isinstance(index, str) else list(index),
        "documents": documents,
        "questions": len(rows),
        "candidates": int(sum(len(r.texts) for r in rows)),
        "positives": int(sum(int(r.labels.sum()) for r in rows)),
        "created": datetime.date.today().isoformat(),
        "model": f"scikit-learn LogisticRegression(C={C}) on standardised features",
        "validation": ("leave-one-document-out (unanswerable questions dealt round-robin to folds)"
                       if lodo else "none: the questions are about one document"),
        "leave_one_document_out": lodo,
        "per_document": {documents.get(k, k): v for k, v in per_fold.items()},
    }
    scorer = fit(rows, provenance)
    provenance["in_sample"] = in_sample(rows, scorer)
    print(f"leave-one-document-out: {lodo}", file=sys.stderr)
    return scorer


def save_rows(rows: Sequence[QuestionRows], path) -> None:
    """Cache collected rows in one ``.npz`` file (features, labels, texts, question info)."""
    np.savez_compressed(
        path,
        meta=np.array([[r.id, r.type, r.fold, str(int(r.answerable)), r.source] for r in rows], dtype=object),
        sizes=np.array([len(r.texts) for r in rows]),
        features=np.concatenate([r.features for r in rows]) if rows else np.zeros((0, len(FEATURE_NAMES))),
        labels=np.concatenate([r.labels for r in rows]) if rows else np.zeros(0, bool),
        texts=np.array([t for r in rows for t in r.texts], dtype=object),
        names=np.array(FEATURE_NAMES, dtype=object),
    )


def load_rows(path) -> list[QuestionRows]:
    """Rows saved by :func:`save_rows`. Raises ``ValueError`` when the features differ."""
    data = np.load(path, allow_pickle=True)
    if tuple(data["names"]) != FEATURE_NAMES:
        raise ValueError(f"{path} holds other features than this qa's; delete it to collect again")
    rows, at = [], 0
    for meta, size in zip(data["meta"], data["sizes"], strict=True):
        qid, qtype, fold, answerable, *source = meta
        rows.append(QuestionRows(qid, qtype, fold, answerable == "1", list(data["texts"][at:at + size]),
                                 data["features"][at:at + size], data["labels"][at:at + size],
                                 source[0] if source else ""))
        at += size
    return rows
