"""The onnx export (qa.onnx_build): atomic, rebuilt when half-written, fingerprinted.

The graph export itself is replaced by a stub that writes small files, so these
tests run in a second; tests/test_onnx_backend.py exports the real model.
"""

from __future__ import annotations

import json

import pytest
from onnx_fixtures import graph_ops, tiny_bert, tiny_reader
from tokenizer_fixtures import write_unigram

import qa.onnx_build as onnx_build
from qa.model_build import ModelError
from qa.onnx_backend import Graphs
from qa.onnx_build import (
    BOTTOM,
    ENCODER_TOP,
    EXPORT_MARKER,
    PASSAGES,
    READER_TOP,
    backend_fingerprint,
    build_onnx,
    export_dir,
    read_marker,
)
from qa.tokenizer_prune import PRUNED_IDS, PRUNED_TOKENIZER

BASE = "ab" * 32


@pytest.fixture()
def stub_export(monkeypatch, tmp_path):
    """Replace the torch export by one that writes three small graph files; count calls.

    The model directory ``tmp_path/model`` holds a small Unigram ``tokenizer.json`` (pruned for real)."""
    calls = []
    write_unigram(tmp_path / "model")

    def fake(model_path, adapter, out, scratch):
        calls.append(out)
        for name in (PASSAGES, BOTTOM, ENCODER_TOP):
            (out / name).write_bytes(b"graph " + name.encode())
        return 12

    monkeypatch.setattr(onnx_build, "_export_graphs", fake)
    return calls


def test_export_is_written_once_with_a_marker(tmp_path, stub_export):
    messages = []
    target = build_onnx(tmp_path / "model", tmp_path, BASE, progress=messages.append)
    assert target == export_dir(tmp_path, BASE, None) == tmp_path / "onnx" / f"{BASE[:16]}-noreader-v{onnx_build.EXPORT_FORMAT}"
    marker = read_marker(target)
    assert {k: v for k, v in marker["files"].items() if k.endswith(".onnx")} == {
        BOTTOM: len(b"graph bottom.onnx"), ENCODER_TOP: len(b"graph encoder_top.onnx"),
        PASSAGES: len(b"graph passages.onnx")}
    assert marker["files"][PRUNED_TOKENIZER] == (target / PRUNED_TOKENIZER).stat().st_size
    assert marker["files"][PRUNED_IDS] == (target / PRUNED_IDS).stat().st_size
    assert (marker["tokenizer"]["file"], marker["tokenizer"]["pieces"]) == (PRUNED_TOKENIZER, 19)
    assert marker["backend_fingerprint"] == backend_fingerprint(BASE) and marker["adapter_digest"] is None
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [target.name]  # no staging dir left
    assert len(messages) == 2 and "exporting the int8 ONNX encoder" in messages[0]
    messages.clear()
    assert build_onnx(tmp_path / "model", tmp_path, BASE, progress=messages.append) == target
    assert len(stub_export) == 1 and messages == []  # valid: not exported again


def test_an_export_is_rebuilt_when_the_adapters_activation_statistics_change(tmp_path, stub_export):
    import numpy as np

    from qa.smoothquant import ActivationStatistics
    from qa.span_model import ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapter_digest

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / ADAPTER_CONFIG).write_text(json.dumps(
        {"base_model": "m", "base_fingerprint": BASE, "trained_layers": [1]}), encoding="utf-8")
    (adapter / ADAPTER_WEIGHTS).write_bytes(b"weights")
    first = build_onnx(tmp_path / "model", tmp_path, BASE, adapter, progress=lambda m: None)
    assert read_marker(first)["smoothquant"] is None and len(stub_export) == 1
    stats = ActivationStatistics(np.ones((11, 4), np.float32), 0.75, adapter_digest(adapter), {"seed": 0})
    stats.save(adapter)
    again = build_onnx(tmp_path / "model", tmp_path, BASE, adapter, progress=lambda m: None)
    assert again == first and len(stub_export) == 2  # calibrated since: rebuilt with the statistics
    assert read_marker(again)["smoothquant"] == {"alpha": 0.75, "seed": 0}
    build_onnx(tmp_path / "model", tmp_path, BASE, adapter, progress=lambda m: None)
    assert len(stub_export) == 2


@pytest.mark.parametrize("damage", ["no marker", "truncated file", "missing file", "old format",
                                    "missing pruned tokenizer", "made before the pruned tokenizer"])
