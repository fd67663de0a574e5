"""Build the int8 ONNX graphs of the encoder and the span reader (the ``onnx`` backend).

What answers questions holds one copy of the base network: the base model
(:mod:`qa.model_build`) is cut after layer ``split - 1``, where ``split`` is the
first layer the reader's adapter retrains (:mod:`qa.span_model`), into graphs
that the query encoder and the span reader share:

* ``bottom.onnx``: embeddings and layers ``0 .. split-1`` — ``(input_ids,
  attention_mask)`` ``(b, n)`` int64 → ``hidden`` ``(b, n, d)`` float32;
* ``encoder_top.onnx``: the base layers ``split ..`` — ``(hidden, attention_mask)``
  → ``last_hidden`` ``(b, n, d)`` (mean pooling and L2 normalisation are done
  in numpy by :mod:`qa.onnx_backend`, exactly as sentence-transformers does);
* ``reader_top.onnx``: the adapter's layers and its start/end head —
  ``(hidden, attention_mask)`` → ``start_logits``, ``end_logits`` ``(b, n)``;

and one graph for bulk passage embedding (indexing), loaded only to index:

* ``passages.onnx``: the whole encoder — ``(input_ids, attention_mask)`` →
  ``last_hidden``, every MatMul in int8.

Next to the graphs go the pruned tokenizer of :mod:`qa.tokenizer_prune`
(``tokenizer.pruned.json`` and its id map ``tokenizer.pruned.ids.npy``: the
pieces a Chinese text can use, 87 MB in memory instead of 282 MB, same ids),
checked against the full tokenizer when written.

Without a usable adapter ``split`` is the number of layers (``encoder_top`` is
then the identity and there is no reader graph). Each graph is exported with
``torch.onnx.export`` (TorchScript exporter), each layer's self-attention as one
ONNX Runtime ``MultiHeadAttention`` node (:func:`_layers_forward`); the 250k x 384
embedding table (``Gather``) is quantised to int8 everywhere (a quarter of the
memory), and MatMul weights per output channel, with ONNX Runtime's dynamic
quantisation (Jacob et al. 2018, "Quantization and Training of Neural Networks
for Efficient Integer-Arithmetic-Only Inference", CVPR; activations quantised
per batch at run time): all of ``passages.onnx`` (its vectors stay within cosine
0.99 of fp32) and those of ``reader_top.onnx`` but the span head; its feed-forward
outputs are int8 only after SmoothQuant with the adapter's activation statistics
(:mod:`qa.smoothquant`), else fp32 (:func:`_fp32_matmuls`). ``bottom.onnx`` keeps fp32 MatMuls: int8
activations there moved the reader's span scores by up to 2 logits and changed 14
of 55 gold spans. ``encoder_top.onnx`` (questions only) has 8-bit weights in blocks
of :data:`BLOCK_SIZE` input channels, each block with its own scale, and int8
activations likewise scaled per block of each token (ONNX Runtime's ``MatMulNBits``,
:func:`_quantize_blockwise`): per-tensor int8 activations there had cost the learned
fusion two questions; per block it costs none (figures in the README, "Backends").

The files are written into a staged directory next to the target and renamed
into place with a marker written last (as :func:`qa.model_build.build_model`
does), under ``<home>/onnx/``; a directory without a valid marker (an
interrupted build, or one made before the pruned tokenizer) is rebuilt.
Building needs torch, transformers and onnx; running them
(:mod:`qa.onnx_backend`) needs only onnxruntime and tokenizers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

from qa.model_build import ModelError, _replace_dir

#: Bumped whenever the graphs or the quantisation recipe change (an older export is rebuilt).
#: 3: self-attention as one fused MultiHeadAttention node; most reader_top.onnx MatMuls in int8.
#: 4: encoder_top.onnx MatMuls as blockwise 8-bit MatMulNBits; q/k/v as one projection; the
#: reader's feed-forward outputs in int8 after SmoothQuant (:mod:`qa.smoothquant`).
EXPORT_FORMAT = 4
#: Marker written last into a finished export; its presence makes the export valid.
EXPORT_MARKER = "onnx_build.json"
#: How the weights are quantised (recorded in the marker).
QUANTIZATION = ("onnxruntime quantize_dynamic int8: Gather per-tensor in every graph; "
                "MatMul per-channel in passages.onnx, and in reader_top.onnx but for the "
                "span head (the feed-forward outputs after SmoothQuant, else in fp32); "
                "encoder_top.onnx MatMulNBits 8-bit, symmetric, blocks of 32, accuracy level 4")
#: What the fingerprint of the stored (passage) vectors hashes: the recipe of ``passages.onnx``
#: as export format 2 defined it. Format 3 changed the reader and how attention is computed,
#: not the vectors: on 200 corpus chunks its passage vectors are bit-identical to format 2's
#: and its query vectors within 1.1e-7 (README, "Backends"), so indexes stay valid. Format 4
#: (one q/k/v projection, the question graph in 8 bits) keeps the passage vectors bit-identical
#: too (200 corpus chunks); query vectors, never stored, moved within cosine 0.9998 of fp32.
EMBEDDING_RECIPE = (2, "onnxruntime quantize_dynamic int8: Gather per-tensor in every graph; "
                       "MatMul per-channel in passages.onnx only")
#: Graph files of an export.
BOTTOM, ENCODER_TOP, READER_TOP = "bottom.onnx", "encoder_top.onnx", "reader_top.onnx"
PASSAGES = "passages.onnx"
#: Operators quantised in each graph (see the module docstring).
_QUANTISED_OPS = {BOTTOM: ["Gather"], ENCODER_TOP: [], READER_TOP: ["MatMul"], PASSAGES: ["MatMul", "Gather"]}
#: Input channels sharing one scale in ``encoder_top.onnx``'s 8-bit weights (and in its
#: activations, quantised per block of each token at run time). ONNX Runtime's
#: ``MatMulNBits`` accepts 16 to 256; 32 kept the question vectors within cosine 0.9998
#: of fp32 (128: 0.9994), README "Backends".
BLOCK_SIZE = 32
_OPSET = 17


def backend_fingerprint(base_fingerprint: str) -> str:
    """Fingerprint of the onnx encoder's embeddings: the base model's fingerprint
    and :data:`EMBEDDING_RECIPE`, hashed (64 hex characters).

    It does not depend on where the graphs are cut (the cut changes no arithmetic)
    nor on the reader's graph."""
    version, recipe = EMBEDDING_RECIPE
    text = f"onnx\0{version}\0{recipe}\0{base_fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()


