"""Ask every question through the one answering path and score it.

The runner only connects an assistant (anything with the
:class:`qa.pipeline.Assistant` methods ``ask``, ``search`` and ``documents``) to
the metrics; it never retrieves or reads by itself. Per question it records the
answer, its scores, the latency of ``ask`` (milliseconds) and the rank of the first
relevant passage.

Relevance of a retrieved passage (for hit@k and MRR@10): when the example has gold
evidence spans, the passage must be in the gold document and contain a whole
evidence span (gold format); without spans, any passage of the gold document
(the paragraph, SQuAD format) is relevant; when the gold document is unknown, a
passage is relevant if its text contains the evidence text.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from qa.evaluation import metrics
from qa.evaluation.datasets import EvalExample

#: Passages retrieved per question for hit@k and MRR@10.
RANK_DEPTH = 10
#: Evaluation modes: retrieve over everything, or only within the gold document.
MODES = ("open", "reader")
#: Passages kept per question for the report (text of the retrieved evidence).
KEPT_PASSAGES = 3


@dataclass(frozen=True)
class QuestionResult:
    """The outcome of one question.

    Attributes:
        example: the question and its gold answers.
        prediction: the answer text given ('' when abstained).
        abstained: whether the system withheld an answer.
        confidence: the answer's confidence, in [0, 1].
        em, f1: CMRC 2018 exact match and F1 of ``prediction`` (0 or 1; [0, 1]).
        latency_ms: wall time of ``ask`` in milliseconds.
        standalone_question: the question the system actually answered.
        chunk_ids: ids of the passages given to the reader, best first.
        passages: (chunk id, text) of the first :data:`KEPT_PASSAGES` of them.
        evidence_rank: 1-based rank of the first relevant passage among the top
            :data:`RANK_DEPTH` of the run's retriever; None if none was relevant.
        judged: whether relevance could be judged (an answerable question with a
            gold document or evidence text); unjudged questions are left out of
            hit@k and MRR.
        ranks: ``evidence_rank`` of each retriever searched (for hit@k curves).
        citation: ``(doc_id, start, end)`` of the answer's citation, or None.
        citation_exact: whether the citation lies in the gold document and overlaps
            a gold answer or evidence span; None when not judged (abstained,
            unanswerable, or no gold span known).
        page: the page the citation gives (PDF documents), or None.
        page_correct: whether ``page`` is the gold page; None when the question has
            no gold page or was not answered.
    """

    example: EvalExample
    prediction: str
    abstained: bool
    confidence: float
    em: float
    f1: float
    latency_ms: float
    standalone_question: str
    chunk_ids: tuple[str, ...]
    passages: tuple[tuple[str, str], ...]
    evidence_rank: int | None
    judged: bool
    ranks: dict[str, int | None] = field(default_factory=dict)
    citation: tuple[str, int, int] | None = None
    citation_exact: bool | None = None
    page: int | None = None
    page_correct: bool | None = None

    @property
    def correct(self) -> bool:
        """True for an exact match (an abstention, for an unanswerable question)."""
        return self.em == 1.0


def resolve_documents(examples: Sequence[EvalExample], documents: Iterable) -> list[EvalExample]:
    """Fill in ``doc_id`` of gold-format examples from their evidence.

    A document is the gold one when its text at the evidence offsets equals the
    evidence text; failing that, the first document whose text contains the
    evidence (offsets are then taken from there). Evidence offsets without
    evidence text are trusted when there is exactly one document. Examples that
    already have a ``doc_id`` are returned unchanged.
    """
    documents = list(documents)
    resolved = []
    for example in examples:
        if example.doc_id is None:
            example = _resolve(example, documents)
        resolved.append(example)
    return resolved


def _resolve(example: EvalExample, documents: list) -> EvalExample:
    evidence = example.evidence
    if evidence:
        for start, end in example.evidence_spans:
            for doc in documents:
                if doc.text[start:end] == evidence:
                    return dataclasses.replace(example, doc_id=doc.id)
        for doc in documents:
            start = doc.text.find(evidence)
            if start >= 0:
                spans = ((start, start + len(evidence)),)
                return dataclasses.replace(example, doc_id=doc.id, evidence_spans=spans)
    elif example.evidence_spans and len(documents) == 1:
        return dataclasses.replace(example, doc_id=documents[0].id)
    return example


def is_judged(example: EvalExample) -> bool:
    """Whether passage relevance can be decided for ``example`` (see module docstring)."""
    return example.answerable and (example.doc_id is not None or bool(example.evidence))


def is_relevant(example: EvalExample, chunk) -> bool:
    """Whether a retrieved chunk holds the gold evidence of ``example``."""
    if example.doc_id is None:
        return bool(example.evidence) and example.evidence in chunk.text
    if chunk.doc_id != example.doc_id:
        return False
    if not example.evidence_spans:
        return True
    return any(
        metrics.span_contains((chunk.start, chunk.end), span) for span in example.evidence_spans
    )


def citation_exact(example: EvalExample, citation) -> bool | None:
    """Whether ``citation`` is in the gold document and overlaps a gold span; None if unjudged."""
    spans = example.answer_spans or example.evidence_spans
    if citation is None or not example.answerable or example.doc_id is None or not spans:
        return None
    if citation.doc_id != example.doc_id:
        return False
    return any(metrics.spans_overlap((citation.start, citation.end), span) for span in spans)


def evidence_rank(example: EvalExample, passages: Sequence) -> int | None:
    """1-based rank of the first passage relevant to ``example`` (passages best first)."""
    if not is_judged(example):
        return None
    return metrics.first_relevant_rank(is_relevant(example, p.chunk) for p in passages)


def evaluate(
    assistant,
    examples: Sequence[EvalExample],
    *,
    mode: str = "open",
    retriever: str = "hybrid",
    curve_retrievers: Sequence[str] = (),
    progress: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> list[QuestionResult]:
    """Ask every example through ``assistant.ask`` and score the answers.

    Args:
        assistant: a warmed-up :class:`qa.pipeline.Assistant` (or any object with
            ``ask(question, history, doc_ids)``, ``search(query, k, retriever,
            doc_ids)`` and ``documents()``).
        examples: the questions; every one is asked and counted.
        mode: ``open`` retrieves over the whole index; ``reader`` restricts both
            answering and retrieval to the example's gold document (``doc_ids``).
        retriever: the retriever ``ask`` uses (the settings' one); its top
            :data:`RANK_DEPTH` passages give ``evidence_rank``.
        curve_retrievers: further retrievers to search with for hit@k curves.
        progress: show a tqdm progress bar (on stderr).
        clock: seconds counter used to time ``ask`` (tests pass a fake one).

    Returns:
        One :class:`QuestionResult` per example, in order.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if any(e.doc_id is None and (e.evidence or e.evidence_spans) for e in examples):
        examples = resolve_documents(examples, assistant.documents())
    retrievers = [retriever, *(r for r in curve_retrievers if r != retriever)]
    results = []
    for example in tqdm(examples, desc="qa eval", unit="q", disable=not progress):
        results.append(_ask_one(assistant, example, mode, retrievers, clock))
    return results


def _ask_one(
    assistant, example: EvalExample, mode: str, retrievers: list[str], clock: Callable[[], float]
) -> QuestionResult:
    doc_ids = [example.doc_id] if mode == "reader" and example.doc_id else None
    started = clock()
    answer = assistant.ask(example.question, history=example.history, doc_ids=doc_ids)
    latency_ms = (clock() - started) * 1000.0
    prediction = "" if answer.abstained else answer.text
    ranks: dict[str, int | None] = {}
    if is_judged(example):
        query = answer.standalone_question or example.question
        for name in retrievers:
            found = assistant.search(query, k=RANK_DEPTH, retriever=name, doc_ids=doc_ids)
            ranks[name] = evidence_rank(example, found)
    citation = None if answer.abstained else answer.citation
    return QuestionResult(
        example=example,
        prediction=prediction,
        abstained=answer.abstained,
        confidence=answer.confidence,
        em=metrics.exact_match(prediction, example.answers),
        f1=metrics.f1(prediction, example.answers),
        latency_ms=latency_ms,
        standalone_question=answer.standalone_question,
        chunk_ids=tuple(p.chunk.id for p in answer.passages),
        passages=tuple((p.chunk.id, p.chunk.text) for p in answer.passages[:KEPT_PASSAGES]),
        evidence_rank=ranks.get(retrievers[0]),
        judged=is_judged(example),
        ranks=ranks,
        citation=(citation.doc_id, citation.start, citation.end) if citation else None,
        citation_exact=citation_exact(example, citation),
        page=getattr(citation, "page", None),
        page_correct=page_correct(example, citation),
    )


def page_correct(example: EvalExample, citation) -> bool | None:
    """Whether ``citation`` gives the gold page of ``example``; None without a gold page
    or a citation (abstained)."""
    if citation is None or example.page is None:
        return None
    return getattr(citation, "page", None) == example.page
