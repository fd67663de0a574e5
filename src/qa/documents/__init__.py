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

import codecs
import errno
import hashlib
import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

#: File suffixes :func:`load_document` reads (lower case).
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
#: Legacy binary office formats: tried in folders too, so they are reported with how to convert them.
LEGACY_SUFFIXES = (".doc", ".wps")
#: Characters treated as spaces around and between Chinese text (ASCII space,
#: tab, ideographic space U+3000 used for indentation, no-break space).
SPACE = " \t\u3000\xa0"
#: File names skipped when a *directory* is walked: a README describes the
#: folder, it is not one of its documents (an explicit file path is always read).
SKIPPED_NAMES = re.compile(r"(?i)^(readme|license|licence|changelog)(\.[a-z]+)?$")


class DocumentError(Exception):
    """A file that cannot be read as a document (missing, unsupported, empty, binary).

    ``str(error)`` is ``"<path>: <reason>"``; :attr:`path` and :attr:`reason` hold
    the two parts (``path`` is ``""`` when the error is not about one file).
    """

    def __init__(self, message: str, path: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason or message

    @classmethod
    def at(cls, path: str | Path, reason: str) -> DocumentError:
        """The error for file ``path``: message ``"<path>: <reason>"``."""
        return cls(f"{path}: {reason}", str(path), reason)


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
        _printed_front_matter(text, metadata, extra.pop("pdf_title", ""))
        body_end = _footer_start(text, body_start, len(text))
    elif suffix in (".html", ".htm"):
        raw, encoding = decode_bytes(data, source=str(p))
        text, metadata = html_to_text(raw)
        # the first line is the title; a page with nothing after it has no body
        body_start = (text.find("\n") + 1 or len(text)) if metadata.get("title") else 0
        body_end = _footer_start(text, body_start, len(text))
    else:
        raw, encoding = decode_bytes(data, source=str(p))
        text = normalize_text(raw)
        if suffix == ".md":
            metadata, body_start = _markdown_header(text)
        else:
            metadata, body_start = parse_header(text)
        body_end = _footer_start(text, body_start, len(text))
    if not any(_is_visible(ch) for ch in text):
        found = sorted({f"U+{ord(ch):04X}" for ch in text if not ch.isascii()})
        raise DocumentError.at(
            p, "no visible text, only white space" + (f" and invisible characters ({', '.join(found[:6])})" if found else "")
        )
    if not _has_content(text, body_start, body_end):
        raise DocumentError.at(p, "no body text after removing metadata and boilerplate")
    metadata = {"format": suffix.lstrip("."), "encoding": encoding, **extra, **metadata}
    title = _visible_strip(metadata.get("title", "")) or _first_line(text, body_start, body_end) or p.stem
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


#: Words a document title ends with (公报, 通知, 预算 …).
_DOC_TYPE_END = re.compile(
    r"(?:公报|报告|预算|决算|通知|意见|方案|规划|计划|办法|决定|公告|通告|批复|纪要|要点|总结|条例|规定|细则|"
    r"(?:公报|报告)[（(]?(?:节选|摘要)[)）]?)$"
)
_TITLE_LINES = 12


def _printed_front_matter(text: str, metadata: dict[str, str], declared: str = "") -> None:
    """Title, issuer and date printed at the top of a PDF/DOCX text, into ``metadata``.

    The title is :func:`document_title`, else the PDF's declared ``/Title``
    (``declared``), else what :func:`parse_header` found. The issuer
    (``publisher``) and ``date`` come from the lines after the title (or the
    first lines when the title is not printed): a short line ending like an
    organisation (``…统计局``, ``…调查队``) and a date line (``2017年3月16日``).
    """
    title, after = document_title_at(text)
    if not title and declared:
        title, after = declared, 0
    if title:
        metadata["title"] = title
    else:
        return
    for line in iter_lines(text)[after : after + 4]:
        s = re.sub(r"^[\u4e00-\u9fff]{2,8}[：:]\s*", "", line.text)  # 预算主管部门：…
        if "date" not in metadata and len(s) <= 20 and (date := iso_date(s)):
            metadata["date"] = date
        elif ("publisher" not in metadata and len(s) <= 40 and "。" not in s
              and _ORG_SUFFIX.search(s.split()[-1])):
            metadata["publisher"] = s


def document_title(text: str) -> str:
    """The title printed near the top of an extracted PDF/DOCX text (see
    :func:`document_title_at`), or '' when none."""
    return document_title_at(text)[0]


def document_title_at(text: str) -> tuple[str, int]:
    """The title printed near the top of an extracted PDF/DOCX text, or '' when none.

    The first of the top lines ending with a document-type word (``…统计公报``,
    ``…的通知``, ``…部门预算``); a short line just above it that is part of the
    title (no sentence punctuation, no document number ``〔2019〕``, no date, not a
    ``文件`` red-header line) is put in front of it: a title printed over two lines
    (``黔东南苗族侗族自治州`` / ``2016年国民经济和社会发展统计公报``).

    Returns:
        ``(title, next_line)``: the title and the index (among the non-blank lines)
        of the line after it; ``("", 0)`` when there is none.
    """
    lines = iter_lines(text)[:_TITLE_LINES]
    for k, line in enumerate(lines):
        s = re.sub(r"(?<=[\u4e00-\u9fff])[ \u3000]+(?=[\u4e00-\u9fff])", "", line.text)
        if len(s) > 60 or "。" in s or not _DOC_TYPE_END.search(s):
            continue
        if k:
            above = lines[k - 1].text
            if (len(above) + len(s) <= 60 and not re.search(r"[。，：:；〔\[]|文件$|\d+年\d+月", above)
                    and not _ORG_SUFFIX.search(above)):
                s = above + s
        return s, k + 1
    return "", 0


def _os_error_reason(exc: OSError, path: Path) -> str:
    """A short reason for an ``OSError`` met reading ``path``, naming symbolic-link faults."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link never reaches a file)"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return exc.strerror or str(exc)


def _is_visible(ch: str) -> bool:
    """A letter, number, punctuation mark or symbol (not white space, a control or a
    format character such as U+200B or U+FEFF)."""
    return unicodedata.category(ch)[0] in "LNPS"


def _visible_strip(s: str) -> str:
    """``s`` without leading and trailing invisible characters (see :func:`_is_visible`)."""
    start, end = 0, len(s)
    while start < end and not _is_visible(s[start]):
        start += 1
    while end > start and not _is_visible(s[end - 1]):
        end -= 1
    return s[start:end]


def _has_content(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds a visible character outside boilerplate lines."""
    pos = start
    for b_start, b_end in [*boilerplate_spans(text, start, end), (end, end)]:
        if any(_is_visible(ch) for ch in text[pos:b_start]):
            return True
        pos = max(pos, b_end)
    return False


def load_documents(paths: str | Path | Iterable[str | Path], strict: bool = True) -> list[Document]:
    """Load files and directories (walked recursively) into documents.

    Files are taken in sorted path order within each directory; inside a
    directory only :data:`SUPPORTED_SUFFIXES` are read and hidden files and
    :data:`SKIPPED_NAMES` (README, LICENSE …) are skipped. A document whose id
    (content hash) was already loaded is dropped, so the same file given twice
    is one document.

    Args:
        paths: one path or an iterable of paths.
        strict: when true (default) the first unreadable file raises; when false
            it is skipped with a logged warning (:func:`read_documents` returns the
            skipped files instead).

    Raises:
        DocumentError: a path does not exist, or (``strict``) a file cannot be read.
    """
    return read_documents(paths, strict=strict).documents


@dataclass(frozen=True)
class SkippedFile:
    """A file :func:`read_documents` could not read: its path and why (one line)."""

    path: str
    reason: str


@dataclass
class LoadReport:
    """What :func:`read_documents` read.

    Attributes:
        documents: the documents read, one per distinct content (first file wins).
        skipped: the files that could not be read, in the order met.
        files: how many files were tried (read, duplicate or skipped).
        other_types: files of unsupported types found in the directories walked, by
            suffix (``{".pdf": 4}``), most frequent first; not tried, not in ``files``.
    """

    documents: list[Document]
    skipped: list[SkippedFile]
    files: int
    other_types: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> int:
        """Files read (a file whose content duplicates another's counts as read)."""
        return self.files - len(self.skipped)

    def summary(self, verb: str = "read", limit: int = 5) -> str:
        """One line: ``indexed 2,046 of 2,058 files; 12 skipped: a.txt (why), …``.

        ``verb`` starts the line; at most ``limit`` skipped files are named (by file
        name), then ``…``. Without skipped files: ``read 3 of 3 files``. Files of
        unsupported types end it: ``; not read (unsupported types): 4 .pdf, 3 .docx``.
        """
        line = f"{verb} {self.read:,} of {self.files:,} files"
        if self.skipped:
            named = ", ".join(f"{Path(s.path).name} ({s.reason})" for s in self.skipped[:limit])
            more = ", …" if len(self.skipped) > limit else ""
            line += f"; {len(self.skipped):,} skipped: {named}{more}"
        if self.other_types:
            types = ", ".join(f"{n:,} {suffix}" for suffix, n in self.other_types.items())
            line += f"; not read (unsupported types): {types}"
        return line


def read_documents(
    paths: str | Path | Iterable[str | Path],
    *,
    strict: bool = False,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> LoadReport:
    """Load files and directories like :func:`load_documents`, skipping unreadable files.

    Each file that cannot be read (unsupported type named explicitly, empty, binary,
    undecodable, no body text, a symbolic-link loop or broken link, no permission)
    becomes a :class:`SkippedFile` with the reason from its :class:`DocumentError`;
    ``on_skip`` is called with it as soon as it is met (to print progress), and the
    remaining files are still read. Inside a directory, symbolic links with a
    supported suffix that lead nowhere are reported rather than passed over.

    Args:
        paths: one path or an iterable of paths (files or directories).
        strict: raise the first file's :class:`DocumentError` instead of skipping.
        on_skip: called once per skipped file (default: a logged warning).

    Returns:
        a :class:`LoadReport` (documents, skipped files, files tried).

    Raises:
        DocumentError: a given path does not exist at all (a usage error, raised
            before any file is read), or (``strict``) a file cannot be read.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    other: Counter = Counter()
    files = _expand(paths, other)
    docs: dict[str, Document] = {}
    skipped: list[SkippedFile] = []
    for file in files:
        try:
            doc = load_document(file)
        except DocumentError as exc:
            if strict:
                raise
            entry = SkippedFile(exc.path or str(file), exc.reason)
            skipped.append(entry)
            if on_skip is None:
                logger.warning("skipped %s: %s", entry.path, entry.reason)
            else:
                on_skip(entry)
            continue
        docs.setdefault(doc.id, doc)
    return LoadReport(list(docs.values()), skipped, len(files), dict(other.most_common()))


def _expand(paths: Iterable[str | Path], other: Counter | None = None) -> list[Path]:
    """The files to read under ``paths``; other files met in directories (unsupported
    types, not hidden ones or :data:`SKIPPED_NAMES`) are counted by suffix in ``other``."""
    files: list[Path] = []
    for path in paths:
        p = Path(path).expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not (f.is_file() or (f.is_symlink() and not f.exists())):  # a dead link is reported
                    continue
                if any(part.startswith(".") for part in f.relative_to(p).parts) or SKIPPED_NAMES.match(f.name):
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES + LEGACY_SUFFIXES:
                    files.append(f)
                elif other is not None:
                    other[f.suffix.lower() or "(no suffix)"] += 1
        elif p.exists() or p.is_symlink():
            files.append(p)
        else:
            raise DocumentError.at(p, "no such file or directory")
    return files


# --------------------------------------------------------------------------- decoding

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Encodings charset-normalizer may report for simplified Chinese; all are
#: decoded as GB18030, their superset (GB 18030-2005).
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz", "euc_cn", "ms936"}
#: A decoded text with more control characters than this share (and more than
#: four) is taken for a binary file.
_MAX_CONTROL_RATIO = 0.05


def decode_bytes(data: bytes, source: str = "<bytes>") -> tuple[str, str]:
    """Decode a file's bytes; return ``(text, encoding name)``.

    Order: a byte-order mark (UTF-8/16/32) decides; else NUL bytes at alternate
    offsets mean UTF-16 without a BOM (little- or big-endian by where they fall);
    else strict UTF-8; else the best guess of charset-normalizer, where any
    GB2312/GBK guess is decoded as GB18030 (a superset). The BOM is not part of
    the text.

    Raises:
        DocumentError: empty data; NUL bytes that are not BOM-less UTF-16 of
            Chinese or ASCII text (the message says what reading it so gave); no
            encoding detected;
            or a decoded text with more than 5 % control characters (all signs of
            a binary file).
    """
    if not data.strip():
        raise DocumentError.at(source, f"empty file ({len(data)} bytes, no text)")
    encoding = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    if encoding is None and b"\x00" in data:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise DocumentError.at(source, "binary file (contains NUL bytes), not a text document")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DocumentError.at(
                source,
                f"binary file (contains NUL bytes; read as {encoding.upper()} without a byte-order "
                f"mark: {exc.reason} at byte {exc.start}), not a text document",
            ) from exc
        if _common_share(text) < 0.8:
            raise DocumentError.at(
                source,
                f"binary file (contains NUL bytes; read as {encoding.upper()} without a byte-order "
                f"mark it is not Chinese or ASCII text), not a text document",
            )
    elif encoding is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text = None
        if text is None:
            import charset_normalizer

            best = charset_normalizer.from_bytes(data).best()
            if best is None:
                raise DocumentError.at(
                    source, "cannot detect a text encoding (binary file or unknown encoding)"
                )
            encoding = best.encoding.lower()
            if encoding in _GB_FAMILY:
                encoding = "gb18030"
    else:
        text = None
    if text is None:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DocumentError.at(source, f"cannot decode as {encoding}: {exc}") from exc
    text = text.lstrip("\ufeff")
    controls = sum(1 for ch in text if _is_control(ch) and ch not in "\t\n\r\f")
    if controls > max(4, _MAX_CONTROL_RATIO * len(text)):
        raise DocumentError.at(
            source, f"binary file ({controls} control characters in {len(text)}), not a text document"
        )
    return text, encoding


def _common_share(text: str) -> float:
    """Share of ``text``'s characters that are ASCII, CJK (U+2E80–U+9FFF), general
    punctuation (U+2000–U+206F) or full-width forms (U+FF00–U+FFEF); random bytes
    read as UTF-16 score about 0.45, Chinese text about 1."""
    common = sum(1 for ch in text if ch < "\x80" or "\u2e80" <= ch <= "\u9fff"
                 or "\u2000" <= ch <= "\u206f" or "\uff00" <= ch <= "\uffef")
    return common / max(1, len(text))


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` when ``data`` looks like UTF-16 without a BOM.

    UTF-16 text has an even length, and the NUL bytes of its ASCII characters (line
    breaks, digits, Latin letters) fall on odd offsets (little-endian) or on even ones
    (big-endian); a binary file's NUL bytes fall on both. At least 75 % on one side
    counts (CJK characters U+xx00 such as 一 add NUL bytes on the other side), provided the NUL bytes are many (at least 5 % of the 2-byte units) or the
    bytes without them are not UTF-8: a few stray NUL bytes in a UTF-8 file are not
    UTF-16. Returns None otherwise.
    """
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if odd >= 0.75 * (even + odd):
        encoding = "utf-16-le"
    elif even >= 0.75 * (even + odd):
        encoding = "utf-16-be"
    else:
        return None
    if even + odd >= 0.05 * len(data) / 2:
        return encoding
    try:
        data.replace(b"\x00", b"").decode("utf-8")
    except UnicodeDecodeError:
        return encoding
    return None


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o < 0xA0


_LINE_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROL_MAP = {
    o: ("\n" if chr(o) in _LINE_BREAKS else " ")
    for o in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
    if chr(o) not in "\t\n"
}


def normalize_text(text: str) -> str:
    """Canonical text of a plain file: ``\\r\\n`` → ``\\n``; other controls keep the length.

    Line-like controls (lone ``\\r``, ``\\v``, ``\\f``, U+001C–U+001E, U+0085,
    U+2028, U+2029) become ``\\n``; the remaining C0/C1 controls except ``\\t``
    become a space. Only the CRLF step changes the length.
    """
    return text.replace("\r\n", "\n").translate(_CONTROL_MAP)


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class Line:
    """A non-blank line of a text with surrounding :data:`SPACE` removed.

    ``start``/``end`` are character offsets of the stripped content (half-open).
    """

    start: int
    end: int
    text: str


def iter_lines(text: str, start: int = 0, end: int | None = None) -> list[Line]:
    """Non-blank lines of ``text[start:end]``, each stripped of :data:`SPACE`."""
    end = len(text) if end is None else end
    out: list[Line] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        s, e = pos, stop
        while s < e and text[s] in SPACE:
            s += 1
        while e > s and text[e - 1] in SPACE:
            e -= 1
        if s < e:
            out.append(Line(s, e, text[s:e]))
        pos = stop + 1
    return out


def _first_line(text: str, start: int, end: int, limit: int = 60) -> str:
    """The first line of ``text[start:end]`` with a visible character, trimmed, at most ``limit`` long."""
    for line in iter_lines(text, start, end):
        visible = _visible_strip(line.text)
        if visible:
            return visible[:limit]
    return ""


# --------------------------------------------------------------------------- header metadata

#: Chinese metadata labels (government portals, prepended export blocks) and
#: the :attr:`Document.metadata` key each one fills.
KEY_ALIASES = {
    "标题": "title",
    "文章标题": "title",
    "题名": "title",
    "名称": "title",
    "发布机构": "publisher",
    "发文单位": "publisher",
    "发文机关": "publisher",
    "发布单位": "publisher",
    "发布日期": "date",
    "发布时间": "date",
    "发文时间": "date",
    "发文日期": "date",
    "成文日期": "date_written",
    "生成日期": "created",
    "索引号": "index_number",
    "文号": "document_number",
    "发文字号": "document_number",
    "信息来源": "source",
    "来源": "source",
    "来源URL": "source_url",
    "来源网址": "source_url",
    "原文链接": "source_url",
    "报告人": "speaker",
    "组配分类": "category",
    "主题分类": "topic",
    "体裁分类": "genre",
    "公开方式": "disclosure",
    "公开范围": "scope",
    "正文": "",  # marks the end of a prepended block
}
_DATE_KEYS = ("date", "date_written", "created")
_DATE = re.compile(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})")
_LABEL = "|".join(sorted(map(re.escape, KEY_ALIASES), key=len, reverse=True))
_KEY_LINE = re.compile(rf"^({_LABEL})\s*[:：]\s*(.*)$")
_INLINE_KEYS = re.compile(rf"({_LABEL})\s*[:：]\s*")
_MAX_CELL = 100
#: A dateline under a report title: ``——2019年3月4日在…会议上`` (dashes of any
#: kind optional, parentheses optional) or a bare date line ``2024年4月30日``.
_DATELINE = re.compile(
    r"^[-—―─－~～]*\s*[（(]?\s*(\d{4}年\d{1,2}月\d{1,2}日)\s*(在.{2,80}?上)?\s*[)）]?$"
)
_ROLE = "代?(?:省长|市长|区长|县长|州长|旗长|镇长|乡长|主任|主席|书记)"
#: A speaker line: ``海拉尔区人民政府区长　　杜联合``.
_SPEAKER = re.compile(
    rf"^(.{{2,30}}?(?:人民政府|政府|委员会|办事处))[{SPACE}]*({_ROLE})[{SPACE}]*([\u4e00-\u9fff·]{{2,5}})$"
)
_ORG_SUFFIX = re.compile(r"(?:局|队|政府|委员会|委|办公室|办事处|街道|中心|厅|部|院|所|会)$")
_SPACED_TITLE = re.compile(rf"(?:[\u4e00-\u9fff][{SPACE}]+){{2,}}[\u4e00-\u9fff]")
_FOOTNOTE_TAIL = re.compile(r"(?:[①-⑳]|\^?\[\d{1,3}\]|\*)+$")
_TITLE_STOP = "。！？；，,;：:"
_HEADING_START = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、](?!\d)|第[一二三四五六七八九十\d]+[章节])"
)


