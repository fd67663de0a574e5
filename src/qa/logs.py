"""Logging set-up shared by the command line and the app (never run on import).

jieba logs its dictionary loading at DEBUG through its own handler, and bm25s
sets its logger to DEBUG *when it is imported* (``Building index from tokens``),
which happens lazily, after start-up; the user-facing entry points show warnings only.
"""

from __future__ import annotations

import logging


def _warnings_and_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def quiet_libraries() -> None:
    """Show only warnings from jieba and bm25s.

    bm25s's level is set here and also guarded by a filter on its logger, which
    its import-time ``setLevel(logging.DEBUG)`` does not remove.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    bm25s_log = logging.getLogger("bm25s")
    bm25s_log.setLevel(logging.WARNING)
    if _warnings_and_above not in bm25s_log.filters:
        bm25s_log.addFilter(_warnings_and_above)
