"""SmoothQuant for the span reader's int8 graph: activation statistics and the weight transform.

Each transformer layer's feed-forward output ``Y = X W`` reads the GELU activations
``X`` ``(tokens, 1536)``, whose few outlier channels one int8 scale per tensor (ONNX
Runtime's dynamic quantisation) cannot represent: with that MatMul in plain int8 the
reader lost answers, so export format 3 kept it in fp32 (~12 ms of a ~55 ms question).
SmoothQuant (Xiao et al. 2023, "SmoothQuant: Accurate and Efficient Post-Training
Quantization for Large Language Models", ICML, eq. 4) moves the range into the weights:
with ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)`` per input channel ``j``,
``Y = (X diag(s)^-1) (diag(s) W)``, exactly; the smoothed activations have a flatter range
and the weights, quantised per output channel, absorb it. :func:`smooth` applies it to an
exported graph (a ``Mul`` by ``1/s`` before each such MatMul, its weight rows scaled by ``s``).

``max|X_j|`` comes from running the fp32 reader on training data, once per adapter
(:func:`measure`, ``qa reader calibrate``), and ships beside the adapter as
:data:`STATISTICS_FILE` with how it was made (:class:`ActivationStatistics`). An adapter
without it, or with another adapter's, is exported as before: feed-forward outputs in fp32.
The export records the statistics it used and is rebuilt when they change.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The statistics file in an adapter directory.
STATISTICS_FILE = "activation_absmax.json"
#: Migration strength. The paper uses 0.5 for most models and up to 0.85 for some; measured
#: with the shipped adapter on the first 1,000 CMRC 2018 *train* questions (span reader alone,
#: EM/F1): fp32 feed-forward outputs 41.8/77.3, plain int8 41.8/76.9, alpha 0.5 41.0/76.4,
#: alpha 0.75 42.8/77.8 (README, "Backends").
ALPHA = 0.75


@dataclass
class ActivationStatistics:
    """Per-channel maxima of the feed-forward outputs' inputs of one adapter's layers.

    Attributes:
        absmax: ``(layers, intermediate)`` float32, max |GELU output| per channel over the
            tokens of the calibration windows (padding excluded), one row per trained layer
            in order.
        alpha: migration strength :func:`smooth` uses.
        adapter_digest: :func:`qa.span_model.adapter_digest` of the adapter measured.
        provenance: data, number of questions and windows, seed, command.
    """

    absmax: np.ndarray
    alpha: float
    adapter_digest: str
    provenance: dict = field(default_factory=dict)

    def save(self, directory: Path) -> Path:
        """Write :data:`STATISTICS_FILE` into ``directory`` (values to 5 significant digits)."""
        path = Path(directory) / STATISTICS_FILE
        record = {"alpha": self.alpha, "adapter_digest": self.adapter_digest, "provenance": self.provenance,
                  "absmax": [[float(f"{v:.5g}") for v in row] for row in self.absmax]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path, digest: str | None = None) -> ActivationStatistics | None:
        """The statistics of the adapter in ``directory``; None when the file is missing,
        unreadable, malformed, or was measured on another adapter (its weights changed).
        ``digest``: the adapter's :func:`qa.span_model.adapter_digest`, if already computed."""
        from qa.span_model import adapter_digest

        try:
            record = json.loads((Path(directory) / STATISTICS_FILE).read_text(encoding="utf-8"))
            absmax = np.asarray(record["absmax"], np.float32)
            stats = cls(absmax, float(record["alpha"]), str(record["adapter_digest"]),
                        dict(record.get("provenance") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if absmax.ndim != 2 or not np.all(np.isfinite(absmax)) or not 0.0 <= stats.alpha <= 1.0:
            return None
        try:
            if stats.adapter_digest != (digest or adapter_digest(Path(directory))):
                return None
        except OSError:
            return None
        return stats


def calibration_pairs(path: str | Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (question, context) pairs drawn at random (``seed``) from a SQuAD-format file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    pairs = [(qa["question"], paragraph["context"]) for article in data
             for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    random.Random(seed).shuffle(pairs)
    return pairs[:n]


def measure(span_model, pairs: Sequence[tuple[str, str]], batch_size: int = 16) -> tuple[np.ndarray, int]:
    """Max |activation| per channel at each trained layer's feed-forward output input.

    Args:
        span_model: a :class:`qa.span_model.SpanModel` (torch, fp32).
        pairs: (question, context) pairs, cut into the reader's windows.
        batch_size: windows per forward pass.

    Returns:
        ``(absmax, windows)``: ``(len(trained_layers), intermediate)`` float32 over the
        windows' real tokens, and the number of windows read.
    """
    import torch

    from qa.span_model import make_windows, pad_batch

    network, config = span_model.network, span_model.config
    layers = network.encoder.encoder.layer
    trained = sorted(config.trained_layers)
    seen: dict[int, torch.Tensor] = {}
    current: dict[str, torch.Tensor] = {}

    def hook(index):
        def record(module, inputs, output):
            kept = output[current["mask"].bool()].abs().amax(dim=0)
            seen[index] = kept if index not in seen else torch.maximum(seen[index], kept)
        return record

    handles = [layers[i].intermediate.register_forward_hook(hook(i)) for i in trained]
    windows = make_windows(span_model.tokenizer, [q for q, _ in pairs], [c for _, c in pairs], config)
    try:
        with torch.inference_mode():
            for lo in range(0, len(windows), batch_size):
                ids, mask = pad_batch(windows[lo:lo + batch_size], span_model.tokenizer.pad_token_id)
                current["mask"] = mask
                network(ids, mask)
    finally:
        for handle in handles:
            handle.remove()
    return np.stack([seen[i].float().numpy() for i in trained]).astype(np.float32), len(windows)


def matmul_weight_shapes(model) -> dict[str, tuple[int, int]]:
    """``{node name: (rows, columns)}`` of the MatMul nodes of ONNX ``model`` whose second
    input is a constant 2-D weight, in graph order."""
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    return {node.name: shape for node in model.graph.node if node.op_type == "MatMul"
            and len(shape := shapes.get(node.input[1], ())) == 2}


def feed_forward_outputs(model, hidden: int) -> list:
    """The MatMul nodes of ONNX ``model`` whose constant weight maps more than ``hidden``
    features to ``hidden`` (``(intermediate, hidden)``: each layer's feed-forward output), in
    graph order."""
    shapes = matmul_weight_shapes(model)
    return [node for node in model.graph.node if node.name in shapes
            and shapes[node.name][1] == hidden and shapes[node.name][0] > hidden]


def smooth(model, stats: ActivationStatistics, hidden: int) -> list[str]:
    """Apply SmoothQuant to the feed-forward outputs of ONNX ``model`` (in place).

    Row ``j`` of each such MatMul's weight is multiplied by ``s_j`` and a ``Mul`` by
    ``1/s`` is inserted before it, so the graph computes the same function in exact
    arithmetic (module docstring). ``s_j`` is floored at 1e-5 on both factors.

    Returns:
        The names of the smoothed MatMul nodes.

    Raises:
        ValueError: the graph's feed-forward outputs do not match ``stats.absmax`` (count
            or width): the statistics were measured on another network.
    """
    from onnx import helper, numpy_helper

    nodes = feed_forward_outputs(model, hidden)
    weights = {t.name: t for t in model.graph.initializer}
    if len(nodes) != len(stats.absmax) or any(
            weights[n.input[1]].dims[0] != stats.absmax.shape[1] for n in nodes):
        raise ValueError(f"{len(nodes)} feed-forward outputs in the graph, statistics for "
                         f"{stats.absmax.shape[0]} layers of width {stats.absmax.shape[1]}")
    for node, absmax in zip(nodes, stats.absmax, strict=True):
        weight = weights[node.input[1]]
        array = numpy_helper.to_array(weight)
        scale = (np.maximum(absmax, 1e-5) ** stats.alpha
                 / np.maximum(np.abs(array).max(axis=1), 1e-5) ** (1.0 - stats.alpha)).astype(np.float32)
        weight.CopyFrom(numpy_helper.from_array((array * scale[:, None]).astype(np.float32), weight.name))
        inverse = numpy_helper.from_array((1.0 / scale).astype(np.float32), f"{node.name}_smooth_inverse")
        model.graph.initializer.append(inverse)
        smoothed = f"{node.name}_smoothed"
        position = list(model.graph.node).index(node)
        model.graph.node.insert(position, helper.make_node(
            "Mul", [node.input[0], inverse.name], [smoothed], name=f"{node.name}_smooth"))
        node.input[0] = smoothed
    return [node.name for node in nodes]