def iso_date(value: str) -> str:
    """``YYYY-MM-DD`` for the first date in ``value`` (``2024-03-21 11:04``, ``2018年1月31日``), or ``""``."""
    m = _DATE.search(value)
    if not m:
        return ""
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return ""
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _put(meta: dict[str, str], label: str, value: str) -> None:
    """Store one ``label: value`` pair (first value wins; dates become ISO; unknown dates dropped)."""
    value = value.strip(SPACE + "|")
    key = KEY_ALIASES.get(label, label)
    if not key or not value or key in meta:
        return
    if key in _DATE_KEYS:
        iso = iso_date(value)
        if not iso:
            return
        if key == "date" and re.search(r"\d{1,2}:\d{2}", value):
            meta.setdefault("datetime", value)
        value = iso
    meta[key] = value


def _inline_pairs(cell: str) -> list[tuple[str, str]]:
    """``发布日期: 2024-03-21 11:04 信息来源: 东柳街道`` → label/value pairs (empty if none at 0)."""
    found = list(_INLINE_KEYS.finditer(cell))
    if not found or found[0].start() != 0:
        return []
    return [
        (m.group(1), cell[m.end() : found[k + 1].start() if k + 1 < len(found) else len(cell)])
        for k, m in enumerate(found)
    ]


