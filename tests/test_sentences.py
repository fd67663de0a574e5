"""Tests for :mod:`qa.sentences`: sentence ends, exact offsets."""

from __future__ import annotations

import pytest

from qa.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("生产总值60.3亿元,同比-6.2%、-19.3%。获得荣誉7项。", ["生产总值60.3亿元,同比-6.2%、-19.3%。", "获得荣誉7项。"]),
        ("发布日期: 2024-03-21 11:04。下一句！还有？对；好", ["发布日期: 2024-03-21 11:04。", "下一句！", "还有？", "对；", "好"]),
        ("他说：“今年要努力。明年更好！”然后走了。", ["他说：“今年要努力。明年更好！”", "然后走了。"]),
        ("增长10.1%;地方财政总收入增长5.2%。", ["增长10.1%;", "地方财政总收入增长5.2%。"]),
        ("1.加强管理。2.提升服务。", ["1.加强管理。", "2.提升服务。"]),
        ("完成目标。）下一句（括号）。", ["完成目标。）", "下一句（括号）。"]),
        ("真的吗？！是的。", ["真的吗？！", "是的。"]),
        ('坚持"四个意识"。增强"四个自信"。', ['坚持"四个意识"。', '增强"四个自信"。']),
        ("结构为3.9:39.0:57.1，出生率7.20‰。结束", ["结构为3.9:39.0:57.1，出生率7.20‰。", "结束"]),
        ("“没有闭合的引号。后一句。", ["“没有闭合的引号。", "后一句。"]),
        ("Mr. Smith lives in the U.S. now. Version 2.0 is out.", ["Mr. Smith lives in the U.S. now.", "Version 2.0 is out."]),
        ("见https://a.gov.cn/x.asp?id=5665页面。好", ["见https://a.gov.cn/x.asp?id=5665页面。", "好"]),
        ("第一行没有句号\n　　第二行。", ["第一行没有句号", "第二行。"]),
    ],
)  # fmt: skip
def test_split_sentences(text, expected):
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == expected
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_split_sentences_offsets_in_a_range():
    text = "前文。目标句一。目标句二。后文。"
    assert [(s.start, s.end, s.text) for s in split_sentences(text, 3, 13)] == [
        (3, 8, "目标句一。"), (8, 13, "目标句二。"),
    ]  # fmt: skip


def test_a_bad_range_is_refused():
    with pytest.raises(ValueError, match="start <= end"):
        split_sentences("abc", 2, 1)
