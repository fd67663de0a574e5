"""The on-disk store: manifest, write lock, generations, JSON Lines files, atomic writes, model checks."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from qa.index.errors import (
    IndexCorruptError,
    IndexLockError,
    IndexMismatchError,
    IndexNotFoundError,
    rebuild_hint,
)

#: Version of the on-disk layout and BM25 tokenisation; an index with another
#: version is refused. 2: Traditional Chinese folded to Simplified before jieba.
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
#: The write lock's file inside the index directory (see :func:`write_lock`).
LOCK_NAME = ".lock"
#: Seconds a writer waits for the lock before giving up (:class:`IndexLockError`).
LOCK_TIMEOUT_S = 300.0
#: Least cosine between the ``torch`` and ``onnx`` backends' vectors of one text
#: (measured over 200 corpus passages and 100 questions; ``eval/benchmark.py``): the
#: bound under which an index built by one backend is searched with the other's queries.
CROSS_BACKEND_MIN_COSINE = 0.99
#: Seconds of waiting after which the writer says what it is waiting for.
LOCK_NOTICE_S = 2.0

_GENERATION_FILE = re.compile(
    r"^(?:(?:chunks|documents)-(\d+)\.jsonl|dense-(\d+)\.faiss|bm25-(\d+)|vectors-(\d+)\.npy)$")


# --------------------------------------------------------------------------- manifest and files


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``manifest.json`` of ``directory``, format version checked.

    Raises:
        IndexNotFoundError: no directory or no manifest in it.
        IndexCorruptError: the manifest is not a readable JSON object.
        IndexMismatchError: the format version is not :data:`FORMAT_VERSION`.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise IndexNotFoundError(f"no index in {directory} (no {MANIFEST_NAME})", directory)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"cannot read {path}: {exc}", directory) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not a JSON object", directory)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {directory} has format version {version!r}; this qa reads version {FORMAT_VERSION}",
            directory,
        )
    return manifest


def encoder_record(encoder) -> dict[str, Any]:
    """``manifest["model"]`` for ``encoder``: name, fingerprint of the base model files,
    dimension, and the backend that computed the vectors with its fingerprint
    (:func:`qa.embedding.load_encoder`; encoders without one are ``torch``)."""
    return {
        "name": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dim": int(encoder.dim),
        "backend": getattr(encoder, "backend", "torch"),
        "backend_fingerprint": getattr(encoder, "backend_fingerprint", encoder.fingerprint),
    }


def _known_backend(built: dict[str, Any], base_fingerprint: str) -> bool:
    """True when ``built`` (a manifest's model record) names a backend whose vectors are
    within :data:`CROSS_BACKEND_MIN_COSINE` of the other's for this base model: the fp32
    reference (``torch``), or the current onnx export recipe."""
    backend = built.get("backend", "torch")
    recorded = built.get("backend_fingerprint")
    if backend == "torch":
        return recorded in (None, built.get("fingerprint"))
    if backend == "onnx":
        from qa.onnx_build import backend_fingerprint

        return recorded == backend_fingerprint(base_fingerprint)
    return False


def check_model(manifest: dict[str, Any], encoder, directory: str | os.PathLike,
                writing: bool = False) -> None:
    """Raise :class:`IndexMismatchError` unless ``encoder`` matches ``manifest["model"]``.

    Name, base-model fingerprint and dimension must match. Backends: vectors of the
    ``torch`` (fp32) and ``onnx`` (int8) backends of one base model agree within
    cosine :data:`CROSS_BACKEND_MIN_COSINE` (measured, README "Backends"), so an
    index built by one is *searched* with the other's query vectors; *adding*
    vectors (``writing``) needs the backend the index was built with, so that one
    index never holds both. An unknown backend or export recipe is refused.
    """
    try:
        built = manifest["model"]
        name, fingerprint, dim = built["name"], built["fingerprint"], int(built["dim"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"manifest in {directory} has no valid model record", directory) from exc
    matches = getattr(encoder, "matches", lambda f: f == encoder.fingerprint)
    if (name, dim) != (encoder.name, int(encoder.dim)) or not matches(fingerprint):
        raise IndexMismatchError(
            f"index in {directory} was built with model {name!r} (fingerprint {fingerprint}, "
            f"dim {dim}) but the encoder is {encoder.name!r} (fingerprint {encoder.fingerprint}, "
            f"dim {encoder.dim})",
            directory,
            hint=f"use `--model {name}` or {rebuild_hint(directory, encoder.name)}",
        )
    backend = getattr(encoder, "backend", "torch")
    own = getattr(encoder, "backend_fingerprint", encoder.fingerprint)
    built_backend = built.get("backend", "torch")
    if built_backend == backend and built.get("backend_fingerprint", own) == own:
        return
    if writing or not (_known_backend(built, encoder.fingerprint)
                       and _known_backend(encoder_record(encoder), encoder.fingerprint)):
        reason = ("adding vectors would mix two backends in one index" if writing
                  and _known_backend(built, encoder.fingerprint)
                  else "an export this qa has no measured tolerance for")
        raise IndexMismatchError(
            f"index in {directory} was built with the {built_backend!r} backend (fingerprint "
            f"{built.get('backend_fingerprint')}) but the encoder runs the {backend!r} backend "
            f"(fingerprint {own}), {reason}",
            directory,
            hint=f"set QA_BACKEND={built_backend} or {rebuild_hint(directory)} "
                 f"(with QA_BACKEND={backend})",
        )


@contextlib.contextmanager
def write_lock(directory: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S,
               notice_after: float = LOCK_NOTICE_S,
               notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the inter-process write lock of the index in ``directory`` (created if missing).

    The lock is ``directory/.lock`` (:mod:`filelock`: an OS lock, released when the
    process exits, however it exits). Each acquisition is independent, so threads
    of one process exclude each other too; do not nest it. After ``notice_after``
    seconds of waiting, ``notify`` (default: a line on stderr) is told what it waits for.

    Raises:
        IndexLockError: still locked after ``timeout`` seconds.
    """
    from filelock import FileLock, Timeout

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    lock = FileLock(path)
    try:
        lock.acquire(timeout=max(0.0, min(notice_after, timeout)))
    except Timeout:
        (notify or _notify_stderr)(
            f"waiting for another process to finish writing the index in {directory} "
            f"(lock {path}; giving up after {timeout:.0f} s)"
        )
        try:
            lock.acquire(timeout=max(0.0, timeout - notice_after))
        except Timeout:
            raise IndexLockError(
                f"the index in {directory} was still being written by another process after "
                f"{timeout:.0f} s (lock {path})",
                directory, hint="try again when the other `qa index` command or upload has finished",
            ) from None
    try:
        yield
    finally:
        lock.release()


def _notify_stderr(message: str) -> None:
    print(f"qa: {message}", file=sys.stderr, flush=True)


def _generation_on_disk(directory: Path) -> Any:
    """The generation ``manifest.json`` names now, or None when it cannot be read."""
    try:
        return json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8")).get("generation")
    except (OSError, ValueError, AttributeError):
        return None


def _next_generation(directory: Path) -> int:
    """One more than any generation named by the manifest or found on disk."""
    named = _generation_on_disk(directory)
    found = [0, named] if isinstance(named, int) else [0]
    for entry in directory.iterdir():
        match = _GENERATION_FILE.match(entry.name)
        if match:
            found.append(int(next(g for g in match.groups() if g is not None)))
    return max(found) + 1


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fsync_path(path: Path) -> None:
    """fsync a file or (where the OS allows) a directory; best effort for directories."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Replace ``manifest.json`` atomically: write a temporary file, fsync, ``os.replace``."""
    tmp = directory / f".{MANIFEST_NAME}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / MANIFEST_NAME)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_path(directory)


def _remove_other_generations(directory: Path, keep: int) -> None:
    import shutil

    for entry in directory.iterdir():
        match = _GENERATION_FILE.match(entry.name)
        if match and int(next(g for g in match.groups() if g is not None)) != keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    for entry in directory.glob(f".{MANIFEST_NAME}.*.tmp"):
        entry.unlink(missing_ok=True)


def describe(manifest: dict[str, Any]) -> dict[str, Any]:
    """A short summary of a manifest for ``qa index info`` (no document texts)."""
    return {
        key: manifest.get(key)
        for key in ("format_version", "generation", "created", "updated", "saved", "model",
                    "counts", "dense", "chunker", "bm25", "documents")
    }
