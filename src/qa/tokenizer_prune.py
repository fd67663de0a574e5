"""A pruned Unigram tokenizer that gives exactly the full tokenizer's ids and offsets.

The base model's ``tokenizer.json`` (XLM-R's 250,002 SentencePiece pieces) holds
about 280 MB once ``tokenizers`` has loaded it, and loading takes a second: a
third of what a one-shot ``qa ask`` holds. Chinese government text uses a small
part of it, so :func:`prune_tokenizer` writes a copy that keeps only the pieces
made of characters in :data:`KEPT_CHARACTERS` (106,171 pieces, 87 MB),
and :class:`SwitchingTokenizer` uses that copy for every call whose texts it
accepts, the full tokenizer (loaded on first need) otherwise.

Why the result is identical: a Unigram tokenizer segments each pre-token by a
Viterbi search over the vocabulary pieces that occur in it (Kudo 2018, "Subword
Regularization", ACL). A piece holding a character that is not in the
(normalised) text can never be on that lattice, so removing it changes nothing,
provided two other things stay the same: the score of an unknown character,
which ``tokenizers`` sets to the lowest piece score minus 10 (the lowest-scored
piece is always kept), and everything around the model (normaliser,
pre-tokeniser, post-processor, added tokens), which is copied unchanged. The
pruned copy numbers its pieces ``0 .. n-1`` (a compact vocabulary: filling the
removed ids with dummy pieces would cost 70 MB), and its ids are mapped back to
the original ones with an int32 array. A text is accepted when every character
of its normalised form (``tokenizer.normalizer``; the ``▁`` that Metaspace adds
is in the set) is in :data:`KEPT_CHARACTERS`.

Writing needs only the standard library and numpy (at export time,
:mod:`qa.onnx_build`); reading needs ``tokenizers`` and numpy, and never parses
the full ``tokenizer.json`` in Python.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Characters (inclusive code-point ranges) whose pieces the pruned tokenizer keeps:
#: what Chinese government text uses once normalised (NFKC maps full-width letters,
#: ``℃``, ``①``, ``Ⅱ`` and the like to ASCII, so most of these blocks hold few pieces).
KEPT_CHARACTERS: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII printable
    (0x00A0, 0x00BF),  # Latin-1 symbols: ° ± ² ³ · « » (not its letters)
    (0x00D7, 0x00D7),  # ×
    (0x00F7, 0x00F7),  # ÷
    (0x0370, 0x03FF),  # Greek: μ (the micro sign µ normalises to it) α β λ Δ Ω
    (0x2000, 0x206F),  # general punctuation: – — ‘ ’ “ ” … ‰ ※
    (0x20A0, 0x20CF),  # currency symbols: € ₩
    (0x2100, 0x218F),  # letterlike symbols, number forms: ℃ № Ⅱ
    (0x2190, 0x23FF),  # arrows, mathematical operators, miscellaneous technical: → ≤ ≥
    (0x2460, 0x24FF),  # enclosed alphanumerics: ① ⑴ ⒈
    (0x2500, 0x25FF),  # box drawing, block elements (▁), geometric shapes: ■ □ ▲ ○ ●
    (0x2600, 0x27BF),  # miscellaneous symbols, dingbats: ★ ☆ ✓ ❶
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、 。 《 》 【 】
    (0x30FB, 0x30FB),  # katakana middle dot ・ (between the parts of foreign names)
    (0x3100, 0x312F),  # bopomofo
    (0x3200, 0x33FF),  # enclosed CJK letters, CJK compatibility: ㈠ ㎡
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE6F),  # CJK compatibility forms, small form variants: ︰ ﹁ ﹐
    (0xFF00, 0xFFEF),  # half-width and full-width forms
)
#: File names of the pruned tokenizer and of its id map (int32 ``(n,)``: pruned id → original id).
PRUNED_TOKENIZER = "tokenizer.pruned.json"
PRUNED_IDS = "tokenizer.pruned.ids.npy"


def outside_pattern(ranges: Sequence[Sequence[int]]) -> re.Pattern:
    """Regex matching one character outside the inclusive code-point ``ranges``."""
    body = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return re.compile(f"[^{body}]")


def prune_tokenizer(source: Path, out: Path, ranges: Sequence[Sequence[int]] = KEPT_CHARACTERS) -> dict | None:
    """Write the pruned copy of the tokenizer ``source`` and its id map into ``out``.

    Keeps, in their original order, the added tokens, the unknown piece, the
    lowest-scored piece (it sets the unknown score) and every piece whose
    characters are all in ``ranges``.

    Args:
        source: a ``tokenizer.json`` (``tokenizers`` format).
        out: existing directory; :data:`PRUNED_TOKENIZER` and :data:`PRUNED_IDS` are written there.
        ranges: inclusive code-point ranges (default :data:`KEPT_CHARACTERS`).

    Returns:
        ``{"file", "ids", "ranges", "pieces", "source_pieces"}`` (what the export marker
        records), or None when the tokenizer cannot be pruned this way (its model is not
        Unigram, or its post-processor is not one whose ids this function remaps);
        nothing is written then.

    Raises:
        OSError, ValueError: ``source`` is unreadable or not JSON.
    """
    spec = json.loads(Path(source).read_text(encoding="utf-8"))
    model = spec.get("model") or {}
    if model.get("type") != "Unigram" or not _remappable(spec.get("post_processor")):
        return None
    vocab = model["vocab"]
    outside = outside_pattern(ranges)
    required = {t["id"] for t in spec.get("added_tokens") or []}
    required.add(min(range(len(vocab)), key=lambda i: vocab[i][1]))
    if model.get("unk_id") is not None:
        required.add(model["unk_id"])
    keep = [i for i, (piece, _score) in enumerate(vocab) if i in required or not outside.search(piece)]
    new_id = {old: new for new, old in enumerate(keep)}
    pruned = {**spec, "truncation": None, "padding": None,
              "model": {**model, "vocab": [vocab[i] for i in keep]}}
    if model.get("unk_id") is not None:
        pruned["model"]["unk_id"] = new_id[model["unk_id"]]
    pruned["added_tokens"] = [{**t, "id": new_id[t["id"]]} for t in spec.get("added_tokens") or []]
    pruned["post_processor"] = _remap_processor(spec.get("post_processor"), new_id)
    (Path(out) / PRUNED_TOKENIZER).write_text(json.dumps(pruned, ensure_ascii=False), encoding="utf-8")
    np.save(Path(out) / PRUNED_IDS, np.asarray(keep, np.int32))
    return {"file": PRUNED_TOKENIZER, "ids": PRUNED_IDS, "ranges": [list(r) for r in ranges],
            "pieces": len(keep), "source_pieces": len(vocab)}


def _remappable(processor: dict | None) -> bool:
    if processor is None:
        return True
    kind = processor.get("type")
    if kind == "Sequence":
        return all(_remappable(p) for p in processor.get("processors") or [])
    return kind in ("TemplateProcessing", "RobertaProcessing", "BertProcessing", "ByteLevel")


def _remap_processor(processor: dict | None, new_id: dict[int, int]) -> dict | None:
    """The post-processor with its special-token ids renumbered by ``new_id``."""
    if processor is None:
        return None
    kind = processor.get("type")
    if kind == "Sequence":
        return {**processor, "processors": [_remap_processor(p, new_id) for p in processor["processors"]]}
    if kind == "TemplateProcessing":
        specials = {name: {**token, "ids": [new_id[i] for i in token["ids"]]}
                    for name, token in (processor.get("special_tokens") or {}).items()}
        return {**processor, "special_tokens": specials}
    if kind in ("RobertaProcessing", "BertProcessing"):
        return {**processor, "sep": [processor["sep"][0], new_id[processor["sep"][1]]],
                "cls": [processor["cls"][0], new_id[processor["cls"][1]]]}
    return processor


class Encoded:
    """One encoding (a ``tokenizers.Encoding``) with its ids in the full tokenizer's numbering.

    Attributes:
        ids: token ids (list of int; mapped through the id map for a pruned encoding).
        offsets: ``(start, end)`` character offsets of each token into its text.
        sequence_ids: 0/1 (which text of a pair) or None (special token), per token.
        overflowing: the further windows of a truncated encoding, as :class:`Encoded`.
    """

    __slots__ = ("_encoding", "_id_map")

    def __init__(self, encoding, id_map: np.ndarray | None) -> None:
        self._encoding = encoding
        self._id_map = id_map

    @property
    def ids(self) -> list[int]:
        ids = self._encoding.ids
        return ids if self._id_map is None else self._id_map[ids].tolist()

    @property
    def offsets(self) -> list[tuple[int, int]]:
        return self._encoding.offsets

    @property
    def sequence_ids(self) -> list[int | None]:
        return self._encoding.sequence_ids

    @property
    def overflowing(self) -> list[Encoded]:
        return [Encoded(e, self._id_map) for e in self._encoding.overflowing]


class SwitchingTokenizer:
    """The pruned tokenizer for calls whose texts it accepts, the full one otherwise.

    Thread-safe: truncation is set per call under one lock.

    Args:
        full: the model's ``tokenizer.json``; loaded on the first call that needs it
            (at once when ``pruned`` is None).
        pruned: the export directory holding the files of :func:`prune_tokenizer`, and
            the entry it returned; None: the full tokenizer only.

    Raises:
        Exception: ``tokenizers`` cannot read a file (its own error type).
    """

    def __init__(self, full: Path, pruned: tuple[Path, dict] | None = None) -> None:
        self.full_path = Path(full)
        self._full = None
        self._lock = threading.Lock()
        self.pruned = self.id_map = self._outside = None
        if pruned is not None:
            directory, entry = pruned
            self.pruned = _load(directory / entry["file"])
            self.id_map = np.load(directory / entry["ids"])
            self._outside = outside_pattern(entry["ranges"])
            self._normalize = self.pruned.normalizer.normalize_str if self.pruned.normalizer else str
        else:
            self._full = _load(self.full_path)

    @property
    def full_loaded(self) -> bool:
        """True once the full tokenizer is in memory."""
        return self._full is not None

    def accepts(self, text: str) -> bool:
        """True when the pruned tokenizer gives the full tokenizer's result for ``text``
        (every character of its normalised form is kept)."""
        return self.pruned is not None and self._outside.search(self._normalize(text)) is None

    def encode_batch(self, inputs: Sequence[str | tuple[str, str]], add_special_tokens: bool = True,
                     truncation: tuple[int, int] | None = None) -> list[Encoded]:
        """Encode texts or ``(first, second)`` pairs, as ``tokenizers.Tokenizer.encode_batch``.

        Args:
            inputs: texts, or pairs of texts.
            add_special_tokens: add the post-processor's special tokens.
            truncation: ``(max_length, stride)``: truncate the second text of each pair
                to ``max_length`` tokens in all, the rest in ``overflowing`` windows
                sharing ``stride`` tokens; None: no truncation.

        Returns:
            One :class:`Encoded` per input, ids in the full tokenizer's numbering.
        """
        texts = [t for item in inputs for t in ((item,) if isinstance(item, str) else item)]
        use_pruned = all(self.accepts(t) for t in texts)
        with self._lock:
            if use_pruned:
                tokenizer, id_map = self.pruned, self.id_map
            else:
                if self._full is None:
                    self._full = _load(self.full_path)
                tokenizer, id_map = self._full, None
            if truncation is not None:
                tokenizer.enable_truncation(truncation[0], stride=truncation[1], strategy="only_second")
            try:
                encodings = tokenizer.encode_batch(list(inputs), add_special_tokens=add_special_tokens)
            finally:
                tokenizer.no_truncation()
        return [Encoded(e, id_map) for e in encodings]


def _load(path: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer
