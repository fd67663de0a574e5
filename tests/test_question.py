import pytest

from qa.question import analyze, clean_question, content_terms, letter_words


def test_quantity_question_with_year_and_measure_word():
    q = analyze("2023年新增了多少个托位？")
    assert q.answer_type == "quantity"
    assert q.years == (2023,)
    assert q.unit_hint == "个"
    assert q.terms == ("新增", "托位")
    assert not q.wants_change and not q.wants_target


def test_change_and_target_questions():
    q = analyze("2024年地区生产总值增长目标是多少？")
    assert (q.answer_type, q.years, q.wants_change, q.wants_target, q.wants_percent) == (
        "quantity", (2024,), True, True, True)
    assert analyze("电信网络诈骗发案数同比下降了多少？").wants_change


def test_relative_year_resolved_against_publication_year():
    q = analyze("去年街道经济总量有多大？")
    assert q.relative_year == -1
    assert q.target_years(2024) == (2023,)
    assert analyze("今年的目标是多少？").target_years(2024) == (2024,)
    assert analyze("2023年完成固定资产投资多少？").target_years(2024) == (2023,)


def test_answer_types():
    assert analyze("这份文件是哪天发布的？").answer_type == "meta"
    assert analyze("街道存在的第一个短板是什么？").answer_type == "ordinal"
    assert analyze("街道存在的第一个短板是什么？").ordinal == 1
    assert analyze("南京排名全球第几？").answer_type == "rank"
    assert analyze("是第几次荣获该称号？").unit_hint == "次"
    assert analyze("第十五届人大第三次会议是哪天开的？").answer_type == "date"
    assert analyze("2022年统计公报是哪个月发布的？").answer_type == "date"
    assert analyze("新馆是哪一年建成的？").answer_type == "date"
    assert analyze("2024年要推进哪些社区创建第八批未来社区？").answer_type == "list"
    # 哪几 asks for the items, 几 alone for a count
    assert analyze("哪几个社区成功创建了未来社区？").answer_type == "list"
    assert analyze("新增了几家托育驿站？").answer_type == "quantity"
    assert analyze("商会企业与哪个村结对共建？").answer_type == "entity"
    assert analyze("How many childcare places were added in 2023?").answer_type == "quantity"
    assert analyze("How many childcare places were added in 2023?").english


def test_clean_question_strips_html_and_control_characters_and_cuts():
    text, notice = clean_question("<script>alert(1)</script>托位\x00\x07有多少？", 500)
    assert text == "alert(1) 托位 有多少？"
    assert notice == ""
    text, notice = clean_question("托" * 10_000, 500)
    assert len(text) == 500 and "500" in notice
    assert clean_question("   \n\t ", 500) == ("", "")
    assert clean_question("２０２３年新增了多少个托位？", 500)[0] == "2023年新增了多少个托位？"


def test_content_terms_drop_question_and_function_words():
    assert content_terms("商会企业与哪个村结对共建？") == ("商会", "企业", "村", "结对", "共建")


def test_traditional_chinese_questions_are_analysed_like_simplified():
    q = analyze("臺北市是什麼時候成立的？誰是第一任市長？")
    assert q.text == "臺北市是什麼時候成立的？誰是第一任市長？"  # shown as asked
    assert q.match_text == "台北市是什么时候成立的？谁是第一任市长？"
    assert q.answer_type == "date"
    assert "台北市" in q.terms


@pytest.mark.parametrize("text", ["12345", "%s", "admin'--", "{0}", "' OR 1=1 --", "???", "0x1F",
                                  "SELECT * FROM t", "DROP TABLE users;", "%d %d %d", "${jndi:ldap://x/a}",
                                  "../../etc/passwd", "1e308", "1 2 3 4 5", "qwertyuiop", "hello", "是多少？"])
def test_questions_without_natural_language_have_no_content(text):
    assert not analyze(text).has_content


@pytest.mark.parametrize("text", ["How many childcare places were added in 2023?",
                                  "What is the GDP growth target for 2024?",
                                  "When was this document published?", "2023年新增了多少个托位？"])
def test_genuine_questions_have_content(text):
    assert analyze(text).has_content


def test_letter_words_are_letters_only_tokens():
    assert letter_words("How many places, in 2023?") == (["how", "many", "places", "in"], 5)
    assert letter_words("%s {0} 0x1F admin'--") == ([], 4)
    assert letter_words("the city's year-on-year growth") == (["the", "city's", "year-on-year", "growth"], 4)


def test_clean_question_removes_lone_surrogates_noncharacters_and_marks():
    text, _ = clean_question("\ud800\x00托位\udfff\ufffe\u202e有多少\u200f？\U0010ffff", 500)
    assert text == "托位 有多少 ？"
    assert text.encode("utf-8")
    assert clean_question("\ud800\x00", 500) == ("", "")


@pytest.mark.parametrize(("question", "precision"), [
    ("莱索托哪一年独立？", "year"),
    ("广三铁路在哪年建成？", "year"),
    ("2022年统计公报是哪个月发布的？", "month"),
    ("第十五届人大第三次会议是哪天开的？", "day"),
    ("人民调解项目的实施周期是什么？", "range"),
    ("报名的起止时间是什么？", "range"),
])
def test_date_precision(question, precision):
    from qa.question import date_precision

    assert date_precision(question) == precision

