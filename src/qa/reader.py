"""Extractive answer selection with exact citations, and abstention.

OWNER: lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
