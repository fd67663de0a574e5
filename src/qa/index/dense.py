"""The FAISS dense index: flat, HNSW or compressed, chosen by chunk count (:func:`_dense_params`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load faiss/bm25s/jieba
    import faiss


#: Dense index type of the compressed tier (manifest ``dense.type``).
COMPRESSED = "compressed"


def _normalise(vectors: np.ndarray) -> None:
    """L2-normalise the rows of ``(n, d)`` float32 ``vectors`` in place (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)


def _make_dense(embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """A FAISS inner-product index over ``embeddings`` ``(n, d)`` float32, L2-normalised."""
    import faiss

    d = embeddings.shape[1]
    if params["type"] == COMPRESSED:
        return _make_compressed(embeddings, params)
    if params["type"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, params["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["ef_construction"]
        index.hnsw.efSearch = params["ef_search"]
    else:
        index = faiss.IndexFlatIP(d)
    if len(embeddings):
        index.add(embeddings)
    return index


def _make_compressed(embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """``faiss.index_factory(d, params["factory"])`` over ``embeddings`` ``(n, d)``,
    trained on a seeded sample of ``params["train_size"]`` rows, search parameters set.
    """
    import faiss

    n, d = embeddings.shape
    pq = re.search(r",PQ(\d+)", params["factory"])
    if pq and d % int(pq.group(1)):
        raise ValueError(f"ivf_pq_m={pq.group(1)} does not divide the embedding dimension {d}; "
                         f"choose a divisor of {d}")
    rng = np.random.default_rng(params["seed"])
    take = min(n, params["train_size"])
    sample = embeddings if take == n else embeddings[np.sort(rng.choice(n, take, replace=False))]
    index = faiss.index_factory(d, params["factory"], faiss.METRIC_INNER_PRODUCT)
    if "ef_construction" in params:
        index.hnsw.efConstruction = params["ef_construction"]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    _tune(index, params)
    for lo in range(0, n, 65_536):  # bounded temporary memory
        index.add(np.ascontiguousarray(embeddings[lo:lo + 65_536], dtype=np.float32))
    return index


def _tune(index: faiss.Index, params: dict[str, Any]) -> None:
    """Set a compressed index's search parameter (``nprobe`` or ``efSearch``) from ``params``."""
    import faiss

    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "ef_search" in params:
        index.hnsw.efSearch = int(params["ef_search"])


def _dense_params(n_chunks: int, settings: dict[str, Any]) -> dict[str, Any]:
    """The dense index for ``n_chunks`` chunks under the manifest's ``settings``: flat,
    HNSW or (from ``compressed_min_chunks``, absent in older manifests) compressed IVF."""
    compressed_min = settings.get("compressed_min_chunks")
    if compressed_min is not None and n_chunks >= compressed_min:
        train = min(n_chunks, settings["compressed_train_size"])
        kind = settings["compressed_kind"]
        params: dict[str, Any] = {"type": COMPRESSED, "kind": kind}
        if kind == "hnsw-sq8":
            params.update(factory=f"HNSW{settings['hnsw_m']},SQ8",
                          ef_construction=settings["hnsw_ef_construction"],
                          ef_search=settings["hnsw_ef_search"])
        else:
            nlist = max(1, min(settings["ivf_nlist"], train // 39))
            codec = "SQ8"
            if kind == "ivf-pq":  # 2**bits centroids per sub-vector need that many samples
                # "np": no polysemous re-ordering of the codes (3x the training time, unused here)
                codec = f"PQ{settings['ivf_pq_m']}x{max(1, min(8, int(np.log2(max(2, train)))))}np"
            params.update(factory=f"IVF{nlist},{codec}", nprobe=settings["ivf_nprobe"])
        params.update(refine=settings["compressed_refine"], train_size=train, seed=0)
        return params
    kind = "hnsw" if n_chunks >= settings["hnsw_min_chunks"] else "flat"
    params: dict[str, Any] = {"type": kind}
    if kind == "hnsw":
        params.update(m=settings["hnsw_m"], ef_construction=settings["hnsw_ef_construction"],
                      ef_search=settings["hnsw_ef_search"])
    return params


def _extended_dense(dense: faiss.Index, embeddings: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """A copy of ``dense`` with ``embeddings`` ``(n, d)`` float32 added (``dense`` is unchanged)."""
    import faiss

    out = faiss.clone_index(dense)
    if params["type"] == "hnsw":
        out.hnsw.efSearch = params["ef_search"]
    elif params["type"] == COMPRESSED:
        _tune(out, params)
    if len(embeddings):
        out.add(embeddings)
    return out
