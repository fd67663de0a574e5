"""``qa retrieval``: refit and validate the hybrid retriever's fusion model.

    qa retrieval fit  [--index DIR ... | --extra PATH ...] [--data FILE ...] [--out FILE] [--c C]
    qa retrieval lodo [--index DIR ... | --extra PATH ...] [--data FILE ...]

``fit`` prints the leave-one-document-out table (:func:`qa.retrieval.fit.all_ranks`)
and writes the model fitted on all the data, with how it was made, to ``--out``
(default: the shipped ``src/qa/data/retrieval/fusion.json``). ``lodo`` only prints.
Without ``--index`` the index is built in memory from the shipped corpus and the
``--extra`` documents (default ``../shared/corpus-extra``). One ``--index`` serves
every data file; as many as there are data files pair with them in order (the
PDF/DOCX questions over their own index, the report questions over theirs).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import shlex
import sys
from pathlib import Path

DEFAULT_DATA = ("eval/seed_qa.jsonl", "eval/extra_qa.jsonl")
DEFAULT_EXTRA = ("../shared/corpus-extra",)
METHODS = ("bm25", "dense", "rrf", "hybrid-old", "hybrid-new")


def add_parser(subparsers) -> None:
    """Register ``qa retrieval fit`` and ``qa retrieval lodo``."""
    from qa.retrieval import DEFAULT_FUSION_PATH
    from qa.retrieval.fit import DEFAULT_C

    retrieval = subparsers.add_parser(
        "retrieval", help="refit or validate the hybrid retriever's fusion model",
        description="The hybrid retriever re-ranks the union of the dense and BM25 top lists "
                    "with a logistic regression over score, rank and query features.")
    commands = retrieval.add_subparsers(dest="retrieval_command", metavar="ACTION", required=True)
    for name, text in (("fit", "fit the fusion model on gold questions and write it (with LODO figures)"),
                       ("lodo", "print leave-one-document-out retrieval figures per question type")):
        cmd = commands.add_parser(name, help=text, description=text)
        cmd.add_argument("--index", metavar="DIR", action="append",
                         help="an index holding the questions' documents; repeat it to give each --data "
                              "file its own, in order (default: build one in memory from the shipped "
                              "corpus and --extra)")
        cmd.add_argument("--extra", nargs="*", default=list(DEFAULT_EXTRA), metavar="PATH",
                         help="more documents for the in-memory index (default: ../shared/corpus-extra)")
        cmd.add_argument("--data", nargs="+", default=list(DEFAULT_DATA), metavar="FILE",
                         help="gold-format question files (default: eval/seed_qa.jsonl eval/extra_qa.jsonl)")
        cmd.add_argument("--c", type=float, default=DEFAULT_C, help=f"L2 regularisation C (default {DEFAULT_C})")
        cmd.set_defaults(func=_run)
        if name == "fit":
            cmd.add_argument("--out", type=Path, default=DEFAULT_FUSION_PATH,
                             help="where to write the model (default: the shipped fusion.json)")


def measure(args: argparse.Namespace):
    """``(retrievers, {data file: [Query]}, ranks by method)`` for ``args`` (see :func:`add_parser`);
    ``retrievers[k]`` searched ``args.data[k]``.

    Raises:
        ValueError: more than one ``--index`` but not one per data file, or a
            question id in two data files.
    """
    from qa.config import DEFAULT_CORPUS_DIR, Settings
    from qa.documents import load_documents
    from qa.embedding import encoder_for
    from qa.evaluation.datasets import load_dataset
    from qa.index import Index
    from qa.retrieval import Retriever
    from qa.retrieval.fit import all_ranks, collect

    dirs = list(args.index or [])
    if len(dirs) > 1 and len(dirs) != len(args.data):
        raise ValueError(f"{len(dirs)} --index directories for {len(args.data)} --data files: "
                         "give one index, or one per data file in the same order")
    settings = Settings.from_env()
    encoder = encoder_for(settings)
    if dirs:
        loaded = {d: Retriever(Index.load(d, encoder), encoder, settings) for d in dict.fromkeys(dirs)}
        retrievers = [loaded[dirs[k] if len(dirs) > 1 else dirs[0]] for k in range(len(args.data))]
    else:
        documents = load_documents([DEFAULT_CORPUS_DIR, *(Path(p) for p in args.extra)])
        index = Index.build(documents, encoder, settings, progress=False)
        retrievers = [Retriever(index, encoder, settings)] * len(args.data)
    by_file = {str(path): collect(r, load_dataset(path)) for path, r in zip(args.data, retrievers, strict=True)}
    queries = [q for qs in by_file.values() for q in qs]
    seen: set[str] = set()
    for q in queries:
        if q.id in seen:
            raise ValueError(f"question id {q.id!r} occurs in more than one data file")
        seen.add(q.id)
    return retrievers, by_file, all_ranks(queries, c=args.c)


def _run(args: argparse.Namespace) -> int:
    from qa.retrieval.fit import HARD_NEGATIVES, fit, print_tables

    retrievers, by_file, ranks = measure(args)
    tables = print_tables(by_file, ranks, METHODS, ", leave-one-document-out "
                          "(hybrid-new fitted without the question's document)")
    if args.retrieval_command != "fit":
        return 0
    queries = [q for qs in by_file.values() for q in qs]
    meta = {
        "command": _command(args),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "method": f"pairwise logistic regression (scikit-learn, C={args.c}, no intercept); pairs: each "
                  f"relevant candidate against each non-relevant one in either retriever's top {HARD_NEGATIVES}",
        "data": {path: {"questions": len(qs), "sha256": _sha256(path)} for path, qs in by_file.items()},
        "documents": sorted({Path(d.path).name for r in retrievers for d in r.index.documents.values()}),
        "encoder": retrievers[0].encoder.name,
        "lodo": {Path(path).name: {t: {m: {k: round(v, 3) for k, v in row[m].items()} for m in METHODS}
                                   | {"n": row["n"]} for t, row in table.items()}
                 for path, table in tables.items()},
    }
    model = fit(queries, c=args.c, meta=meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"\nwrote {args.out} (fitted on {len(queries)} questions)")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The ``qa retrieval fit`` command line that reproduces ``args``."""
    parts = ["qa", "retrieval", "fit"]
    parts += [x for d in args.index for x in ("--index", str(d))] if args.index else ["--extra", *args.extra]
    parts += ["--data", *args.data, "--c", str(args.c)]
    return " ".join(shlex.quote(p) for p in parts)


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv=None) -> int:
    """``python -m qa.retrieval.cli fit ...`` (the same as ``qa retrieval fit ...``)."""
    from qa.logs import quiet_libraries

    quiet_libraries()
    parser = argparse.ArgumentParser(prog="qa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["retrieval", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
