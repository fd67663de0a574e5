"""Tests of qa.index: tokenisation, build/add, atomic save, validated load.

A tiny deterministic fake encoder (hashed character n-grams) stands in for the
real model, so these tests run in a second; :class:`HashEncoder` is also used by
``test_retrieval.py`` and ``test_cli.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.documents import Document, load_documents
from qa.index import (
    Index,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexStoreError,
    read_manifest,
    tokenize,
)

TESTS_DIR = Path(__file__).resolve().parent


class HashEncoder:
    """Fake encoder: bag of hashed character 1- and 2-grams, L2-normalised, ``(n, dim)`` float32.

    ``name``/``dim``/``fingerprint`` behave like the real encoder's; ``salt`` changes
    the weights (and fingerprint) while keeping name and dimension. ``passages``
    counts the texts given to :meth:`encode_passages`.
    """

    def __init__(self, dim: int = 64, name: str = "fake/hash-ngrams", salt: str = ""):
        self.dim = dim
        self.name = name
        self.salt = salt
        self.fingerprint = hashlib.sha256(f"{name}|{dim}|{salt}".encode()).hexdigest()[:16]
        self.passages = 0
        self.queries = 0

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for n in (1, 2):
            for i in range(len(text) - n + 1):
                digest = hashlib.md5((self.salt + text[i : i + n]).encode()).digest()
                v[int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_queries(self, texts):
        self.queries += len(texts)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_passages(self, texts, batch_size: int = 32, show_progress: bool = False):
        self.passages += len(texts)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)


def make_document(text: str, path: str, title: str = "测试文档") -> Document:
    """A Document the way qa.documents ids it (first 16 hex digits of SHA-256 of the text)."""
    return Document(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], path, title, text)


@pytest.fixture(scope="module")
def corpus_doc():
    from qa.config import DEFAULT_CORPUS_DIR

    return load_documents([DEFAULT_CORPUS_DIR])[0]


@pytest.fixture()
def small_docs():
    return [
        make_document("一、工作回顾\n全年实现地区生产总值60.3亿元,同比增长6.2%。\n新增托育驿站4家,托位120个。",
                      "/docs/a/report.txt", "东柳街道工作总结"),
        make_document("二、2024年工作思路\n地区生产总值增长8%。\n固定资产投资达9亿元。",
                      "/docs/b/report.txt", "东柳街道工作思路"),
    ]


@pytest.fixture()
def built(small_docs):
    encoder = HashEncoder()
    return Index.build(small_docs, encoder, Settings(), progress=False), encoder


# --------------------------------------------------------------------------- tokenisation


def test_tokenize_splits_chinese_into_words():
    tokens = tokenize("2023年东柳街道地区生产总值是多少？")
    assert "生产总值" in tokens and "地区" in tokens and "2023" in tokens
    assert "生产" in tokens and "总值" in tokens  # search mode: the words inside a long word
    assert all(len(t) <= 4 for t in tokens)  # a run of Han characters is not one token


def test_tokenize_drops_stop_words_and_punctuation_keeps_numbers():
    tokens = tokenize("（一）是多少？同比增长６０.３％, 和“谋发展”")
    assert tokens == ["一", "同比", "增长", "60.3%", "发展", "谋发展"]


def test_tokenize_empty_and_punctuation_only():
    assert tokenize("") == []
    assert tokenize("？！。，、 ") == []


# --------------------------------------------------------------------------- build / add


def test_build_counts_and_manifest(built, small_docs):
    index, encoder = built
    counts = index.manifest["counts"]
    assert counts["documents"] == 2
    assert counts["chunks"] == len(index.chunks) == index.dense.ntotal == index.bm25.scores["num_docs"]
    assert index.embeddings.shape == (len(index.chunks), encoder.dim)
    assert np.allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, atol=1e-5)
    assert index.manifest["model"] == {"name": encoder.name, "fingerprint": encoder.fingerprint, "dim": 64,
                                       "backend": "torch", "backend_fingerprint": encoder.fingerprint}
    assert index.manifest["dense"]["type"] == "flat"
    assert {d["path"] for d in index.manifest["documents"]} == {d.path for d in small_docs}
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_build_refuses_no_documents():
    with pytest.raises(ValueError, match="no documents"):
        Index.build([], HashEncoder(), Settings(), progress=False)


def test_add_same_document_twice_changes_nothing(built, small_docs):
    index, encoder = built
    before = dict(index.manifest["counts"])
    embedded = encoder.passages
    assert index.add(small_docs, encoder) == []
    assert index.add([small_docs[0], small_docs[0]], encoder) == []
    assert index.manifest["counts"] == before
    assert encoder.passages == embedded  # nothing re-embedded


def test_add_embeds_only_new_chunks(built):
    index, encoder = built
    n_before, embedded = len(index.chunks), encoder.passages
    old = index.embeddings.copy()
    new = make_document("三、附录\n街道共有社区12个。", "/docs/c/extra.txt", "附录")
    assert index.add([new, new], encoder) == [new.id]
    added = len(index.chunks) - n_before
    assert added >= 1 and encoder.passages - embedded == added
    assert np.array_equal(index.embeddings[:n_before], old)
    assert index.manifest["counts"]["documents"] == 3
    assert index.dense.ntotal == index.bm25.scores["num_docs"] == len(index.chunks)


def test_add_changed_file_at_same_path_replaces_it(built, small_docs):
    index, encoder = built
    changed = make_document(small_docs[0].text + "\n补充:新建口袋公园3个。", small_docs[0].path, "东柳街道工作总结")
    assert index.add([changed], encoder) == [changed.id]
    assert small_docs[0].id not in index.documents
    assert {c.doc_id for c in index.chunks} == {changed.id, small_docs[1].id}
    assert index.dense.ntotal == len(index.chunks) == index.bm25.scores["num_docs"]


def test_same_file_name_in_two_folders_is_two_documents(tmp_path):
    for folder, text in (("a", "甲街道2018年地区生产总值10亿元。"), ("b", "乙街道2019年地区生产总值12亿元。")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(text, encoding="utf-8")
    encoder = HashEncoder()
    documents = load_documents([tmp_path])
    index = Index.build(documents, encoder, Settings(), progress=False)
    assert index.manifest["counts"]["documents"] == 2
    assert len({d["path"] for d in index.manifest["documents"]}) == 2
    assert index.add(load_documents([tmp_path / "a" / "report.txt"]), encoder) == []


def test_hnsw_above_threshold(small_docs, tmp_path):
    encoder = HashEncoder()
    index = Index.build(small_docs, encoder, Settings(hnsw_min_chunks=1), progress=False)
    assert index.manifest["dense"]["type"] == "hnsw"
    index.save(tmp_path)
    loaded = Index.load(tmp_path, encoder)
    assert type(loaded.dense).__name__ == "IndexHNSWFlat"
    assert loaded.dense.hnsw.efSearch == Settings().hnsw_ef_search
    scores, ids = loaded.dense.search(loaded.embeddings[:1], 1)
    assert ids[0][0] == 0 and scores[0][0] == pytest.approx(1.0, abs=1e-5)


# --------------------------------------------------------------------------- save / load


ROUNDTRIP_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_index import HashEncoder
from qa.index import Index
index = Index.load({directory!r}, HashEncoder())
print(json.dumps({{
    "counts": index.manifest["counts"],
    "chunks": len(index.chunks), "vectors": index.dense.ntotal,
    "bm25": int(index.bm25.scores["num_docs"]),
    "chunk_ids": [c.id for c in index.chunks],
    "texts_exact": all(index.documents[c.doc_id].text[c.start:c.end] == c.text for c in index.chunks),
    "embeddings_sum": float(index.embeddings.sum()),
}}))
"""