def _portal_row(line: str) -> list[str] | None:
    """Cells of a portal table row (``索引号 | K1605… | |``), or None for a non-row line."""
    if "|" not in line:
        return None
    cells = [c.strip(SPACE) for c in line.split("|")]
    cells = [c for c in cells if c]
    if not cells or any(len(c) > _MAX_CELL for c in cells):
        return None
    return cells


def _is_label(cell: str) -> bool:
    return cell in KEY_ALIASES or bool(re.fullmatch(r"[\u4e00-\u9fff]{2,8}", cell))


def parse_header(text: str) -> tuple[dict[str, str], int]:
    """Metadata of a plain-text document and the offset where its body starts.

    Reads, from the top, in this order (each part optional):

    1. a prepended ``标题：… / 发文单位：… / 发文时间：… / 来源URL：… / 正文：``
       block (research exports of news-site pages);
    2. a government-portal table header: rows ``索引号 | … |``, ``发布机构 | … |``,
       a title row ``… |`` and ``发布日期: … 信息来源: … |``;
    3. front matter: a title line (a spaced-out ``政 府 工 作 报 告`` is
       closed up; a trailing footnote marker is dropped), a dateline
       ``——2019年3月4日在…会议上``, a speaker line ``…人民政府区长 某某``,
       issuer lines (``洛阳市统计局``) and a date line.

    The title gets the dateline's meeting in parentheses, as printed on the
    cover of a work report: ``政府工作报告（2018年3月7日在…会议上）``.

    Returns:
        ``(metadata, body_start)``: keys ``title``, ``publisher``, ``date`` (ISO),
        ``index_number``, ``speaker``, ``meeting`` … where found; ``body_start``
        is a character offset into ``text`` (0 when there is no header).
    """
    lines = iter_lines(text)
    meta: dict[str, str] = {}
    i = _key_block(lines, meta)
    i = _portal_table(lines, i, meta)
    i = _front_matter(lines, i, meta)
    title = _FOOTNOTE_TAIL.sub("", meta.get("title", "")).strip(SPACE)
    if title and meta.get("meeting") and "（" not in title and "(" not in title:
        title = f"{title}（{meta['meeting']}）"
    if title:
        meta["title"] = title
    if "publisher" not in meta:
        for key in ("issuer", "speaker_org"):
            if meta.get(key):
                meta["publisher"] = meta[key]
                break
    body_start = lines[i].start if i < len(lines) else len(text)
    return meta, (body_start if i else 0)


