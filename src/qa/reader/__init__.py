"""Extractive answer selection with exact citations, and abstention.

The reader never generates text: every candidate is a pair of character offsets
into a :class:`~qa.documents.Document`, and the answer text is sliced from the
document with them, so ``doc.text[citation.start:citation.end] == answer.text``
by construction (the habit of Haystack's ``ExtractedAnswer``).

    candidates (qa.reader.candidates)  every span that could answer, with rule evidence
      → features (qa.reader.features)  one vector per candidate; hard vetoes on year,
                                       place and kind (qa.reader.constraints)
      → scorer (qa.reader.scorer)      learned P(correct); the best is the answer,
                                       below the threshold the reader abstains

With ``span_only`` the trained span reader answers alone (no rules, no scorer):
its best span over the passages it reads, by ``P(passage answers) · P(span)``
(:meth:`CandidateGenerator.span_candidates`), abstaining when the passage's
calibrated answer probability is under :data:`SPAN_THRESHOLD`. This is how a
reading-comprehension model is measured on its own (``qa eval --reader span``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qa.chunking import Chunk
from qa.documents import Document, page_of
from qa.figures import Figure
from qa.question import Question
from qa.reader.candidates import CandidateGenerator
from qa.reader.features import FEATURE_NAMES, candidate_features, passage_context
from qa.reader.records import Answer, Candidate, Citation
from qa.reader.scorer import Scorer, vetoed
from qa.retrieval import Passage

__all__ = ["Answer", "Candidate", "Citation", "Reader", "Scorer"]

#: Abstention threshold of the span reader alone: its confidence is the calibrated
#: probability that the passage answers (Platt scaling, :mod:`qa.reader_training`),
#: so 0.5 is the Bayes decision between answering and not.
SPAN_THRESHOLD = 0.5


class Reader:
    """Selects the answer span from retrieved passages.

    Args:
        documents: document id → :class:`Document`.
        chunks: every indexed chunk (for the IDF of question words).
        figures: every figure of the indexed documents.
        abstain_threshold: probability below which the reader abstains; None
            takes the scorer's own (chosen when it was fitted).
        embed: optional ``texts -> (n, d) float32`` L2-normalised encoder used
            only for questions with no Chinese words to match (cross-lingual).
        spans: optional neural span proposer (:meth:`qa.span_model.SpanModel.predict`).
        span_passages: how many of the best passages the span proposer reads.
        scorer: the learned scorer (default: the shipped one, :meth:`Scorer.load`).
        span_only: answer with the span reader alone (see the module docstring);
            needs ``spans``. Without it the reader finds no candidates.

    Raises:
        qa.reader.scorer.ScorerError: the scorer file is missing or malformed.
    """

    def __init__(
        self,
        documents: dict[str, Document],
        chunks: Sequence[Chunk],
        figures: Sequence[Figure],
        abstain_threshold: float | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        spans: Callable[[str, list[str]], list] | None = None,
        span_passages: int = 3,
        scorer: Scorer | None = None,
        span_only: bool = False,
    ) -> None:
        self.documents = documents
        self.generator = CandidateGenerator(documents, chunks, figures, embed=embed, spans=spans,
                                            span_passages=span_passages)
        self.scorer = scorer if scorer is not None else Scorer.load()
        self._threshold = abstain_threshold
        self.span_only = span_only

    @property
    def abstain_threshold(self) -> float:
        """Confidence below which the reader abstains: the one given, else the
        scorer's own, or :data:`SPAN_THRESHOLD` for the span reader alone."""
        if self._threshold is not None:
            return self._threshold
        return SPAN_THRESHOLD if self.span_only else self.scorer.threshold

    @abstain_threshold.setter
    def abstain_threshold(self, value: float | None) -> None:
        self._threshold = value

    @property
    def spans(self):
        """The neural span proposer in use (None: rules only)."""
        return self.generator.spans

    @spans.setter
    def spans(self, proposer) -> None:
        self.generator.spans = proposer

    def featurize(self, q: Question, passages: Sequence[Passage]) -> tuple[list[Candidate], np.ndarray]:
        """Candidates of ``q`` in ``passages`` that no hard constraint vetoes, and
        their ``(n, len(FEATURE_NAMES))`` float64 feature matrix (rows aligned).

        A question without content (``q.has_content`` false: ``是多少？``,
        ``12345``, ``%s``, ``' OR 1=1 --``) or a Chinese one without content
        words to match has nothing to look up: no candidates.
        """
        empty = np.zeros((0, len(FEATURE_NAMES)))
        if not passages or not q.has_content or not (q.english or self.generator.evidence.units(q)):
            return [], empty
        candidates = self.generator.candidates(q, passages)
        if not candidates:
            return [], empty
        context = passage_context(passages)
        features = np.stack([
            candidate_features(q, c, passages[c.rank], self.documents[c.chunk.doc_id], context)
            for c in candidates])
        keep = ~vetoed(features)
        return [c for c, k in zip(candidates, keep, strict=True) if k], features[keep]

    def ranked(self, q: Question, passages: Sequence[Passage]) -> list[tuple[Candidate, float]]:
        """``(candidate, probability)`` pairs, most probable first."""
        if self.span_only:
            return self.generator.span_candidates(q, passages) if passages and q.has_content else []
        candidates, features = self.featurize(q, passages)
        if not candidates:
            return []
        probabilities = self.scorer.probability(features)
        order = np.argsort(-probabilities, kind="stable")
        if q.english:
            # Cross-lingual questions have no words to match, and the gold data hold one
            # such question: candidates keep the order of the encoder's question↔clause
            # similarity (CandidateGenerator._rerank_semantic); the scorer gives confidence.
            order = np.argsort([-c.rule_confidence for c in candidates], kind="stable")
        return tighter_reader_span(q, [(candidates[i], float(probabilities[i])) for i in order])

    def read(self, q: Question, passages: Sequence[Passage], question: str, notice: str = "") -> Answer:
        """The best answer to ``q`` from ``passages`` (best first), or an abstention.

        ``question`` is the text as asked (``q.text`` is the standalone form).
        The answer's confidence is the scorer's probability; below
        :attr:`abstain_threshold` the reader abstains, with ``passages`` as the
        related passages.
        """
        answers: list[Answer] = []
        for cand, probability in self.ranked(q, passages):
            text = self.documents[cand.chunk.doc_id].text[cand.start:cand.end]
            if text in {a.text for a in answers}:
                continue
            if answers and _overlaps(answers[0].citation, cand):
                continue  # an alternative that contains (or is inside) the answer adds nothing
            answers.append(self._answer(cand, probability, q, question, notice))
            if len(answers) == 3:
                break
        if not answers or answers[0].confidence < self.abstain_threshold:
            confidence = answers[0].confidence if answers else 0.0
            return Answer(question, q.text, "", "", None, confidence, True,
                          passages=tuple(passages), notice=notice)
        best = answers[0]
        return Answer(best.question, best.standalone_question, best.text, best.sentence,
                      best.citation, best.confidence, False, tuple(answers[1:]),
                      tuple(passages), notice)

    def _answer(self, cand: Candidate, probability: float, q: Question, question: str, notice: str) -> Answer:
        doc = self.documents[cand.chunk.doc_id]
        citation = Citation(
            doc_id=doc.id,
            title=doc.title,
            section_path=cand.chunk.section_path,
            chunk_id=cand.chunk.id,
            paragraph=cand.chunk.paragraph,
            start=cand.start,
            end=cand.end,
            sentence_start=cand.sentence.start,
            sentence_end=cand.sentence.end,
            page=page_of(doc, cand.start),
        )
        return Answer(question, q.text, doc.text[cand.start:cand.end],
                      doc.text[cand.sentence.start:cand.sentence.end], citation,
                      probability, False, notice=notice)


