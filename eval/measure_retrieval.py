"""Retrieval quality on the gold set: hit@1, hit@5 and MRR@10 for dense, BM25 and hybrid.

Usage (from the repository root)::

    python eval/measure_retrieval.py                 # default corpus, current Settings
    python eval/measure_retrieval.py --extra ../shared/corpus-extra   # index more documents too

The default corpus (plus any ``--extra`` files) is chunked, embedded with the real
encoder and indexed in memory (build time and chunks/s are printed). Every
answerable row of the gold set (``evidence_start`` set) is a query; a *hit* is a
retrieved chunk of the gold document with ``start <= evidence_start`` and
``evidence_end <= end`` (characters, half-open). MRR@10 is the mean reciprocal rank
of the first hit in the top 10 (0 when none). Follow-up rows (non-empty
``history``) are measured twice: ``raw`` (the question alone) and ``history``
(the previous question, a space, then the question), the latter standing in for
the conversation rewriting owned by :mod:`qa.conversation`.

The learned fusion of ``hybrid`` is measured per question type, leave one
document out, by ``python eval/fusion_lodo.py`` (and refitted by ``qa retrieval fit``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_gold(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("evidence_start") is not None]


def metrics(first_hits: list[int | None]) -> dict[str, float]:
    """hit@1, hit@5, MRR@10 from the 0-based rank of each query's first hit (None = no hit in top 10)."""
    n = len(first_hits)
    return {
        "hit@1": sum(f == 0 for f in first_hits) / n,
        "hit@5": sum(f is not None and f < 5 for f in first_hits) / n,
        "mrr@10": sum(1.0 / (f + 1) for f in first_hits if f is not None and f < 10) / n,
    }


def evaluate(search, rows, gold_doc_id, queries, vectors, retriever: str) -> tuple[dict[str, float], list[str]]:
    """Metrics of one retriever configuration, and the ids of the rows missed at rank 1."""
    first_hits, missed = [], []
    for row, query, vector in zip(rows, queries, vectors, strict=True):
        passages = search.search(query, k=10, retriever=retriever, query_vector=vector)
        first = next(
            (i for i, p in enumerate(passages)
             if p.chunk.doc_id == gold_doc_id
             and p.chunk.start <= row["evidence_start"] and row["evidence_end"] <= p.chunk.end),
            None,
        )
        first_hits.append(first)
        if first != 0:
            missed.append(f"{row['id']}@{'-' if first is None else first + 1}")
    return metrics(first_hits), missed


def fmt(m: dict[str, float]) -> str:
    return f"{m['hit@1']:.3f}  {m['hit@5']:.3f}  {m['mrr@10']:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "seed_qa.jsonl")
    parser.add_argument("--extra", nargs="*", default=[], help="more files or folders to index with the corpus")
    args = parser.parse_args(argv)

    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    from qa.config import DEFAULT_CORPUS_DIR, Settings
    from qa.documents import load_documents
    from qa.embedding import encoder_for
    from qa.index import Index
    from qa.retrieval import Retriever

    settings = Settings.from_env()
    t0 = time.perf_counter()
    encoder = encoder_for(settings)
    t1 = time.perf_counter()
    corpus = load_documents([DEFAULT_CORPUS_DIR])
    extra = load_documents([Path(p) for p in args.extra]) if args.extra else []
    index = Index.build(corpus + extra, encoder, settings, progress=False)
    t2 = time.perf_counter()
    n_chunks = len(index.chunks)
    print(f"encoder {encoder.name} loaded in {t1 - t0:.1f} s; {len(index.documents)} documents, "
          f"{n_chunks} chunks indexed in {t2 - t1:.2f} s ({n_chunks / (t2 - t1):.1f} chunks/s)")

    rows = load_gold(args.gold)
    gold_doc = next(
        (d for d in corpus if all(d.text[r["evidence_start"]:r["evidence_end"]] == r["evidence"] for r in rows)),
        None,
    )
    if gold_doc is None:
        print("error: no corpus document holds every gold evidence span at its offsets", file=sys.stderr)
        return 1
    followups = sum(bool(r["history"]) for r in rows)
    queries = {
        "raw": [r["question"] for r in rows],
        "history": [" ".join([*r["history"][-1:], r["question"]]) for r in rows],
    }
    vectors = {mode: encoder.encode_queries(q) for mode, q in queries.items()}
    print(f"{len(rows)} answerable gold rows ({followups} follow-ups); "
          f"fusion_depth={settings.fusion_depth}\n")

    search = Retriever(index, encoder, settings)
    print(f"{'retriever':<10} {'queries':<8} hit@1  hit@5  mrr@10  missed at rank 1 (id@rank of first hit)")
    for retriever in ("dense", "bm25", "hybrid"):
        for mode in ("raw", "history"):
            m, missed = evaluate(search, rows, gold_doc.id, queries[mode], vectors[mode], retriever)
            print(f"{retriever:<10} {mode:<8} {fmt(m)}   {' '.join(missed)}")
    latency(search, queries["history"], vectors["history"])
    return 0


def latency(search, queries, vectors, repeats: int = 3) -> None:
    """p50/p95 retrieval latency per retriever in ms, query encoding excluded (vectors given)."""
    import numpy as np

    for retriever in ("dense", "bm25", "hybrid"):
        for query, vector in zip(queries[:5], vectors[:5], strict=True):  # warm-up
            search.search(query, k=5, retriever=retriever, query_vector=vector)
        times = []
        for _ in range(repeats):
            for query, vector in zip(queries, vectors, strict=True):
                t = time.perf_counter()
                search.search(query, k=5, retriever=retriever, query_vector=vector)
                times.append((time.perf_counter() - t) * 1000)
        p50, p95 = np.percentile(times, [50, 95])
        print(f"latency {retriever:<7} p50 {p50:.2f} ms  p95 {p95:.2f} ms (encoding excluded)")


if __name__ == "__main__":
    sys.exit(main())
