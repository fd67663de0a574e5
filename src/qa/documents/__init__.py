"""Read files (txt, md, html; UTF-8 or GBK/GB18030; PDF text layer; Word .docx) into :class:`Document` records.

Contract (other modules code against it):

    load_document(path) -> Document
    load_documents(paths, strict=True) -> list[Document]   # files and directories (recursive)
    read_documents(paths, strict=False, on_skip=None) -> LoadReport
        # the same, but unreadable files are skipped and listed (SkippedFile(path, reason))
    DocumentError(Exception)                                # unreadable / unsupported file;
                                                            # .path and .reason

Helpers used by :mod:`qa.chunking`: :func:`boilerplate_spans` (lines inside the
body that are not content, such as running page headers) and :data:`SPACE`.

This module holds :class:`Document` and :func:`load_document`; the jobs it calls on
live in their own modules, and every name is importable from here too:
:mod:`~qa.documents.decoding` (bytes to text), :mod:`~qa.documents.header`
(title, publisher, date at the top), :mod:`~qa.documents.boilerplate` (footers,
running headers), :mod:`~qa.documents.lines` (lines, visible characters),
:mod:`~qa.documents.folders` (walking folders, :class:`LoadReport` of skipped
files), :mod:`~qa.documents.errors`, and the format readers ``html``, ``pdf``,
``docx`` and ``tables``.

Canonical text. For ``.txt`` and ``.md`` the text is the decoded file with
``\\r\\n`` turned into ``\\n``; every other change keeps the length, so an offset
into the file's decoded characters stays valid after the first CRLF-free line:

* a lone ``\\r``, vertical tab, form feed, the information separators
  U+001C–U+001E, NEL (U+0085) and U+2028/U+2029 become ``\\n``;
* every other C0/C1 control character (and DEL) except ``\\t`` and ``\\n``
  becomes a space;
* a byte-order mark is consumed by the decoder and is not part of the text.

For HTML the text is the extracted article: the title on the first line, then
one line per block (paragraph, list item, heading) of the article body.

For PDF (:mod:`qa.documents.pdf`) and DOCX (:mod:`qa.documents.docx`) the text is
the project's own extraction: paragraphs re-joined, running headers, footers and
page numbers dropped, tables as one line per row (:mod:`qa.documents.tables`).
A PDF's page map is ``metadata["pages"]``: the character offset where each page
starts, comma-separated (:func:`page_starts`, :func:`page_of`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.documents.boilerplate import boilerplate_spans, footer_start, is_boilerplate_line
from qa.documents.decoding import _CONTROL_MAP, decode_bytes, normalize_text
from qa.documents.errors import DocumentError
from qa.documents.header import (
    KEY_ALIASES,
    document_title_at,
    iso_date,
    markdown_header,
    parse_header,
    printed_front_matter,
)
from qa.documents.html import html_to_text
from qa.documents.lines import SPACE, Line, first_line, is_visible, iter_lines, visible_strip

#: File suffixes :func:`load_document` reads (lower case).
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
#: Legacy binary office formats: tried in folders too, so they are reported with how to convert them.
LEGACY_SUFFIXES = (".doc", ".wps")
#: File names skipped when a *directory* is walked: a README describes the
#: folder, it is not one of its documents (an explicit file path is always read).
SKIPPED_NAMES = re.compile(r"(?i)^(readme|license|licence|changelog)(\.[a-z]+)?$")


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
            extracted article text; for PDF and DOCX the project's extraction
            (see the module docstring).
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


def page_starts(doc: Document) -> list[int]:
    """The character offset where each page of ``doc`` starts (``[]`` without a page map)."""
    raw = doc.metadata.get("pages", "")
    try:
        return [int(x) for x in raw.split(",")] if raw else []
    except ValueError:
        return []


def page_of(doc: Document, offset: int) -> int | None:
    """The page (1-based) holding character ``offset`` of ``doc.text``, or None when
    the document has no page map (text, HTML, DOCX)."""
    import bisect

    starts = page_starts(doc)
    if not starts:
        return None
    return max(1, bisect.bisect_right(starts, offset))


def document_id(text: str) -> str:
    """The id of a document whose canonical text is ``text``: 16 hex digits of SHA-256 (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- loading


def load_document(path: str | Path) -> Document:
    """Read one ``.txt``, ``.md``, ``.html``, ``.htm``, ``.pdf`` or ``.docx`` file into a :class:`Document`.

    Raises:
        DocumentError: the path is missing or unreadable (a symbolic-link loop or a
            broken link says so), the suffix is not one of :data:`SUPPORTED_SUFFIXES`,
            the file is empty, binary, in an encoding that cannot be detected, or holds
            no visible body text (white space, zero-width and format characters such as
            U+3000, U+2003, U+200B and U+FEFF do not count), or only headings (nothing
            the chunker would index); a PDF without a text layer (``no text layer:
            run OCR first, e.g. ocrmypdf``), encrypted or corrupt; a DOCX that is not
            one; a legacy ``.doc``/``.wps`` file (the reason gives the
            ``libreoffice --headless --convert-to docx`` command).
    """
    given = Path(path).expanduser()
    try:
        p = given.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError on a symlink loop
        p = Path(os.path.abspath(given))
    suffix = given.suffix.lower()  # the name the user gave (a link's own name)
    if suffix in LEGACY_SUFFIXES:
        raise DocumentError.at(
            p,
            f"legacy {suffix} file is not supported: convert it first, "
            f"e.g. libreoffice --headless --convert-to docx {given.name}",
        )
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError.at(
            p,
            f"unsupported file type {suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        shown = Path(os.path.abspath(given))  # a link's own path, not its missing target
        raise DocumentError.at(shown, f"cannot read file: {_os_error_reason(exc, given)}") from exc
    extra: dict[str, str] = {}
    if suffix in (".pdf", ".docx"):
        if not data:
            raise DocumentError.at(p, "empty file (0 bytes)")
        encoding = "binary"
        if suffix == ".pdf":
            from qa.documents.pdf import pdf_text

            raw, starts, extra = pdf_text(p, data)
            extra["pages"] = ",".join(map(str, starts))
        else:
            from qa.documents.docx import docx_text

            raw, extra = docx_text(p, data)
        text = raw.translate(_CONTROL_MAP)  # same length
        metadata, body_start = parse_header(text)
        printed_front_matter(text, metadata, extra.pop("pdf_title", ""))
        body_end = footer_start(text, body_start, len(text))
    elif suffix in (".html", ".htm"):
        raw, encoding = decode_bytes(data, source=str(p))
        text, metadata = html_to_text(raw)
        # the first line is the title; a page with nothing after it has no body
        body_start = (text.find("\n") + 1 or len(text)) if metadata.get("title") else 0
        body_end = footer_start(text, body_start, len(text))
    else:
        raw, encoding = decode_bytes(data, source=str(p))
        text = normalize_text(raw)
        if suffix == ".md":
            metadata, body_start = markdown_header(text)
        else:
            metadata, body_start = parse_header(text)
        body_end = footer_start(text, body_start, len(text))
    if not any(is_visible(ch) for ch in text):
        found = sorted({f"U+{ord(ch):04X}" for ch in text if not ch.isascii()})
        raise DocumentError.at(
            p, "no visible text, only white space" + (f" and invisible characters ({', '.join(found[:6])})" if found else "")
        )
    if not _has_content(text, body_start, body_end):
        raise DocumentError.at(p, "no body text after removing metadata and boilerplate")
    metadata = {"format": suffix.lstrip("."), "encoding": encoding, **extra, **metadata}
    title = visible_strip(metadata.get("title", "")) or first_line(text, body_start, body_end) or p.stem
    metadata["title"] = title
    doc = Document(
        id=document_id(text),
        path=str(p),
        title=title,
        text=text,
        metadata=metadata,
        body_start=body_start,
        body_end=body_end,
    )
    from qa.chunking import chunk_document  # imports this module

    if not chunk_document(doc, include_header=False):
        raise DocumentError.at(p, "no paragraphs to index (the body holds only headings)")
    return doc


def _os_error_reason(exc: OSError, path: Path) -> str:
    """A short reason for an ``OSError`` met reading ``path``, naming symbolic-link faults."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link never reaches a file)"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return exc.strerror or str(exc)


def _has_content(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds a visible character outside boilerplate lines."""
    pos = start
    for b_start, b_end in [*boilerplate_spans(text, start, end), (end, end)]:
        if any(is_visible(ch) for ch in text[pos:b_start]):
            return True
        pos = max(pos, b_end)
    return False


from qa.documents.folders import LoadReport, SkippedFile, load_documents, read_documents  # noqa: E402  (uses load_document)

__all__ = [
    "KEY_ALIASES",
    "LEGACY_SUFFIXES",
    "SKIPPED_NAMES",
    "SPACE",
    "SUPPORTED_SUFFIXES",
    "Document",
    "DocumentError",
    "Line",
    "LoadReport",
    "SkippedFile",
    "boilerplate_spans",
    "decode_bytes",
    "document_id",
    "document_title_at",
    "html_to_text",
    "is_boilerplate_line",
    "iso_date",
    "iter_lines",
    "load_document",
    "load_documents",
    "normalize_text",
    "page_of",
    "page_starts",
    "parse_header",
    "read_documents",
]
