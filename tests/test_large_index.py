"""The compressed dense index used above ``Settings.compressed_min_chunks`` chunks.

A tiny threshold switches small corpora to it, so the switch, the nearest
neighbours it finds, its files (exact vectors and BM25 memory-mapped) and the
answers over it are checked in seconds; ``eval/bench_scale.py index`` measures it
at a million vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_index import HashEncoder

from qa.config import DEFAULT_CORPUS_DIR, Settings
from qa.documents import load_documents
from qa.index import COMPRESSED, Index, _dense_params, _make_dense

KINDS = Settings.COMPRESSED_KINDS


@pytest.fixture(scope="module")
def corpus():
    return load_documents([DEFAULT_CORPUS_DIR])


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((50, dim)).astype(np.float32)
    x = centres[rng.integers(0, 50, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _settings_record(**changes) -> dict:
    s = Settings(**changes)
    return {name: getattr(s, name) for name in (
        "hnsw_min_chunks", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "compressed_min_chunks",
        "compressed_kind", "ivf_nlist", "ivf_nprobe", "ivf_pq_m", "compressed_refine",
        "compressed_train_size")}


def test_tiers_by_chunk_count():
    record = _settings_record(hnsw_min_chunks=100, compressed_min_chunks=1000)
    assert _dense_params(99, record) == {"type": "flat"}
    assert _dense_params(100, record)["type"] == "hnsw"
    assert _dense_params(1000, record)["kind"] == Settings().compressed_kind  # the measured default
    params = _dense_params(1000, {**record, "compressed_kind": "hnsw-sq8"})
    assert params == {"type": COMPRESSED, "kind": "hnsw-sq8", "factory": "HNSW32,SQ8",
                      "ef_construction": 200, "ef_search": 128, "refine": 4, "train_size": 1000,
                      "seed": 0}
    ivf = _dense_params(200_000, {**record, "compressed_kind": "ivf-pq"})
    assert ivf["factory"] == "IVF1024,PQ48x8np" and ivf["nprobe"] == Settings().ivf_nprobe
    # few chunks: fewer cells and PQ centroids, so the sample can train them
    assert _dense_params(1000, {**record, "compressed_kind": "ivf-pq"})["factory"] == "IVF25,PQ48x8np"
    assert _dense_params(1000, {**record, "compressed_kind": "ivf-sq8"})["factory"] == "IVF25,SQ8"
    # a manifest written before the compressed tier existed never switches to it
    old = {k: v for k, v in record.items() if not k.startswith(("compressed", "ivf"))}
    assert _dense_params(10**7, old)["type"] == "hnsw"


def test_bad_compressed_settings_are_refused():
    with pytest.raises(ValueError, match="unknown compressed_kind 'pq'"):
        Settings(compressed_kind="pq")
    with pytest.raises(ValueError, match="ivf_nprobe must be >= 1, got 0"):
        Settings(ivf_nprobe=0)


@pytest.mark.parametrize("kind", KINDS)
def test_compressed_index_finds_the_nearest_neighbours(kind):
    """Recall@10 against exact search on 2,000 clustered vectors, and the exact
    cosine of each neighbour (re-ranked with the stored vectors)."""
    import faiss

    vectors = _clustered(2000, 96, seed=1)
    queries = _clustered(50, 96, seed=2)
    params = _dense_params(len(vectors), {**_settings_record(compressed_min_chunks=1),
                                          "compressed_kind": kind})
    dense = _make_dense(vectors, params)
    assert dense.ntotal == 2000
    index = Index({}, [], vectors, dense, None, {"dense": params})
    scores, rows = index.search_dense(queries, 10)
    exact = faiss.IndexFlatIP(96)
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows.tolist(), truth.tolist(), strict=True)])
    assert recall >= 0.95, recall
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[rows]), atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    # a stored vector finds itself first
    _, self_rows = index.search_dense(vectors[[7, 1234, 1999]], 1)
    assert self_rows[:, 0].tolist() == [7, 1234, 1999]


@pytest.mark.parametrize("kind", KINDS)
def test_compressed_index_round_trip(corpus, tmp_path, kind):
    encoder = HashEncoder(dim=96)
    flat = Index.build(corpus, encoder, Settings(), progress=False)
    settings = Settings(compressed_min_chunks=10, compressed_kind=kind)
    built = Index.build(corpus, encoder, settings, progress=False)
    assert built.manifest["dense"]["type"] == COMPRESSED
    assert built.manifest["dense"]["kind"] == kind
    assert built.manifest["settings"]["compressed_kind"] == kind
    built.save(tmp_path)
    files = built.manifest["files"]
    assert files["vectors"] == f"vectors-{built.manifest['generation']}.npy"

    loaded = Index.load(tmp_path, encoder)
    assert isinstance(loaded.embeddings, np.memmap)  # the exact vectors stay on disk
    assert isinstance(loaded.bm25.scores["data"], np.memmap)  # so does BM25
    np.testing.assert_array_equal(np.asarray(loaded.embeddings), flat.embeddings)
    assert [c.id for c in loaded.chunks] == [c.id for c in flat.chunks]
    queries = flat.embeddings[::5]
    want_scores, want_rows = flat.search_dense(queries, 5)
    scores, rows = loaded.search_dense(queries, 5)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)

    # adding a document extends the trained index; the old generation's files go
    extra = load_documents([Path(__file__).resolve().parents[1] / "examples"])
    assert loaded.add(extra, encoder) == [extra[0].id]
    loaded.save(tmp_path)
    again = Index.load(tmp_path, encoder)
    assert len(again) == len(flat) + sum(c.doc_id == extra[0].id for c in again.chunks)
    assert sorted(p.name for p in tmp_path.glob("vectors-*.npy")) == [again.manifest["files"]["vectors"]]
    _, found = again.search_dense(again.embeddings[-1:], 1)
    assert found[0, 0] == len(again) - 1


def test_small_index_path_is_unchanged(corpus, tmp_path):
    encoder = HashEncoder()
    index = Index.build(corpus, encoder, Settings(), progress=False)
    assert index.manifest["dense"] == {"type": "flat"}
    index.save(tmp_path)
    assert "vectors" not in index.manifest["files"]
    assert not list(tmp_path.glob("vectors-*"))
    loaded = Index.load(tmp_path, encoder)
    assert type(loaded.dense).__name__ == "IndexFlatIP"
    assert not isinstance(loaded.embeddings, np.memmap)


@pytest.mark.slow
def test_answers_over_a_compressed_index(corpus, encoder, tmp_path):
    """The assistant over a compressed index answers as over the exact one."""
    from qa.pipeline import Assistant

    settings = Settings.from_env(index_dir=tmp_path, compressed_min_chunks=10)
    Index.build(corpus, encoder, settings, progress=False).save(tmp_path)
    compressed = Assistant(settings, encoder=encoder)
    exact = Assistant(settings, index=Index.build(corpus, encoder, Settings(), progress=False), encoder=encoder)
    for question in ("2023年新增了多少个托位？", "2023年东柳街道地区生产总值是多少？", "全年共引进企业多少家？"):
        got, want = compressed.ask(question), exact.ask(question)
        assert got.text == want.text and got.citation == want.citation, question
    assert compressed.index.manifest["dense"]["type"] == COMPRESSED
    assert compressed.ask("2023年新增了多少个托位？").text == "124个"