def _key_block(lines: list[Line], meta: dict[str, str]) -> int:
    """Consume a prepended ``标题：…`` … ``正文：`` block; return the next line index.

    At least two label lines (or one followed by ``正文：``) make a block; a lone
    ``来源：…`` line is left to the body.
    """
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _KEY_LINE.match(lines[i].text)
        if not m:
            break
        label, value = m.groups()
        if label == "正文":
            # body text on the same line as 正文： stays in the body
            i = i if value.strip(SPACE) else i + 1
            break
        _put(found, label, value)
        i += 1
    if i < 2:
        return 0
    for key, value in found.items():
        meta.setdefault(key, value)
    return i


def _portal_table(lines: list[Line], i: int, meta: dict[str, str]) -> int:
    """Consume government-portal table rows from ``lines[i]``; return the next index.

    At least two rows make a table; a single ``… |`` line is left to the body.
    """
    found: dict[str, str] = {}
    start = i
    while i < len(lines):
        cells = _portal_row(lines[i].text)
        if cells is None:
            break
        if len(cells) == 1:
            pairs = _inline_pairs(cells[0])
            for label, value in pairs:
                _put(found, label, value)
            if not pairs:
                found.setdefault("title", cells[0])
        else:
            for k in range(0, len(cells) - 1, 2):
                if _is_label(cells[k]):
                    _put(found, cells[k], cells[k + 1])
        i += 1
    if i - start < 2:
        return start
    for key, value in found.items():
        meta.setdefault(key, value)
    return i


