"""The qa web app: a thin Gradio layer over :class:`qa.pipeline.Assistant`.

Run ``python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--model NAME]``,
or ``python app.py --backend URL`` to answer through a ``qa serve`` API.
The app builds the model and the index when they are missing, warms the encoder
up, then serves on 127.0.0.1 (by default) and prints the address.

Every answer comes from ``Assistant.ask``; the app only wires widgets to it and
formats the result through :mod:`qa.render` (which escapes all text). The code lives
in the :mod:`qa.app` package (importing it first sets the environment gradio needs:
no analytics, no Hugging Face Hub traffic); this file is the entry point and keeps
the package's names reachable as ``app.<name>``.
"""

from __future__ import annotations

import sys

# Everything comes through qa.app, whose __init__ sets the environment before gradio loads.
from qa.app.handlers import (
    ALL_PERIODS,
    ERROR_MESSAGE,
    MAX_HISTORY,
    Handlers,
    Settings,
    chat_messages,
    chat_store,
    log,
    render,
)
from qa.app.layout import (
    APP_CSS,
    ASK_CONCURRENCY,
    ASK_QUEUE,
    EXAMPLES,
    STORAGE_KEY,
    UPLOAD_QUEUE,
    build_app,
)
from qa.app.server import (
    STORAGE_SECRET_FILE,
    load_assistant,
    main,
    parse_args,
    serve,
    stop_on_signals,
    storage_secret,
)
from qa.app.uploads import (
    MAX_UPLOAD_BYTES,
    UPLOAD_SUFFIXES,
    UploadError,
    upload_status,
    validate_upload,
)

__all__ = [
    "ALL_PERIODS", "APP_CSS", "ASK_CONCURRENCY", "ASK_QUEUE", "ERROR_MESSAGE", "EXAMPLES",
    "MAX_HISTORY", "MAX_UPLOAD_BYTES", "STORAGE_KEY", "STORAGE_SECRET_FILE", "UPLOAD_QUEUE",
    "UPLOAD_SUFFIXES", "Handlers", "Settings", "UploadError", "build_app", "chat_messages",
    "chat_store", "load_assistant", "log", "main", "parse_args", "render", "serve",
    "stop_on_signals", "storage_secret", "upload_status", "validate_upload",
]

if __name__ == "__main__":
    sys.exit(main())
