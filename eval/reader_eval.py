"""The neural span reader alone (no rules, no scorer) on SQuAD-format dev sets.

    python eval/reader_eval.py                       # shipped adapter, CMRC 2018 dev + DRCD dev
    python eval/reader_eval.py --adapter runs/reader2/adapter --limit 500 --json out.json
    python eval/reader_eval.py --backend torch          # the fp32 reference (default: $QA_BACKEND or onnx)

For each dataset it prints:

* **paragraph EM / F1**: the reader's best span over the whole gold paragraph
  (read in windows), scored with the official CMRC 2018 metric
  (:mod:`qa.evaluation.metrics`) against every gold answer, as published
  reading-comprehension results are;
* **chunk EM / F1**: the same on the chunk that holds the answer
  (:func:`qa.reader_data.chunk_examples`: what the reader reads at answer time);
* **no-answer AUC**: ROC AUC of ``span score - null score`` separating answer
  chunks from chunks of the same paragraph without the answer (one per
  question), and the mean calibrated answer probability of each group when the
  adapter has a calibration.

Traditional text (DRCD) is folded to Simplified first (:func:`qa.script.fold`,
length-preserving), as the assistant reads it. The combined reader (rules and
neural spans under the learned scorer) is measured by
``qa eval --dataset FILE --mode reader --reader both``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = (ROOT.parent / "shared/data/cmrc2018/cmrc2018_dev.json", ROOT.parent / "shared/data/drcd/DRCD_dev.json")


def measure(model, dataset: Path, limit: int | None) -> dict:
    """Paragraph EM/F1, chunk EM/F1 and the no-answer AUC of ``model`` on ``dataset``."""
    from sklearn.metrics import roc_auc_score

    from qa.evaluation.datasets import squad_paragraphs
    from qa.evaluation.metrics import exact_match, f1
    from qa.reader_data import chunk_examples
    from qa.script import fold

    rows = [(qa["question"], para["context"], tuple(a["text"] for a in qa["answers"]))
            for _, _, para, _ in squad_paragraphs(dataset) for qa in para.get("qas", [])]
    rows = rows[:limit] if limit else rows
    started = time.perf_counter()
    texts = []
    for question, context, _ in rows:  # read folded, sliced from the original (same offsets)
        (pred,) = model.predict(fold(question), [fold(context)])
        texts.append(context[pred.start:pred.end] if pred else "")
    paragraph_s = time.perf_counter() - started
    golds = [r[2] for r in rows]
    out = {"dataset": dataset.name, "questions": len(rows),
           "paragraph_em": 100 * float(np.mean([exact_match(t, g) for t, g in zip(texts, golds, strict=True)])),
           "paragraph_f1": 100 * float(np.mean([f1(t, g) for t, g in zip(texts, golds, strict=True)])),
           "paragraph_s_per_question": paragraph_s / max(1, len(rows))}
    examples, _ = chunk_examples(dataset, negatives=1)
    questions = {q for q, _, _ in rows}
    examples = [e for e in examples if e.question in questions]
    preds = [model.predict(fold(e.question), [fold(e.context)])[0] for e in examples]
    answerable = np.array([e.answerable for e in examples])
    margin = np.array([p.score - p.null_score if p else -30.0 for p in preds])
    hits = [(e.context[p.start:p.end] if p else "", (e.context[e.start:e.end],))
            for e, p in zip(examples, preds, strict=True) if e.answerable]
    out.update({
        "chunk_examples": len(examples), "chunk_answerable": int(answerable.sum()),
        "chunk_em": 100 * float(np.mean([exact_match(t, g) for t, g in hits])),
        "chunk_f1": 100 * float(np.mean([f1(t, g) for t, g in hits])),
        "no_answer_auc": float(roc_auc_score(answerable, margin)) if 0 < answerable.sum() < len(examples) else None,
    })
    probs = np.array([p.answer_probability if p and p.answer_probability is not None else np.nan for p in preds])
    if not np.isnan(probs).all():
        out["answer_probability_answer_chunks"] = float(np.nanmean(probs[answerable]))
        out["answer_probability_other_chunks"] = float(np.nanmean(probs[~answerable]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", type=Path, help="adapter directory (default: the shipped one)")
    parser.add_argument("--dataset", type=Path, action="append",
                        help="SQuAD-format dev file (repeatable; default CMRC 2018 dev and DRCD dev)")
    parser.add_argument("--limit", type=int, help="first N questions of each dataset")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--backend", choices=("torch", "onnx"),
                        help="what runs the reader: torch (fp32, the reference) or onnx (the int8 graphs "
                             "that answer questions; README, Backends); default: $QA_BACKEND or onnx")
    args = parser.parse_args(argv)

    from qa.config import DEFAULT_ADAPTER_DIR, Settings
    from qa.embedding import model_fingerprint
    from qa.model_build import build_model
    from qa.span_model import SpanModel, adapter_digest

    settings = Settings.from_env()
    adapter = args.adapter or DEFAULT_ADAPTER_DIR
    backend = args.backend or settings.backend
    if backend == "onnx":
        from qa.embedding import load_encoder
        from qa.onnx_backend import OnnxSpanModel

        model = OnnxSpanModel(load_encoder(settings.model, settings.home, "onnx", adapter), adapter)
    else:
        model_path = build_model(settings.home)
        model = SpanModel(model_path, adapter, model_fingerprint(model_path))
    datasets = args.dataset or [d for d in DATASETS if d.is_file()]
    if not datasets:
        print("no dataset: pass --dataset FILE (SQuAD-format JSON)", file=sys.stderr)
        return 2
    results = {"adapter": str(adapter), "sha256": adapter_digest(adapter)[:16], "backend": backend, "datasets": []}
    print(f"adapter {adapter} ({results['sha256']}), layers {list(model.config.trained_layers)}, "
          f"window {model.config.max_length} tokens, backend {backend}")
    print(f"{'dataset':<22}{'questions':>10}{'para EM':>9}{'para F1':>9}{'chunk EM':>10}{'chunk F1':>10}"
          f"{'no-ans AUC':>12}{'s/question':>12}")
    for dataset in datasets:
        r = measure(model, dataset, args.limit)
        results["datasets"].append(r)
        auc = f"{r['no_answer_auc']:.3f}" if r["no_answer_auc"] is not None else "-"
        print(f"{r['dataset']:<22}{r['questions']:>10}{r['paragraph_em']:>9.1f}{r['paragraph_f1']:>9.1f}"
              f"{r['chunk_em']:>10.1f}{r['chunk_f1']:>10.1f}{auc:>12}{r['paragraph_s_per_question']:>12.3f}")
        if "answer_probability_answer_chunks" in r:
            print(f"{'':<22}mean answer probability: answer chunks {r['answer_probability_answer_chunks']:.2f}, "
                  f"other chunks {r['answer_probability_other_chunks']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
