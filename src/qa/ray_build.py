"""Index building on Ray: chunk texts embedded by a pool of encoder actors (Ray Data).

Public interface:

    ray_embedder(model, home, batch_size=32, workers=2, progress=True) -> Embedder
    build_index_with_ray(documents, settings, address=None, workers=2, progress=True) -> Index

Only the embedding (nearly all of a build's time) runs on Ray. Reading,
chunking, BM25 and FAISS indexing are the local build's own code
(:meth:`qa.index.Index.build` with an ``embedder``), so a Ray build has the same
chunk ids, texts, manifest and (within float rounding) embeddings as a local one,
and is saved by the same atomic :meth:`qa.index.Index.save`.

The job is ``ray.data.from_items`` of ``(row, text)`` records, longest text first
(batches of similar length pad less), ``map_batches`` over an actor pool of
``workers`` :class:`PassageEncoder` actors (each loads the model once), streamed
back with ``iter_batches`` into row order. Ray restarts an actor whose process
dies and re-runs its batch (Ray Data's own policy for actor pools: restarts
without limit, the job stops after ``DataContext.execution_no_progress_timeout_s``
without progress); an exception raised by the encoding is not transient and fails the job at once
(:class:`~qa.ray_runtime.RayJobError`, with the encoder's own message) before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings
from qa.ray_runtime import RayJobError, ray_runtime, require_ray

#: Encoder batches (``Settings.batch_size`` passages each) per Ray Data batch.
BATCHES_PER_TASK = 8


class PassageEncoder:
    """A Ray Data actor: loads the encoder once, embeds ``{"row", "text"}`` batches.

    Args:
        model, home: as for :func:`qa.embedding.load_encoder`.
        batch_size: passages per forward pass.
        threads: torch CPU threads of this actor (one per CPU it was given).
        on_batch: called with the batch's row numbers before encoding (tests
            use it to make a worker fail); None in normal use.
    """

    def __init__(self, model: str, home: str, batch_size: int, threads: int,
                 on_batch: Callable[[np.ndarray], None] | None = None) -> None:
        import torch

        from qa.embedding import load_encoder

        torch.set_num_threads(max(1, threads))
        self.encoder = load_encoder(model, Path(home))
        self.batch_size = batch_size
        self.on_batch = on_batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"row": (b,) int64, "text": (b,) str}`` → ``{"row", "vector": (b, dim) float32}``."""
        if self.on_batch is not None:
            self.on_batch(batch["row"])
        vectors = self.encoder.encode_passages([str(t) for t in batch["text"]],
                                               batch_size=self.batch_size)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}


def ray_embedder(model: str, home: Path, batch_size: int = 32, workers: int = 2,
                 progress: bool = True, cpus_per_worker: float = 1.0,
                 on_batch: Callable[[np.ndarray], None] | None = None) -> Callable[[Sequence[str]], np.ndarray]:
    """An embedder (texts → ``(n, dim)`` float32, input order) that runs one Ray Data job.

    Call it while connected to Ray (:func:`qa.ray_runtime.ray_runtime`).

    Args:
        model, home: the encoder each actor loads (:func:`qa.embedding.load_encoder`).
        batch_size: passages per forward pass; a Ray task gets
            ``BATCHES_PER_TASK * batch_size`` passages.
        workers: encoder actors in the pool.
        progress: a tqdm bar (stderr) counting embedded chunks.
        cpus_per_worker: CPUs Ray reserves for each actor (its torch threads).
        on_batch: see :class:`PassageEncoder`.

    Raises (when called):
        RayJobError: the job failed after Ray's retries (an encoding error, say).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")

    def embed(texts: Sequence[str]) -> np.ndarray:
        ray = require_ray(("data",))
        from tqdm.auto import tqdm

        n = len(texts)
        order = sorted(range(n), key=lambda i: -len(texts[i]))
        # every actor gets work even for a small corpus; at most BATCHES_PER_TASK batches a task
        task_rows = max(1, min(BATCHES_PER_TASK * batch_size, -(-n // workers)))
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar, ours, counting chunks
        context.print_on_execution_start = False
        context.raise_original_map_exception = True  # the encoder's own error, not Ray's wrapper
        dataset = ray.data.from_items(
            [{"row": i, "text": texts[i]} for i in order],
            override_num_blocks=max(1, -(-n // task_rows)),
        )
        dataset = dataset.map_batches(
            PassageEncoder,
            fn_constructor_kwargs={"model": model, "home": str(home), "batch_size": batch_size,
                                   "threads": max(1, int(cpus_per_worker)), "on_batch": on_batch},
            batch_size=task_rows,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus_per_worker,
        )
        out: np.ndarray | None = None
        done = np.zeros(n, dtype=bool)
        try:
            with tqdm(total=n, unit="chunk", desc=f"Embedding chunks (Ray, {workers} workers)",
                      disable=not progress) as bar:
                for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    rows = np.asarray(batch["row"], dtype=np.int64)
                    vectors = np.asarray(batch["vector"], dtype=np.float32)
                    if out is None:
                        out = np.empty((n, vectors.shape[1]), dtype=np.float32)
                    out[rows] = vectors
                    done[rows] = True
                    bar.update(len(rows))
        except RayJobError:
            raise
        except Exception as exc:  # Ray wraps the worker's error in its own exception types
            raise RayJobError(f"the Ray embedding job failed: {_reason(exc)}") from exc
        if out is None or not done.all():
            raise RayJobError(f"the Ray embedding job returned {int(done.sum())} of {n} embeddings")
        return out

    return embed


def _reason(exc: BaseException) -> str:
    """The innermost cause of a (Ray-wrapped) exception, on one line."""
    while True:
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException) or inner is exc:
            break
        exc = inner
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[-500:]}"


def build_index_with_ray(documents: Iterable[Any], settings: Settings, address: str | None = None,
                         workers: int = 2, progress: bool = True, num_cpus: int = 2,
                         on_batch: Callable[[np.ndarray], None] | None = None):
    """:meth:`qa.index.Index.build` with the embedding run on Ray; returns the (unsaved) Index.

    The encoder is loaded here too (it names the model in the manifest, and on a
    first run builds the default model into ``settings.home`` before the actors
    load it). With ``address`` the job joins that cluster, else a local runtime
    with ``num_cpus`` CPUs is started and stopped (:func:`qa.ray_runtime.ray_runtime`).
    Save it with :meth:`qa.index.Index.save` (atomic: a failed job leaves the
    index on disk as it was).

    Raises:
        RayMissingError: Ray is not installed.
        RayJobError: the cluster cannot be reached or the job failed.
        ValueError: no documents.
    """
    from qa.embedding import load_encoder
    from qa.index import Index

    encoder = load_encoder(settings.model, settings.home)
    cpus = max(1.0, min(float(num_cpus) / workers, 4.0)) if not address else 1.0
    with ray_runtime(address, num_cpus=num_cpus):
        embed = ray_embedder(settings.model, settings.home, settings.batch_size, workers,
                             progress, cpus_per_worker=cpus, on_batch=on_batch)
        return Index.build(documents, encoder, settings, progress=progress, embedder=embed)


__all__ = ["PassageEncoder", "build_index_with_ray", "ray_embedder"]
