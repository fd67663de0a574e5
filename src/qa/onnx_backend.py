"""The ``onnx`` backend: the graphs of :mod:`qa.onnx_build` run by ONNX Runtime.

Imports only numpy, ``tokenizers`` and ``onnxruntime`` (no torch, transformers or
sentence-transformers, whose import alone takes several seconds), so a one-shot
``qa ask`` answers in about 3 s on 2 cores (README, "Backends").

:class:`OnnxEncoder` has the interface of :class:`qa.embedding.Encoder` and
reproduces the sentence-transformers pipeline of the base model: the model's
``tokenizer.json`` (through the export's pruned copy, :mod:`qa.tokenizer_prune`, where
the text allows; truncation at ``max_seq_length``), the ``query: `` /
``passage: `` prompts prepended to the text, mean pooling over every token the
attention mask keeps (prompt included), then L2 normalisation.
:class:`OnnxSpanModel` has the interface of :class:`qa.span_model.SpanModel`.
Queries and the reader run the same ``bottom`` graph (embeddings and the layers the reader's
adapter did not retrain), so the base model is in memory once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.embedding import ModelError, resolve_prompts
from qa.onnx_build import (
    BOTTOM,
    ENCODER_TOP,
    PASSAGES,
    READER_TOP,
    backend_fingerprint,
    read_marker,
)
from qa.tokenizer_prune import Encoded, SwitchingTokenizer

#: The module sequence the onnx encoder reproduces (sentence-transformers class names).
SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
#: Model types whose embeddings and layers :mod:`qa.onnx_build` can cut into graphs.
SUPPORTED_TYPES = ("bert", "xlm-roberta")


class Graphs:
    """ONNX Runtime sessions over one export directory, each opened on first use.

    Args:
        directory: an export of :func:`qa.onnx_build.build_onnx`.
        threads: intra-op threads per session (0: ONNX Runtime's default, one per core).

    Raises:
        ModelError: a graph file is missing or ONNX Runtime cannot read it; the
            message says how to rebuild.
    """

    def __init__(self, directory: Path, threads: int = 0) -> None:
        self.directory = Path(directory)
        self.threads = threads
        self.marker = read_marker(self.directory) or {}
        self._sessions: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def has_reader(self) -> bool:
        return READER_TOP in self.marker.get("files", {})

    def session(self, name: str):
        """The ``onnxruntime.InferenceSession`` of graph file ``name``."""
        if name not in self._sessions:
            with self._lock:
                if name not in self._sessions:
                    self._sessions[name] = self._open(name)
        return self._sessions[name]

    def _open(self, name: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # the shared graphs run without the memory arena (-50 MB resident, latency within
        # 2 ms); the bulk passages graph (indexing only) keeps it. Every graph prepacks its
        # weights once at load (ONNX Runtime's default; export format 4 turned it back on
        # for the shared graphs): encoder_top's 8-bit MatMulNBits need it (a question 20 ->
        # 6 ms), the reader went 59 -> 54 ms, the one-shot qa ask peak stayed (README, "Backends")
        if name != PASSAGES:
            options.enable_cpu_mem_arena = False
        # softmax over masked keys underflows into subnormal floats, which x86 computes
        # many times slower: flushing them to zero made the passages graph's Softmax 3x
        # faster and the reader ~20 % faster, with passage vectors bit-identical
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        # idle worker threads sleep instead of spinning: on a busy 2-core machine spinning
        # made the reader 1.7x slower (p50 652 -> 383 ms), and it steals cores from the app
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # ONNX Runtime fuses each residual Add + LayerNormalization into its contrib
        # SkipLayerNormalization, whose CPU kernel measured 0.75 ms against 0.18 ms for
        # the two unfused operators on a (3, 188, 384) input: 9 of the reader's ~75 ms.
        # The bulk passages graph keeps the fusion, so stored passage vectors stay bit-identical
        disabled = [] if name == PASSAGES else ["SkipLayerNormFusion"]
        try:
            return ort.InferenceSession(str(self.directory / name), options,
                                        providers=["CPUExecutionProvider"],
                                        disabled_optimizers=disabled)
        except Exception as exc:  # onnxruntime raises its own error types
            raise ModelError(
                f"cannot read the onnx graph {self.directory / name} ({type(exc).__name__}: {exc}); "
                f"fix: delete {self.directory} (it is rebuilt on next use) or set QA_BACKEND=torch"
            ) from exc

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Output of the shared bottom layers: ``(b, n)`` int64 ids/mask → ``(b, n, d)`` float32."""
        return self.session(BOTTOM).run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def passages(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token vectors of the int8 bulk graph: ``(b, n)`` → ``(b, n, d)`` float32."""
        return self.session(PASSAGES).run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def top(self, name: str, hidden: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """Outputs of a top graph (``encoder_top.onnx`` or ``reader_top.onnx``)."""
        return self.session(name).run(None, {"hidden": hidden, "attention_mask": mask})


def check_supported(model_path: Path) -> None:
    """Raise :class:`ModelError` unless the model is a mean-pooled, normalised
    BERT/XLM-R sentence-transformers directory (what this backend reproduces)."""
    path = Path(model_path)
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = tuple(str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules)
        pooling_dir = next(m["path"] for m in modules if str(m.get("type", "")).endswith("Pooling"))
        pooling = json.loads((path / pooling_dir / "config.json").read_text(encoding="utf-8"))
        model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
        ok = (kinds == SUPPORTED_MODULES and pooling.get("pooling_mode", "mean") == "mean"
              and pooling.get("include_prompt", True) and model_type in SUPPORTED_TYPES
              and (path / "tokenizer.json").is_file())
    except (OSError, ValueError, StopIteration, KeyError, AttributeError):
        ok = False
    if not ok:
        raise ModelError(
            f"the onnx backend reproduces mean-pooled BERT/XLM-R sentence-transformers models "
            f"with a tokenizer.json; {path} is not one; fix: set QA_BACKEND=torch"
        )


def _max_seq_length(path: Path, positions: int) -> int:
    """``max_seq_length`` as sentence-transformers reads it: ``sentence_bert_config.json``,
    else the tokenizer's ``model_max_length``, capped at the position embeddings."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"),
                      ("tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads((path / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and value > 0:
            return min(value, positions)
    return positions


class OnnxEncoder:
    """:class:`qa.embedding.Encoder`'s interface over the ONNX graphs (queries: the graphs
    shared with the reader; passages: the int8 ``passages.onnx``).

    Attributes:
        name, path, dim, max_seq_length, query_prompt, passage_prompt: as
            :class:`qa.embedding.Encoder`.
        backend: ``"onnx"``.
        tokenizer: the :class:`qa.tokenizer_prune.SwitchingTokenizer` (pruned copy of the
            export, full ``tokenizer.json`` when a text needs it).
        base_fingerprint: :func:`qa.embedding.model_fingerprint` of the base model.
        graphs: the :class:`Graphs` (shared with :class:`OnnxSpanModel`).
    """

    backend = "onnx"

    def __init__(self, name: str, path: Path, base_fingerprint: str, graphs: Graphs) -> None:
        self.name = name
        self.path = Path(path)
        self.base_fingerprint = base_fingerprint
        self.graphs = graphs
        config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        self.dim = int(config["hidden_size"])
        self.max_seq_length = _max_seq_length(self.path, int(config["max_position_embeddings"]))
        st_config = self.path / "config_sentence_transformers.json"
        prompts = (json.loads(st_config.read_text(encoding="utf-8")).get("prompts") or {}
                   if st_config.is_file() else {})
        self.query_prompt, self.passage_prompt = resolve_prompts(prompts)
        # one tokenizer for the encoder and the reader: the export's pruned copy (87 MB,
        # 0.3 s to load) for the texts it accepts, the full 250k-piece one (282 MB, 1 s)
        # loaded only for a text that needs it
        tokenizer = graphs.marker.get("tokenizer")
        self.tokenizer = SwitchingTokenizer(
            self.path / "tokenizer.json", None if tokenizer is None else (graphs.directory, tokenizer))
        self.pad_id = int(config.get("pad_token_id") or 0)

    def __repr__(self) -> str:
        return f"OnnxEncoder(name={self.name!r}, dim={self.dim}, path={str(self.path)!r})"

    @property
    def fingerprint(self) -> str:
        """The base model's fingerprint (what the index manifest's ``model`` records)."""
        return self.base_fingerprint

    @cached_property
    def backend_fingerprint(self) -> str:
        """:func:`qa.onnx_build.backend_fingerprint` of the base model."""
        return backend_fingerprint(self.base_fingerprint)

    @cached_property
    def legacy_fingerprint(self) -> str:
        """:func:`qa.embedding.legacy_fingerprint` of the base model (read on first use)."""
        from qa.embedding import legacy_fingerprint

        return legacy_fingerprint(self.path)

    def matches(self, fingerprint: str) -> bool:
        """True when ``fingerprint`` names this base model (current or legacy scheme)."""
        return fingerprint == self.fingerprint or (
            bool(fingerprint) and fingerprint == self.legacy_fingerprint)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32,
                       show_progress: bool = False) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised query embeddings; see :meth:`qa.embedding.Encoder.encode_queries`.

        Runs the graphs shared with the span reader: ``bottom.onnx`` (fp32 MatMuls), then
        ``encoder_top.onnx`` (blockwise 8-bit, :func:`qa.onnx_build._quantize_blockwise`)."""
        return self._encode(texts, self.query_prompt, batch_size, self._shared)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32,
                        show_progress: bool = False) -> np.ndarray:
        """``(n, d)`` float32 L2-normalised passage embeddings (passage prompt).

        Runs ``passages.onnx`` (int8 MatMuls), opened on first use: only indexing embeds passages."""
        return self._encode(texts, self.passage_prompt, batch_size, self.graphs.passages)

    def token_ids(self, texts: Sequence[str], kind: str = "passage") -> list[list[int]]:
        """Token ids with prompt and special tokens, not truncated; see :meth:`qa.embedding.Encoder.token_ids`."""
        from qa.embedding import _checked

        prompt = {"query": self.query_prompt, "passage": self.passage_prompt}.get(kind)
        if prompt is None:
            raise ValueError(f"unknown kind {kind!r}; choose 'query' or 'passage'")
        texts = _checked(texts)
        return [e.ids for e in self.encode_texts([prompt + t for t in texts])] if texts else []

    def encode_texts(self, texts: list[str], add_special_tokens: bool = True) -> list[Encoded]:
        """:class:`qa.tokenizer_prune.Encoded` of each text (ids, offsets), not truncated."""
        return self.tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)

    def encode_pairs(self, pairs: list[tuple[str, str]], max_length: int, stride: int) -> list[Encoded]:
        """:class:`qa.tokenizer_prune.Encoded` of each ``(first, second)`` pair, the second
        truncated to fit ``max_length`` tokens, the rest in ``encoding.overflowing``
        windows that share ``stride`` tokens (as transformers' ``truncation="only_second"``)."""
        return self.tokenizer.encode_batch(pairs, truncation=(max_length, stride))

    def _shared(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.graphs.top(ENCODER_TOP, self.graphs.hidden(ids, mask), mask)[0]

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, network) -> np.ndarray:
        from qa.embedding import _checked

        texts = _checked(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.encode_texts([prompt + t for t in texts])]
        ids = [i[: self.max_seq_length - 1] + i[-1:] if len(i) > self.max_seq_length else i for i in ids]
        order = np.argsort([-len(i) for i in ids], kind="stable")  # similar lengths batched together
        for lo in range(0, len(order), batch_size):
            rows = order[lo:lo + batch_size]
            batch_ids, mask = pad([ids[r] for r in rows], self.pad_id)
            out[rows] = mean_pool_normalize(network(batch_ids, mask), mask)
        return out


def pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, mask)`` as ``(b, longest)`` int64 arrays, right-padded with ``pad_id``."""
    longest = max(len(s) for s in sequences)
    ids = np.full((len(sequences), longest), pad_id, np.int64)
    mask = np.zeros((len(sequences), longest), np.int64)
    for i, seq in enumerate(sequences):
        ids[i, :len(seq)] = seq
        mask[i, :len(seq)] = 1
    return ids, mask


def mean_pool_normalize(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of ``tokens`` ``(b, n, d)`` over the positions ``mask`` ``(b, n)`` keeps,
    then L2-normalised (as sentence-transformers' ``Pooling(mean)`` + ``Normalize``)."""
    weights = mask.astype(np.float32)[..., None]
    summed = (tokens * weights).sum(axis=1)
    mean = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(mean, axis=1, keepdims=True)
    return (mean / np.clip(norms, 1e-12, None)).astype(np.float32)


class OnnxSpanModel:
    """:class:`qa.span_model.SpanModel`'s interface over ``reader_top.onnx``.

    Reads with the encoder's ``bottom`` graph (the layers the adapter did not
    retrain), so the base model is in memory once.

    Args:
        encoder: an :class:`OnnxEncoder` whose export holds a reader graph.
        adapter_dir: the adapter the graph was exported from (its window settings are read).

    Raises:
        AdapterError: the export has no reader graph (no usable adapter), or the
            adapter's config is unreadable.
    """

    def __init__(self, encoder: OnnxEncoder, adapter_dir: Path) -> None:
        from qa.span_model import AdapterConfig, AdapterError

        self.adapter_dir = Path(adapter_dir)
        self.config = AdapterConfig.load(self.adapter_dir)
        if not encoder.graphs.has_reader:
            raise AdapterError(f"the onnx export {encoder.graphs.directory} has no reader graph "
                               f"(the adapter in {self.adapter_dir} is not made for this base model)")
        from qa.span_model import adapter_digest

        if encoder.graphs.marker.get("adapter_digest") != adapter_digest(self.adapter_dir):
            raise AdapterError(f"the onnx export {encoder.graphs.directory} was made with another "
                               f"reader adapter than {self.adapter_dir}")
        self.encoder = encoder
        self.graphs = encoder.graphs

    def predict(self, question: str, contexts: Sequence[str], batch_size: int = 16):
        """The best span in each context (:class:`qa.span_model.SpanPrediction`, offsets
        into that context), ``None`` for a context without a passage token."""
        from qa.span_model import _window_prediction, calibrated

        windows = self.windows([question] * len(contexts), contexts)
        best = [None] * len(contexts)
        for lo in range(0, len(windows), batch_size):
            batch = windows[lo:lo + batch_size]
            ids, mask = pad([w.input_ids for w in batch], self.encoder.pad_id)
            start, end = self.graphs.top(READER_TOP, self.graphs.hidden(ids, mask), mask)
            for w, s, e in zip(batch, start, end, strict=True):
                pred = _window_prediction(w, s, e, self.config.max_answer_tokens, contexts[w.example])
                old = best[w.example]
                if pred is not None and (old is None or pred.score > old.score):
                    best[w.example] = pred
        return calibrated(best, self.config)

    def windows(self, questions: Sequence[str], contexts: Sequence[str]):
        """:func:`qa.span_model.make_windows` (no answers) with the ``tokenizers`` library
        alone: the same ids and offsets as the transformers tokenizer gives."""
        from qa.span_model import Window

        cut = [self._cut_question(q) for q in questions]
        out = []
        pairs = list(zip(cut, contexts, strict=True))
        encodings = self.encoder.encode_pairs(pairs, self.config.max_length, self.config.stride)
        for example, first in enumerate(encodings):
            for enc in [first, *first.overflowing]:
                offsets = tuple((int(a), int(b)) if s == 1 else (-1, -1)
                                for (a, b), s in zip(enc.offsets, enc.sequence_ids, strict=True))
                out.append(Window(example, tuple(enc.ids), offsets))
        return out

    def _cut_question(self, question: str) -> str:
        limit = self.config.max_question_tokens
        enc = self.encoder.encode_texts([question], add_special_tokens=False)[0]
        return question if len(enc.ids) <= limit else question[:enc.offsets[limit - 1][1]]
