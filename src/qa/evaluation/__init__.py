"""Evaluation: datasets, CMRC 2018 / retrieval / abstention metrics, runner and reports.

    load_dataset(path) -> list[EvalExample]          # gold .jsonl or SQuAD .json
    squad_documents(path) -> list[Document]          # one per paragraph
    evaluate(assistant, examples, mode=...) -> list[QuestionResult]
    summarize(results, **meta) -> dict               # the --json summary
    exact_match(prediction, golds), f1(prediction, golds)   # CMRC 2018

The command line is ``qa eval`` (:mod:`qa.evaluation.cli`).
"""

from qa.evaluation.datasets import (
    DatasetError,
    EvalExample,
    load_dataset,
    load_gold,
    load_squad,
    squad_documents,
)
from qa.evaluation.metrics import exact_match, f1
from qa.evaluation.report import summarize
from qa.evaluation.runner import QuestionResult, evaluate

__all__ = [
    "DatasetError",
    "EvalExample",
    "QuestionResult",
    "evaluate",
    "exact_match",
    "f1",
    "load_dataset",
    "load_gold",
    "load_squad",
    "squad_documents",
    "summarize",
]
