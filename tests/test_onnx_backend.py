"""The onnx backend (qa.onnx_backend) against the fp32 sentence-transformers reference.

All tests here export the real model (about a minute on first use, into
``$QA_HOME``) and are marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_ADAPTER_DIR, DEFAULT_CORPUS_DIR, DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: Over 512 tokens: the encoder truncates it, the reader reads it in several windows.
LONG_TEXT = "东柳街道坚持以人民为中心的发展思想，持续推进老旧小区改造和托育服务。" * 30


@pytest.fixture(scope="module")
def onnx_encoder():
    from qa.embedding import load_encoder

    return load_encoder(DEFAULT_MODEL, Settings().home, "onnx", DEFAULT_ADAPTER_DIR)


@pytest.fixture(scope="module")
def passages():
    """Embedding texts of the first 40 chunks of the shipped corpus."""
    from qa.chunking import chunk_document
    from qa.documents import load_documents

    doc = load_documents([DEFAULT_CORPUS_DIR])[0]
    return [c.embedding_text(doc.title) for c in chunk_document(doc)][:40]


def test_onnx_embeddings_match_the_fp32_reference(encoder, onnx_encoder, passages, gold):
    questions = [row["question"] for row in gold][:30]
    assert onnx_encoder.token_ids(passages + [LONG_TEXT]) == encoder.token_ids(passages + [LONG_TEXT])
    assert onnx_encoder.token_ids(questions, "query") == encoder.token_ids(questions, "query")
    texts = passages + [LONG_TEXT]
    reference = encoder.encode_passages(texts)
    vectors = onnx_encoder.encode_passages(texts, batch_size=8)
    assert vectors.shape == (41, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() >= 0.99  # int8 MatMuls (passages.onnx)
    query_cosines = (encoder.encode_queries(questions) * onnx_encoder.encode_queries(questions)).sum(axis=1)
    assert query_cosines.min() >= 0.999  # blockwise 8-bit encoder_top, int8 embedding table
    assert onnx_encoder.encode_queries([]).shape == (0, 384)


def test_onnx_passage_vectors_equal_the_stored_ones_indexes_hold(onnx_encoder, passages):
    # tests/data/onnx_passage_vectors.npy: the first 8 chunks of the shipped corpus embedded by
    # export format 3 (batch 32). Indexes store such vectors under the same fingerprint
    # (EMBEDDING_RECIPE), so a later format must reproduce them exactly, or change the recipe
    # (bit-identical on the development machine; another CPU's int8 kernels may round apart,
    # while a changed recipe moves them far more: unfusing SkipLayerNormalization gave 0.998)
    stored = np.load(ROOT / "tests" / "data" / "onnx_passage_vectors.npy")
    vectors = onnx_encoder.encode_passages(passages[:8], batch_size=32)
    assert stored.shape == vectors.shape == (8, 384)
    assert (stored * vectors).sum(axis=1).min() >= 0.99999


def test_onnx_encoder_attributes(onnx_encoder, encoder):
    from qa.embedding import model_info
    from qa.onnx_build import backend_fingerprint

    assert (onnx_encoder.dim, onnx_encoder.max_seq_length) == (encoder.dim, encoder.max_seq_length) == (384, 512)
    assert (onnx_encoder.query_prompt, onnx_encoder.passage_prompt) == ("query: ", "passage: ")
    assert onnx_encoder.fingerprint == encoder.fingerprint
    info = model_info(onnx_encoder)
    assert (info["backend"], info["backend_fingerprint"]) == ("onnx", backend_fingerprint(encoder.fingerprint))
    assert onnx_encoder.graphs.has_reader and onnx_encoder.graphs.marker["split"] == 1  # the adapter retrains layers 1-11


def test_reader_windows_equal_the_transformers_tokenizer(onnx_encoder):
    from transformers import AutoTokenizer

    from qa.onnx_backend import OnnxSpanModel
    from qa.span_model import make_windows

    reader = OnnxSpanModel(onnx_encoder, DEFAULT_ADAPTER_DIR)
    tokenizer = AutoTokenizer.from_pretrained(str(onnx_encoder.path))
    questions = ["2023年新增了多少个托位？", "请问" * 80 + "托位有多少？", "托位"]  # the second is cut to 64 tokens
    contexts = ["新增托育驿站4家,新增托位124个。", LONG_TEXT, " "]
    expected = make_windows(tokenizer, questions, contexts, reader.config)
    windows = reader.windows(questions, contexts)
    assert len(windows) > 3 and [w.example for w in windows].count(1) >= 2  # overflowing windows
    assert windows == expected


#: Symbols, full-width forms and English as government reports write them.
SYMBOL_TEXTS = [
    "气温最高达38℃，同比上升①２０２３年⑵", "3×4=12，±0.5，面积120㎡，增长5‰", "PM2.5年均浓度28μg/m³，下降3.2%",
    "The district added 124 childcare places (Phase Ⅱ).", "《政府工作报告》——“一老一小”…【附件】", "约翰・史密斯 ★☆ → ≥ ■",
]


@pytest.fixture(scope="module")
def full_tokenizer(onnx_encoder):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(onnx_encoder.path / "tokenizer.json"))


def _fresh_switching(onnx_encoder):
    from qa.tokenizer_prune import SwitchingTokenizer

    graphs = onnx_encoder.graphs
    return SwitchingTokenizer(onnx_encoder.path / "tokenizer.json", (graphs.directory, graphs.marker["tokenizer"]))


def test_the_pruned_tokenizer_equals_the_full_one_on_the_corpus(onnx_encoder, full_tokenizer):
    from qa.chunking import chunk_document
    from qa.documents import load_documents

    assert onnx_encoder.graphs.marker["tokenizer"]["pieces"] == 106171
    docs = load_documents([DEFAULT_CORPUS_DIR])
    lines = [c.embedding_text(d.title) for d in docs for c in chunk_document(d)]
    lines += [line for d in docs for line in d.text.split("\n") if line.strip()]
    texts = lines + SYMBOL_TEXTS + ["query: " + t for t in SYMBOL_TEXTS]
    switching = _fresh_switching(onnx_encoder)
    assert len(lines) > 50 and all(switching.accepts(t) for t in texts)
    got, want = switching.encode_batch(texts), full_tokenizer.encode_batch(texts)
    assert [(e.ids, e.offsets) for e in got] == [(e.ids, e.offsets) for e in want]
    pairs = [("2023年新增了多少个托位？", "\n".join(lines[i:i + 8])) for i in range(0, len(lines), 8)]
    pairs += [(t, LONG_TEXT + t) for t in SYMBOL_TEXTS]
    got = switching.encode_batch(pairs, truncation=(128, 32))
    full_tokenizer.enable_truncation(128, stride=32, strategy="only_second")
    try:
        want = full_tokenizer.encode_batch(pairs)
    finally:
        full_tokenizer.no_truncation()
    windows = [[(w.ids, w.offsets, w.sequence_ids) for w in [e, *e.overflowing]] for e in got]
    assert sum(len(w) for w in windows) > 2 * len(pairs)  # overflowing windows compared too
    assert windows == [[(w.ids, w.offsets, w.sequence_ids) for w in [e, *e.overflowing]] for e in want]
    assert not switching.full_loaded  # all of it through the pruned copy


@pytest.mark.parametrize("text", ["莫斯科（Москва）", "한국어 托位", "café 咖啡", "𠀀字"])  # the last: CJK extension B
def test_text_outside_the_pruned_set_uses_the_full_tokenizer(onnx_encoder, full_tokenizer, text):
    switching = _fresh_switching(onnx_encoder)
    assert not switching.accepts(text)
    got = switching.encode_batch([text, "托位"])
    assert switching.full_loaded
    assert [(e.ids, e.offsets) for e in got] == [(e.ids, e.offsets) for e in full_tokenizer.encode_batch([text, "托位"])]


def test_onnx_reader_reproduces_the_torch_spans(encoder, onnx_encoder, gold, corpus_text):
    # the onnx reader's MatMuls are mostly int8: near-ties between two spans may flip
    # (4 of 55 when measured, each within 0.35 logits), but not the answers found
    from qa.onnx_backend import OnnxSpanModel
    from qa.span_model import SpanModel

    reference = SpanModel(encoder.path, DEFAULT_ADAPTER_DIR, base_fingerprint=encoder.fingerprint)
    reader = OnnxSpanModel(onnx_encoder, DEFAULT_ADAPTER_DIR)
    rows = [r for r in gold if r.get("evidence_start") is not None]
    same, gaps, found = 0, [], {"torch": 0, "onnx": 0}
    for row in rows:
        start = max(0, row["evidence_start"] - 80)
        context = corpus_text[start:start + 200]
        want, got = reference.predict(row["question"], [context])[0], reader.predict(row["question"], [context])[0]
        same += (want.start, want.end) == (got.start, got.end)
        gaps.append(abs(want.score - got.score))
        found["torch"] += context[want.start:want.end] in row["answers"]
        found["onnx"] += context[got.start:got.end] in row["answers"]
    assert len(rows) >= 50
    assert same >= 0.9 * len(rows) and np.median(gaps) < 0.2
    assert found["onnx"] >= found["torch"] - 1 and found["torch"] >= 30


def test_qa_ask_with_the_onnx_backend_imports_no_torch(onnx_encoder, tmp_path):
    from qa.documents import load_documents
    from qa.index import Index

    settings = Settings(index_dir=tmp_path)
    Index.build(load_documents([DEFAULT_CORPUS_DIR]), onnx_encoder, settings, progress=False).save(tmp_path)
    heavy = ("torch", "transformers", "sentence_transformers", "gradio")
    script = (
        "import sys\nfrom qa.cli import main\n"
        f"code = main(['ask', '2023年新增了多少个托位？', '--index', {str(tmp_path)!r}])\n"
        f"print('imported:', sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "QA_BACKEND": "onnx", "QA_HOME": str(Settings().home),
           "PYTHONPATH": str(ROOT / "src")}
    env.pop("QA_READER", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "答案: 124个" in done.stdout
    assert "imported: []" in done.stdout
