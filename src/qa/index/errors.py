"""Errors of the index store: :class:`IndexStoreError` and its kinds, each ending with how to rebuild."""

from __future__ import annotations

import os
from pathlib import Path


class IndexStoreError(Exception):
    """Base class: the index on disk is missing, damaged or built for something else.

    Every message ends with how to rebuild (``qa index build --index DIR``).
    """

    def __init__(self, message: str, directory: str | os.PathLike | None = None,
                 hint: str | None = None):
        self.directory = None if directory is None else Path(directory)
        if hint is None and directory is not None:
            hint = rebuild_hint(directory)
        super().__init__(f"{message}; {hint}" if hint else message)


class IndexNotFoundError(IndexStoreError):
    """No ``manifest.json`` in the directory (never built, or wrong ``--index``)."""


class IndexCorruptError(IndexStoreError):
    """Manifest unreadable, a referenced file missing or unreadable, or counts disagree."""


class IndexMismatchError(IndexStoreError):
    """Built with another model (name, fingerprint or dimension) or an unsupported format."""


class IndexLockError(IndexStoreError):
    """Another process kept the index's write lock longer than the timeout."""


def rebuild_hint(directory: str | os.PathLike, model: str | None = None) -> str:
    """The sentence appended to every :class:`IndexStoreError` message."""
    flag = f" --model {model}" if model else ""
    return f"rebuild it with `qa index build --index {directory}{flag}`"
