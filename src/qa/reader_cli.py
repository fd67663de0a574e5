"""``qa reader``: fit the answer scorer; train and describe the neural span reader's adapter."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``qa reader fit``, ``train``, ``pack``, ``calibrate`` and ``info``."""
    from qa.reader_training import TrainingOptions

    defaults = TrainingOptions()
    reader = subparsers.add_parser(
        "reader", help="fit the answer scorer; train or describe the neural span reader",
        description="The neural reader is multilingual-e5-small with a start/end head; "
                    "only its top layers and the head are trained, and they ship as a "
                    "small adapter loaded on top of the base model.")
    commands = reader.add_subparsers(dest="reader_command", metavar="ACTION", required=True)
    train = commands.add_parser(
        "train", help="fine-tune a reader adapter on SQuAD-format data (CMRC 2018 train)",
        description="Fine-tune the top layers of the base encoder and a span head. Writes "
                    "OUT/adapter (adapter.safetensors + adapter_config.json), OUT/checkpoint.pt "
                    "(resumable: rerun the same command) and OUT/train_log.jsonl (loss, dev EM/F1).")
    train.add_argument("--data", required=True, help="SQuAD-format training JSON, e.g. "
                       "../shared/data/cmrc2018-train/cmrc2018_train.json")
    train.add_argument("--out", required=True, help="run directory (created; resumed if it has a checkpoint)")
    train.add_argument("--dev", help="SQuAD-format dev JSON measured during training (EM/F1 in the log)")
    train.add_argument("--layers", type=int, default=defaults.trained_layers,
                       help=f"top transformer layers to train (default {defaults.trained_layers} of 12)")
    train.add_argument("--epochs", type=float, default=defaults.epochs, help=f"default {defaults.epochs}")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default {defaults.batch_size}")
    train.add_argument("--lr", type=float, default=defaults.learning_rate, help=f"peak learning rate (default {defaults.learning_rate})")
    train.add_argument("--max-length", type=int, default=defaults.max_length, help=f"window tokens (default {defaults.max_length})")
    train.add_argument("--stride", type=int, default=defaults.stride, help=f"window overlap tokens (default {defaults.stride})")
    train.add_argument("--seed", type=int, default=defaults.seed, help=f"default {defaults.seed}")
    train.add_argument("--negatives", type=int, default=defaults.negatives,
                       help=f"no-answer chunks per question (default {defaults.negatives})")
    train.add_argument("--held-out", type=float, default=defaults.held_out,
                       help=f"fraction of paragraphs kept for the no-answer calibration (default {defaults.held_out})")
    train.add_argument("--max-examples", type=int, help="train on the first N examples only (a quick trial)")
    train.set_defaults(func=_run_train)
    pack = commands.add_parser(
        "pack", help="re-save an adapter with int8 weight deltas (or fp16 weights)",
        description="Store each trained weight matrix as its int8 difference from the base model "
                    "(one scale per row), vectors and the head in fp16; --fp16 stores fp16 weights.")
    pack.add_argument("--adapter", required=True, help="adapter directory to read (e.g. runs/reader/adapter)")
    pack.add_argument("--out", required=True, help="adapter directory to write")
    pack.add_argument("--fp16", action="store_true", help="fp16 absolute weights instead of int8 deltas")
    pack.set_defaults(func=_run_pack)
    fit = commands.add_parser(
        "fit", help="fit the answer scorer on gold questions (leave-one-document-out figures)",
        description="Run every gold question through the answering path over INDEX, label each "
                    "candidate span by exact match with the gold answers, and fit the logistic-"
                    "regression answer scorer and its abstention threshold. Prints leave-one-"
                    "document-out figures (each document's questions scored by a scorer fitted "
                    "on the others') and writes the scorer fitted on all questions to OUT.")
    fit.add_argument("--data", action="append", required=True,
                     help="gold .jsonl file (repeatable), e.g. eval/seed_qa.jsonl eval/extra_qa.jsonl")
    fit.add_argument("--index", action="append", required=True,
                     help="index holding the gold documents (`qa index build`): one for all --data, "
                          "or one per --data in the same order")
    fit.add_argument("--out", default=None, help="scorer file to write (default: the shipped one)")
    fit.add_argument("--rows", help="cache of the collected candidates (.npz): reused when present")
    fit.set_defaults(func=_run_fit)
    calibrate = commands.add_parser(
        "calibrate", help="measure the activation statistics the int8 reader export needs",
        description="Run the fp32 reader on windows of SQuAD-format training questions and write "
                    "the per-channel maxima of each feed-forward output's input beside the adapter "
                    "(activation_absmax.json); the onnx export then quantises those MatMuls to int8 "
                    "after SmoothQuant instead of keeping them in fp32 (the export is rebuilt on next use).")
    calibrate.add_argument("--data", required=True, help="SQuAD-format training JSON, e.g. "
                           "../shared/data/cmrc2018-train/cmrc2018_train.json (never an evaluation set)")
    calibrate.add_argument("--adapter", help="adapter directory (default: the one shipped in the package)")
    calibrate.add_argument("--questions", type=int, default=96, help="questions drawn at random (default 96)")
    calibrate.add_argument("--seed", type=int, default=0, help="default 0")
    calibrate.set_defaults(func=_run_calibrate)
    info = commands.add_parser("info", help="describe an adapter (default: the shipped one)")
    info.add_argument("--adapter", help="adapter directory (default: the one shipped in the package)")
    info.set_defaults(func=_run_info)