def _front_matter(lines: list[Line], i: int, meta: dict[str, str]) -> int:
    """Consume title / dateline / speaker / issuer / date lines from ``lines[i]``."""
    first = i
    issuers: list[str] = []
    while i < len(lines):
        s = lines[i].text
        dateline = _DATELINE.match(s)
        speaker = _SPEAKER.match(s)
        if dateline:
            _put(meta, "date", dateline.group(1))
            if dateline.group(2):
                meta.setdefault("meeting", f"{dateline.group(1)}{dateline.group(2)}")
        elif speaker:
            meta.setdefault("speaker_org", speaker.group(1))
            meta.setdefault("speaker", f"{speaker.group(2)} {speaker.group(3)}")
        elif i == first and _is_title_line(s):
            title = re.sub(f"[{SPACE}]+", "", s) if _SPACED_TITLE.fullmatch(s) else s
            meta.setdefault("title", title)
        elif i > first and len(s) <= 30 and _ORG_SUFFIX.search(s) and not _has_stop(s):
            issuers.append(s)
        else:
            break
        i += 1
    if issuers:
        meta.setdefault("issuer", "、".join(issuers))
    return i


def _has_stop(s: str) -> bool:
    return any(ch in _TITLE_STOP for ch in s)


def _is_title_line(s: str) -> bool:
    """A short first line that is not a sentence, heading or salutation."""
    return (
        len(s) <= 80
        and s[-1] not in _TITLE_STOP + "。"
        and "。" not in s
        and not _HEADING_START.match(s)
    )


