"""Chunk-shaped reading-comprehension examples for training the span reader.

At answer time the reader reads *chunks* (:func:`qa.chunking.chunk_document`,
at most ``Settings.chunk_max_chars`` characters), not whole paragraphs. Training
on the same shape is the point of :func:`chunk_examples`: every SQuAD-format
paragraph (CMRC 2018 train; Cui et al., EMNLP 2019, CC BY-SA 4.0) is cut with
the project's own chunker, and each question becomes

* one *answer example*: the first chunk holding the whole gold answer, with the
  answer's offsets into that chunk;
* up to ``negatives`` *no-answer examples*: other chunks of the same paragraph
  that neither overlap the answer nor contain its text (so a repeated answer is
  never labelled absent), with the SQuAD 2.0 null target (Rajpurkar et al.,
  ACL 2018: start = end = the ``<s>`` token).

A question whose answer crosses every chunk boundary (it lies in no single
chunk) is skipped and counted.

Paragraphs are split into a training part and a held-out part by a hash of the
paragraph text (:func:`is_held_out`), so the held-out part is the same on every
run and never trained on; it calibrates the no-answer probability.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import chunk_document
from qa.documents import Document


@dataclass(frozen=True)
class TrainExample:
    """One (question, context) pair: the answer is ``context[start:end]``, or
    ``start == end == -1`` when the context does not hold it (no-answer example)."""

    question: str
    context: str
    start: int
    end: int

    @property
    def answerable(self) -> bool:
        """Whether the context holds the answer."""
        return self.start >= 0


@dataclass
class ChunkStats:
    """Counts from :func:`chunk_examples` (recorded with a training run)."""

    questions: int = 0
    answer_examples: int = 0
    no_answer_examples: int = 0
    across_boundary: int = 0
    repaired_offsets: int = 0
    paragraphs: int = 0
    held_out_paragraphs: int = 0
    chunks_per_paragraph: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        """The counts as a JSON-ready dict (mean chunks per paragraph instead of the list)."""
        out = {k: v for k, v in self.__dict__.items() if k != "chunks_per_paragraph"}
        out["mean_chunks_per_paragraph"] = round(float(np.mean(self.chunks_per_paragraph or [0])), 2)
        return out


def is_held_out(context: str, fraction: float) -> bool:
    """Whether a paragraph belongs to the held-out part: the first 8 bytes of the
    SHA-256 of its text, as a fraction of 2^64, fall under ``fraction``."""
    digest = hashlib.sha256(context.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def gold_answers(path: str | Path) -> tuple[list[tuple[str, str, str, int, int]], int]:
    """``(title, context, question, start, end)`` for every answered question of a
    SQuAD-format file (first answer), and how many answer offsets were repaired.

    An ``answer_start`` that does not point at the answer text (39 in CMRC 2018
    train) is replaced by the occurrence nearest to it; a question whose answer
    text is not in the context is skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not SQuAD-format JSON.
    """
    from qa.evaluation.datasets import DatasetError, squad_paragraphs

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training data not found: {path}")
    out, repaired = [], 0
    try:
        for _, title, para, _ in squad_paragraphs(path):
            context = para["context"]
            for qa in para.get("qas", []):
                if not qa.get("answers"):
                    continue
                answer = qa["answers"][0]
                text, given = answer["text"].strip(), int(answer.get("answer_start", -1))
                if not text:
                    continue
                if context[given:given + len(text)] != text:
                    found = _occurrences(context, text)
                    if not found:
                        continue
                    given = min(found, key=lambda i: abs(i - given))
                    repaired += 1
                out.append((title, context, qa["question"], given, given + len(text)))
    except DatasetError as exc:
        raise ValueError(f"{path} is not SQuAD-format JSON: {exc}") from exc
    return out, repaired


def _occurrences(text: str, sub: str) -> list[int]:
    out, i = [], text.find(sub)
    while i >= 0:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


#: The two parts of a file's paragraphs (:func:`is_held_out`).
PARTS = ("train", "held_out")


def chunk_examples(
    path: str | Path,
    negatives: int = 1,
    max_chars: int = 200,
    overlap_sentences: int = 1,
    held_out: float = 0.0,
    part: str = "train",
    seed: int = 13,
) -> tuple[list[TrainExample], ChunkStats]:
    """Chunk-shaped answer and no-answer examples of one part of a SQuAD-format file:
    ``split_chunk_examples(...)[part]`` (see :func:`split_chunk_examples`).

    Raises:
        FileNotFoundError / ValueError: as :func:`gold_answers`; ``ValueError``
        for an unknown ``part``.
    """
    if part not in PARTS:
        raise ValueError(f"part must be 'train' or 'held_out', got {part!r}")
    return split_chunk_examples(path, negatives, max_chars, overlap_sentences, held_out, seed)[part]


def split_chunk_examples(
    path: str | Path,
    negatives: int = 1,
    max_chars: int = 200,
    overlap_sentences: int = 1,
    held_out: float = 0.0,
    seed: int = 13,
) -> dict[str, tuple[list[TrainExample], ChunkStats]]:
    """Chunk-shaped answer and no-answer examples of a SQuAD-format file, by part,
    from one reading of the file.

    Args:
        path: SQuAD-format JSON (CMRC 2018 train).
        negatives: no-answer chunks per question (fewer when the paragraph has fewer).
        max_chars / overlap_sentences: the chunker's settings (``Settings``'s defaults).
        held_out: fraction of paragraphs set aside (:func:`is_held_out`).
        seed: seeds the choice of no-answer chunks (each part's own generator, so a
            part's examples do not depend on the other part).

    Returns:
        ``{"train": (examples, counts), "held_out": (examples, counts)}``: examples
        in file order (each question's answer example, then its no-answer examples).

    Raises:
        FileNotFoundError / ValueError: as :func:`gold_answers`.
    """
    answers, repaired = gold_answers(path)
    rngs = {name: np.random.default_rng(seed) for name in PARTS}
    stats = {name: ChunkStats(repaired_offsets=repaired) for name in PARTS}
    out: dict[str, list[TrainExample]] = {name: [] for name in PARTS}
    chunks_of: dict[str, list] = {}
    for title, context, question, start, end in answers:
        name = "held_out" if is_held_out(context, held_out) else "train"
        counts = stats[name]
        if context not in chunks_of:
            doc = Document(id=hashlib.sha256(context.encode()).hexdigest()[:12], path="", title=title,
                           text=context)
            chunks_of[context] = chunk_document(doc, max_chars, overlap_sentences, include_header=False)
            counts.paragraphs += 1
            counts.chunks_per_paragraph.append(len(chunks_of[context]))
        chunks = chunks_of[context]
        counts.questions += 1
        holding = [c for c in chunks if c.start <= start and end <= c.end]
        if not holding:
            counts.across_boundary += 1
            continue
        chunk = holding[0]
        out[name].append(TrainExample(question, chunk.text, start - chunk.start, end - chunk.start))
        counts.answer_examples += 1
        answer_text = context[start:end]
        others = [c for c in chunks if (c.end <= start or end <= c.start) and answer_text not in c.text]
        for i in rngs[name].permutation(len(others))[:negatives]:
            out[name].append(TrainExample(question, others[i].text, -1, -1))
            counts.no_answer_examples += 1
    stats["held_out"].held_out_paragraphs = stats["held_out"].paragraphs
    return {name: (out[name], stats[name]) for name in PARTS}
