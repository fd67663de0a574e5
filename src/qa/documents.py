"""Read files (txt, md, html; UTF-8 or GBK/GB18030) into :class:`Document` records.

OWNER: documents helper. Contract (do not change without telling the lead):

    load_document(path) -> Document
    load_documents(paths) -> list[Document]      # files and directories (recursive)
    DocumentError(Exception)                     # unreadable / unsupported file
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One source document.

    Attributes:
        id: stable content hash: the first 16 hex digits of SHA-256 of ``text``
            (the same file added twice is one document; two files with the same
            name in different folders differ in content and so are two).
        path: the source path as a string (absolute).
        title: document title (from portal metadata, HTML ``<title>``/meta, or the
            first heading line).
        text: canonical text, the string every offset in the system indexes into
            (characters, half-open ``[start, end)``). For ``.txt``/``.md`` it is the
            decoded file with ``\\r\\n`` turned into ``\\n``; for HTML it is the
            extracted article text.
        metadata: parsed metadata: ``title``, ``publisher``, ``date`` (ISO
            ``YYYY-MM-DD``), ``index_number`` where present, plus anything else found.
        body_start, body_end: the span of ``text`` holding the body: header
            metadata lines before it and footer boilerplate (``【打印本页】`` …)
            after it are not chunked.
    """

    id: str
    path: str
    title: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)
    body_start: int = 0
    body_end: int = -1  # -1 means len(text)
