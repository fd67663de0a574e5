"""Helpers every ``qa`` command shares: settings from flags, the index and model flags,
opening an index with its encoder, and :class:`CLIError`."""

from __future__ import annotations

import argparse
import re

EXIT_USAGE = 2  # expected errors (bad input, missing or stale index) exit with this status


class CLIError(Exception):
    """An expected error raised by a command handler; printed without a traceback."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or a bad index, not a bug (imported lazily)."""
    from qa.index import IndexStoreError
    from qa.ray_runtime import RayJobError, RayMissingError

    errors: list[type[BaseException]] = [CLIError, IndexStoreError, ValueError, FileNotFoundError,
                                         RayMissingError, RayJobError]
    import qa.documents

    document_error = getattr(qa.documents, "DocumentError", None)
    if document_error is not None:
        errors.append(document_error)
    try:
        import qa.embedding

        encoder_error = getattr(qa.embedding, "EncoderError", None) or getattr(qa.embedding, "ModelError", None)
        if encoder_error is not None:
            errors.append(encoder_error)
    except ImportError:
        pass
    return tuple(errors)


def settings_from(args: argparse.Namespace):
    """Settings from defaults, ``QA_*`` variables and the flags present on ``args``."""
    from qa.config import Settings

    overrides = {
        "index_dir": getattr(args, "index", None),
        "model": getattr(args, "model", None),
        "retriever": getattr(args, "retriever", None),
        "reader": getattr(args, "reader", None),
    }
    return Settings.from_env(**overrides)


def add_index_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--index DIR`` to ``parser``."""
    parser.add_argument("--index", metavar="DIR",
                        help="index directory (default: $QA_INDEX, else index/ of the qa checkout, "
                             "else $QA_HOME/index; never the current directory)")


def add_model_flag(parser: argparse.ArgumentParser, default_help: str) -> None:
    """Add ``--model M`` to ``parser``; ``default_help`` says what it defaults to."""
    parser.add_argument("--model", metavar="M", help=f"encoder model name or path ({default_help})")


def require_question(question: str) -> None:
    """Refuse a question with nothing to answer (before any model loads)."""
    from qa.question import clean_question

    if not re.search(r"\w", clean_question(question, 10_000)[0]):
        raise CLIError("the question is empty: ask something, e.g. qa ask \"2023年新增了多少个托位？\"")


def load_encoder(model: str, settings):
    """The encoder of ``model`` on ``settings.backend`` (:func:`qa.embedding.encoder_for`);
    tests replace it with a stub."""
    from qa.embedding import encoder_for

    return encoder_for(settings, model)


def open_index(args: argparse.Namespace):
    """(settings, index, encoder) for the index named by ``--index``.

    The encoder is ``--model`` when given, else the model recorded in the manifest.
    """
    from qa.index import Index, read_manifest

    settings = settings_from(args)
    manifest = read_manifest(settings.index_dir)
    model = args.model or manifest.get("model", {}).get("name") or settings.model
    encoder = load_encoder(model, settings)
    return settings, Index.load(settings.index_dir, encoder), encoder
