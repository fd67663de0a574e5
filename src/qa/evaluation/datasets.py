"""Evaluation sets: the gold JSONL format and SQuAD-format JSON, as :class:`EvalExample`.

Gold format (``eval/seed_qa.jsonl``), one JSON object per line:
``id``, ``question``, ``answers`` (list of strings; empty = the system should
abstain), ``evidence`` (the supporting text or null), ``evidence_start`` /
``evidence_end`` (character offsets, half-open, into the text of the document
holding the evidence: the shipped corpus unless a ``doc_id`` key names another
document), ``type`` and ``history`` (earlier questions, oldest first). Only
``id``, ``question`` and ``answers`` are required.

SQuAD format (SQuAD v1.1/v2.0, Rajpurkar et al. EMNLP 2016 / ACL 2018; CMRC 2018,
Cui et al. EMNLP-IJCNLP 2019; DRCD, Shao et al. arXiv:1806.00920):
``{"data": [{"title", "paragraphs": [{"id", "context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``. Each paragraph
becomes one :class:`~qa.documents.Document` (:func:`squad_documents`); an answer
whose ``answer_start`` is -1 or does not point at its text is scored on text only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.documents import Document, document_id

#: ``type`` of gold rows that have none.
UNTYPED = "untyped"
#: ``type`` given to SQuAD-format questions with / without an answer.
SQUAD_ANSWERABLE, SQUAD_UNANSWERABLE = "span", "unanswerable"


class DatasetError(ValueError):
    """An evaluation file that cannot be read: the message names the file and line."""


@dataclass(frozen=True)
class EvalExample:
    """One question with what a correct system returns.

    Attributes:
        id: question id, unique within the dataset.
        question: the question text.
        answers: acceptable answer texts; empty means unanswerable (abstain).
        type: question category, used to break the metrics down.
        history: earlier questions of the conversation, oldest first.
        doc_id: the document holding the evidence (a SQuAD paragraph, or a gold
            row's ``doc_id``); None when it must be found by the evidence text
            (gold rows, see :func:`qa.evaluation.runner.resolve_documents`).
        evidence: the supporting text ('' if none given).
        evidence_spans: character spans ``(start, end)``, half-open, of the gold
            evidence in ``doc_id``'s text. A retrieved passage is relevant when it
            contains one; with none (SQuAD), any passage of ``doc_id`` is.
        answer_spans: character spans of the gold answers in ``doc_id``'s text
            (SQuAD answers whose ``answer_start`` points at their text).
        page: the 1-based page of a paged document (PDF) holding the answer, from a
            gold row's optional ``page`` key; None when not given.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    type: str = UNTYPED
    history: tuple[str, ...] = ()
    doc_id: str | None = None
    evidence: str = ""
    evidence_spans: tuple[tuple[int, int], ...] = ()
    answer_spans: tuple[tuple[int, int], ...] = ()
    page: int | None = None

    @property
    def answerable(self) -> bool:
        """True when the question has at least one gold answer."""
        return bool(self.answers)


def _check_exists(path: Path) -> None:
    if path.is_file():
        return
    hint = ""
    if "shared" in path.parts or not path.parent.exists():
        hint = (
            f" (folder {path.parent} {'exists' if path.parent.exists() else 'is missing'};"
            " the public sets live in ../shared/data next to the checkout, see its README)"
        )
    kind = "is a directory, not a file" if path.is_dir() else "not found"
    raise FileNotFoundError(f"evaluation dataset {kind}: {path}{hint}")


def load_dataset(path: str | Path) -> list[EvalExample]:
    """Load a gold ``.jsonl`` file or a SQuAD-format ``.json`` file.

    Other suffixes are recognised by content (a JSON object with ``data`` is
    SQuAD format). Raises ``FileNotFoundError`` for a missing file and
    :class:`DatasetError` for malformed content.
    """
    path = Path(path)
    _check_exists(path)
    if is_squad(path):
        return load_squad(path)
    return load_gold(path)


def is_squad(path: str | Path) -> bool:
    """True for a SQuAD-format file: ``.json`` suffix, or content starting ``{"data"...``."""
    path = Path(path)
    if path.suffix == ".json":
        return True
    if path.suffix == ".jsonl":
        return False
    with path.open(encoding="utf-8-sig") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith("{") and '"data"' in head and "\n{" not in head


def load_gold(path: str | Path) -> list[EvalExample]:
    """Read a gold-format JSONL file (blank lines skipped).

    Raises :class:`DatasetError` naming the line for invalid JSON, a missing or
    mistyped field, bad evidence offsets or a repeated id.
    """
    path = Path(path)
    _check_exists(path)
    examples: list[EvalExample] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: invalid JSON: {exc.msg}") from exc
            example = _gold_example(row, where)
            if example.id in seen:
                raise DatasetError(
                    f"{where}: id {example.id!r} already used on line {seen[example.id]}"
                )
            seen[example.id] = number
            examples.append(example)
    if not examples:
        raise DatasetError(f"{path}: no questions found")
    return examples


def _strings(value: object, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{where}: {name!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _gold_example(row: object, where: str) -> EvalExample:
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "question", "answers"):
        if key not in row:
            raise DatasetError(f"{where}: missing required key {key!r}")
    if not isinstance(row["id"], (str, int)) or isinstance(row["id"], bool):
        raise DatasetError(f"{where}: 'id' must be a string, got {row['id']!r}")
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: 'question' must be a non-empty string")
    evidence = row.get("evidence") or ""
    if not isinstance(evidence, str):
        raise DatasetError(f"{where}: 'evidence' must be a string or null, got {evidence!r}")
    start, end = row.get("evidence_start"), row.get("evidence_end")
    spans: tuple[tuple[int, int], ...] = ()
    if start is not None or end is not None:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise DatasetError(
                f"{where}: 'evidence_start'/'evidence_end' must be integers with "
                f"0 <= start <= end, got {start!r}, {end!r}"
            )
        spans = ((start, end),)
    doc_id = row.get("doc_id")
    if doc_id is not None and not isinstance(doc_id, str):
        raise DatasetError(f"{where}: 'doc_id' must be a string, got {doc_id!r}")
    page = row.get("page")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
        raise DatasetError(f"{where}: 'page' must be a positive integer or null, got {page!r}")
    kind = row.get("type") or UNTYPED
    if not isinstance(kind, str):
        raise DatasetError(f"{where}: 'type' must be a string, got {kind!r}")
    return EvalExample(
        id=str(row["id"]),
        question=question,
        answers=_strings(row["answers"], "answers", where),
        type=kind,
        history=_strings(row.get("history"), "history", where),
        doc_id=doc_id,
        evidence=evidence,
        evidence_spans=spans,
        page=page,
    )


def _read_squad(path: Path) -> list[dict]:
    _check_exists(path)
    try:
        with path.open(encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise DatasetError(f"{path}: not SQuAD format (expected an object with a 'data' list)")
    return articles


def squad_paragraphs(path: Path):
    """Yield ``(where, article title, paragraph dict, position)`` for every paragraph of a
    SQuAD-format file. Raises ``FileNotFoundError`` or :class:`DatasetError` (a ``ValueError``)."""
    for a, article in enumerate(_read_squad(path)):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DatasetError(f"{path}: data[{a}] has no 'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise DatasetError(f"{where}: missing 'context' string")
            if not isinstance(paragraph.get("qas", []), list):
                raise DatasetError(f"{where}: 'qas' must be a list")
            yield where, str(article.get("title") or ""), paragraph, f"{a}-{p}"


def squad_documents(path: str | Path) -> list[Document]:
    """One :class:`~qa.documents.Document` per distinct paragraph of a SQuAD-format file.

    id = :func:`document_id` of the context, path ``"<file name>#<paragraph id>"``
    (or ``#<article>-<paragraph>`` positions when the paragraph has no id), title =
    the article title, text = the context, body = the whole text. A context that
    occurs twice is one document.
    """
    path = Path(path)
    documents: dict[str, Document] = {}
    for _where, title, paragraph, position in squad_paragraphs(path):
        context = paragraph["context"]
        doc_id = document_id(context)
        if doc_id not in documents:
            documents[doc_id] = Document(
                id=doc_id,
                path=f"{path.name}#{paragraph.get('id') or position}",
                title=title,
                text=context,
                body_start=0,
                body_end=len(context),
            )
    return list(documents.values())


def load_squad(path: str | Path) -> list[EvalExample]:
    """Every question of a SQuAD-format file, its paragraph as ``doc_id``.

    Raises :class:`DatasetError` for a missing field or a repeated question id.
    """
    path = Path(path)
    examples: list[EvalExample] = []
    seen: set[str] = set()
    for where, _title, paragraph, _position in squad_paragraphs(path):
        context = paragraph["context"]
        doc_id = document_id(context)
        for q, qa in enumerate(paragraph.get("qas", [])):
            here = f"{where}.qas[{q}]"
            if not isinstance(qa, dict):
                raise DatasetError(f"{here}: expected an object")
            qid = qa.get("id", qa.get("query_id"))
            if qid is None or not isinstance(qa.get("question"), str):
                raise DatasetError(f"{here}: missing 'id' or 'question'")
            qid = str(qid)
            if qid in seen:
                raise DatasetError(f"{here}: question id {qid!r} repeated")
            seen.add(qid)
            answers, spans = _squad_answers(qa, context, here)
            examples.append(
                EvalExample(
                    id=qid,
                    question=qa["question"],
                    answers=answers,
                    type=SQUAD_ANSWERABLE if answers else SQUAD_UNANSWERABLE,
                    doc_id=doc_id,
                    answer_spans=spans,
                )
            )
    if not examples:
        raise DatasetError(f"{path}: no questions found")
    return examples


def _squad_answers(
    qa: dict, context: str, where: str
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    if qa.get("is_impossible"):
        return (), ()
    raw = qa.get("answers")
    if not isinstance(raw, list):
        raise DatasetError(f"{where}: 'answers' must be a list")
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    for answer in raw:
        text = answer.get("text") if isinstance(answer, dict) else answer
        if not isinstance(text, str):
            raise DatasetError(f"{where}: answer without 'text': {answer!r}")
        texts.append(text)
        start = answer.get("answer_start", -1) if isinstance(answer, dict) else -1
        if isinstance(start, int) and start >= 0 and context[start : start + len(text)] == text:
            span = (start, start + len(text))
            if text and span not in spans:
                spans.append(span)
    return tuple(texts), tuple(spans)
