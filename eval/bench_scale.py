"""Benchmarks of scaling out: dense index kinds at up to a million chunks, Ray builds, Ray Serve.

    python eval/bench_scale.py index [--n 1000000] [--kinds flat,hnsw-sq8,ivf-sq8@64,ivf-pq] [--queries 200]
    python eval/bench_scale.py ray-build [DOCS ...] [--workers 1,2]
    python eval/bench_scale.py serve [--replicas 1,2] [--clients 8] [--questions 48]

``index``: ``--n`` synthetic chunk embeddings (384-d unit vectors around 2,000
seeded Gaussian centres with ``--spread`` noise per dimension: at 0.9 a query's
nearest neighbour has cosine ~0.6, at 1.5 ~0.35, no longer near its centre) and
``--queries`` held-out queries. For each kind: build time (training included), the dense index's own
size (what it holds in RAM; the exact vectors of a compressed index stay on
disk, memory-mapped, ``n * 384 * 4`` bytes), process RSS growth, single-query
search p50/p95 in ms through :meth:`qa.index.Index.search_dense` (what
retrieval runs: a compressed index re-ranks ``compressed_refine * 10``
candidates with the memory-mapped exact vectors) and recall@10 against exact
search. Kinds: ``flat`` (exact, today's default), ``hnsw`` (IndexHNSWFlat,
today's >= 50k-chunk index) and the compressed kinds of
``Settings.compressed_kind``: ``hnsw-sq8``, ``ivf-sq8``, ``ivf-pq``; ``KIND@S``
sets ``efSearch``/``nprobe`` to S, ``KIND/R`` the re-ranking factor (1: none).

``ray-build``: chunks/s of ``qa index build --ray`` (library call, model
loads included) with 1 and 2 encoder actors, and of the local build, on real
documents (default: ``../shared/corpus-extra`` when present, else the shipped sample).

``serve``: questions/s of ``qa serve --ray`` with 1 and 2 replicas, ``--clients``
concurrent clients asking the gold questions (``eval/seed_qa.jsonl``).

Figures are printed, not asserted: compare them on the same machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DIM = 384
CENTRES = 2_000


def rss_mib() -> float:
    """Resident memory of this process in MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def synthetic(n: int, seed: int, centres: np.ndarray, spread: float = 0.9) -> np.ndarray:
    """``(n, DIM)`` float32 unit vectors: a seeded centre each, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        part = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal((m, DIM), dtype=np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[lo:lo + m] = part
    return out


def kind_params(kind: str, n: int) -> dict:
    """The manifest ``dense`` params of ``kind[@search]`` (``ivf-sq8@32``: nprobe 32;
    ``hnsw-sq8@64``: efSearch 64; ``ivf-pq/1``: no re-ranking), from the default settings."""
    from qa.config import Settings
    from qa.index import _dense_params

    s = Settings()
    base = {"hnsw_min_chunks": s.hnsw_min_chunks, "hnsw_m": s.hnsw_m,
            "hnsw_ef_construction": s.hnsw_ef_construction, "hnsw_ef_search": s.hnsw_ef_search,
            "compressed_min_chunks": None, "compressed_kind": s.compressed_kind,
            "ivf_nlist": s.ivf_nlist, "ivf_nprobe": s.ivf_nprobe, "ivf_pq_m": s.ivf_pq_m,
            "compressed_refine": s.compressed_refine, "compressed_train_size": s.compressed_train_size}
    kind, _, refine = kind.partition("/")
    kind, _, search = kind.partition("@")
    if search:
        base.update(ivf_nprobe=int(search), hnsw_ef_search=int(search))
    if refine:
        base.update(compressed_refine=int(refine))
    if kind == "flat":
        return _dense_params(n, {**base, "hnsw_min_chunks": n + 1})
    if kind == "hnsw":
        return _dense_params(n, {**base, "hnsw_min_chunks": 0})
    if kind in Settings.COMPRESSED_KINDS:
        return _dense_params(n, {**base, "compressed_min_chunks": 0, "compressed_kind": kind})
    raise SystemExit(f"unknown kind {kind!r}; flat, hnsw or {', '.join(Settings.COMPRESSED_KINDS)}")


def bench_index(args: argparse.Namespace) -> None:
    import faiss

    from qa.index import Index, _make_dense

    centres = np.random.default_rng(0).standard_normal((CENTRES, DIM)).astype(np.float32)
    started = time.perf_counter()
    vectors = synthetic(args.n, 1, centres, args.spread)
    queries = synthetic(args.queries, 2, centres, args.spread)
    print(f"{args.n:,} vectors of dim {DIM} ({vectors.nbytes / 2**20:,.0f} MiB float32) made in "
          f"{time.perf_counter() - started:.1f} s; {args.queries} queries; faiss {faiss.__version__}, "
          f"{faiss.omp_get_max_threads()} threads", flush=True)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    nn = float(np.mean(np.max(queries @ vectors[: min(args.n, 200_000)].T, axis=1)))
    print(f"mean best cosine of a query (first 200k vectors): {nn:.2f}", flush=True)
    del exact
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.npy"
        np.save(path, vectors)
        mapped = np.load(path, mmap_mode="r")
        print(f"{'kind':16} {'params':42} {'build s':>8} {'index MiB':>9} {'RSS +MiB':>8} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}", flush=True)
        for kind in args.kinds.split(","):
            params = kind_params(kind, args.n)
            rss = rss_mib()
            t0 = time.perf_counter()
            dense = _make_dense(vectors, params)
            build = time.perf_counter() - t0
            grown = rss_mib() - rss
            size = faiss.serialize_index(dense).nbytes / 2**20
            index = Index({}, [], mapped, dense, None, {"dense": params})
            latencies, hits = [], 0
            for i in range(len(queries)):
                t = time.perf_counter()
                _, rows = index.search_dense(queries[i:i + 1], 10)
                latencies.append((time.perf_counter() - t) * 1000)
                hits += len(set(rows[0].tolist()) & set(truth[i].tolist()))
            shown = {k: v for k, v in params.items() if k not in ("type", "kind", "seed", "train_size")}
            print(f"{kind:16} {str(shown)[:42]:42} {build:8.1f} {size:9.1f} {grown:8.0f} "
                  f"{np.percentile(latencies, 50):7.2f} {np.percentile(latencies, 95):7.2f} "
                  f"{hits / (10 * len(queries)):9.3f}", flush=True)
            del dense, index


def _documents(paths: list[str]):
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.documents import read_documents

    if not paths:
        extra = ROOT.parent / "shared" / "corpus-extra"
        paths = [str(extra)] if extra.is_dir() else [str(DEFAULT_CORPUS_DIR), str(ROOT / "examples")]
    print(f"documents: {', '.join(paths)}")
    return read_documents([Path(p) for p in paths]).documents


def bench_ray_build(args: argparse.Namespace) -> None:
    from qa.config import Settings
    from qa.embedding import load_encoder
    from qa.index import Index
    from qa.ray_build import build_index_with_ray

    documents = _documents(args.paths)
    settings = Settings()
    encoder = load_encoder(settings.model, settings.home)
    t = time.perf_counter()
    local = Index.build(documents, encoder, settings, progress=False)
    elapsed = time.perf_counter() - t
    print(f"local build      {len(local):6d} chunks in {elapsed:6.1f} s = {len(local) / elapsed:6.1f} chunks/s",
          flush=True)
    for workers in (int(w) for w in args.workers.split(",")):
        t = time.perf_counter()
        built = build_index_with_ray(documents, settings, workers=workers, progress=False,
                                     num_cpus=max(2, workers))
        elapsed = time.perf_counter() - t
        print(f"ray, {workers} worker(s) {len(built):6d} chunks in {elapsed:6.1f} s = "
              f"{len(built) / elapsed:6.1f} chunks/s (runtime start and {workers} model load(s) included)",
              flush=True)


def bench_serve(args: argparse.Namespace) -> None:
    import json
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from qa.config import DEFAULT_CORPUS_DIR, Settings
    from qa.serve import ask_remote, serve_with_ray

    gold = [json.loads(line) for line in (ROOT / "eval" / "seed_qa.jsonl").read_text("utf-8").splitlines() if line]
    questions = [row["question"] for row in gold if not row["history"]]
    questions = (questions * (args.questions // len(questions) + 1))[: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(index_dir=Path(tmp) / "index")
        from qa.documents import read_documents
        from qa.embedding import load_encoder
        from qa.index import Index

        encoder = load_encoder(settings.model, settings.home)
        Index.build(read_documents([DEFAULT_CORPUS_DIR]).documents, encoder, settings,
                    progress=False).save(settings.index_dir)
        for replicas in (int(r) for r in args.replicas.split(",")):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            t = time.perf_counter()
            service = serve_with_ray(settings, replicas=replicas, port=port)
            ready = time.perf_counter() - t
            try:
                ask_remote(service.url, questions[0])  # warm
                t = time.perf_counter()
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(functools.partial(ask_remote, service.url, timeout=600), questions))
                elapsed = time.perf_counter() - t
            finally:
                service.stop()
            print(f"{replicas} replica(s): ready in {ready:5.1f} s; {len(questions)} questions from "
                  f"{args.clients} clients in {elapsed:5.1f} s = {len(questions) / elapsed:5.2f} questions/s",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="dense index kinds on synthetic vectors")
    index.add_argument("--n", type=int, default=1_000_000)
    index.add_argument("--queries", type=int, default=200)
    index.add_argument("--kinds", default="flat,ivf-sq8@32,ivf-sq8@64,ivf-pq@64")
    index.add_argument("--spread", type=float, default=0.9,
                       help="noise per dimension around a centre (larger: harder, less clustered)")
    index.set_defaults(func=bench_index)
    ray_build = commands.add_parser("ray-build", help="Ray build throughput, 1 vs 2 workers")
    ray_build.add_argument("paths", nargs="*")
    ray_build.add_argument("--workers", default="1,2")
    ray_build.set_defaults(func=bench_ray_build)
    serve = commands.add_parser("serve", help="Ray Serve throughput, 1 vs 2 replicas")
    serve.add_argument("--replicas", default="1,2")
    serve.add_argument("--clients", type=int, default=8)
    serve.add_argument("--questions", type=int, default=48)
    serve.set_defaults(func=bench_serve)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.func(args)


if __name__ == "__main__":
    main()
