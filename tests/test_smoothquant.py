"""SmoothQuant of the reader's feed-forward outputs (qa.smoothquant) and its use in the export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_fixtures import graph_ops, tiny_bert, tiny_reader

import qa.onnx_build as onnx_build
from qa.config import DEFAULT_ADAPTER_DIR
from qa.model_build import ModelError
from qa.smoothquant import STATISTICS_FILE, ActivationStatistics, calibration_pairs, smooth
from qa.span_model import ADAPTER_WEIGHTS, AdapterConfig, adapter_digest


def _export_reader(tmp_path):
    path = tmp_path / "r.onnx"
    onnx_build._export(tiny_reader(tiny_bert()), ("hidden", "attention_mask"), ("logits",), path, 32)
    return path


def _run(path, hidden, mask):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"hidden": hidden, "attention_mask": mask})[0]


def _adapter(tmp_path, absmax, alpha=0.75):
    """An adapter directory (stand-in weights) holding statistics measured on it."""
    directory = tmp_path / "adapter"
    directory.mkdir(exist_ok=True)
    (directory / ADAPTER_WEIGHTS).write_bytes(b"weights")
    ActivationStatistics(np.asarray(absmax, np.float32), alpha, adapter_digest(directory),
                         {"data": "train.json"}).save(directory)
    return directory


def test_smoothing_keeps_the_function_and_scales_the_weights(tmp_path):
    import onnx

    path = _export_reader(tmp_path)
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((2, 5, 32)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    want = _run(path, hidden, mask)
    absmax = rng.uniform(0.1, 20.0, (2, 64)).astype(np.float32)
    model = onnx.load(str(path))
    names = smooth(model, ActivationStatistics(absmax, 0.5, "x"), 32)
    onnx.save(model, str(tmp_path / "s.onnx"))
    assert len(names) == 2 and graph_ops(tmp_path / "s.onnx").count("Mul") > graph_ops(path).count("Mul")
    assert np.abs(_run(tmp_path / "s.onnx", hidden, mask) - want).max() < 1e-4  # same function, fp32 rounding
    inverse = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}[f"{names[0]}_smooth_inverse"]
    assert inverse.shape == (64,) and not np.allclose(inverse, 1.0)


def test_statistics_for_another_network_are_refused(tmp_path):
    import onnx

    model = onnx.load(str(_export_reader(tmp_path)))
    with pytest.raises(ValueError, match="2 feed-forward outputs in the graph, statistics for 3 layers of width 64"):
        smooth(model, ActivationStatistics(np.ones((3, 64), np.float32), 0.5, "x"), 32)


def test_statistics_round_trip_and_are_refused_for_changed_weights(tmp_path):
    directory = _adapter(tmp_path, [[1.0, 2.5], [3.0, 0.25]])
    stats = ActivationStatistics.load(directory)
    assert stats.absmax.tolist() == [[1.0, 2.5], [3.0, 0.25]] and stats.alpha == 0.75
    assert stats.provenance == {"data": "train.json"}
    (directory / ADAPTER_WEIGHTS).write_bytes(b"retrained weights")
    assert ActivationStatistics.load(directory) is None  # measured on the old weights
    assert ActivationStatistics.load(tmp_path / "elsewhere") is None
    _adapter(tmp_path, [[1.0, 2.5]])
    (directory / STATISTICS_FILE).write_text("{not json", encoding="utf-8")
    assert ActivationStatistics.load(directory) is None


def test_the_export_smooths_and_quantises_the_feed_forward_outputs_when_statistics_exist(tmp_path):
    path = _export_reader(tmp_path)
    absmax = np.full((2, 64), 3.0, np.float32)
    kept = set(onnx_build._fp32_matmuls(path, 32)) - set(onnx_build._smooth(path, _adapter(tmp_path, absmax), 32))
    assert len(kept) == 1  # the span head alone
    onnx_build._quantize(path, tmp_path / "q.onnx", ["MatMul"], sorted(kept))
    ops = graph_ops(tmp_path / "q.onnx")
    assert ops.count("MatMul") == 1 and ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 8
    assert onnx_build._smoothing_record(tmp_path / "adapter") == {"alpha": 0.75, "data": "train.json"}


def test_the_export_keeps_fp32_feed_forward_outputs_without_statistics(tmp_path):
    path = _export_reader(tmp_path)
    before = path.read_bytes()
    (tmp_path / "bare").mkdir()
    assert onnx_build._smooth(path, tmp_path / "bare", 32) == [] and path.read_bytes() == before
    assert onnx_build._smoothing_record(tmp_path / "bare") is None


def test_statistics_that_do_not_fit_the_reader_stop_the_export_with_the_fix(tmp_path):
    path = _export_reader(tmp_path)
    directory = _adapter(tmp_path, np.ones((5, 64), np.float32))
    with pytest.raises(ModelError, match=f"fix: rerun qa reader calibrate --adapter {directory}"):
        onnx_build._smooth(path, directory, 32)


def test_the_shipped_adapter_ships_its_statistics():
    stats = ActivationStatistics.load(DEFAULT_ADAPTER_DIR)
    assert stats is not None, f"{STATISTICS_FILE} missing or measured on other weights: qa reader calibrate"
    config = AdapterConfig.load(DEFAULT_ADAPTER_DIR)
    assert stats.absmax.shape == (len(config.trained_layers), 1536)
    assert stats.absmax.min() > 0 and stats.alpha == 0.75
    assert stats.provenance["data"] == "cmrc2018_train.json"  # training data, never an evaluation set


def test_calibration_pairs_are_a_seeded_sample(tmp_path):
    data = {"data": [{"paragraphs": [{"context": f"段落{i}", "qas": [{"question": f"问题{i}"}]}
                                     for i in range(10)]}]}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    pairs = calibration_pairs(path, 4, seed=0)
    assert len(pairs) == 4 and pairs == calibration_pairs(path, 4, seed=0) != calibration_pairs(path, 4, seed=1)
    assert all(q == "问题" + c[2:] for q, c in pairs)


@pytest.mark.slow
def test_measured_maxima_exclude_padding_and_combine_by_maximum(encoder):
    from qa.smoothquant import measure
    from qa.span_model import SpanModel

    span = SpanModel(encoder.path, DEFAULT_ADAPTER_DIR)
    pairs = [("托位有多少个？", "2023年新增托位124个，建成托育驿站4家。"),
             ("老旧小区改造了多少个？", "全年完成老旧小区改造12个，惠及居民3200户，" * 3)]
    together, windows = measure(span, pairs)  # one batch: the shorter window is padded
    apart = [measure(span, [pair])[0] for pair in pairs]
    assert windows == 2 and together.shape == (11, 1536)
    assert np.allclose(together, np.maximum(*apart), rtol=1e-4, atol=1e-5)
