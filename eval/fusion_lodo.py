"""Retrieval per question type, leave-one-document-out: bm25, dense, RRF, the old fixed fusion, the learned one.

Usage (from the repository root)::

    python eval/fusion_lodo.py                           # in-memory index: shipped corpus + ../shared/corpus-extra
    python eval/fusion_lodo.py --index /path/to/index    # an index that holds the questions' documents
    python eval/fusion_lodo.py --data A.jsonl B.jsonl --index DIR_A --index DIR_B   # one index per file

Every judged question of ``eval/seed_qa.jsonl`` and ``eval/extra_qa.jsonl`` is
searched the way ``qa ask`` searches it (follow-ups rewritten, restricted to the
documents it names by place or year); hit@1, hit@5 and MRR@10 use the evaluation's
relevance (the gold document's chunk that contains the evidence span). Columns:

- ``bm25``, ``dense``: each retriever alone;
- ``rrf``: reciprocal rank fusion of the two top-50 lists (Cormack et al. 2009, k = 60);
- ``hybrid-old``: the fixed fusion this replaced, 0.78·BM25/max-possible + 0.22·min-max(cosine);
- ``hybrid-new``: the learned fusion, each question ranked by a model fitted on the
  questions of the *other* documents (leave-one-document-out);
- ``shipped``: the shipped model (fitted on all questions: in-sample, for reference).

Then the seed questions over an index of the default report alone (the single-report
figures, no regression), and the targets of issue 11 checked on the LODO figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    from qa.retrieval.cli import DEFAULT_DATA, DEFAULT_EXTRA, METHODS, measure
    from qa.retrieval.fit import DEFAULT_C

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append",
                        help="index holding the questions' documents; repeat it to pair one with each "
                             "--data file in order (default: build in memory)")
    parser.add_argument("--extra", nargs="*", default=list(DEFAULT_EXTRA))
    parser.add_argument("--data", nargs="+", default=list(DEFAULT_DATA))
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    args = parser.parse_args(argv)

    from qa.logs import quiet_libraries

    quiet_libraries()
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.documents import load_documents
    from qa.evaluation.datasets import load_dataset
    from qa.index import Index
    from qa.retrieval import Retriever
    from qa.retrieval.fit import (
        OLD_FUSION,
        base_ranks,
        collect,
        format_table,
        model_ranks,
        print_tables,
        rank_table,
    )

    retrievers, by_file, ranks = measure(args)
    retriever = retrievers[0]
    queries = [q for qs in by_file.values() for q in qs]
    ranks["shipped"] = model_ranks(queries, retriever.fusion)
    sizes = {id(r): (len(r.index.documents), len(r.index)) for r in retrievers}
    tables = print_tables(by_file, ranks, [*METHODS, "shipped"],
                          f" over {' + '.join(f'{d} documents ({n} chunks)' for d, n in sizes.values())}; "
                          "hybrid-new leave-one-document-out, shipped in-sample")

    seed = next((p for p in by_file if p.endswith("seed_qa.jsonl")), None)
    if seed:
        single = Index.build(load_documents([DEFAULT_CORPUS_DIR]), retriever.encoder, retriever.settings,
                             progress=False)
        alone = Retriever(single, retriever.encoder, retriever.settings)
        qs = collect(alone, load_dataset(seed))
        single_ranks = {**base_ranks(qs), "hybrid-old": model_ranks(qs, OLD_FUSION),
                        "shipped": model_ranks(qs, alone.fusion)}
        print(f"\n{seed} over the default report alone ({len(single)} chunks)")
        print(format_table(rank_table(qs, single_ranks), list(single_ranks)))

    extra = next((p for p in by_file if p.endswith("extra_qa.jsonl")), None)
    if extra:
        table = tables[extra]
        new = {t: row["hybrid-new"] for t, row in table.items()}
        print("\ntargets (extra, leave-one-document-out):")
        print(f"  hit@1 overall >= 0.85: {new['all']['hit@1']:.3f}")
        if "paraphrase" in new:
            print(f"  paraphrase hit@5 >= 0.90: {new['paraphrase']['hit@5']:.3f}")
        for t, row in table.items():
            for metric in ("hit@1", "hit@5"):
                best = max(row["bm25"][metric], row["dense"][metric])
                if row["hybrid-new"][metric] < best:
                    print(f"  below the better part: {t} {metric} {row['hybrid-new'][metric]:.2f} < {best:.2f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
