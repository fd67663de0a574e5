"""Training the neural span reader (:mod:`qa.span_model`) on SQuAD-format data.

``qa reader train --data cmrc2018_train.json --out runs/reader`` fine-tunes the
transformer layers of the project's multilingual-e5-small (all but the lowest
by default; the embedding matrix stays frozen) and a start/end head on
*chunk-shaped* CMRC 2018 train examples (Cui et al., EMNLP 2019; CC BY-SA 4.0):
each question with the chunk that holds its answer and a chunk of the same
paragraph that does not (:mod:`qa.reader_data`), so the reader learns on the
windows it reads at answer time and its no-answer score means something there.
It writes:

* ``OUT/adapter/`` — ``adapter.safetensors`` + ``adapter_config.json`` (what ships);
* ``OUT/checkpoint.pt`` — trainable weights, optimizer and schedule, written
  atomically every ``checkpoint_every`` steps; a rerun with the same ``--out``
  resumes from it (never commit it: it holds optimizer state);
* ``OUT/train_log.jsonl`` — one JSON line per logged step: loss, learning rate,
  elapsed seconds, and dev EM/F1 (official CMRC 2018 metric) when measured.

After training, the margin between the best span's score and the no-answer
score is calibrated on the held-out paragraphs (:func:`no_answer_fit`) and
stored in the adapter config. Everything random is seeded (``seed``): window order per epoch, head
initialisation, dropout.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.reader_data import TrainExample, split_chunk_examples
from qa.span_model import (
    AdapterConfig,
    QANetwork,
    base_state,
    make_windows,
    predict_spans,
    save_adapter,
)


@dataclass(frozen=True)
class TrainingOptions:
    """Hyper-parameters of a training run (the defaults are what the shipped adapter used).

    Attributes:
        trained_layers: how many top transformer layers are trained (of 12); the
            layers below and the embedding matrix stay frozen.
        epochs: passes over the training windows.
        batch_size: windows per optimizer step.
        learning_rate: peak AdamW learning rate, reached after ``warmup`` of the
            steps and decayed linearly to 0 (Devlin et al. 2019's schedule).
        weight_decay: AdamW decoupled weight decay (Loshchilov & Hutter, ICLR 2019).
        max_length / stride: window length and overlap in tokens (a 200-character
            chunk and its question take at most ~210 tokens).
        negatives: no-answer chunks per question (:func:`qa.reader_data.split_chunk_examples`).
        held_out: fraction of paragraphs never trained on; they calibrate the
            no-answer probability and give the held-out AUC.
        chunk_max_chars: the chunker's limit, as ``Settings.chunk_max_chars``.
        seed: seeds window order, no-answer chunks, head initialisation and dropout.
        max_examples: train on the first N examples only (quick trials).
        checkpoint_every / eval_every: steps between checkpoints / dev measurements.
        dev_examples: dev questions measured at each ``eval_every``.
    """

    trained_layers: int = 11
    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256
    stride: int = 64
    negatives: int = 1
    held_out: float = 0.05
    chunk_max_chars: int = 200
    seed: int = 13
    max_examples: int | None = None
    checkpoint_every: int = 25
    eval_every: int = 200
    dev_examples: int = 200


def load_dev(path: str | Path, limit: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """The first ``limit`` (question, context, gold answers) of a SQuAD-format file."""
    from qa.evaluation.datasets import squad_paragraphs

    out = []
    for _, _, para, _ in squad_paragraphs(Path(path)):
        for qa in para.get("qas", []):
            out.append((qa["question"], para["context"], tuple(a["text"] for a in qa["answers"])))
            if len(out) >= limit:
                return out
    return out


def train(
    data_path: str | Path,
    out_dir: str | Path,
    model_path: Path,
    base_model: str,
    base_fingerprint: str,
    options: TrainingOptions = TrainingOptions(),
    dev_path: str | Path | None = None,
    command: str = "",
) -> Path:
    """Train (or resume) a reader adapter; returns the adapter directory ``OUT/adapter``.

    Args:
        data_path: SQuAD-format training file (CMRC 2018 train).
        out_dir: run directory (checkpoint, log, adapter).
        model_path: directory of the base model.
        base_model / base_fingerprint: recorded in the adapter's config.
        options: hyper-parameters.
        dev_path: SQuAD-format dev file measured every ``eval_every`` steps, or None.
        command: the command line, recorded in the adapter's config.
    """
    import torch
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    from qa.evaluation.metrics import exact_match, f1

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(options.seed)
    parts = split_chunk_examples(data_path, options.negatives, options.chunk_max_chars,
                                 held_out=options.held_out, seed=options.seed)
    (examples, stats), (held, held_stats) = parts["train"], parts["held_out"]
    if options.max_examples:
        examples, held = examples[:options.max_examples], held[:options.max_examples]
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    # No attention-probability dropout: on a CPU it triples the cost of a trained
    # layer's forward pass (and forces the unfused attention path); hidden dropout stays.
    encoder = AutoModel.from_pretrained(str(model_path), dtype=torch.float32,
                                        attention_probs_dropout_prob=0.0)
    n_layers = encoder.config.num_hidden_layers
    if not 1 <= options.trained_layers <= n_layers:
        raise ValueError(f"trained_layers must be in 1..{n_layers}, got {options.trained_layers}")
    layers = tuple(range(n_layers - options.trained_layers, n_layers))
    config = AdapterConfig(base_model, base_fingerprint, layers, options.max_length, options.stride)
    network = QANetwork(encoder)
    trainable = _freeze_below(network, layers)

    windows = make_windows(tokenizer, [e.question for e in examples], [e.context for e in examples],
                           config, answers=[(e.start, e.end) if e.answerable else None for e in examples])
    frozen = cache_frozen_states(network, windows, layers[0], out_dir / "features", tokenizer.pad_token_id)
    steps_per_epoch = math.ceil(len(windows) / options.batch_size)
    total = max(1, int(steps_per_epoch * options.epochs))
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in trainable if p.ndim > 1 and "LayerNorm" not in n],
          "weight_decay": options.weight_decay},
         {"params": [p for n, p in trainable if not (p.ndim > 1 and "LayerNorm" not in n)],
          "weight_decay": 0.0}],
        lr=options.learning_rate)
    warm = max(1, int(total * options.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))

    checkpoint = out_dir / "checkpoint.pt"
    step, elapsed_before = 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        network.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        step, elapsed_before = state["step"], state["elapsed"]
    dev = load_dev(dev_path, options.dev_examples) if dev_path else []
    log = (out_dir / "train_log.jsonl").open("a", encoding="utf-8")
    _write(log, {"event": "start" if step == 0 else "resume", "step": step, "total_steps": total,
                 "windows": len(windows), "examples": len(examples), "data": stats.summary(),
                 "held_out": held_stats.summary(),
                 "trained_layers": list(layers), "options": options.__dict__, "threads": torch.get_num_threads()})
    started = time.monotonic()
    losses: list[float] = []
    bar = tqdm(total=total, initial=step, desc="training reader", unit="step", dynamic_ncols=True)
    network.train()
    _eval_frozen(network, layers)
    order, order_epoch = [], -1
    while step < total:
        epoch, index = divmod(step, steps_per_epoch)
        if index == 0 or epoch != order_epoch:
            order, order_epoch = batch_order(windows, options.batch_size, options.seed + epoch), epoch
        batch = order[index]
        loss = _step(network, layers, [windows[i] for i in batch], [frozen[i] for i in batch],
                     optimizer, scheduler, trainable)
        losses.append(loss)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        elapsed = elapsed_before + time.monotonic() - started
        record = {"step": step, "epoch": round(step / steps_per_epoch, 3), "loss": round(loss, 4),
                  "lr": scheduler.get_last_lr()[0], "elapsed_s": round(elapsed, 1)}
        if dev and (step % options.eval_every == 0 or step == total):
            network.eval()
            preds = predict_spans(network, tokenizer, config, [d[0] for d in dev], [d[1] for d in dev], 32)
            texts = [d[1][p.start:p.end] if p else "" for d, p in zip(dev, preds, strict=True)]
            record["dev_em"] = round(100 * float(np.mean([exact_match(t, d[2]) for t, d in zip(texts, dev, strict=True)])), 2)
            record["dev_f1"] = round(100 * float(np.mean([f1(t, d[2]) for t, d in zip(texts, dev, strict=True)])), 2)
            record["dev_questions"] = len(dev)
            if held:
                record["held_out_auc"] = round(no_answer_fit(network, tokenizer, config, held)["auc"], 4)
            bar.write(f"step {step}: loss {np.mean(losses[-options.eval_every:]):.3f}, "
                      f"dev EM {record['dev_em']:.1f} F1 {record['dev_f1']:.1f} ({len(dev)} questions), "
                      f"held-out no-answer AUC {record.get('held_out_auc', float('nan')):.3f}")
            network.train()
            _eval_frozen(network, layers)
        _write(log, record)
        if step % options.checkpoint_every == 0 or step == total:
            _save_checkpoint(checkpoint, network, trainable, optimizer, scheduler, step, elapsed)
    bar.close()
    elapsed = elapsed_before + time.monotonic() - started
    network.eval()
    no_answer = no_answer_fit(network, tokenizer, config, held) if held else None
    training = {"command": command, "data": Path(data_path).name, "examples": len(examples),
                "windows": len(windows), "chunks": stats.summary(), "steps": total,
                "seconds": round(elapsed), "threads": torch.get_num_threads(),
                "options": options.__dict__}
    adapter_dir = out_dir / "adapter"
    save_adapter(network, AdapterConfig(base_model, base_fingerprint, layers, options.max_length,
                                        options.stride, training=training, no_answer=no_answer),
                 adapter_dir, base_state=base_state(model_path))
    _write(log, {"event": "done", "step": step, "elapsed_s": round(elapsed, 1), "adapter": str(adapter_dir)})
    log.close()
    return adapter_dir


def no_answer_fit(network, tokenizer, config: AdapterConfig, examples: Sequence[TrainExample]) -> dict:
    """Fit the no-answer calibration on held-out chunk examples (``network`` in eval mode).

    The feature is the margin ``best span score - null score`` of each
    (question, chunk) pair; a one-feature logistic regression (Platt 1999
    scaling) maps it to the probability that the chunk answers the question.

    Returns:
        ``{"weight", "bias", "auc", "examples", "answerable"}``: the calibration
        (``P = sigmoid(weight * margin + bias)``), the ROC AUC of the margin for
        answer vs no-answer chunks, and the counts it was measured on.

    Raises:
        ValueError: the examples are all answerable or all not.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    preds = predict_spans(network, tokenizer, config, [e.question for e in examples],
                          [e.context for e in examples], 32)
    margin = np.array([p.score - p.null_score if p else -30.0 for p in preds])
    label = np.array([e.answerable for e in examples])
    if label.all() or not label.any():
        raise ValueError("the no-answer calibration needs answer and no-answer examples")
    model = LogisticRegression(C=1.0).fit(margin[:, None], label)
    return {"weight": round(float(model.coef_[0, 0]), 6), "bias": round(float(model.intercept_[0]), 6),
            "auc": float(roc_auc_score(label, margin)), "examples": len(examples),
            "answerable": int(label.sum())}


def _freeze_below(network, layers: Sequence[int]) -> list[tuple[str, object]]:
    """Freeze everything except the given encoder layers and the head; returns the trainable (name, param)."""
    prefixes = tuple(f"encoder.encoder.layer.{i}." for i in layers) + ("qa_outputs.",)
    trainable = []
    for name, param in network.named_parameters():
        param.requires_grad = name.startswith(prefixes)
        if param.requires_grad:
            trainable.append((name, param))
    return trainable


def _eval_frozen(network, layers: Sequence[int]) -> None:
    """Frozen layers run without dropout, so they compute what inference computes."""
    network.encoder.embeddings.eval()
    for i, layer in enumerate(network.encoder.encoder.layer):
        if i not in layers:
            layer.eval()


def batch_order(windows: Sequence, batch_size: int, seed: int) -> list[list[int]]:
    """One epoch's batches of window indices: shuffled, then grouped by similar
    length (sorted within runs of 50 batches) so that little compute goes to
    padding; the batch order is shuffled again. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(windows))
    run = 50 * batch_size
    batches = []
    for lo in range(0, len(order), run):
        part = sorted(order[lo:lo + run], key=lambda i: len(windows[i].input_ids))
        batches += [[int(i) for i in part[j:j + batch_size]] for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def lower_states(encoder, input_ids, attention_mask, n_frozen: int):
    """Hidden states after the first ``n_frozen`` layers, ``(b, n, hidden)``."""
    hidden = encoder.embeddings(input_ids=input_ids)
    mask = _layer_mask(encoder, attention_mask, hidden)
    for layer in encoder.encoder.layer[:n_frozen]:
        hidden = _first(layer(hidden, attention_mask=mask))
    return hidden


def upper_logits(network, hidden, attention_mask, layers: Sequence[int]):
    """Start/end logits from cached lower states through ``layers`` and the head."""
    encoder = network.encoder
    mask = _layer_mask(encoder, attention_mask, hidden)
    for i in layers:
        hidden = _first(encoder.encoder.layer[i](hidden, attention_mask=mask))
    logits = network.qa_outputs(hidden).masked_fill(attention_mask.unsqueeze(-1) == 0, -1e4)
    return logits[..., 0], logits[..., 1]


def _layer_mask(encoder, attention_mask, hidden):
    mask, _ = encoder._create_attention_masks(
        attention_mask=attention_mask, encoder_attention_mask=None, embedding_output=hidden,
        encoder_hidden_states=None, cache=None)
    return mask


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def cache_frozen_states(network, windows: Sequence, n_frozen: int, directory: Path, pad_id: int,
                        shard: int = 256) -> list:
    """Run the frozen layers once over every window and keep their output.

    Returns one ``(len(window), hidden)`` float16 tensor per window. Shards of
    ``shard`` windows are saved in ``directory`` as they are computed, so an
    interrupted run picks up where it stopped. The frozen layers never change,
    so each epoch then costs only the trained layers' forward and backward pass.
    """
    import torch
    from tqdm import tqdm

    from qa.span_model import pad_batch

    directory.mkdir(parents=True, exist_ok=True)
    out: list = []
    encoder = network.encoder
    with tqdm(total=len(windows), desc="frozen layers", unit="window", dynamic_ncols=True) as bar:
        for n, lo in enumerate(range(0, len(windows), shard)):
            path = directory / f"shard-{n:05d}.pt"
            part = windows[lo:lo + shard]
            if path.exists():
                states = torch.load(path)
            else:
                states = []
                for j in range(0, len(part), 32):
                    batch = part[j:j + 32]
                    ids, mask = pad_batch(batch, pad_id)
                    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                        hidden = lower_states(encoder, ids, mask, n_frozen)
                    states += [h[:len(w.input_ids)].to(torch.float16).clone()
                               for h, w in zip(hidden, batch, strict=True)]
                tmp = path.with_suffix(".tmp")
                torch.save(states, tmp)
                os.replace(tmp, path)
            out += states
            bar.update(len(part))
    return out


def _step(network, layers, batch, states, optimizer, scheduler, trainable) -> float:
    import torch

    longest = max(len(w.input_ids) for w in batch)
    hidden = torch.zeros((len(batch), longest, states[0].shape[-1]), dtype=torch.float32)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for i, h in enumerate(states):
        hidden[i, :len(h)] = h.float()
        mask[i, :len(h)] = 1
    starts = torch.tensor([w.start_position for w in batch])
    ends = torch.tensor([w.end_position for w in batch])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        start_logits, end_logits = upper_logits(network, hidden, mask, layers)
    loss = (torch.nn.functional.cross_entropy(start_logits.float(), starts)
            + torch.nn.functional.cross_entropy(end_logits.float(), ends)) / 2
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
    optimizer.step()
    scheduler.step()
    return float(loss.detach())


def _save_checkpoint(path: Path, network, trainable, optimizer, scheduler, step: int, elapsed: float) -> None:
    import torch

    names = {n for n, _ in trainable}
    state = {"trainable": {k: v for k, v in network.state_dict().items() if k in names},
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": torch.get_rng_state(), "step": step, "elapsed": elapsed}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _write(log, record: dict) -> None:
    log.write(json.dumps(record, ensure_ascii=False) + "\n")
    log.flush()
