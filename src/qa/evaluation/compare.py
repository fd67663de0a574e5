"""Differences between two ``qa eval --json`` summaries (B − A), with signs."""

from __future__ import annotations

import json
from pathlib import Path

from qa.evaluation.report import METRICS, fmt

#: Metrics where a lower value is better (for the "better/worse" column).
LOWER_IS_BETTER = ("latency_ms_p50", "latency_ms_p95", "latency_ms_mean")
#: Count fields shown for context, not judged better or worse.
COUNTS = ("n", "answerable", "unanswerable", "answered", "retrieval_judged", "citation_judged")


def load_summary(path: str | Path) -> dict:
    """Read a summary written by ``qa eval --json``; clear errors for a missing or bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"summary not found: {path} (write one with qa eval --json FILE)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(summary, dict) or "n" not in summary:
        raise ValueError(f"{path}: not a qa eval summary (no 'n' key)")
    return summary


def _numeric(summary: dict) -> dict[str, float | None]:
    return {
        k: v
        for k, v in summary.items()
        if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
    }


def diff(a: dict, b: dict) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """(metric, A, B, B − A, verdict) for every numeric key in either summary.

    ``verdict`` is ``better``, ``worse``, ``same`` or '' (counts, or a side missing).
    Per-type metrics appear as ``type/metric``.
    """
    rows = _rows(_numeric(a), _numeric(b), "")
    types_a, types_b = a.get("by_type") or {}, b.get("by_type") or {}
    for kind in sorted(set(types_a) | set(types_b)):
        rows += _rows(_numeric(types_a.get(kind, {})), _numeric(types_b.get(kind, {})), f"{kind}/")
    return rows


def _rows(a: dict, b: dict, prefix: str) -> list:
    rows = []
    for name in list(a) + [k for k in b if k not in a]:
        x, y = a.get(name), b.get(name)
        if x is None and y is None and name not in METRICS:
            continue  # a run detail absent from both (e.g. no index directory)
        delta = None if x is None or y is None else y - x
        verdict = ""
        if delta is not None and name not in COUNTS and not name.endswith("_s"):
            sign = -1 if name in LOWER_IS_BETTER else 1
            verdict = "same" if abs(delta) < 1e-12 else ("better" if sign * delta > 0 else "worse")
        rows.append((prefix + name, x, y, delta, verdict))
    return rows


def format_diff(a: dict, b: dict, label_a: str = "A", label_b: str = "B") -> str:
    """A plain-text table of :func:`diff`: metric, A, B, signed difference, verdict.

    Overall metrics are all shown; per-type rows (``type/metric``) only where
    the value changed, so the table stays readable.
    """
    rows = [r for r in diff(a, b) if "/" not in r[0] or r[3] is None or abs(r[3]) > 1e-12]
    width = max([len("metric"), *(len(r[0]) for r in rows)])
    lines = [f"A = {label_a}", f"B = {label_b}", ""]
    lines.append(f"{'metric':<{width}}  {'A':>9}  {'B':>9}  {'B - A':>9}")
    for name, x, y, delta, verdict in rows:
        metric = name.split("/")[-1]
        if delta is None:
            change = "–"
        elif metric.startswith("latency") or metric.endswith("_s") or isinstance(delta, int):
            change = f"{delta:+.1f}" if isinstance(delta, float) else f"{delta:+d}"
        else:
            change = f"{delta:+.3f}"
        line = f"{name:<{width}}  {fmt(metric, x):>9}  {fmt(metric, y):>9}  {change:>9}"
        lines.append(f"{line}  {verdict}".rstrip())
    return "\n".join(lines) + "\n"
