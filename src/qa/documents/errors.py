"""The error every document reader raises (:class:`DocumentError`)."""

from __future__ import annotations

from pathlib import Path


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
