"""The ``qa`` command.

Structure: :func:`build_parser` creates one sub-parser per command through a small
``_add_<command>_command(subparsers)`` function (:mod:`qa.cli.index`, :mod:`qa.cli.answer`
for search/ask/figures, :mod:`qa.cli.model` for model/serve; shared flags and helpers in
:mod:`qa.cli.common`), which sets ``func`` to the ``_run_<command>`` handler; :func:`main` parses, calls the handler and turns the
expected errors into a one-line message on stderr and exit status 2. Handlers
import the heavy parts (faiss, bm25s, torch) only when they run, so ``--help`` is
fast. Handlers only parse, call the library and format: the logic lives in
:mod:`qa.index`, :mod:`qa.retrieval`, :mod:`qa.pipeline`.

    qa index build [PATH ...] [--index DIR] [--model M] [--strict] [--ray [ADDRESS] --workers N]
    qa index add PATH ... [--index DIR] [--model M] [--strict]
    qa index info [--index DIR] [--json]
    qa search "问题" [-k 5] [--retriever dense|bm25|hybrid] [--json] [--index DIR] [--model M]
    qa ask "问题" [--history "上一个问题" ...] [--json]
    qa figures [--query 托位] [--period 2023|2024] [--format table|csv|json]
    qa serve [--host H] [--port P] [--ray [ADDRESS] --replicas N]
    qa model build|info
    qa eval --dataset PATH [...]  ·  qa eval compare A.json B.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qa.cli.answer import add_ask_command, add_figures_command, add_search_command
from qa.cli.common import EXIT_USAGE, CLIError, expected_errors
from qa.cli.index import add_index_command
from qa.cli.model import add_model_command, add_serve_command
from qa.logs import quiet_libraries

__all__ = ["EXIT_USAGE", "CLIError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``qa`` argument parser with every subcommand."""
    from qa import __version__

    parser = argparse.ArgumentParser(
        prog="qa",
        description="Question answering over Chinese government documents, with cited spans.",
    )
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_index_command(subparsers)
    add_search_command(subparsers)
    add_ask_command(subparsers)
    add_figures_command(subparsers)
    add_serve_command(subparsers)
    add_model_command(subparsers)
    from qa.evaluation.cli import add_parser as _add_eval_command
    from qa.reader_cli import add_parser as _add_reader_command
    from qa.retrieval.cli import add_parser as _add_retrieval_command

    _add_reader_command(subparsers)
    _add_retrieval_command(subparsers)

    _add_eval_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``qa`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Expected errors print ``qa: error: <message>`` on stderr and return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        quiet_libraries()
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, expected_errors()):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"qa: error: {message}", file=sys.stderr)
        return EXIT_USAGE

