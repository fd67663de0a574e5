"""Tests of qa.retrieval and qa.retrieval.fit: dense, BM25 and hybrid search, the
learned fusion, document scope, restrictions.

Fast tests use the fake encoder from ``test_index.py``; the ``slow`` test measures
the real encoder on the shipped gold set against the targets of issue 3.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_index import HashEncoder, make_document

from qa.config import Settings
from qa.index import Index
from qa.retrieval import FEATURES, DocumentKeys, FusionModel, Passage, Retriever, candidate_features

TEXTS = [
    "街道全年实现地区生产总值60.3亿元。",
    "街道新增托育驿站4家,新增托位120个。",
    "街道完成固定资产投资32.5亿元。",
    "街道引进企业137家,其中亿元以上5家。",
]


@pytest.fixture()
def setup():
    encoder = HashEncoder()
    docs = [make_document(text, f"/docs/{i}.txt", title="") for i, text in enumerate(TEXTS)]
    index = Index.build(docs, encoder, Settings(), progress=False)
    return Retriever(index, encoder, Settings()), index, encoder, docs


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_each_retriever_finds_the_obvious_chunk(setup, retriever):
    search, *_ = setup
    passages = search.search("托育驿站有几家", k=2, retriever=retriever)
    assert passages and "托育驿站" in passages[0].chunk.text
    assert all(isinstance(p, Passage) for p in passages)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_hybrid_passages_carry_both_scores_and_ranks(setup):
    search, *_ = setup
    top = search.search("托育驿站", k=1, retriever="hybrid")[0]
    assert set(top.scores) == {"dense", "bm25"} and set(top.ranks) == {"dense", "bm25"}
    assert top.ranks["bm25"] == 1


def test_term_in_every_chunk_does_not_empty_results(setup):
    search, index, *_ = setup
    for retriever in ("bm25", "hybrid"):
        passages = search.search("街道", k=10, retriever=retriever)
        assert len(passages) == len(index.chunks)
        assert all(p.scores["bm25"] > 0 for p in passages)


def test_query_of_unknown_words_gives_dense_results_only(setup):
    search, index, *_ = setup
    assert search.search("邮政编码", k=3, retriever="bm25") == []
    passages = search.search("邮政编码", k=3, retriever="hybrid")
    assert len(passages) == 3 and all("bm25" not in p.ranks for p in passages)


def test_empty_query_returns_nothing(setup):
    search, *_ = setup
    for query in ("", "   ", "\n"):
        assert search.search(query, retriever="hybrid") == []


def test_k_larger_than_corpus(setup):
    search, index, *_ = setup
    assert len(search.search("投资", k=1000, retriever="dense")) == len(index.chunks)
    assert len(search.search("投资", k=1000, retriever="hybrid")) == len(index.chunks)


def test_doc_ids_restricts_results(setup):
    search, _, _, docs = setup
    wanted = {docs[2].id, docs[3].id}
    for retriever in ("dense", "bm25", "hybrid"):
        passages = search.search("街道托育驿站", k=10, retriever=retriever, doc_ids=wanted)
        assert passages and {p.chunk.doc_id for p in passages} <= wanted
    assert search.search("街道", doc_ids=[]) == []
    with pytest.raises(ValueError, match="unknown document id"):
        search.search("街道", doc_ids=["no-such-doc"])


def test_query_vector_is_used_instead_of_encoding(setup):
    search, _, encoder, _ = setup
    vector = encoder.encode_queries(["托育驿站"])
    calls = encoder.queries
    with_vector = search.search("托育驿站", k=3, retriever="hybrid", query_vector=vector)
    assert encoder.queries == calls
    assert [p.chunk.id for p in with_vector] == [p.chunk.id for p in search.search("托育驿站", k=3)]
    with pytest.raises(ValueError, match="dimension"):
        search.search("托育驿站", query_vector=np.ones(3, np.float32))


def test_bad_arguments(setup):
    search, *_ = setup
    with pytest.raises(ValueError, match="dense, bm25, hybrid"):
        search.search("街道", retriever="sparse")
    with pytest.raises(ValueError, match="k must be"):
        search.search("街道", k=0)


def test_retriever_refuses_other_model(setup):
    from qa.index import IndexMismatchError

    _, index, encoder, _ = setup
    with pytest.raises(IndexMismatchError):
        Retriever(index, HashEncoder(salt="x"), Settings())


def test_hybrid_order_follows_the_fusion_model(setup):
    _, index, encoder, _ = setup
    query = "街道投资企业"
    for name, single in (("bm25_norm", "bm25"), ("cos", "dense")):
        search = Retriever(index, encoder, Settings(), fusion=FusionModel({name: 1.0}))
        hybrid = search.search(query, k=3, retriever="hybrid")
        alone = search.search(query, k=3, retriever=single)
        assert [p.chunk.id for p in hybrid[:len(alone)]] == [p.chunk.id for p in alone]


def test_candidate_features_by_hand():
    f = candidate_features(np.array([0.5, 0.25, 0.0]), np.array([0.9, 0.8, 0.85]),
                           [1, 2, 0], [1, 3, 2], oov=0.5,
                           years=np.array([[1, 1, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 1]]), target=True)
    col = {name: f[:, i] for i, name in enumerate(FEATURES)}
    assert f.shape == (3, len(FEATURES))
    np.testing.assert_allclose(col["cos_minmax"], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(col["bm25_inv_rank"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(col["rrf"], [2 * 60 / 61, 60 / 62 + 60 / 63, 60 / 62])
    np.testing.assert_allclose(col["cos_minmax*bmax"], [0.5, 0.0, 0.25])
    np.testing.assert_allclose(col["bm25_norm*oov"], [0.25, 0.125, 0.0])
    np.testing.assert_allclose(col["year_reviewed*target"], [1, 0, 0])
    np.testing.assert_allclose(col["year_planned*target"], [0, 1, 0])
    np.testing.assert_allclose(col["plan_section*target"], [1, 0, 1])
    np.testing.assert_allclose(col["plan_section"], [0, 0, 0])  # only for questions about actuals
    np.testing.assert_allclose(col["doc_max_bm25"], [0.5, 0.25, 0.0])  # no groups: each its own
    np.testing.assert_allclose(col["year_in_text*framed"], [1, 0, 0])  # its report reviews the year too
    np.testing.assert_allclose(col["year_in_text"], [0, 0, 0])
    about_report = candidate_features(np.array([0.5, 0.25]), np.array([0.9, 0.8]), [1, 2], [1, 2], oov=0.0,
                                      years=np.array([[1, 0, 1, 0, 0], [1, 0, 0, 0, 0]]), report=True)
    col = {name: about_report[:, i] for i, name in enumerate(FEATURES)}
    np.testing.assert_allclose(col["year_in_text*report"], [1, 1])  # the year names the report
    np.testing.assert_allclose(col["year_in_text"] + col["year_in_text*framed"], [0, 0])
    np.testing.assert_allclose(col["year_planned*report"], [1, 0])
    grouped = candidate_features(np.array([0.5, 0.25, 0.0]), np.array([0.9, 0.8, 0.85]), [1, 2, 0], [1, 3, 2],
                                 oov=0.0, groups=(["a", "b", "a"], ["a\t一、", "b\t", "a\t二、"]))
    col = {name: grouped[:, i] for i, name in enumerate(FEATURES)}
    np.testing.assert_allclose(col["doc_max_bm25"], [0.5, 0.25, 0.5])  # the third shares document a
    np.testing.assert_allclose(col["doc_max_cos"], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(col["section_max_bm25"], [0.5, 0.25, 0.0])  # ... but not its section
    np.testing.assert_allclose(col["section_max_cos"], [1.0, 0.0, 0.5])


def test_fusion_model_round_trip_and_errors(tmp_path):
    model = FusionModel({"bm25_norm": 2.0, "cos": -1.0}, 0.5, {"data": "x"})
    model.save(tmp_path / "m.json")
    loaded = FusionModel.load(tmp_path / "m.json")
    assert loaded == model
    one_hot = np.eye(len(FEATURES))[[FEATURES.index("bm25_norm"), FEATURES.index("rrf"), FEATURES.index("cos")]]
    assert loaded.score(one_hot).tolist() == [2.5, 0.5, -0.5]
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read the fusion model .*bad.json"):
        FusionModel.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="unknown features"):
        FusionModel({"no_such_feature": 1.0})


def test_shipped_fusion_model_records_how_it_was_made():
    from qa.retrieval import default_fusion

    model = default_fusion()
    assert set(model.coef) == set(FEATURES)
    assert model.meta["command"].startswith("qa retrieval fit")
    lodo = model.meta["lodo"]["extra_qa.jsonl"]["all"]
    assert lodo["hybrid-new"]["hit@1"] > lodo["hybrid-old"]["hit@1"]
    assert lodo["hybrid-new"]["mrr"] > lodo["hybrid-old"]["mrr"]


def _query(qid, doc_id, features, relevant):
    from qa.retrieval import Candidates
    from qa.retrieval.fit import Query

    rows = np.arange(len(relevant), dtype=np.int64)
    return Query(qid, "figure", doc_id, qid, Candidates(rows, np.asarray(features, float), {}),
                 np.asarray(relevant, bool), {"bm25": None, "dense": None})


def test_fit_learns_which_feature_marks_the_evidence_and_lodo_holds_out_documents():
    from qa.retrieval.fit import fit, lodo_ranks

    rng = np.random.default_rng(0)
    queries = []
    for i in range(12):
        f = rng.uniform(size=(6, len(FEATURES)))
        f[:, FEATURES.index("bm25_inv_rank")] = 1.0  # every candidate competes
        gold = i % 6
        f[gold, FEATURES.index("bm25_norm")] = 2.0  # the evidence has the largest BM25 share
        queries.append(_query(f"q{i}", f"doc{i % 3}", f, np.arange(6) == gold))
    model = fit(queries)
    assert max(model.coef, key=model.coef.get) == "bm25_norm"
    trained_on = []

    def fitter(qs, c):
        trained_on.append(sorted({q.doc_id for q in qs}))
        return fit(qs, c=c)

    assert lodo_ranks(queries, fitter=fitter) == {q.id: 1 for q in queries}
    assert sorted(trained_on) == [["doc0", "doc1"], ["doc0", "doc2"], ["doc1", "doc2"]]


def test_fit_without_pairs_says_so():
    from qa.retrieval.fit import fit

    with pytest.raises(ValueError, match="nothing to fit"):
        fit([_query("q", "d", np.ones((2, len(FEATURES))), [False, False])])


def test_bm25_max_bounds_every_score(setup):
    search, *_ = setup
    for query in ("托育驿站", "街道投资", "街道 邮政编码"):
        assert 0 < search.bm25_scores(query).max() < search.bm25_max(query)
    assert search.bm25_max("邮政编码") > 0 and search.bm25_scores("邮政编码").max() == 0


# --------------------------------------------------------------------------- real model


def _metrics(ranked_hits: list[list[bool]]) -> dict[str, float]:
    n = len(ranked_hits)
    first = [next((i for i, hit in enumerate(hits) if hit), None) for hits in ranked_hits]
    return {
        "hit@1": sum(f == 0 for f in first) / n,
        "hit@5": sum(f is not None and f < 5 for f in first) / n,
        "mrr@10": sum(1 / (f + 1) for f in first if f is not None and f < 10) / n,
    }


@pytest.mark.slow
def test_gold_set_targets_with_real_encoder(encoder, gold, corpus_text):
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.documents import load_documents

    documents = load_documents([DEFAULT_CORPUS_DIR])
    index = Index.build(documents, encoder, Settings(), progress=False)
    search = Retriever(index, encoder, Settings())
    rows = [r for r in gold if r.get("evidence_start") is not None]
    assert len(rows) >= 50
    from qa.retrieval.fit import standalone

    questions = [standalone(r["question"], r["history"], 500) for r in rows]  # follow-ups rewritten, as ask does
    vectors = encoder.encode_queries(questions)
    results = {}
    for retriever in ("dense", "bm25", "hybrid"):
        hits = []
        for row, question, vector in zip(rows, questions, vectors, strict=True):
            assert corpus_text[row["evidence_start"] : row["evidence_end"]] == row["evidence"]
            passages = search.search(question, k=10, retriever=retriever, query_vector=vector)
            hits.append([p.chunk.start <= row["evidence_start"] and row["evidence_end"] <= p.chunk.end
                         for p in passages])
        results[retriever] = _metrics(hits)
    print(results)
    hybrid = results["hybrid"]
    # the learned fusion ranks d43 (去年街道经济总量, a paraphrase) 6th where the fixed one had it 2nd
    assert hybrid["hit@1"] >= 0.95, results
    assert hybrid["hit@5"] >= 0.98, results
    assert hybrid["mrr@10"] >= 0.97, results
    for metric in ("hit@1", "hit@5"):  # never below the better of its two parts
        assert hybrid[metric] >= max(results["bm25"][metric], results["dense"][metric]), results


def _doc(doc_id: str, title: str, text: str, publisher: str = ""):
    from qa.documents import Document

    return Document(doc_id, f"/tmp/{doc_id}.txt", title, text, {"publisher": publisher}, 0, len(text))


SCOPE_DOCS = [
    _doc("hl18", "政府工作报告（2018年3月7日在海拉尔区第十五届人民代表大会第二次会议上）",
         "海拉尔区地区生产总值增长6%。中国经济"),
    _doc("hl19", "政府工作报告（2019年3月4日在呼伦贝尔市海拉尔区第十五届人民代表大会第三次会议上）",
         "海拉尔区地区生产总值增长5%。中国经济"),
    _doc("dl", "东柳街道2023年工作总结和2024年工作思路", "新增托位124个。中国经济", "东柳街道"),
    _doc("cn", "中国经济年鉴", "中国经济总量。"),
]


def test_document_keys_pick_the_documents_a_question_names():
    keys = DocumentKeys.from_documents(SCOPE_DOCS)
    # a report given in 2019 reviews 2018: both 海拉尔区 reports are about 2018
    assert keys.scope("海拉尔区2018年地区生产总值是多少？") == {"hl18", "hl19"}
    assert keys.scope("海拉尔2019年的目标是多少？") == {"hl19"}
    assert keys.scope("海拉尔区地区生产总值是多少？") == {"hl18", "hl19"}
    assert keys.scope("2024年固定资产投资目标是多少？") == {"dl"}
    assert keys.scope("东柳街道新增了多少个托位？") == {"dl"}


def test_document_keys_ignore_words_that_texts_mention_far_more_than_titles():
    keys = DocumentKeys.from_documents(SCOPE_DOCS)
    assert keys.scope("中国经济怎么样？") is None  # not a place key of any title
    assert keys.scope("新增了多少个托位？") is None
    assert keys.scope("东柳街道2019年的情况？") is None  # contradictory keys
    assert DocumentKeys.from_documents(SCOPE_DOCS[:1]).scope("海拉尔区") is None  # nothing to choose


def test_scope_keeps_search_in_the_documents_the_question_names():
    from qa.retrieval import title_scope

    encoder = HashEncoder()
    index = Index.build(SCOPE_DOCS, encoder, Settings(), progress=False)
    search = Retriever(index, encoder, Settings())
    query = "海拉尔区2019年地区生产总值"
    assert search.scope(query) == title_scope(query, SCOPE_DOCS) == {"hl19"}
    for retriever in ("dense", "bm25", "hybrid"):
        passages = search.search(query, k=5, retriever=retriever, doc_ids=search.scope(query))
        assert passages and {p.chunk.doc_id for p in passages} == {"hl19"}
    assert {p.chunk.doc_id for p in search.search(query, k=5)} >= {"hl18", "hl19"}  # unscoped


def test_part_years_follow_each_bulletin_of_a_compilation():
    from qa.chunking import chunk_document
    from qa.retrieval.scope import part_years

    text = ("南京市2024年统计公报\n南京市统计局\n2025年3月\n2024年全市经济稳中有进。\n一、综合\n"
            "全年实现地区生产总值18500.81亿元。\n南京市统计局\n2024年3月\n2023年是开局之年。\n一、综合\n"
            "全年实现地区生产总值17421.40亿元。")
    doc = _doc("nj", "南京市2024年统计公报", text)
    chunks = chunk_document(doc)
    years = dict(zip((c.text for c in chunks), part_years(doc, chunks), strict=True))
    assert years["一、综合\n全年实现地区生产总值18500.81亿元。"] == (2024, 2025)
    assert years["一、综合\n全年实现地区生产总值17421.40亿元。"] == (2023, 2024)
    # a work report given in 2019 reviews 2018 and plans 2019, in every chunk
    report = SCOPE_DOCS[1]
    assert set(part_years(report, chunk_document(report))) == {(2018, 2019)}

    encoder = HashEncoder()
    search = Retriever(Index.build([doc], encoder, Settings(), progress=False), encoder, Settings())
    query = "南京市2023年地区生产总值是多少？"
    found = search.candidates(query, encoder.encode_queries([query])[0])
    by_text = {search.index.chunks[r].text: f for r, f in zip(found.rows.tolist(), found.features, strict=True)}
    reviewed, planned = FEATURES.index("year_reviewed"), FEATURES.index("year_planned")
    # the 2023 bulletin's chunk reviews 2023; the 2024 one (reviews 2024, plans 2025) is not searched
    earlier = by_text["一、综合\n全年实现地区生产总值17421.40亿元。"]
    assert (earlier[reviewed], earlier[planned]) == (1, 0)
    assert "一、综合\n全年实现地区生产总值18500.81亿元。" not in by_text
    found = search.candidates("南京市2025年的目标是多少？", encoder.encode_queries(["南京市2025年的目标"])[0])
    later = {search.index.chunks[r].text: f for r, f in zip(found.rows.tolist(), found.features, strict=True)}
    assert later["一、综合\n全年实现地区生产总值18500.81亿元。"][planned] == 1  # the 2024 bulletin plans 2025


def test_retrieval_fit_pairs_indexes_with_data_files_or_says_how():
    import argparse

    from qa.retrieval.cli import measure

    args = argparse.Namespace(index=["a", "b"], data=["x.jsonl", "y.jsonl", "z.jsonl"], extra=[], c=1.0)
    with pytest.raises(ValueError, match="2 --index directories for 3 --data files: give one index, or one per"):
        measure(args)


def test_a_year_searches_the_parts_of_a_compilation_about_it():
    from qa.retrieval.scope import part_years  # noqa: F401  (the parts come from the report frame)

    text = ("南京市2024年统计公报\n南京市统计局\n2025年3月\n2024年全市经济稳中有进。\n一、综合\n"
            "全年实现地区生产总值18500.81亿元。\n南京市统计局\n2024年3月\n2023年是开局之年。\n一、综合\n"
            "全年实现地区生产总值17421.40亿元。")
    doc = _doc("nj", "南京市2024年统计公报", text)
    other = _doc("dl", "东柳街道2023年工作总结", "全年实现地区生产总值60.3亿元。")
    encoder = HashEncoder()
    search = Retriever(Index.build([doc, other], encoder, Settings(), progress=False), encoder, Settings())
    for retriever in ("bm25", "dense", "hybrid"):
        found = {p.chunk.text for p in search.search("南京市2023年地区生产总值是多少？", k=10, retriever=retriever)}
        assert "一、综合\n全年实现地区生产总值17421.40亿元。" in found
        assert "一、综合\n全年实现地区生产总值18500.81亿元。" not in found  # the 2024 part
        assert "全年实现地区生产总值60.3亿元。" in found  # a document of one part is untouched
    # no year named: every part is searched
    found = {p.chunk.text for p in search.search("南京市地区生产总值是多少？", k=10, retriever="bm25")}
    assert "一、综合\n全年实现地区生产总值18500.81亿元。" in found