#: Answer types whose answer is a phrase of the text, not a figure, date or position.
_PHRASE_TYPES = ("entity", "description", "list")


def tighter_reader_span(q: Question, ranked: list[tuple[Candidate, float]]) -> list[tuple[Candidate, float]]:
    """``ranked`` with the span reader's proposal first where the best candidate, a rule
    span or a sentence of an open question (entity, description, list), strictly contains
    that proposal in the same passage; it takes over the best candidate's probability.

    A rule span runs from the question's words before the gap to a clause break when the
    words after the gap are paraphrased (``由甲公司和乙工作室开发的系列第三部作品`` for
    ``由哪两家公司合作开发的``); the reader was trained to mark an answer's extent.
    Measured on the first 1,000 CMRC 2018 *train* questions: EM +3.3 (29.0 → 32.3), F1 +1.1;
    the three report gold sets unchanged (README, "Public reading-comprehension sets")."""
    if q.answer_type not in _PHRASE_TYPES or not ranked or ranked[0][0].kind not in ("span", "sentence"):
        return ranked
    best, probability = ranked[0]
    inside = next((c for c, _ in ranked[1:] if c.kind == "neural" and c.chunk.id == best.chunk.id
                   and best.start <= c.start and c.end <= best.end
                   and (c.start, c.end) != (best.start, best.end)), None)
    if inside is None:
        return ranked
    return [(inside, probability)] + [r for r in ranked if r[0] is not inside]


def _overlaps(citation: Citation, cand: Candidate) -> bool:
    return (citation.doc_id == cand.chunk.doc_id
            and cand.start < citation.end and citation.start < cand.end)