def test_a_half_written_or_damaged_export_is_rebuilt(tmp_path, stub_export, damage):
    target = build_onnx(tmp_path / "model", tmp_path, BASE, progress=lambda m: None)
    if damage == "no marker":  # interrupted between the graphs and the marker
        (target / EXPORT_MARKER).unlink()
    elif damage == "truncated file":
        (target / BOTTOM).write_bytes(b"gr")
    elif damage == "missing file":
        (target / PASSAGES).unlink()
    elif damage == "missing pruned tokenizer":
        (target / PRUNED_IDS).unlink()
    elif damage == "made before the pruned tokenizer":  # same format number, no tokenizer entry
        marker = json.loads((target / EXPORT_MARKER).read_text())
        del marker["tokenizer"]
        marker["files"] = {k: v for k, v in marker["files"].items() if k.endswith(".onnx")}
        (target / EXPORT_MARKER).write_text(json.dumps(marker))
    else:
        marker = json.loads((target / EXPORT_MARKER).read_text())
        (target / EXPORT_MARKER).write_text(json.dumps({**marker, "format": 0}))
    assert read_marker(target) is None
    assert build_onnx(tmp_path / "model", tmp_path, BASE, progress=lambda m: None) == target
    assert len(stub_export) == 2 and read_marker(target) is not None
    assert (target / BOTTOM).read_bytes() == b"graph bottom.onnx" and (target / PRUNED_IDS).is_file()


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    def failing(model_path, adapter, out, scratch):
        (out / BOTTOM).write_bytes(b"half")
        raise ModelError("cannot export bottom.onnx to ONNX (boom); fix: set QA_BACKEND=torch")

    monkeypatch.setattr(onnx_build, "_export_graphs", failing)
    with pytest.raises(ModelError, match="QA_BACKEND=torch"):
        build_onnx(tmp_path / "model", tmp_path, BASE, progress=lambda m: None)
    assert list((tmp_path / "onnx").iterdir()) == []


def test_a_corrupt_graph_with_the_right_size_gives_a_clear_error(tmp_path, stub_export):
    target = build_onnx(tmp_path / "model", tmp_path, BASE, progress=lambda m: None)
    graphs = Graphs(target)  # the stub's files have the recorded sizes but are not ONNX
    with pytest.raises(ModelError, match=rf"cannot read the onnx graph .*bottom.onnx.*delete {target}"):
        graphs.session(BOTTOM)


def test_backend_fingerprint_follows_the_base_model_and_recipe(monkeypatch):
    assert backend_fingerprint(BASE) != backend_fingerprint("cd" * 32)
    assert backend_fingerprint(BASE) != BASE and len(backend_fingerprint(BASE)) == 64
    before = backend_fingerprint(BASE)
    monkeypatch.setattr(onnx_build, "EXPORT_FORMAT", onnx_build.EXPORT_FORMAT + 1)
    assert backend_fingerprint(BASE) == before  # a new export of the same vectors: indexes stay valid
    version, recipe = onnx_build.EMBEDDING_RECIPE
    monkeypatch.setattr(onnx_build, "EMBEDDING_RECIPE", (version + 1, recipe))
    assert backend_fingerprint(BASE) != before  # a new recipe for the vectors: old onnx indexes are refused


def test_the_vectors_fingerprint_is_the_one_format_2_indexes_record():
    # an index built with export format 2 records this fingerprint for the shipped base model;
    # format 3 computes the same passage vectors, so it must still be accepted
    assert backend_fingerprint("107779cbc4abffc1e6ee4e1e8895a1093ac2dfd51423795eba8680d9f8014b89") == (
        "cd785b75f895e68f85894b956b39611c34b2524fcdba93bf5ddc788178be2610")


def test_a_pruned_tokenizer_that_disagrees_fails_the_build(tmp_path, stub_export, monkeypatch):
    import numpy as np

    import qa.tokenizer_prune as tokenizer_prune

    real = tokenizer_prune.prune_tokenizer

    def off_by_one(source, out):
        entry = real(source, out)
        np.save(out / PRUNED_IDS, np.load(out / PRUNED_IDS) + 1)
        return entry

    monkeypatch.setattr(tokenizer_prune, "prune_tokenizer", off_by_one)
    with pytest.raises(ModelError, match="pruned tokenizer of .*tokenizer.json does not reproduce the full one"):
        build_onnx(tmp_path / "model", tmp_path, BASE, progress=lambda m: None)
    assert list((tmp_path / "onnx").iterdir()) == []


