"""Logging set-up shared by the command line and the app (never run on import).

jieba logs its dictionary loading at DEBUG through its own handler, and bm25s
sets its logger to DEBUG; the user-facing entry points show warnings only.
"""

from __future__ import annotations

import logging


def quiet_libraries() -> None:
    """Show only warnings from jieba and bm25s."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