def export_dir(home: Path, base_fingerprint: str, adapter_digest: str | None) -> Path:
    """``<home>/onnx/<base fp[:16]>-<adapter digest[:16] or 'noreader'>-v<EXPORT_FORMAT>``."""
    tag = adapter_digest[:16] if adapter_digest else "noreader"
    return Path(home).expanduser() / "onnx" / f"{base_fingerprint[:16]}-{tag}-v{EXPORT_FORMAT}"


def read_marker(path: Path) -> dict | None:
    """The marker of a finished export in ``path`` (its files present with the
    recorded sizes, the pruned tokenizer among them when the marker names one),
    else None.

    A marker without a ``tokenizer`` entry (an export made before the pruned
    tokenizer existed) is not valid: :func:`build_onnx` rebuilds that export."""
    try:
        marker = json.loads((Path(path) / EXPORT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != EXPORT_FORMAT or "tokenizer" not in marker:
        return None
    tokenizer = marker["tokenizer"]
    if tokenizer is not None and not (isinstance(tokenizer, dict) and {tokenizer.get("file"), tokenizer.get("ids")}
                                      <= set(marker.get("files") or {})):
        return None
    for name, size in (marker.get("files") or {}).items():
        file = Path(path) / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return marker if marker.get("files") else None


def build_onnx(
    model_path: Path,
    home: Path,
    base_fingerprint: str,
    adapter_dir: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Export and quantise the graphs for ``model_path`` (+ the adapter), once.

    Args:
        model_path: the base sentence-transformers directory (:func:`qa.model_build.model_dir`).
        home: user cache; the graphs go to :func:`export_dir`.
        base_fingerprint: :func:`qa.embedding.model_fingerprint` of ``model_path``.
        adapter_dir: the reader adapter to export with the encoder; ``None``, or
            an adapter made for another base model, gives an encoder-only export.
        force: rebuild even when a valid export is present.
        progress: called with one-line status messages (default: stderr).

    Returns:
        The export directory (see the module docstring for its files).

    Raises:
        ModelError: torch, transformers or onnx is missing, or the export fails.
    """
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    adapter = _usable_adapter(adapter_dir, base_fingerprint)
    digest = _adapter_digest(adapter) if adapter is not None else None
    target = export_dir(home, base_fingerprint, digest)
    smoothing = _smoothing_record(adapter, digest)
    marker = None if force else read_marker(target)
    # statistics added, changed or removed since the export (qa reader calibrate): rebuilt
    if marker is not None and marker.get("smoothquant") == smoothing:
        return target
    say(f"qa: exporting the int8 ONNX encoder{' and reader' if adapter else ''} to {target} "
        "(one-time, ~1 min)")
    try:
        import onnx  # noqa: F401  (quantisation needs it)
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"building the onnx backend needs {exc.name}; fix: pip install onnx torch "
                         "(or set QA_BACKEND=torch)") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        staged = Path(tmp) / "export"
        staged.mkdir()
        split = _export_graphs(Path(model_path), adapter, staged, Path(tmp) / "fp32")
        tokenizer = _prune_tokenizer(Path(model_path), staged)
        files = {p.name: p.stat().st_size for p in sorted(staged.glob("*.onnx"))}
        if tokenizer is not None:
            files.update({name: (staged / name).stat().st_size for name in (tokenizer["file"], tokenizer["ids"])})
        marker = {
            "format": EXPORT_FORMAT,
            "base_fingerprint": base_fingerprint,
            "backend_fingerprint": backend_fingerprint(base_fingerprint),
            "adapter_digest": digest,
            "split": split,
            "quantization": QUANTIZATION,
            "smoothquant": smoothing,
            "tokenizer": tokenizer,
            "files": files,
        }
        (staged / EXPORT_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        _replace_dir(staged, target, valid=lambda p: read_marker(p) is not None)
    for old in _older_exports(target):
        shutil.rmtree(old, ignore_errors=True)
        say(f"qa: removed {old} (an export of an earlier format)")
    say(f"qa: onnx backend ready at {target}")
    return target


def _smoothing_record(adapter: Path | None, digest: str | None = None) -> dict | None:
    """What the marker records of the reader's SmoothQuant: alpha and provenance, or None
    (feed-forward outputs kept in fp32). ``digest``: the adapter's, when already computed."""
    from qa.smoothquant import ActivationStatistics

    stats = None if adapter is None else ActivationStatistics.load(adapter, digest)
    return None if stats is None else {"alpha": stats.alpha, **stats.provenance}


def _older_exports(target: Path) -> list[Path]:
    """Exports of the same base model and adapter as ``target`` in an earlier
    :data:`EXPORT_FORMAT` (``...-v2`` beside ``...-v3``): superseded, ~600 MB each."""
    stem = target.name.rpartition("-v")[0]
    versions = {p: p.name.rpartition("-v")[2] for p in target.parent.glob(f"{stem}-v*") if p.is_dir()}
    return sorted(p for p, v in versions.items() if v.isdigit() and int(v) < EXPORT_FORMAT)


def _prune_tokenizer(model_path: Path, out: Path) -> dict | None:
    """Write the pruned tokenizer of :mod:`qa.tokenizer_prune` into ``out``, checked
    against the full one on a few texts; its marker entry, or None (not a Unigram
    tokenizer: the backend then uses the full one).

    Raises:
        ModelError: the pruned tokenizer gives other ids or offsets than the full one.
    """
    from tokenizers import Tokenizer

    from qa.tokenizer_prune import SwitchingTokenizer, prune_tokenizer

    source = model_path / "tokenizer.json"
    entry = prune_tokenizer(source, out)
    if entry is None:
        return None
    full, switching = Tokenizer.from_file(str(source)), SwitchingTokenizer(source, (out, entry))
    probes = [_PROBE, "query: " + _PROBE, "<s>托位</s> PM2.5 ①２０２３℃"]
    want = full.encode_batch(probes)
    got = switching.encode_batch(probes)
    if any(not switching.accepts(p) for p in probes) or switching.full_loaded or [
            (e.ids, e.offsets) for e in want] != [(e.ids, e.offsets) for e in got]:
        raise ModelError(f"the pruned tokenizer of {source} does not reproduce the full one; "
                         "fix: set QA_BACKEND=torch and report this")
    return entry


#: Text the pruned tokenizer is checked on when it is written.
_PROBE = ("2023年，东柳街道新增托育驿站4家、托位124个，PM2.5年均浓度下降3.2μg/m³（同比−5%）；"
          "“一老一小”服务覆盖率达95.6%，Ⅱ类水体占比①②。The district added 124 childcare places.")


def _usable_adapter(adapter_dir: Path | None, base_fingerprint: str) -> Path | None:
    """``adapter_dir`` when it holds an adapter made for this base model, else None."""
    if adapter_dir is None:
        return None
    from qa.span_model import ADAPTER_WEIGHTS, AdapterConfig, AdapterError

    try:
        config = AdapterConfig.load(adapter_dir)
    except AdapterError:
        return None
    if config.base_fingerprint != base_fingerprint or not (Path(adapter_dir) / ADAPTER_WEIGHTS).is_file():
        return None
    return Path(adapter_dir)


def _adapter_digest(adapter_dir: Path) -> str:
    from qa.span_model import adapter_digest

    return adapter_digest(adapter_dir)


def _export_graphs(model_path: Path, adapter: Path | None, out: Path, scratch: Path) -> int:
    """Write the quantised graphs into ``out``; return the split layer."""
    import torch
    from transformers import AutoModel

    from qa.embedding import quiet_weight_loading

    scratch.mkdir()
    with quiet_weight_loading():
        base = AutoModel.from_pretrained(str(model_path), dtype=torch.float32,
                                         attn_implementation="eager").eval()
    layers = base.encoder.layer
    split = len(layers)
    reader = None
    if adapter is not None:
        from qa.span_model import SpanModel

        span = SpanModel(model_path, adapter)
        split = min(span.config.trained_layers)
        reader = span.network
        reader.encoder.set_attn_implementation("eager")
        reader.eval()
    graphs = {
        PASSAGES: (_Bottom(base, len(layers)), ("input_ids", "attention_mask"), ("last_hidden",)),
        BOTTOM: (_Bottom(base, split), ("input_ids", "attention_mask"), ("hidden",)),
        ENCODER_TOP: (_Top(layers[split:]), ("hidden", "attention_mask"), ("last_hidden",)),
    }
    if reader is not None:
        graphs[READER_TOP] = (_ReaderTop(reader, split), ("hidden", "attention_mask"),
                              ("start_logits", "end_logits"))
    for name, (module, inputs, outputs) in graphs.items():
        _export(module, inputs, outputs, scratch / name, base.config.hidden_size)
        if name == ENCODER_TOP:
            _quantize_blockwise(scratch / name, out / name, BLOCK_SIZE)
        elif name == READER_TOP:
            keep = set(_fp32_matmuls(scratch / name, base.config.hidden_size))
            keep -= set(_smooth(scratch / name, adapter, base.config.hidden_size))
            _quantize(scratch / name, out / name, _QUANTISED_OPS[name], sorted(keep))
        elif _QUANTISED_OPS[name]:
            _quantize(scratch / name, out / name, _QUANTISED_OPS[name])
        else:
            (scratch / name).rename(out / name)
    return split


@cache
def _attention_function():
    """``torch.autograd.Function`` computing BERT self-attention from projected ``q, k, v``
    (no bias), their stacked biases and a ``(b, n)`` int32 key mask, exported as one
    ONNX Runtime ``com.microsoft::MultiHeadAttention`` node.

    In eager mode it computes what the model's eager attention computes (scaled dot
    product, masked keys at float32 min, softmax over keys), so the traced shapes and
    the fp32 reference agree; in the graph, ONNX Runtime runs its fused CPU kernel
    instead of ~10 separate operators per layer (README, "Backends")."""
    import torch

    class Attention(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, v, bias, mask, heads: int):
            b, n, d = q.shape
            q, k, v = q + bias[:d], k + bias[d:2 * d], v + bias[2 * d:]

            def split(x):
                return x.view(b, n, heads, d // heads).transpose(1, 2)

            scores = split(q) @ split(k).transpose(-1, -2) * (d // heads) ** -0.5
            scores = scores.masked_fill(mask[:, None, None, :] == 0, torch.finfo(scores.dtype).min)
            return (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, n, d)

        @staticmethod
        def symbolic(g, q, k, v, bias, mask, heads: int):
            out = g.op("com.microsoft::MultiHeadAttention", q, k, v, bias, mask, num_heads_i=heads)
            out.setType(q.type())
            return out

    return Attention


def _layers_forward(layers, hidden, attention_mask):
    """Run BERT encoder ``layers`` on ``hidden`` ``(b, n, d)`` with each layer's
    self-attention as one fused node (:func:`_attention_function`); ``attention_mask``
    ``(b, n)`` 0/1 masks padded keys. Same arithmetic as the layers' own forward."""
    import torch
    from torch.nn.functional import linear

    attention = _attention_function()
    mask = attention_mask.to(torch.int32)
    for layer in layers:
        self_attention = layer.attention.self
        parts = (self_attention.query, self_attention.key, self_attention.value)
        # one (d, 3d) projection, split: one MatMul (one activation quantisation) where there were three
        projections = linear(hidden, torch.cat([m.weight for m in parts])).split(hidden.shape[-1], dim=-1)
        bias = torch.cat([m.bias for m in parts])
        context = attention.apply(*projections, bias, mask, self_attention.num_attention_heads)
        hidden = layer.feed_forward_chunk(layer.attention.output(context, hidden))
    return hidden


def _Bottom(base, split: int):
    import torch

    class Bottom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = base.embeddings
            self.layers = torch.nn.ModuleList(base.encoder.layer[:split])

        def forward(self, input_ids, attention_mask):
            return _layers_forward(self.layers, self.embeddings(input_ids=input_ids), attention_mask)

    return Bottom().eval()


def _Top(layers):
    import torch

    class Top(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)

        def forward(self, hidden, attention_mask):
            hidden = _layers_forward(self.layers, hidden, attention_mask)
            return hidden + 0.0 * attention_mask[..., None].to(hidden.dtype)  # both inputs used

    return Top().eval()


def _ReaderTop(network, split: int):
    import torch

    class ReaderTop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(network.encoder.encoder.layer[split:])
            self.qa_outputs = network.qa_outputs

        def forward(self, hidden, attention_mask):
            logits = self.qa_outputs(_layers_forward(self.layers, hidden, attention_mask))
            logits = logits.masked_fill(attention_mask.unsqueeze(-1) == 0, -1e4)
            return logits[..., 0], logits[..., 1]

    return ReaderTop().eval()


def _export(module, inputs: tuple[str, ...], outputs: tuple[str, ...], path: Path, hidden: int) -> None:
    import torch

    ids = torch.ones((2, 7), dtype=torch.long)
    mask = torch.ones((2, 7), dtype=torch.long)
    args = (ids, mask) if inputs[0] == "input_ids" else (torch.zeros((2, 7, hidden)), mask)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, *outputs)}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notices, shown to users otherwise
            torch.onnx.export(module, args, str(path), input_names=list(inputs),
                              output_names=list(outputs), dynamic_axes=axes,
                              opset_version=_OPSET, dynamo=False)
    except Exception as exc:  # the exporter raises many types; all mean "cannot export"
        raise ModelError(f"cannot export {path.name} to ONNX ({type(exc).__name__}: {exc}); "
                         "fix: set QA_BACKEND=torch") from exc


def _fp32_matmuls(path: Path, hidden: int) -> list[str]:
    """Names of the MatMul nodes of the graph at ``path`` whose weight does not map the
    ``hidden``-wide state to ``hidden`` or more features: each layer's feed-forward output
    (``(intermediate, hidden)``) and the span head (``(hidden, 2)``).

    The reader keeps these in fp32 unless the feed-forward outputs are smoothed
    (:func:`_smooth`). The feed-forward output reads the GELU activations, whose few
    outlier channels a per-tensor int8 scale cannot represent (Dettmers et al. 2022,
    "LLM.int8()", NeurIPS; Xiao et al. 2023, "SmoothQuant", ICML): with them in plain
    int8, ``extra_qa`` lost 3 answers (EM 0.925 -> 0.906) and CMRC 2018 the span reader
    0.3 EM and 0.8 F1 (README, "Backends")."""
    import onnx

    from qa.smoothquant import feed_forward_outputs, matmul_weight_shapes

    model = onnx.load(str(path))
    heads = [name for name, (rows, columns) in matmul_weight_shapes(model).items()
             if rows == hidden and columns < hidden]
    return [node.name for node in feed_forward_outputs(model, hidden)] + heads


def _smooth(path: Path, adapter: Path, hidden: int) -> list[str]:
    """SmoothQuant the feed-forward outputs of the reader graph at ``path`` in place with the
    adapter's :class:`qa.smoothquant.ActivationStatistics`; return the smoothed MatMul
    names (none, and the file untouched, when the adapter has no usable statistics)."""
    import onnx

    from qa.smoothquant import ActivationStatistics, smooth

    stats = ActivationStatistics.load(adapter)
    if stats is None:
        return []
    model = onnx.load(str(path))
    try:
        names = smooth(model, stats, hidden)
    except ValueError as exc:
        raise ModelError(f"the activation statistics of {adapter} do not fit its reader ({exc}); "
                         f"fix: rerun qa reader calibrate --adapter {adapter}") from exc
    onnx.save(model, str(path))
    return names


def _quantize(source: Path, target: Path, ops: list[str], keep: list[str] = ()) -> None:
    """Dynamic int8 quantisation of the ``ops`` weights of ``source`` into ``target``,
    except the nodes named in ``keep``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # "consider pre-processing" advice, logged on the root logger
    try:
        # DefaultTensorType: shape inference gives no type to the outputs of contrib
        # operators (MultiHeadAttention); every activation here is float32
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=ops, nodes_to_exclude=list(keep),
                         extra_options={"DefaultTensorType": 1})
    finally:
        logging.disable(logging.NOTSET)


def _quantize_blockwise(source: Path, target: Path, block_size: int) -> None:
    """Replace every MatMul of ``source`` whose weight ``(K, N)`` is a constant by ONNX
    Runtime's ``com.microsoft::MatMulNBits`` into ``target``: 8-bit symmetric weights, one
    scale per ``block_size`` consecutive input channels of each output channel, and
    ``accuracy_level`` 4 (activations quantised to int8 per block of each row at run time,
    integer dot products). What ``onnxruntime.quantization.MatMulNBitsQuantizer`` writes,
    through the same kernel (``quantize_matmul_8bits``), without its ``onnx_ir`` dependency."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    from onnxruntime.capi._pybind_state import quantize_matmul_8bits

    model = onnx.load(str(source))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes = []
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        array = numpy_helper.to_array(weight).astype(np.float32)
        k, n = array.shape
        blocks = -(-k // block_size)
        padded = np.ascontiguousarray(np.pad(array, ((0, blocks * block_size - k), (0, 0))))
        packed = np.zeros((n, blocks, block_size), np.uint8)
        scales = np.zeros((n, blocks), np.float32)
        quantize_matmul_8bits(packed, padded, scales, np.zeros((n, blocks), np.uint8), block_size, n, k, True)
        graph.initializer.remove(weight)
        graph.initializer.extend([numpy_helper.from_array(packed, f"{weight.name}_q8"),
                                  numpy_helper.from_array(scales, f"{weight.name}_scales")])
        nodes.append(helper.make_node(
            "MatMulNBits", [node.input[0], f"{weight.name}_q8", f"{weight.name}_scales"], list(node.output),
            name=node.name, domain="com.microsoft", K=k, N=n, bits=8, block_size=block_size, accuracy_level=4))
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))