def _run_fit(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.evaluation.datasets import load_gold
    from qa.evaluation.runner import resolve_documents
    from qa.pipeline import Assistant
    from qa.reader.fit import collect, fit_scorer, load_rows, save_rows
    from qa.reader.scorer import DEFAULT_SCORER_PATH, refitting

    indexes = args.index if len(args.index) == len(args.data) else args.index[:1] * len(args.data)
    if len(args.index) not in (1, len(args.data)):
        raise ValueError(f"give one --index, or one per --data ({len(args.data)}); got {len(args.index)}")
    documents: dict[str, str] = {}
    if args.rows and Path(args.rows).is_file():
        rows = load_rows(args.rows)
        source_of = {e.id: Path(p).name for p in args.data for e in load_gold(p)}
        for row in rows:
            row.source = row.source or source_of.get(row.id, "")
    else:
        rows = []
        for data, index in zip(args.data, indexes, strict=True):
            with refitting():
                assistant = Assistant(Settings.from_env(index_dir=index)).warm_up(progress=False)
            examples = resolve_documents(load_gold(data), assistant.documents())
            rows += collect(assistant, examples, source=Path(data).name)
            documents.update({d.id: Path(d.path).name if d.path else d.title for d in assistant.documents()})
        if args.rows:
            save_rows(rows, args.rows)
    command = "qa reader fit " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    scorer = fit_scorer(rows, command, [Path(p).name for p in args.data], [Path(i).name for i in indexes],
                        documents)
    out = Path(args.out) if args.out else DEFAULT_SCORER_PATH
    scorer.save(out)
    print(json.dumps(scorer.provenance["leave_one_document_out"], ensure_ascii=False, indent=1))
    print(f"wrote {out} (threshold {scorer.threshold:.2f})")
    return 0


def _default_model_path() -> Path:
    """The default encoder's directory, built if missing: reader adapters are made for it alone.

    Raises:
        ValueError: ``QA_MODEL`` names another model."""
    from qa.config import DEFAULT_MODEL, Settings
    from qa.model_build import build_model

    settings = Settings.from_env()
    if settings.model != DEFAULT_MODEL:
        raise ValueError("reader adapters are made for the default encoder only; unset QA_MODEL")
    return build_model(settings.home)


def _run_train(args: argparse.Namespace) -> int:
    from qa.config import DEFAULT_MODEL
    from qa.embedding import model_fingerprint
    from qa.reader_training import TrainingOptions, train

    if not Path(args.data).is_file():
        raise FileNotFoundError(f"training data not found: {args.data}")
    if args.dev and not Path(args.dev).is_file():
        raise FileNotFoundError(f"dev data not found: {args.dev}")
    model_path = _default_model_path()
    options = TrainingOptions(
        trained_layers=args.layers, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, max_length=args.max_length, stride=args.stride, seed=args.seed,
        negatives=args.negatives, held_out=args.held_out, max_examples=args.max_examples)
    command = "qa " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    adapter = train(args.data, args.out, model_path, DEFAULT_MODEL, model_fingerprint(model_path),
                    options, dev_path=args.dev, command=command)
    print(adapter)
    return 0


def _run_pack(args: argparse.Namespace) -> int:
    from qa.span_model import ADAPTER_WEIGHTS, pack_adapter

    out = pack_adapter(_default_model_path(), Path(args.adapter), Path(args.out), int8=not args.fp16)
    size = (out / ADAPTER_WEIGHTS).stat().st_size
    print(f"wrote {out / ADAPTER_WEIGHTS} ({size / 2**20:.1f} MiB)")
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from qa.config import DEFAULT_ADAPTER_DIR
    from qa.smoothquant import ALPHA, ActivationStatistics, calibration_pairs, measure
    from qa.span_model import SpanModel, adapter_digest

    if not Path(args.data).is_file():
        raise FileNotFoundError(f"calibration data not found: {args.data}")
    if args.questions < 1:
        raise ValueError(f"--questions must be >= 1, got {args.questions}")
    directory = Path(args.adapter) if args.adapter else DEFAULT_ADAPTER_DIR
    span = SpanModel(_default_model_path(), directory)
    absmax, windows = measure(span, calibration_pairs(args.data, args.questions, args.seed))
    command = "qa " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    provenance = {"data": Path(args.data).name, "questions": args.questions, "windows": windows,
                  "seed": args.seed, "command": command}
    path = ActivationStatistics(absmax, ALPHA, adapter_digest(directory), provenance).save(directory)
    print(f"wrote {path} ({absmax.shape[0]} layers x {absmax.shape[1]} channels, {windows} windows); "
          "the onnx export is rebuilt with them on next use")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from qa.config import DEFAULT_ADAPTER_DIR
    from qa.smoothquant import ActivationStatistics
    from qa.span_model import AdapterConfig, adapter_digest

    directory = Path(args.adapter) if args.adapter else DEFAULT_ADAPTER_DIR
    config = AdapterConfig.load(directory)
    stats = ActivationStatistics.load(directory)
    info = {"adapter": str(directory), "sha256": adapter_digest(directory), **config.__dict__,
            "activation_statistics": None if stats is None else {"alpha": stats.alpha, **stats.provenance}}
    print(json.dumps(info, ensure_ascii=False, indent=2, default=list))
    return 0
