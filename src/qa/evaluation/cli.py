"""``qa eval``: run an evaluation set through the pipeline; ``qa eval compare A B``.

Only argument parsing and hand-off live here; heavy imports (the encoder, the
index, matplotlib) happen inside :func:`run` when a run needs them.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

RETRIEVERS = ("dense", "bm25", "hybrid")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand (and its ``compare`` subcommand) to ``subparsers``."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate answers and retrieval on a gold or SQuAD-format dataset",
        description=(
            "Ask every question of DATASET through the pipeline and report CMRC 2018 EM/F1, "
            "hit@k, MRR@10, citation exactness, abstention and latency. Gold-format .jsonl "
            "files run against the shipped index (or --index); SQuAD-format .json files "
            "(CMRC 2018, DRCD) get a temporary index of their paragraphs. "
            "`qa eval compare A.json B.json` prints the differences of two --json summaries."
        ),
    )
    parser.add_argument("--dataset", type=Path, help="gold .jsonl or SQuAD-format .json file")
    parser.add_argument("--index", type=Path,
                        help="index directory; for SQuAD-format data, a cache: its index is "
                             "reused when it holds exactly the dataset's paragraphs, else "
                             "built there")
    parser.add_argument("--retriever", choices=RETRIEVERS, help="retriever (default: settings)")
    parser.add_argument(
        "--mode",
        choices=("open", "reader"),
        default="open",
        help="open: retrieve over all documents; reader: only the gold document (default open)",
    )
    parser.add_argument(
        "--reader",
        choices=("rules", "span", "neural", "both", "all"),
        default="both",
        help="reader(s) to evaluate: rules alone, the span reader alone, neural (both under "
             "the learned scorer); both: rules and neural, all: the three, each over the same "
             "index and reported side by side, the rest of the report for the configured "
             "default (default both)",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N questions")
    parser.add_argument("--out", type=Path, help="write report.md, questions.csv and plots here")
    parser.add_argument("--json", type=Path, dest="json_path", help="write the JSON summary here")
    parser.add_argument("--model", help="encoder model name or path (default: settings)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run, eval_command=None)
    sub = parser.add_subparsers(dest="eval_command", metavar="{compare}")
    compare = sub.add_parser(
        "compare", help="print metric differences of two --json summaries",
        description="Print B − A for every metric of two `qa eval --json` summaries, "
                    "overall and by question type, marking each change better or worse.")
    compare.add_argument("a", type=Path, help="baseline summary (A)")
    compare.add_argument("b", type=Path, help="new summary (B)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``qa eval`` (or ``qa eval compare``) for parsed ``args``; returns the exit status."""
    if getattr(args, "eval_command", None) == "compare":
        return _compare(args)
    if args.dataset is None:
        print("qa: error: --dataset PATH is required (or use: qa eval compare A.json B.json)",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.limit is not None and args.limit < 1:
        print(f"qa: error: --limit must be >= 1, got {args.limit}", file=sys.stderr)
        return 2
    try:
        return _evaluate(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2


def _compare(args: argparse.Namespace) -> int:
    from qa.evaluation.compare import format_diff, load_summary

    try:
        a, b = load_summary(args.a), load_summary(args.b)
    except (FileNotFoundError, ValueError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    print(format_diff(a, b, str(args.a), str(args.b)), end="")
    return 0


def build_assistant(dataset: Path, settings, progress: bool = True, cache: Path | None = None):
    """A warmed-up Assistant: the configured index, or one of the SQuAD data's paragraphs.

    For SQuAD data the index is loaded from ``cache`` when it holds exactly the
    dataset's documents, else built (and saved to ``cache`` when given).
    Returns ``(assistant, index_build_seconds)`` (0.0 when an index is loaded).
    """
    from qa.evaluation.datasets import is_squad, squad_documents
    from qa.pipeline import Assistant

    if not is_squad(dataset):
        assistant = Assistant(settings)
        assistant.warm_up(progress=progress)
        return assistant, 0.0
    from qa.embedding import encoder_for
    from qa.index import Index, IndexStoreError

    documents = squad_documents(dataset)
    encoder = encoder_for(settings)
    started = time.perf_counter()
    index = None
    if cache is not None:
        try:
            index = Index.load(cache, encoder)
        except IndexStoreError:
            index = None
        if index is not None and set(index.documents) != {d.id for d in documents}:
            index = None
    build_s = 0.0
    if index is None:
        index = Index.build(documents, encoder, settings, progress=progress)
        build_s = time.perf_counter() - started
        if cache is not None:
            index.save(cache)
    assistant = Assistant(settings, index=index, encoder=encoder)
    assistant.warm_up(progress=progress)
    return assistant, build_s


def _evaluate(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.evaluation import report
    from qa.evaluation.datasets import is_squad, load_dataset
    from qa.evaluation.runner import evaluate

    started = time.perf_counter()
    examples = load_dataset(args.dataset)
    if args.limit:
        examples = examples[: args.limit]
    squad = is_squad(args.dataset)
    settings = Settings.from_env(
        model=args.model, retriever=args.retriever, index_dir=None if squad else args.index
    )
    if args.mode == "reader" and not any(not ex.answers for ex in examples):
        # Reading comprehension without unanswerable questions (CMRC 2018, DRCD: SQuAD
        # 1.1 style): readers always answer there, as the published results do.
        settings = settings.replace(abstain_threshold=0.0)
    setup_started = time.perf_counter()
    assistant, build_s = build_assistant(args.dataset, settings, progress=not args.no_progress,
                                         cache=args.index if squad else None)
    setup_s = time.perf_counter() - setup_started
    curves = RETRIEVERS if args.out else ()
    kinds = {"both": ["rules", "neural"], "all": ["rules", "span", "neural"]}.get(args.reader, [args.reader])
    runs: dict[str, list] = {}
    for kind in kinds:
        if assistant.use_reader(kind) != kind:
            print(f"qa: warning: {assistant.reader_warning}; not evaluated", file=sys.stderr)
            continue
        runs[kind] = evaluate(
            assistant,
            examples,
            mode=args.mode,
            retriever=settings.retriever,
            curve_retrievers=curves,
            progress=not args.no_progress,
        )
    primary = settings.reader if settings.reader in runs else next(iter(runs))
    results = runs[primary]
    meta = dict(
        dataset=str(args.dataset),
        format="squad" if squad else "gold",
        mode=args.mode,
        retriever=settings.retriever,
        reader=primary,
        model=settings.model,
        index=(str(args.index) if args.index else None) if squad else str(settings.index_dir),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        index_build_s=round(build_s, 1),
        setup_s=round(setup_s, 1),
        wall_s=None,
    )
    summary = report.summarize(results, **meta)
    if len(runs) > 1:
        summary["readers"] = report.reader_table({k: report.summarize(r, **meta) for k, r in runs.items()})
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    if args.json_path:
        report.write_json(summary, args.json_path)
    if args.out:
        _write_outputs(summary, results, args.out)
    print(_brief(summary))
    return 0


def _write_outputs(summary: dict, results, out: Path) -> None:
    from qa.evaluation import plots, report

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if summary.get("hit@k"):
        written.append(plots.plot_hit_curves(summary["hit@k"], out / "hit_at_k.png"))
    written.append(plots.plot_latency(results, out / "latency.png"))
    report.write_csv(results, out / "questions.csv")
    report.write_json(summary, out / "summary.json")
    report.write_markdown(summary, results, out / "report.md", [str(p) for p in written])


def _brief(summary: dict) -> str:
    from qa.evaluation.report import fmt

    keys = ("em", "f1", "hit@1", "hit@5", "mrr@10", "citation_exact", "page_accuracy", "abstain_precision",
            "abstain_recall", "latency_ms_p50", "latency_ms_p95")  # fmt: skip
    head = (f"{summary['n']} questions ({summary['answerable']} answerable, "
            f"{summary['unanswerable']} unanswerable), mode {summary['mode']}, "
            f"retriever {summary['retriever']}, {summary['wall_s']} s")  # fmt: skip
    readers = summary.get("readers")
    if not readers:
        head += f", reader {summary.get('reader')}"
        return head + "\n" + "\n".join(f"  {k:<18} {fmt(k, summary.get(k))}" for k in keys)
    names = list(readers)
    lines = [head, f"  {'':<18} " + " ".join(f"{n:>9}" for n in names)]
    for k in keys:
        # retrieval metrics do not depend on the reader: both saw the same passages
        values = [readers[n].get(k) if k in readers[n] else summary.get(k) for n in names]
        lines.append(f"  {k:<18} " + " ".join(f"{fmt(k, v):>9}" for v in values))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m qa.evaluation.cli eval ...``) until wired into ``qa``."""
    parser = argparse.ArgumentParser(prog="qa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
