import pytest

from qa.conversation import is_follow_up, rewrite


@pytest.mark.parametrize(
    "question, history, expected",
    [
        ("那2024年的增长目标呢？", ["2023年地区生产总值是多少？"], "2024年地区生产总值的增长目标是多少？"),
        ("托育驿站呢？", ["2023年新增了多少个托位？"], "2023年新增了多少个托育驿站？"),
        ("那2024年呢？", ["2023年完成固定资产投资多少？"], "2024年完成固定资产投资多少？"),
    ],
)
def test_follow_ups_are_rewritten(question, history, expected):
    assert rewrite(question, history) == expected


def test_question_with_its_own_topic_is_not_rewritten():
    question = "2024年固定资产投资目标是多少？"
    assert not is_follow_up(question)
    assert rewrite(question, ["2023年完成固定资产投资多少？"]) == question


def test_follow_up_without_history_is_unchanged():
    assert rewrite("托育驿站呢？", []) == "托育驿站呢？"


def test_question_word_follow_up_inherits_topic():
    out = rewrite("今年的目标是多少？", ["2023年完成固定资产投资多少？"])
    assert "固定资产投资" in out and "今年" in out and "2023" not in out


def test_chained_follow_ups_resolve_in_order():
    history = ["2023年新增了多少个托位？", "托育驿站呢？"]
    assert rewrite("那2024年呢？", history) == "2024年新增了多少个托育驿站？"


def test_a_very_long_chain_of_follow_ups_resolves_without_recursion():
    history = ["2023年新增了多少个托位？", *["托育驿站呢？"] * 10_000]
    assert rewrite("托育驿站呢？", history) == "2023年新增了多少个托育驿站？"
    assert rewrite("那2024年呢？", history) == "2024年新增了多少个托育驿站？"


def test_only_the_chain_back_to_a_standalone_question_is_used():
    history = ["2023年完成固定资产投资多少？", "2023年新增了多少个托位？", "托育驿站呢？"]
    assert rewrite("那2024年呢？", history) == "2024年新增了多少个托育驿站？"


def test_a_follow_up_that_names_a_place_moves_to_it():
    assert rewrite("甲川市的旅游收入呢？", ["乙岭市2023年接待游客多少？"]) == "甲川市2023年旅游收入多少？"
    assert rewrite("旅游收入呢？", ["乙岭市2023年接待游客多少？"]) == "乙岭市2023年旅游收入多少？"


def test_a_new_topic_keeps_the_previous_period_and_place():
    assert rewrite("那旅游收入是多少？", ["2013年海拉尔区旅游接待人数是多少？"]) == "2013年海拉尔区旅游收入是多少？"


def test_a_follow_up_on_a_new_aspect_keeps_the_previous_year_and_place():
    # the words before 多少个 (period, place, the verb) stay with the counted topic
    assert rewrite("这些项目总投资多少？", ["2022年保定安排了多少个市以上重点项目？"]) == \
        "2022年保定安排的市以上重点项目的项目总投资多少？"
    assert rewrite("这些项目总投资多少？", ["2013年海拉尔区实施了多少个重点项目？"]) == \
        "2013年海拉尔区实施的重点项目的项目总投资多少？"
    assert rewrite("这些项目总投资多少？", ["2023年一共新开工了多少个重点项目？"]) == \
        "2023年一共新开工的重点项目的项目总投资多少？"