def test_fused_attention_layers_equal_the_models_own_layers_and_run_in_onnxruntime(tmp_path):
    import onnxruntime as ort
    import torch

    model = tiny_bert()
    hidden = torch.randn(2, 6, 32)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        want = model.encoder(hidden, attention_mask=(1.0 - mask[:, None, None, :].float()) * -3.4e38)
        got = onnx_build._layers_forward(model.encoder.layer, hidden, mask)
    assert torch.allclose(got, want.last_hidden_state, atol=1e-5)

    onnx_build._export(onnx_build._Top(model.encoder.layer), ("hidden", "attention_mask"), ("last_hidden",),
                       tmp_path / "top.onnx", 32)
    graph = graph_ops(tmp_path / "top.onnx")
    assert graph.count("MultiHeadAttention") == 2 and "Softmax" not in graph
    session = ort.InferenceSession(str(tmp_path / "top.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(None, {"hidden": hidden.numpy(), "attention_mask": mask.numpy()})[0]
    assert abs(out - want.last_hidden_state.numpy()).max() < 1e-4


def test_the_reader_keeps_the_feed_forward_output_and_the_head_in_fp32(tmp_path):
    onnx_build._export(tiny_reader(tiny_bert()), ("hidden", "attention_mask"), ("logits",), tmp_path / "r.onnx", 32)
    kept = onnx_build._fp32_matmuls(tmp_path / "r.onnx", 32)
    assert len(kept) == 3  # two feed-forward outputs (64 -> 32) and the head (32 -> 2)
    onnx_build._quantize(tmp_path / "r.onnx", tmp_path / "q.onnx", ["MatMul"], kept)
    ops = graph_ops(tmp_path / "q.onnx")
    # per layer: the fused q/k/v projection, the attention output and the feed-forward input
    assert ops.count("MatMul") == 3 and ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 6


def test_the_question_graph_has_blockwise_8bit_weights_close_to_fp32(tmp_path):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    model = tiny_bert()
    onnx_build._export(onnx_build._Top(model.encoder.layer), ("hidden", "attention_mask"), ("last_hidden",),
                       tmp_path / "top.onnx", 32)
    onnx_build._quantize_blockwise(tmp_path / "top.onnx", tmp_path / "q.onnx", 32)
    nodes = [n for n in onnx.load(str(tmp_path / "q.onnx")).graph.node if n.op_type.startswith("MatMul")]
    # per layer: q/k/v (32 -> 96), attention output (32 -> 32), feed-forward in (32 -> 64) and out (64 -> 32)
    assert [n.op_type for n in nodes] == ["MatMulNBits"] * 8
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in nodes[0].attribute}
    assert attributes == {"K": 32, "N": 96, "bits": 8, "block_size": 32, "accuracy_level": 4}
    hidden = torch.randn(2, 6, 32).numpy()
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    want, got = (ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
                 .run(None, {"hidden": hidden, "attention_mask": mask})[0] for name in ("top.onnx", "q.onnx"))
    cosine = (want * got).sum(-1) / np.linalg.norm(want, axis=-1) / np.linalg.norm(got, axis=-1)
    assert cosine.min() > 0.999 and not np.array_equal(want, got)


def test_the_shared_graphs_run_without_the_skip_layer_norm_fusion(tmp_path, monkeypatch):
    import onnxruntime as ort

    opened = {}

    def session(path, options, providers, disabled_optimizers=()):
        opened[path.rsplit("/", 1)[-1]] = list(disabled_optimizers)

    monkeypatch.setattr(ort, "InferenceSession", session)
    graphs = Graphs(tmp_path)
    for name in (BOTTOM, ENCODER_TOP, READER_TOP, PASSAGES):
        graphs.session(name)
    # the passages graph keeps it: its vectors, which indexes store, stay bit-identical
    assert opened == {BOTTOM: ["SkipLayerNormFusion"], ENCODER_TOP: ["SkipLayerNormFusion"],
                      READER_TOP: ["SkipLayerNormFusion"], PASSAGES: []}


def test_a_new_export_removes_the_same_models_exports_of_earlier_formats(tmp_path, stub_export):
    current = export_dir(tmp_path, BASE, None)
    older = current.with_name(current.name.replace(f"-v{onnx_build.EXPORT_FORMAT}", "-v2"))
    other_model = export_dir(tmp_path, "cd" * 32, None).with_name(f"{'cd' * 8}-noreader-v2")
    for folder in (older, other_model):
        folder.mkdir(parents=True)
        (folder / "bottom.onnx").write_bytes(b"old")
    said = []
    build_onnx(tmp_path / "model", tmp_path, BASE, progress=said.append)
    assert not older.exists() and other_model.exists()
    assert any(str(older) in line for line in said)
