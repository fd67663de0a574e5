"""CMRC 2018 EM/F1 and the retrieval, abstention and latency metrics, on hand-computed cases."""

from __future__ import annotations

import pytest

from qa.evaluation import metrics
from qa.evaluation.metrics import exact_match, f1, tokens
from qa.evaluation.treebank import word_tokenize


def test_clean_deletes_only_the_cmrc_punctuation_list():
    assert metrics.clean("《红楼梦》，") == "红楼梦"
    assert metrics.clean(" ABC-d ") == "abcd"
    # ASCII , . ? ! ( ) and the ellipsis are not in the official list
    assert metrics.clean("a, b.(c)?") == "a, b.(c)?"
    assert metrics.clean("北京…") == "北京…"


def test_exact_match_punctuation_case_and_whitespace():
    assert exact_match("《红楼梦》", ["红楼梦"]) == 1.0
    assert exact_match(" NBA ", ["nba"]) == 1.0
    assert exact_match("红楼梦.", ["红楼梦"]) == 0.0  # ASCII period is kept
    assert exact_match("北京…", ["北京"]) == 0.0


def test_tokens_mixed_chinese_and_english():
    assert tokens("iPhone 6s售价5,288元") == ["iphone", "6s", "售", "价", "5,288", "元"]
    # punctuation is skipped without ending the non-CJK run, as in the official script
    assert tokens("3-5年") == ["35", "年"]
    assert tokens("“U.S. Army”") == ["u.s.", "army"]


def test_word_tokenize_follows_nltk_rules():
    assert word_tokenize("Good muffins cost $3.88 (roughly 3,36 euros).") == [
        "Good", "muffins", "cost", "$", "3.88", "(", "roughly", "3,36", "euros", ")", ".",
    ]  # fmt: skip
    assert word_tokenize("they can't go") == ["they", "ca", "n't", "go"]
    assert word_tokenize("u.s.") == ["u.s", "."]


def test_f1_mixed_chinese_and_english():
    # pred [the, iphone, 6s], gold [iphone, 6s, 手, 机]: run 2, P = 2/3, R = 2/4
    assert f1("the iPhone 6s", ["iPhone 6s手机"]) == pytest.approx(4 / 7)


def test_f1_multiple_golds_takes_the_best():
    # against 北京市: run 2, P = 1, R = 2/3, F1 = 0.8; against 上海市: 0
    assert f1("北京", ["上海市", "北京市"]) == pytest.approx(0.8)
    assert exact_match("北京市", ["上海市", "北京市"]) == 1.0


def test_f1_is_longest_common_run_not_bag_of_tokens():
    # a bag-of-tokens F1 (SQuAD) would give 1.0: all four characters are shared
    assert f1("甲乙丙丁", ["丙丁甲乙"]) == pytest.approx(0.5)
    assert f1("京北", ["北京"]) == pytest.approx(0.5)
    assert metrics.longest_common_run(list("abcxde"), list("xdeabc")) == 3


def test_f1_punctuation_is_removed_before_tokens():
    assert f1("《红楼梦》。", ["红楼梦"]) == 1.0
    # ASCII "." is not removed: pred [60.3, 亿, 元, .] against [60.3, 亿, 元]
    assert f1("60.3亿元.", ["60.3亿元"]) == pytest.approx(2 * 0.75 / 1.75)


def test_empty_prediction_scores_zero():
    assert exact_match("", ["北京"]) == 0.0
    assert f1("", ["北京"]) == 0.0
    assert f1("。", ["北京"]) == 0.0


def test_unanswerable_scores_one_only_for_abstention():
    assert exact_match("", []) == 1.0
    assert f1("", []) == 1.0
    assert exact_match("北京", []) == 0.0
    assert f1("北京", []) == 0.0


def test_hit_and_reciprocal_rank():
    assert metrics.hit_at_k(1, 1) == 1.0
    assert metrics.hit_at_k(5, 5) == 1.0
    assert metrics.hit_at_k(6, 5) == 0.0
    assert metrics.hit_at_k(None, 5) == 0.0
    assert metrics.reciprocal_rank(4) == 0.25
    assert metrics.reciprocal_rank(11) == 0.0
    assert metrics.reciprocal_rank(None) == 0.0
    assert metrics.first_relevant_rank([False, False, True, True]) == 3
    assert metrics.first_relevant_rank([False]) is None
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.hit_at_k(1, 0)


def test_spans():
    assert metrics.spans_overlap((0, 5), (4, 9))
    assert not metrics.spans_overlap((0, 5), (5, 9))  # half-open
    assert metrics.span_contains((10, 30), (12, 30))
    assert not metrics.span_contains((10, 30), (9, 20))


def test_abstention_precision_recall():
    # abstained on q1 (unanswerable) and q2 (answerable); q3 unanswerable, answered
    p, r = metrics.abstention_precision_recall([True, True, False], [True, False, True])
    assert (p, r) == (0.5, 0.5)
    assert metrics.abstention_precision_recall([False], [False]) == (None, None)
    with pytest.raises(ValueError, match="differ in length"):
        metrics.abstention_precision_recall([True], [])


def test_percentile_and_mean():
    assert metrics.percentile([40.0, 10.0, 30.0, 20.0], 50) == pytest.approx(25.0)
    assert metrics.percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    assert metrics.percentile([], 50) is None
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([]) is None
