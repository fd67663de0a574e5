"""The onnx export (qa.onnx_build): atomic, rebuilt when half-written, fingerprinted.

The graph export itself is replaced by a stub that writes small files, so these
tests run in a second; tests/test_onnx_backend.py exports the real model.
"""

from __future__ import annotations

import json

import pytest
from tokenizer_fixtures import write_unigram

import qa.onnx_build as onnx_build
from qa.model_build import ModelError
from qa.onnx_backend import Graphs
from qa.onnx_build import (
    BOTTOM,
    ENCODER_TOP,
    EXPORT_MARKER,
    PASSAGES,
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
    assert backend_fingerprint(BASE) != before  # a new recipe: old onnx indexes are refused


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
