"""Summaries of an evaluation run: the JSON summary, the Markdown report and the CSV.

Every score in the summary is a fraction in [0, 1]; latencies are milliseconds;
a metric whose denominator is empty (e.g. abstention recall with no unanswerable
question) is ``None`` (JSON ``null``), never a made-up 0 or 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from qa.evaluation import metrics
from qa.evaluation.runner import RANK_DEPTH, QuestionResult

#: The summary metrics: name → (definition, source). Fractions unless "ms".
METRICS: dict[str, tuple[str, str]] = {
    "em": (
        "exact match after lower-casing, stripping and deleting the CMRC punctuation list; "
        "best over the gold answers; every question counts (an unanswerable one scores 1 "
        "only when the system abstains)",
        "CMRC 2018 official script (Cui et al., EMNLP-IJCNLP 2019); "
        "no-answer rule of SQuAD 2.0 (Rajpurkar et al., ACL 2018)",
    ),
    "f1": (
        "token F1 with CJK characters and NLTK word tokens as tokens and the longest common "
        "contiguous token run as overlap; best over the gold answers; every question counts",
        "CMRC 2018 official script (Cui et al., EMNLP-IJCNLP 2019)",
    ),
    "average": ("(EM + F1) / 2", "CMRC 2018 leaderboard"),
    "em_answerable": ("EM over the answerable questions only", "as EM"),
    "f1_answerable": ("F1 over the answerable questions only", "as F1"),
    "hit@1": (
        "share of judged questions whose first retrieved passage holds the gold evidence "
        "(gold format) or comes from the gold paragraph (SQuAD format)",
        "top-k retrieval accuracy (Chen et al., DrQA, ACL 2017)",
    ),
    "hit@5": ("as hit@1, within the first 5 passages", "Chen et al., ACL 2017"),
    "mrr@10": (
        "mean of 1/rank of the first relevant passage within the top 10 (0 if none)",
        "Voorhees, TREC-8 QA track report, 1999",
    ),
    "citation_exact": (
        "share of answered answerable questions whose citation lies in the gold document and "
        "overlaps a gold answer span (SQuAD) or the gold evidence span (gold format)",
        "this project (citation spans in characters, half-open)",
    ),
    "page_accuracy": (
        "share of answered questions with a gold page (PDF) whose citation gives that page",
        "this project (page map of the extracted PDF text)",
    ),
    "abstain_precision": (
        "share of abstentions made on unanswerable questions",
        "no-answer detection, SQuAD 2.0 (Rajpurkar et al., ACL 2018)",
    ),
    "abstain_recall": (
        "share of unanswerable questions on which the system abstained",
        "no-answer detection, SQuAD 2.0 (Rajpurkar et al., ACL 2018)",
    ),
    "latency_ms_p50": (
        "median wall time of one ask() call, milliseconds",
        "linear-interpolation percentile (Hyndman & Fan 1996, def. 7)",
    ),
    "latency_ms_p95": ("95th percentile of the same, milliseconds", "as p50"),
}


#: Metrics shown for each reader when one run evaluates several (``qa eval --reader both``).
READER_COLUMNS = ("em", "f1", "citation_exact", "page_accuracy", "abstain_precision", "abstain_recall",
                  "latency_ms_p50", "latency_ms_p95")


def reader_table(summaries: dict[str, dict]) -> dict[str, dict]:
    """reader name → its :data:`READER_COLUMNS` metrics, from full summaries."""
    return {name: {k: s.get(k) for k in READER_COLUMNS} for name, s in summaries.items()}


def group_metrics(results: Sequence[QuestionResult]) -> dict:
    """The metrics of :data:`METRICS` (and counts) over ``results``."""
    answerable = [r for r in results if r.example.answerable]
    judged = [r for r in results if r.judged]
    em = metrics.mean(r.em for r in results)
    f1 = metrics.mean(r.f1 for r in results)
    precision, recall = metrics.abstention_precision_recall(
        [r.abstained for r in results], [not r.example.answerable for r in results]
    )
    latencies = [r.latency_ms for r in results]
    citations = [r.citation_exact for r in results if r.citation_exact is not None]
    pages = [r.page_correct for r in results if r.page_correct is not None]
    return {
        "n": len(results),
        "answerable": len(answerable),
        "unanswerable": len(results) - len(answerable),
        "answered": sum(not r.abstained for r in results),
        "em": em,
        "f1": f1,
        "average": None if em is None else (em + f1) / 2,
        "em_answerable": metrics.mean(r.em for r in answerable),
        "f1_answerable": metrics.mean(r.f1 for r in answerable),
        "hit@1": metrics.mean(metrics.hit_at_k(r.evidence_rank, 1) for r in judged),
        "hit@5": metrics.mean(metrics.hit_at_k(r.evidence_rank, 5) for r in judged),
        "mrr@10": metrics.mean(metrics.reciprocal_rank(r.evidence_rank, 10) for r in judged),
        "retrieval_judged": len(judged),
        "citation_exact": metrics.mean(float(c) for c in citations),
        "citation_judged": len(citations),
        "page_accuracy": metrics.mean(float(c) for c in pages),
        "page_judged": len(pages),
        "abstain_precision": precision,
        "abstain_recall": recall,
        "latency_ms_p50": metrics.percentile(latencies, 50),
        "latency_ms_p95": metrics.percentile(latencies, 95),
        "latency_ms_mean": metrics.mean(latencies),
    }


def hit_curves(results: Sequence[QuestionResult]) -> dict[str, list[float]]:
    """hit@k for k = 1 … :data:`RANK_DEPTH` for each retriever searched (judged questions)."""
    judged = [r for r in results if r.judged]
    names = sorted({name for r in judged for name in r.ranks})
    return {
        name: [
            metrics.mean(metrics.hit_at_k(r.ranks.get(name), k) for r in judged) or 0.0
            for k in range(1, RANK_DEPTH + 1)
        ]
        for name in names
    }


def summarize(results: Sequence[QuestionResult], **meta) -> dict:
    """The ``--json`` summary: ``meta`` (dataset, mode, …), overall metrics, ``by_type``, curves."""
    summary = dict(meta)
    summary.update(group_metrics(results))
    types = sorted({r.example.type for r in results})
    summary["by_type"] = {
        t: group_metrics([r for r in results if r.example.type == t]) for t in types
    }
    summary["hit@k"] = hit_curves(results)
    return summary


def write_json(summary: dict, path: str | Path) -> Path:
    """Write ``summary`` as UTF-8 JSON (Chinese kept as is); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


