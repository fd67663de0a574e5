"""The ``torch`` (fp32 sentence-transformers) and ``onnx`` (ONNX Runtime) backends side by side.

    python eval/bench_backends.py [--no-app] [--json OUT]

Prints, per backend, and the ratio onnx/torch:

* encoder: passages/s at batch 32 over 200 corpus chunks (target onnx >= 3x torch)
  and median single-query latency over 50 questions (target <= 0.5x);
* quality: cosine of the onnx vectors to the fp32 ones, minimum over 200 corpus
  chunks (``passage: ``) and 100 gold questions (``query: ``) (target >= 0.99);
* neural reader: p50 of one question's ``predict`` over ``Settings.span_passages``
  chunk texts of those corpus chunks, what the pipeline gives the reader (~150
  characters; the encoder's texts also carry the title and section path: ~220) (target <= 50 ms);
* ``qa ask`` one-shot in a fresh process on a built index of the shipped corpus:
  wall time (median of 3) and peak resident memory (targets <= 3 s, <= 600 MB);
* the app (``python app.py``) on the same index: seconds to ready and resident
  memory once ready (target <= 5 s).

Figures, not assertions; each timed loop follows a warm-up. ``eval/benchmark.py``
runs this too. Quality on the gold sets: ``qa eval --dataset eval/seed_qa.jsonl
--index DIR`` with ``QA_BACKEND`` set (README, "Backends").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXTRA_CORPUS = ROOT.parent / "shared" / "corpus-extra"
QUESTION_FILES = (ROOT / "eval" / "seed_qa.jsonl", ROOT / "eval" / "extra_qa.jsonl")
BACKENDS = ("torch", "onnx")
ASK_QUESTION = "2023年新增了多少个托位？"


def corpus_chunks(n: int = 200) -> tuple[list[str], list[str]]:
    """Texts of the first ``n`` chunks of the shipped corpus, then ``../shared/corpus-extra``:
    ``(embedding, text)``, what the encoder embeds (title and section path, then the text)
    and what the span reader reads (the chunk's text alone)."""
    from qa.chunking import chunk_document
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.documents import load_documents

    folders = [DEFAULT_CORPUS_DIR] + ([EXTRA_CORPUS] if EXTRA_CORPUS.is_dir() else [])
    chunks = [(c.embedding_text(d.title), c.text) for d in load_documents(folders) for c in chunk_document(d)][:n]
    return [e for e, _ in chunks], [t for _, t in chunks]


def gold_questions(n: int = 100) -> list[str]:
    rows = [json.loads(line) for path in QUESTION_FILES if path.is_file()
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows][:n]


def bench_encoder(encoder, passages: list[str], queries: list[str]) -> tuple[dict, np.ndarray, np.ndarray]:
    """Passages/s at batch 32, median single-query ms; also the vectors (for the cosine)."""
    encoder.encode_passages(passages[:32], batch_size=32)
    for q in queries[:3]:
        encoder.encode_queries([q])
    start = time.perf_counter()
    passage_vectors = encoder.encode_passages(passages, batch_size=32)
    passages_per_s = len(passages) / (time.perf_counter() - start)
    times = []
    for q in queries[:50]:
        t0 = time.perf_counter()
        encoder.encode_queries([q])
        times.append(time.perf_counter() - t0)
    query_vectors = encoder.encode_queries(queries)
    return ({"passages_per_s": passages_per_s, "query_ms_median": 1000 * statistics.median(times)},
            passage_vectors, query_vectors)


def bench_reader(span_model, questions: list[str], passages: list[str], per_question: int) -> dict:
    """p50/p95 ms of ``span_model.predict(question, per_question passages)``."""
    chosen = [[passages[(i * 7 + j) % len(passages)] for j in range(per_question)] for i in range(len(questions))]
    for q, ctx in zip(questions[:3], chosen[:3], strict=True):
        span_model.predict(q, ctx)
    times = []
    for q, ctx in zip(questions, chosen, strict=True):
        t0 = time.perf_counter()
        span_model.predict(q, ctx)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


#: Runs argv[1:] and prints its wall seconds and peak resident KB. A child forked from
#: this (large) process would report this process's peak as its own (Linux keeps the
#: high-water mark across exec), so the command is started from this small one.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stderr=subprocess.DEVNULL).returncode\n"
    "wall = time.perf_counter() - t\n"
    "print(f'\\nMEASURED {code} {wall} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
)


def run_measured(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak resident MB, stdout)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    out, _, last = done.stdout.rstrip().rpartition("\n")
    _, code, wall, peak_kb = last.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}")
    return float(wall), int(peak_kb) / 1024, out


