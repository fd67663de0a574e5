"""Start-up and serving of the app: load the assistant, parse the command line, serve,
stop cleanly on signals, and keep the key of the browser-side conversations."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gradio as gr

from qa.app.layout import APP_CSS, EXAMPLES, build_app
from qa.app.uploads import MAX_UPLOAD_BYTES
from qa.config import Settings
from qa.logs import quiet_libraries

log = logging.getLogger("qa.app")

#: File under ``Settings.home`` holding the key that encrypts the browser-side
#: conversations, so they stay readable after the app restarts.
STORAGE_SECRET_FILE = "app-storage-secret"

def load_assistant(settings: Settings, warm_question: str = EXAMPLES[0]) -> Any:
    """Build (if missing) and load the model and index, then answer one question.

    The warm-up question runs the whole path once (encoder, retrieval, reader) so
    the first user does not wait for lazy initialisation.
    """
    from qa.pipeline import Assistant  # heavy: torch, faiss

    assistant = Assistant(settings)
    started = time.perf_counter()
    assistant.warm_up(progress=True)
    assistant.ask(warm_question)
    log.info("pipeline ready in %.1f s", time.perf_counter() - started)
    return assistant


def serve(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> str:
    """Start the queue and the server; print and return the local URL.

    With ``block=False`` the server runs in a background thread (tests, benchmarks);
    call ``demo.close()`` to stop it.
    """
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
        show_error=False,
        max_file_size=max_upload_bytes,
        css=APP_CSS,
        footer_links=["api"],
    )
    if not block:
        print(f"qa app ready: {url}", flush=True)
        return url
    try:
        print(f"qa app ready: {url}", flush=True)
        demo.block_thread()  # returns on Ctrl-C or SIGTERM (see stop_on_signals)
    except KeyboardInterrupt:  # a signal before block_thread took over (e.g. during the print)
        pass
    finally:
        demo.close()
        shutil.rmtree(getattr(demo, "export_dir", ""), ignore_errors=True)
    return url


def stop_on_signals() -> None:
    """Make SIGTERM stop the app like Ctrl-C (SIGINT) does, so the clean-up runs:
    the server closes and the temporary export folder is removed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def storage_secret(home: Path) -> str | None:
    """The key that encrypts the conversations kept in the browser, read from (or
    created in) ``home/app-storage-secret``; None (a random key per start) when
    ``home`` is not writable."""
    path = Path(home) / STORAGE_SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 16:
            return secret
    except (OSError, UnicodeDecodeError):
        pass
    secret = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
    except OSError as exc:
        log.warning("cannot keep the conversation key in %s (%s): "
                    "saved conversations will not survive a restart", path, exc)
        return None
    return secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="qa: web app for questions over government documents")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--index", default=None, help="index directory (default $QA_INDEX, else index/ of the checkout, else $QA_HOME/index)")
    p.add_argument("--model", default=None, help="encoder name or path (default $QA_MODEL or built-in)")
    p.add_argument("--backend", default=None, metavar="URL",
                   help="answer through a `qa serve` API at URL (e.g. http://127.0.0.1:8000) instead "
                        "of loading the model and index here; the documents and figures tabs are then "
                        "empty and uploads go to the server")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python app.py``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    quiet_libraries()
    stop_on_signals()
    try:
        settings = Settings.from_env(model=args.model, index_dir=args.index)
    except ValueError as exc:
        return _fail(exc)
    from qa.index import IndexStoreError
    from qa.model_build import ModelError
    from qa.serve import BackendError, RemoteAssistant

    if args.backend:
        print(f"Answering through the qa API at {args.backend}", flush=True)
    else:
        print(f"Loading the model and the index from {settings.index_dir} "
              "(built on first run: about a minute on 2 cores)…", flush=True)
    try:
        if args.backend:
            assistant = RemoteAssistant(args.backend, settings=settings).warm_up()
        else:
            assistant = load_assistant(settings)
        demo = build_app(assistant, storage_secret=storage_secret(settings.home))
        serve(demo, args.host, args.port)
    except (IndexStoreError, ModelError, BackendError) as exc:  # the message says how to fix it
        return _fail(exc)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while loading
        print("qa app: interrupted", file=sys.stderr)
        return 130
    return 0


def _fail(exc: BaseException) -> int:
    """Print ``error: <message>`` on one line (no traceback) and return exit status 2."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    return 2
