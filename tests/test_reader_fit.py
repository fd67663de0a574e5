"""Fitting the answer scorer (qa.reader.fit): labels, threshold, leave-one-document-out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.reader.features import FEATURE_NAMES
from qa.reader.fit import QuestionRows, cross_validate, decide, fit, load_rows, save_rows

COLUMN = FEATURE_NAMES.index("rule_confidence")


def synthetic_rows(n_docs: int = 3, per_doc: int = 12, seed: int = 0) -> list[QuestionRows]:
    """Questions whose correct candidate has the highest ``rule_confidence``;
    every fourth question is unanswerable (all its candidates score low)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_docs):
        for i in range(per_doc):
            answerable = i % 4 != 0
            features = np.zeros((5, len(FEATURE_NAMES)))
            features[:, COLUMN] = rng.uniform(0.0, 0.3, 5)
            labels = np.zeros(5, dtype=bool)
            if answerable:
                features[2, COLUMN] = rng.uniform(0.7, 1.0)
                labels[2] = True
            rows.append(QuestionRows(f"q{d}-{i}", "figure" if answerable else "unanswerable", f"doc{d}",
                                     answerable, [f"t{j}" for j in range(5)], features, labels))
    return rows


def test_fit_separates_answers_and_unanswerable_questions():
    rows = synthetic_rows()
    scorer = fit(rows)
    assert scorer.coef[COLUMN] > 0
    assert all(decide(scorer, r, scorer.threshold)[1] for r in rows)  # every question right
    assert [decide(scorer, r, scorer.threshold)[0] for r in rows[:4]] == [False, True, True, True]


def test_leave_one_document_out_scores_each_document_with_a_scorer_fitted_on_the_others():
    overall, per_fold = cross_validate(synthetic_rows())
    assert sorted(per_fold) == ["doc0", "doc1", "doc2"]
    assert overall["n"] == 36 and overall["em"] == 1.0
    assert overall["abstain_recall"] == 1.0 and overall["false_abstention"] == 0.0
    assert all(f["n"] == 12 for f in per_fold.values())


def test_fit_refuses_rows_without_a_correct_candidate():
    rows = synthetic_rows()
    for r in rows:
        r.labels[:] = False
    with pytest.raises(ValueError, match="no candidate matches a gold answer"):
        fit(rows)


def test_rows_round_trip_through_the_cache(tmp_path):
    rows = synthetic_rows(n_docs=2, per_doc=3)
    save_rows(rows, tmp_path / "rows.npz")
    again = load_rows(tmp_path / "rows.npz")
    assert [(r.id, r.fold, r.answerable, r.texts) for r in again] == \
        [(r.id, r.fold, r.answerable, r.texts) for r in rows]
    np.testing.assert_array_equal(np.concatenate([r.features for r in again]),
                                  np.concatenate([r.features for r in rows]))


@pytest.mark.slow
def test_collect_labels_candidates_by_exact_match(assistant, gold, tmp_path):
    from qa.evaluation.datasets import load_gold
    from qa.evaluation.runner import resolve_documents
    from qa.reader.fit import collect, fit_scorer

    path = tmp_path / "gold.jsonl"
    chosen = [r for r in gold if r["id"] in ("d01", "d02", "d03", "d54")]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    examples = resolve_documents(load_gold(path), assistant.documents())
    rows = collect(assistant, examples, progress=False)
    assert [r.id for r in rows] == [r["id"] for r in chosen]
    for row, example in zip(rows, examples, strict=True):
        assert row.features.shape == (len(row.texts), len(FEATURE_NAMES))
        assert {t for t, ok in zip(row.texts, row.labels, strict=True) if ok} <= set(example.answers)
    assert any(r.labels.any() for r in rows if r.answerable)
    scorer = fit_scorer(rows, "qa reader fit --data gold.jsonl", ["gold.jsonl"], "index", {})
    assert scorer.provenance["questions"] == 4 and scorer.provenance["leave_one_document_out"] is None


def test_threshold_weighs_a_wrong_answer_against_an_abstention():
    from qa.reader.fit import best_threshold

    def row(qid, answerable=True):
        return QuestionRows(qid, "figure", "d", answerable, ["t"], np.zeros((1, len(FEATURE_NAMES))),
                            np.array([answerable]))

    # best probabilities: a 0.9 right, b 0.6 wrong, c 0.5 right, e 0.2 on an unanswerable question
    rows = [row("a"), row("b"), row("c"), row("e", answerable=False)]
    tops = [(0.9, True), (0.6, False), (0.5, True), (0.2, False)]
    # counting right questions only, answering down to c (and b with it) pays: 3 against 2
    assert 0.2 < best_threshold(tops, rows, wrong_cost=0.0) <= 0.5
    # when a wrong answer costs 1.5, answering b and c (+1 - 1.5) does not: only a is answered
    assert 0.6 < best_threshold(tops, rows, wrong_cost=1.5) <= 0.9


def test_threshold_is_not_moved_by_one_question_at_the_edge_of_a_plateau(monkeypatch):
    from qa.reader import fit as fitting

    def row(qid, answerable=True):
        return QuestionRows(qid, "figure", "d", answerable, ["t"], np.zeros((1, len(FEATURE_NAMES))),
                            np.array([answerable]))

    # utility: 2 below 0.05, 4 at 0.05 only (one right answer at 0.055), 3 on 0.06-0.30
    tops = [(0.045, False), (0.055, True), (0.305, True), (0.9, True)]
    rows = [row("u", answerable=False), row("a"), row("b"), row("c")]
    monkeypatch.setattr(fitting, "SMOOTHING", 0)
    assert fitting.best_threshold(tops, rows) == 0.05  # the raw maximum: one question
    monkeypatch.setattr(fitting, "SMOOTHING", 2)
    assert fitting.best_threshold(tops, rows) == 0.07  # averaged over +-0.02: into the plateau


def test_threshold_comes_from_out_of_fold_probabilities():
    from qa.reader.fit import out_of_fold_tops

    rows = synthetic_rows()
    tops = out_of_fold_tops(rows)
    assert len(tops) == len(rows)
    # the right candidate of each answerable question is still the best out of fold
    assert all(right for (_, right), r in zip(tops, rows, strict=True) if r.answerable)
    assert 0.05 <= fit(rows).threshold <= 0.95


def test_refitting_loads_a_scorer_made_for_other_features():
    from qa.reader.scorer import Scorer, ScorerError, refitting

    data = Scorer.load().to_dict()
    data["features"]["renamed_feature"] = data["features"].pop(FEATURE_NAMES[-1])
    with pytest.raises(ScorerError, match="extra \\['renamed_feature'\\]"):
        Scorer.from_dict(data)
    with refitting():
        scorer = Scorer.from_dict(data)
    assert scorer.feature_names == FEATURE_NAMES and scorer.coef[-1] == 0.0
