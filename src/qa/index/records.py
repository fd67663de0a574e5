"""(De)serialisation of documents and chunks to the JSON records of the chunk store."""

from __future__ import annotations

from typing import Any

from qa.chunking import Chunk, Sentence
from qa.documents import Document


def document_to_dict(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "path": doc.path,
        "title": doc.title,
        "metadata": dict(doc.metadata),
        "body_start": doc.body_start,
        "body_end": doc.body_end,
        "text": doc.text,
    }


def document_from_dict(data: dict[str, Any]) -> Document:
    return Document(
        id=data["id"],
        path=data["path"],
        title=data["title"],
        text=data["text"],
        metadata=dict(data.get("metadata") or {}),
        body_start=int(data.get("body_start", 0)),
        body_end=int(data.get("body_end", -1)),
    )


def chunk_to_dict(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "start": chunk.start,
        "end": chunk.end,
        "section_path": list(chunk.section_path),
        "paragraph": chunk.paragraph,
        "sentences": [[s.start, s.end, s.text] for s in chunk.sentences],
        "text": chunk.text,
    }


def chunk_from_dict(data: dict[str, Any]) -> Chunk:
    return Chunk(
        id=data["id"],
        doc_id=data["doc_id"],
        start=int(data["start"]),
        end=int(data["end"]),
        text=data["text"],
        section_path=tuple(data["section_path"]),
        paragraph=int(data["paragraph"]),
        sentences=tuple(Sentence(int(s), int(e), t) for s, e, t in data["sentences"]),
    )


def _text_sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
