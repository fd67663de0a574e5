"""Plots of an evaluation run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qa.evaluation.runner import QuestionResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_hit_curves(curves: dict[str, list[float]], path: str | Path) -> Path:
    """hit@k (fraction of judged questions, y) against k = 1 … len(curve) (x), one line each."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set(xlabel="k (passages retrieved)", ylabel="hit@k", ylim=(0, 1.02), title="hit@k")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_latency(results: Sequence[QuestionResult], path: str | Path) -> Path:
    """Histogram of per-question ask() latency in milliseconds, p50 and p95 marked."""
    from qa.evaluation.metrics import percentile

    plt = _pyplot()
    latencies = [r.latency_ms for r in results]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(latencies, bins=min(50, max(5, len(latencies) // 5)), color="tab:blue", alpha=0.8)
    for q, style in ((50, "--"), (95, ":")):
        value = percentile(latencies, q)
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, label=f"p{q} = {value:.1f} ms")
    ax.set(xlabel="latency per question (ms)", ylabel="questions", title="ask() latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
