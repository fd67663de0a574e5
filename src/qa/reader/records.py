"""Records that cross the reader's boundary: :class:`Candidate` (a scored span
inside the reader), :class:`Answer` and its :class:`Citation` (what leaves it).

Offsets are characters into ``Document.text``, half-open; the answer text is
sliced from the document with them (the habit of Haystack's ``ExtractedAnswer``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from qa.chunking import Chunk, Sentence
from qa.figures import Figure
from qa.retrieval import Passage


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from. Offsets are characters into ``Document.text``, half-open.

    ``doc.text[start:end] == answer.text`` and
    ``doc.text[sentence_start:sentence_end] == answer.sentence`` always hold.
    """

    doc_id: str
    title: str
    section_path: tuple[str, ...]
    chunk_id: str
    paragraph: int
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    page: int | None = None  # 1-based page of ``start`` in a paged document (PDF), else None


@dataclass(frozen=True)
class Answer:
    """The reply to one question.

    Attributes:
        question: the question as asked (after cleaning).
        standalone_question: the question actually answered (a follow-up rewritten
            with the history; equal to ``question`` when not rewritten).
        text: the short answer, exactly ``doc.text[citation.start:citation.end]``;
            '' when abstained.
        sentence: the supporting sentence; '' when abstained.
        citation: where ``text`` is; None when abstained.
        confidence: in [0, 1].
        abstained: True when the documents do not contain the answer.
        alternatives: the next best answers (at most two), each an ``Answer``.
        passages: the retrieved passages, best first (the "related" passages of
            an abstention).
        notice: a message for the user ('' if none), e.g. that the question was cut.
    """

    question: str
    standalone_question: str
    text: str
    sentence: str
    citation: Citation | None
    confidence: float
    abstained: bool
    alternatives: tuple[Answer, ...] = ()
    passages: tuple[Passage, ...] = field(default=(), repr=False)
    notice: str = ""

    def to_dict(self, with_passages: bool = True) -> dict:
        """JSON-ready dict, written out field by field (offsets: characters, half-open)."""
        out = {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "sentence": self.sentence,
            "citation": None if self.citation is None else {
                **dataclasses.asdict(self.citation), "section_path": list(self.citation.section_path)},
            "confidence": round(float(self.confidence), 4),
            "abstained": self.abstained,
            "notice": self.notice,
            "alternatives": [a.to_dict(with_passages=False) for a in self.alternatives],
        }
        if with_passages:
            out["passages"] = [p.to_dict() for p in self.passages]
        return out



@dataclass(frozen=True)
class Candidate:
    """A candidate span: ``doc.text[start:end]``, inside ``sentence`` of ``chunk``.

    Attributes:
        chunk, start, end, sentence: where it is (offsets: characters, half-open).
        fit: the generator's rule score of how well the span fits the question, in [0, 1].
        support: IDF-weighted share of the question its passage covers, in [0, 1].
        kind: the generator: figure | span | item | date | meta | sentence | neural.
        rank: position of its passage in the retrieved list (0 = best).
        figure: the :class:`~qa.figures.Figure` of a ``figure`` candidate, else None.
        neural: probability of the neural reader's span that overlaps it (0 if none).
        neural_iou: character overlap (intersection over union) with that span.
        parts: generator-specific evidence, ``(name, value)`` pairs (``closeness``,
            ``restated``, ``anchor`` …), read by :mod:`qa.reader.features`.
    """

    chunk: Chunk
    start: int
    end: int
    sentence: Sentence
    fit: float
    support: float
    kind: str
    rank: int = 0
    figure: Figure | None = None
    neural: float = 0.0
    neural_iou: float = 0.0
    parts: tuple[tuple[str, float], ...] = ()

    @property
    def rule_confidence(self) -> float:
        """``sqrt(fit × support)`` in [0, 1]: the hand-weighted score the learned
        scorer starts from (one of its features)."""
        return max(0.0, min(1.0, (max(self.fit, 0.0) * max(self.support, 0.0)) ** 0.5))

    def part(self, name: str, default: float = 0.0) -> float:
        """The value of evidence ``name`` in :attr:`parts`, or ``default``."""
        return next((v for k, v in self.parts if k == name), default)