def bench_cold_ask(index_dir: Path, backend: str, repeats: int = 3) -> dict:
    """One-shot ``qa ask`` in a fresh interpreter: median wall s, max peak MB."""
    env = {**os.environ, "QA_BACKEND": backend, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "qa.cli", "ask", ASK_QUESTION, "--index", str(index_dir)]
    runs = [run_measured(cmd, env) for _ in range(repeats)]
    if "124个" not in runs[0][2]:
        raise RuntimeError(f"unexpected answer from {backend}: {runs[0][2][:200]}")
    return {"wall_s": statistics.median(r[0] for r in runs), "peak_mb": max(r[1] for r in runs)}


def bench_app_start(index_dir: Path, backend: str) -> dict:
    """Seconds from ``python app.py`` to its first HTTP 200, and its resident MB then."""
    from bench_app import start_app

    saved = os.environ.get("QA_BACKEND")
    os.environ["QA_BACKEND"] = backend
    log = Path(tempfile.gettempdir()) / f"bench_backends-app-{os.getpid()}-{backend}.log"
    try:
        proc, _url, ready_s = start_app(index_dir, log)
    finally:
        if saved is None:
            os.environ.pop("QA_BACKEND")
        else:
            os.environ["QA_BACKEND"] = saved
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_mb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"ready_s": ready_s, "rss_mb": rss_mb}


def run(app: bool = True) -> dict:
    """Measure both backends; print the table; return the figures."""
    from qa.config import DEFAULT_CORPUS_DIR, Settings
    from qa.documents import load_documents
    from qa.embedding import load_encoder
    from qa.index import Index

    settings = Settings.from_env()
    (passages, chunk_texts), queries = corpus_chunks(200), gold_questions(100)
    figures: dict = {"cores": os.cpu_count(), "passages": len(passages), "queries": len(queries)}
    vectors, encoders = {}, {}
    for backend in BACKENDS:
        encoders[backend] = load_encoder(settings.model, settings.home, backend, settings.reader_adapter)
        figures[backend], *vectors[backend] = bench_encoder(encoders[backend], passages, queries)
    figures["cosine_min"] = {
        "passages": float((vectors["torch"][0] * vectors["onnx"][0]).sum(axis=1).min()),
        "queries": float((vectors["torch"][1] * vectors["onnx"][1]).sum(axis=1).min()),
    }
    from qa.onnx_backend import OnnxSpanModel
    from qa.span_model import SpanModel

    torch_encoder = encoders["torch"]
    readers = {"torch": SpanModel(torch_encoder.path, settings.reader_adapter, torch_encoder.fingerprint),
               "onnx": OnnxSpanModel(encoders["onnx"], settings.reader_adapter)}
    for backend, reader in readers.items():
        figures[backend]["reader"] = bench_reader(reader, queries[:50], chunk_texts, settings.span_passages)
    with tempfile.TemporaryDirectory(prefix="qa-bench-backends-") as tmp:
        for backend in BACKENDS:
            index_dir = Path(tmp) / backend
            Index.build(load_documents([DEFAULT_CORPUS_DIR]), encoders[backend], settings,
                        progress=False).save(index_dir)
        del readers, encoders
        for backend in BACKENDS:
            figures[backend]["ask_cold"] = bench_cold_ask(Path(tmp) / backend, backend)
            if app:
                figures[backend]["app"] = bench_app_start(Path(tmp) / backend, backend)
    print_table(figures)
    return figures


def print_table(f: dict) -> None:
    t, o = f["torch"], f["onnx"]
    rows = [
        ("passages/s, batch 32", t["passages_per_s"], o["passages_per_s"], ">= 3x"),
        ("query latency median, ms", t["query_ms_median"], o["query_ms_median"], "<= 0.5x"),
        ("neural reader p50, ms", t["reader"]["p50_ms"], o["reader"]["p50_ms"], "<= 50 ms"),
        ("qa ask cold start, s", t["ask_cold"]["wall_s"], o["ask_cold"]["wall_s"], "<= 3 s"),
        ("qa ask peak memory, MB", t["ask_cold"]["peak_mb"], o["ask_cold"]["peak_mb"], "<= 600 MB"),
    ]
    if "app" in t:
        rows += [("app start to ready, s", t["app"]["ready_s"], o["app"]["ready_s"], "<= 5 s"),
                 ("app resident memory, MB", t["app"]["rss_mb"], o["app"]["rss_mb"], "")]
    print(f"backends on {f['cores']} cores ({f['passages']} passages, {f['queries']} questions)")
    print(f"  {'':28} {'torch':>10} {'onnx':>10} {'onnx/torch':>11}  target (onnx)")
    for name, a, b, target in rows:
        print(f"  {name:28} {a:10.1f} {b:10.1f} {b / a:11.2f}  {target}")
    c = f["cosine_min"]
    print(f"  cosine onnx vs fp32, min: passages {c['passages']:.4f}, questions {c['queries']:.4f} "
          "(target >= 0.99)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-app", action="store_true", help="skip the app start-up timing")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    figures = run(app=not args.no_app)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