def _markdown_header(text: str) -> tuple[dict[str, str], int]:
    """Metadata of a Markdown file: a ``---`` YAML-style front matter, else the first ``#`` heading."""
    meta: dict[str, str] = {}
    body_start = 0
    m = re.match(r"---\n(.*?)\n---[ \t]*(?:\n|$)", text, re.S)
    if m:
        for line in m.group(1).split("\n"):
            key, sep, value = line.partition(":")
            value = value.strip().strip("\"'")
            if sep and value:
                key = key.strip().lower()
                key = {"author": "publisher"}.get(key, KEY_ALIASES.get(key, key))
                if key in _DATE_KEYS:
                    value = iso_date(value) or value
                meta.setdefault(key, value)
        body_start = m.end()
    if "title" not in meta:
        h = re.search(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", text[body_start:], re.M)
        if h:
            meta["title"] = h.group(1).strip()
    return meta, body_start


# --------------------------------------------------------------------------- boilerplate

_BRACKETS = r"\s|【】\[\]()（）<>《》·•"
#: Footer lines of portal pages: ``【打印本页】 【关闭窗口】 |`` and the like.
_FOOTER_LINE = re.compile(
    rf"^[{_BRACKETS}]*(?:(?:打印本页|关闭窗口|返回顶部|收藏本页|加入收藏|打印|关闭|分享到|字体)"
    rf"[{_BRACKETS}：:大中小]*)+$"
)
#: News-site editor lines ``（责任编辑：石兰兰）``.
_EDITOR_LINE = re.compile(
    r"^[（(]?\s*(?:责任编辑|编辑|责编|审核|校对|来源)\s*[：:].{0,30}?[)）]?\s*\|?$"
)
_RUNNING_MAX = 40
_RUNNING_MIN_REPEATS = 3


def is_boilerplate_line(line: str) -> bool:
    """A footer (``【打印本页】 【关闭窗口】``) or editor (``（责任编辑：…）``) line."""
    return bool(_FOOTER_LINE.match(line) or _EDITOR_LINE.match(line))


def _footer_start(text: str, start: int, end: int) -> int:
    """End of the body: trailing footer/editor lines and a trailing table bar ``|`` removed."""
    lines = iter_lines(text, start, end)
    while lines and is_boilerplate_line(lines[-1].text):
        lines.pop()
    if not lines:
        return start  # nothing but boilerplate: an empty body
    e = lines[-1].end
    while e > lines[-1].start and text[e - 1] in SPACE + "|":
        e -= 1
    return e


def boilerplate_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Lines inside ``text[start:end]`` that are not content; the chunker skips them.

    A line is boilerplate when it is a footer or editor line
    (:func:`is_boilerplate_line`), or a *running header*: a short line (at most
    40 characters, not a numbered heading) repeated at least three times, such
    as a bulletin title left over from page headers and chart captions.

    Returns:
        sorted ``(start, end)`` character spans of the stripped lines (half-open).
    """
    lines = iter_lines(text, start, end)
    counts = Counter(ln.text for ln in lines if len(ln.text) <= _RUNNING_MAX)
    return [
        (ln.start, ln.end)
        for ln in lines
        if is_boilerplate_line(ln.text)
        or (
            counts.get(ln.text, 0) >= _RUNNING_MIN_REPEATS
            and not _HEADING_START.match(ln.text)
            and not _DATE.fullmatch(ln.text)
        )
    ]


from qa.documents.html import html_to_text  # noqa: E402  (uses the helpers above)