CSV_FIELDS = (
    "id", "type", "question", "history", "answers", "prediction", "abstained", "confidence",
    "em", "f1", "latency_ms", "evidence_rank", "citation_exact", "citation", "chunk_ids",
    "page", "gold_page",
)  # fmt: skip


def write_csv(results: Sequence[QuestionResult], path: str | Path) -> Path:
    """One row per question (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in results:
            e = r.example
            writer.writerow([
                e.id, e.type, e.question, " | ".join(e.history), " | ".join(e.answers),
                r.prediction, int(r.abstained), f"{r.confidence:.4f}", f"{r.em:.0f}",
                f"{r.f1:.4f}", f"{r.latency_ms:.1f}", _blank(r.evidence_rank),
                "" if r.citation_exact is None else int(r.citation_exact),
                "" if r.citation is None else "{}:{}-{}".format(*r.citation),
                " ".join(r.chunk_ids), _blank(r.page), _blank(e.page),
            ])  # fmt: skip
    return path


def _blank(value) -> str:
    return "" if value is None else str(value)


def fmt(name: str, value) -> str:
    """A summary value for display: fractions with 3 decimals, ms and s with 1, '–' for None."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}" if name.startswith("latency") or name.endswith("_s") else f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quote(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return _cell(text if len(text) <= limit else text[: limit - 1] + "…")


TYPE_COLUMNS = (
    "n", "answerable", "em", "f1", "hit@1", "hit@5", "mrr@10", "citation_exact",
    "abstain_precision", "abstain_recall", "latency_ms_p50", "latency_ms_p95",
)  # fmt: skip


def markdown(summary: dict, results: Sequence[QuestionResult], plots: Sequence[str] = ()) -> str:
    """The Markdown report: run details, summary table, per-type table, plots, failures."""
    lines = ["# qa evaluation report", ""]
    for key in ("dataset", "mode", "retriever", "reader", "model", "index", "created", "setup_s", "wall_s"):
        if summary.get(key) is not None:
            lines.append(f"- **{key}**: {summary[key]}")
    lines += [
        f"- **questions**: {summary['n']} ({summary['answerable']} answerable, "
        f"{summary['unanswerable']} unanswerable — all counted in every total)",
        f"- **retrieval judged**: {summary['retrieval_judged']} questions; "
        f"**citations judged**: {summary['citation_judged']} answers",
        "",
        "Fractions in [0, 1]; latencies in milliseconds; – = undefined (empty denominator).",
        "",
        "## Summary",
        "",
        "| metric | value | definition | source |",
        "|---|---:|---|---|",
    ]
    for name, (definition, source) in METRICS.items():
        lines.append(f"| {name} | {fmt(name, summary.get(name))} | {definition} | {source} |")
    readers = summary.get("readers") or {}
    if readers:
        lines += ["", f"## Readers side by side (the rest of this report: {summary.get('reader')})", "",
                  "| reader | " + " | ".join(READER_COLUMNS) + " |",
                  "|---|" + "---:|" * len(READER_COLUMNS)]
        for name, row in readers.items():
            lines.append(f"| {name} | " + " | ".join(fmt(k, row.get(k)) for k in READER_COLUMNS) + " |")
    lines += ["", "## By question type", "", "| type | " + " | ".join(TYPE_COLUMNS) + " |"]
    lines.append("|---|" + "---:|" * len(TYPE_COLUMNS))
    for kind, group in summary["by_type"].items():
        cells = " | ".join(fmt(c, group.get(c)) for c in TYPE_COLUMNS)
        lines.append(f"| {_cell(kind)} | {cells} |")
    curves = summary.get("hit@k") or {}
    if curves:
        lines += ["", "## Retrieval: hit@k by retriever", ""]
        lines.append(
            "| retriever | " + " | ".join(f"@{k}" for k in range(1, RANK_DEPTH + 1)) + " |"
        )
        lines.append("|---|" + "---:|" * RANK_DEPTH)
        for name, values in curves.items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    failed = [r for r in results if not r.correct]
    lines += ["", f"## Failed questions ({len(failed)} of {len(results)})", ""]
    lines.append("A question fails when its EM is 0 (for an unanswerable one: it was answered).")
    for r in failed:
        lines += [""] + _failure(r)
    return "\n".join(lines) + "\n"


def _failure(r: QuestionResult) -> list[str]:
    e = r.example
    expected = " / ".join(f"「{_quote(a)}」" for a in dict.fromkeys(e.answers)) or "(abstain)"
    given = "(abstained)" if r.abstained else f"「{_quote(r.prediction)}」"
    rank = "not in top 10" if r.evidence_rank is None else str(r.evidence_rank)
    out = [f"### {_cell(e.id)} ({_cell(e.type)})", "", f"- question: {_quote(e.question)}"]
    if e.history:
        out.append(f"- history: {' → '.join(_quote(h) for h in e.history)}")
    if r.standalone_question and r.standalone_question != e.question:
        out.append(f"- answered as: {_quote(r.standalone_question)}")
    out += [f"- expected: {expected}", f"- given: {given} (F1 {r.f1:.3f})"]
    if e.evidence:
        out.append(f"- gold evidence: {_quote(e.evidence)}")
    if r.judged:
        out.append(f"- evidence rank: {rank}")
    if r.citation_exact is not None:
        out.append(f"- citation exact: {'yes' if r.citation_exact else 'no'}")
    if r.passages:
        out.append("- retrieved evidence:")
        out += [f"  {i}. `{cid}` {_quote(text)}" for i, (cid, text) in enumerate(r.passages, 1)]
    return out


def write_markdown(
    summary: dict, results: Sequence[QuestionResult], path: str | Path, plots: Sequence[str] = ()
) -> Path:
    """Write :func:`markdown` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(summary, results, plots), encoding="utf-8")
    return path
