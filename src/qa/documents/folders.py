"""Reading files and folders (walked recursively) with a report of the files skipped."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.documents import (
    LEGACY_SUFFIXES,
    SKIPPED_NAMES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    load_document,
)

logger = logging.getLogger("qa.documents")


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
