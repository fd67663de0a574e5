"""Calibrate the abstention threshold on a gold-format dataset.

    python eval/calibrate_threshold.py [--dataset eval/seed_qa.jsonl] [--index DIR]

Asks every question once with the threshold at 0 (so every best candidate is
seen with its confidence), then prints, for thresholds 0.00–1.00, how many
questions would be answered, EM over all questions (an unanswerable question
scores 1 only when abstained, as in ``qa eval``) and abstention
precision/recall. Answering is monotone in the threshold, so one pass suffices.
The suggested threshold is the middle of the widest interval with the best EM;
``Settings.abstain_threshold`` holds the chosen value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep(rows: list[tuple[float, float, bool]], thresholds: list[float]) -> list[dict]:
    """Figures per threshold from ``(confidence, em_if_answered, answerable)`` rows."""
    out = []
    for t in thresholds:
        answered = [(c, em, a) for c, em, a in rows if c >= t]
        abstained = [(c, em, a) for c, em, a in rows if c < t]
        em = (sum(em for _, em, a in answered if a) + sum(1 for _, _, a in abstained if not a)) / len(rows)
        unanswerable = sum(1 for *_, a in rows if not a)
        correct_abstentions = sum(1 for *_, a in abstained if not a)
        out.append({
            "threshold": t,
            "answered": len(answered),
            "em": em,
            "abstain_precision": correct_abstentions / len(abstained) if abstained else None,
            "abstain_recall": correct_abstentions / unanswerable if unanswerable else None,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "seed_qa.jsonl")
    parser.add_argument("--index", type=Path, help="index directory (default: settings)")
    args = parser.parse_args(argv)

    from qa.config import Settings
    from qa.evaluation.datasets import load_gold
    from qa.evaluation.metrics import exact_match
    from qa.pipeline import Assistant

    settings = Settings.from_env(index_dir=args.index, abstain_threshold=0.0)
    assistant = Assistant(settings).warm_up(progress=True)
    rows = []
    for ex in load_gold(args.dataset):
        answer = assistant.ask(ex.question, history=ex.history)
        em = exact_match(answer.text, ex.answers) if ex.answers else 0.0
        rows.append((answer.confidence, em, bool(ex.answers)))
    thresholds = [round(0.05 * i, 2) for i in range(21)]
    table = sweep(rows, thresholds)
    print(f"{'threshold':>9} {'answered':>8} {'EM':>6} {'abst. P':>8} {'abst. R':>8}")
    for r in table:
        p = "-" if r["abstain_precision"] is None else f"{r['abstain_precision']:.2f}"
        rc = "-" if r["abstain_recall"] is None else f"{r['abstain_recall']:.2f}"
        print(f"{r['threshold']:9.2f} {r['answered']:8d} {r['em']:6.3f} {p:>8} {rc:>8}")
    confidences = sorted({c for c, *_ in rows} | {0.0, 1.0})
    best_em = max(exact for exact in (s["em"] for s in sweep(rows, confidences)))
    gaps = [(hi - lo, (lo + hi) / 2) for lo, hi in zip(confidences, confidences[1:], strict=False)
            if sweep(rows, [(lo + hi) / 2])[0]["em"] == best_em]
    print(f"\nbest EM {best_em:.3f}; suggested threshold {max(gaps)[1]:.3f} "
          f"(middle of the widest interval with that EM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