def test_roundtrip_in_fresh_process(corpus_doc, tmp_path):
    encoder = HashEncoder()
    index = Index.build([corpus_doc], encoder, Settings(), progress=False)
    index.save(tmp_path / "idx")
    script = ROUNDTRIP_SCRIPT.format(tests=str(TESTS_DIR), directory=str(tmp_path / "idx"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    n = len(index.chunks)
    assert out["chunks"] == out["vectors"] == out["bm25"] == n
    assert out["counts"] == index.manifest["counts"]
    assert out["chunk_ids"] == [c.id for c in index.chunks]
    assert out["texts_exact"]
    assert out["embeddings_sum"] == pytest.approx(float(index.embeddings.sum()), rel=1e-5)


def test_chunk_store_is_json_lines_with_unescaped_chinese(built, tmp_path):
    index, _ = built
    index.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    lines = (tmp_path / manifest["files"]["chunks"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(index.chunks)
    assert "生产总值" in lines[0] or any("生产总值" in line for line in lines)
    assert "\\u" not in "".join(lines)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("**/*.pickle"))


def test_save_replaces_generation_and_keeps_other_files(built, tmp_path):
    index, encoder = built
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    index.save(tmp_path)
    index.add([make_document("附录:社区12个。", "/docs/c.txt")], encoder)
    index.save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".lock", "README.md", "bm25-2", "chunks-2.jsonl", "dense-2.faiss", "documents-2.jsonl", "manifest.json"]
    assert Index.load(tmp_path, encoder).manifest["counts"]["documents"] == 3


def test_crash_before_manifest_swap_leaves_previous_index(built, tmp_path, monkeypatch):
    import qa.index.core

    index, encoder = built
    index.save(tmp_path)
    before = dict(index.manifest["counts"])
    index.add([make_document("附录:社区12个。", "/docs/c.txt")], encoder)

    def crash(directory, manifest):
        # every data file of the new generation is on disk by now
        assert (directory / manifest["files"]["chunks"]).exists()
        assert (directory / manifest["files"]["bm25"]).is_dir()
        raise OSError("simulated crash before the manifest swap")

    monkeypatch.setattr(qa.index.core, "_write_manifest", crash)
    with pytest.raises(OSError, match="simulated crash"):
        index.save(tmp_path)
    monkeypatch.undo()

    reloaded = Index.load(tmp_path, encoder)
    assert reloaded.manifest["counts"] == before
    assert reloaded.manifest["generation"] == 1
    # the next save succeeds and clears the half-written generation
    index.save(tmp_path)
    assert Index.load(tmp_path, encoder).manifest["counts"]["documents"] == 3
    assert sorted(p.name for p in tmp_path.glob("chunks-*")) == [f"chunks-{index.manifest['generation']}.jsonl"]


def test_model_with_same_dimension_but_other_weights_is_refused(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    impostor = HashEncoder(dim=encoder.dim, name=encoder.name, salt="other weights")
    with pytest.raises(IndexMismatchError, match=r"fingerprint.*qa index build --index"):
        Index.load(tmp_path, impostor)


@pytest.mark.parametrize("other", [HashEncoder(name="fake/other-model"), HashEncoder(dim=32)])
def test_other_model_is_refused(built, tmp_path, other):
    index, _ = built
    index.save(tmp_path)
    with pytest.raises(IndexMismatchError, match="qa index build"):
        Index.load(tmp_path, other)
    with pytest.raises(IndexMismatchError):
        index.add([make_document("新内容。", "/docs/new.txt")], other)


def test_load_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match=r"no index in .*qa index build --index"):
        Index.load(tmp_path / "nowhere", HashEncoder())
    with pytest.raises(IndexNotFoundError):
        Index.load(tmp_path, HashEncoder())


def test_load_unreadable_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="qa index build"):
        Index.load(tmp_path, HashEncoder())


def test_load_missing_file(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    (tmp_path / index.manifest["files"]["dense"]).unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        Index.load(tmp_path, encoder)


def test_load_count_mismatch(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    chunks_file = tmp_path / index.manifest["files"]["chunks"]
    lines = chunks_file.read_text(encoding="utf-8").splitlines(keepends=True)
    chunks_file.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="counts disagree"):
        Index.load(tmp_path, encoder)


def test_load_other_format_version(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 99"):
        Index.load(tmp_path, encoder)


def test_errors_share_a_base_class():
    assert issubclass(IndexNotFoundError, IndexStoreError)
    assert issubclass(IndexCorruptError, IndexStoreError)
    assert issubclass(IndexMismatchError, IndexStoreError)


# --------------------------------------------------------------------------- concurrent writers


def test_extended_leaves_the_original_index_untouched(built):
    index, encoder = built
    before = (list(index.documents), len(index.chunks), index.dense.ntotal, index.bm25.scores["num_docs"])
    new, added = index.extended([make_document("附录:社区12个。", "/docs/c.txt")], encoder)
    assert added == [make_document("附录:社区12个。", "/docs/c.txt").id]
    assert (list(index.documents), len(index.chunks), index.dense.ntotal,
            index.bm25.scores["num_docs"]) == before
    assert len(new.documents) == 3 and new.dense.ntotal == len(new.chunks) == before[1] + 1
    assert index.extended([], encoder) == (index, [])


def test_two_writers_from_one_generation_both_land(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    first, second = Index.load(tmp_path, encoder), Index.load(tmp_path, encoder)
    doc_a = make_document("附录一:社区12个。", "/docs/c.txt")
    doc_b = make_document("附录二:学校3所。", "/docs/d.txt")
    first.add([doc_a], encoder)
    second.add([doc_b], encoder)
    first.save(tmp_path)
    passages = encoder.passages
    second.save(tmp_path)  # generation moved on: merged, not overwritten
    assert encoder.passages == passages  # the merge re-embeds nothing
    final = Index.load(tmp_path, encoder)
    assert set(final.documents) == set(index.documents) | {doc_a.id, doc_b.id}
    assert final.manifest["counts"]["chunks"] == len(final.chunks) == final.dense.ntotal
    assert set(second.documents) == set(final.documents)  # the saver now holds the merged index
    assert final.manifest["generation"] == 3


def test_concurrent_writer_replacing_a_path_is_merged(built, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    other = Index.load(tmp_path, encoder)
    other.add([make_document("附录:新增内容。", "/docs/new.txt")], encoder)
    other.save(tmp_path)
    changed = make_document("二、2024年工作思路\n地区生产总值增长9%。", "/docs/b/report.txt", "东柳街道工作思路")
    index.add([changed], encoder)  # replaces the document at /docs/b/report.txt
    index.save(tmp_path)
    final = Index.load(tmp_path, encoder)
    assert sorted(d.path for d in final.documents.values()) == [
        "/docs/a/report.txt", "/docs/b/report.txt", "/docs/new.txt"]
    assert final.documents[changed.id].text.endswith("增长9%。")


def test_rebuild_with_other_chunker_during_an_add_is_reported(built, small_docs, tmp_path):
    index, encoder = built
    index.save(tmp_path)
    index.add([make_document("附录:社区12个。", "/docs/c.txt")], encoder)
    Index.build(small_docs, encoder, Settings(chunk_max_chars=80), progress=False).save(tmp_path)
    with pytest.raises(IndexMismatchError, match="rebuilt with another chunker.*add them again"):
        index.save(tmp_path)
    assert Index.load(tmp_path, encoder).manifest["chunker"]["max_chars"] == 80


def test_lock_wait_is_announced_and_times_out(built, tmp_path):
    from qa.index import IndexLockError, write_lock

    index, _ = built
    index.save(tmp_path)
    generation = index.manifest["generation"]
    notices: list[str] = []
    with write_lock(tmp_path):  # another writer (a second lock on the same file)
        with pytest.raises(IndexLockError, match=r"still being written by another process after 1 s"):
            index.save(tmp_path, lock_timeout=1.0)
        with pytest.raises(IndexLockError):
            with write_lock(tmp_path, timeout=0.6, notice_after=0.2, notify=notices.append):
                pass
    assert len(notices) == 1 and "waiting for another process" in notices[0]
    assert read_generation(tmp_path) == generation  # nothing written while locked
    index.save(tmp_path)  # released: the next save goes through
    assert read_generation(tmp_path) == generation + 1


def read_generation(directory: Path) -> int:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["generation"]


#: One ``qa index add`` with the fake encoder; it waits in its encoder until the other
#: writer has loaded the index too, so both start from the same generation.
CLI_ADD_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_index import HashEncoder
from qa.cli import common, main

class Waiting(HashEncoder):
    def encode_passages(self, texts, batch_size=32, show_progress=False):
        Path({mine!r}).touch()
        deadline = time.monotonic() + 60
        while not Path({theirs!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().encode_passages(texts, batch_size, show_progress)

common.load_encoder = lambda model, settings: Waiting()
sys.exit(main(["index", "add", {path!r}, "--index", {index!r}, "--no-progress"]))
"""


def test_two_concurrent_cli_adds_both_land(built, tmp_path):
    index, encoder = built
    index.save(tmp_path / "idx")
    texts = {"a": "甲街道新建公园2个。", "b": "乙街道新建学校3所。"}
    procs = []
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.txt").write_text(texts[name], encoding="utf-8")
        script = CLI_ADD_SCRIPT.format(tests=str(TESTS_DIR), mine=str(tmp_path / f"ready-{name}"),
                                       theirs=str(tmp_path / f"ready-{other}"),
                                       path=str(tmp_path / f"{name}.txt"), index=str(tmp_path / "idx"))
        procs.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "added 1 document(s)" in out
    final = Index.load(tmp_path / "idx", encoder)
    assert set(texts.values()) <= {d.text for d in final.documents.values()}
    assert final.manifest["counts"]["documents"] == 4


# --------------------------------------------------------------------------- backends


class OnnxHashEncoder(HashEncoder):
    """:class:`HashEncoder` posing as the onnx backend of the same base model."""

    backend = "onnx"

    @property
    def backend_fingerprint(self) -> str:
        from qa.onnx_build import backend_fingerprint

        return backend_fingerprint(self.fingerprint)


def test_manifest_records_the_backend(small_docs, tmp_path):
    torch_like, onnx_like = HashEncoder(), OnnxHashEncoder()
    built = Index.build(small_docs, torch_like, Settings(), progress=False)
    assert built.manifest["model"] == {"name": "fake/hash-ngrams", "fingerprint": torch_like.fingerprint,
                                       "dim": 64, "backend": "torch", "backend_fingerprint": torch_like.fingerprint}
    other = Index.build(small_docs, onnx_like, Settings(), progress=False)
    other.save(tmp_path)
    from qa.onnx_build import backend_fingerprint

    model = read_manifest(tmp_path)["model"]
    assert (model["backend"], model["backend_fingerprint"]) == ("onnx", backend_fingerprint(onnx_like.fingerprint))


@pytest.mark.parametrize(("built_with", "used"), [(HashEncoder, OnnxHashEncoder), (OnnxHashEncoder, HashEncoder)])
def test_other_backend_searches_but_never_adds(small_docs, tmp_path, built_with, used):
    Index.build(small_docs, built_with(), Settings(), progress=False).save(tmp_path)
    index = Index.load(tmp_path, used())  # vectors within the measured cosine bound: searched
    assert len(index.chunks) > 0
    recorded = built_with.backend if hasattr(built_with, "backend") else "torch"
    with pytest.raises(IndexMismatchError, match=rf"mix two backends in one index; set QA_BACKEND={recorded} "
                                                 rf"or rebuild it with `qa index build --index {tmp_path}`"):
        index.add([make_document("新内容。", "/docs/new.txt")], used())
    assert read_manifest(tmp_path)["counts"]["documents"] == 2  # nothing written


def test_index_from_an_unknown_export_recipe_is_refused(small_docs, tmp_path):
    Index.build(small_docs, OnnxHashEncoder(), Settings(), progress=False).save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["model"]["backend_fingerprint"] = "0" * 64  # made by another export format
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for encoder in (HashEncoder(), OnnxHashEncoder()):
        with pytest.raises(IndexMismatchError, match=r"no measured tolerance.*qa index build --index"):
            Index.load(tmp_path, encoder)
