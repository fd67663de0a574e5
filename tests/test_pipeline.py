"""End-to-end answers through the one answering path (real encoder and index)."""

from __future__ import annotations

import pytest

from qa.config import NO_ANSWER_MESSAGE
from qa.pipeline import abstention_text

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "question, expected",
    [
        ("2023年新增了多少个托位？", "124个"),
        ("2023年完成固定资产投资多少？", "32.5亿元"),
        ("2024年固定资产投资目标是多少？", "9亿元"),
        ("2023年完成了几部电梯加装？", "三部"),
        ("兑现了多少政策资金？", "1600余万元"),
        ("这份文件是哪天发布的？", "2024-03-21"),
        ("How many childcare places were added in 2023?", "124个"),
    ],
)
def test_gold_answers(assistant, question, expected):
    answer = assistant.ask(question)
    assert answer.text == expected
    doc = assistant.document(answer.citation.doc_id)
    assert doc.text[answer.citation.start:answer.citation.end] == expected


@pytest.mark.parametrize(
    "history, question, standalone, expected",
    [
        (["2023年地区生产总值是多少？"], "那2024年的增长目标呢？", "2024年地区生产总值的增长目标是多少？", "8%"),
        (["2023年新增了多少个托位？"], "托育驿站呢？", "2023年新增了多少个托育驿站？", "4家"),
    ],
)
def test_follow_ups_use_the_history(assistant, history, question, standalone, expected):
    answer = assistant.ask(question, history=history)
    assert answer.standalone_question == standalone
    assert answer.text == expected


def test_standalone_question_is_not_rewritten(assistant):
    answer = assistant.ask("2023年新增了多少个托位？", history=["这份文件是哪天发布的？"])
    assert answer.standalone_question == "2023年新增了多少个托位？"


@pytest.mark.parametrize("question", ["东柳街道常住人口有多少？", "街道办事处主任叫什么名字？",
                                      "东柳街道的邮政编码是多少？", "明年春节放几天假？",
                                      "37乘以48等于多少？"])
def test_abstains_when_the_report_does_not_say(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained
    assert answer.text == "" and answer.citation is None
    assert abstention_text(answer) == NO_ANSWER_MESSAGE
    assert answer.passages  # related passages are shown instead


def test_bad_questions_give_a_clear_result(assistant):
    empty = assistant.ask("   ")
    assert empty.abstained and empty.notice == "请输入问题。"
    long = assistant.ask("托位" * 5000)
    assert "500" in long.notice
    html = assistant.ask("<script>alert(1)</script>2023年新增了多少个托位？")
    assert html.text == "124个"
    control = assistant.ask("2023年新增了\x00多少个\x1b托位？")
    assert control.text == "124个"


def test_every_gold_answer_is_cited_exactly(assistant, gold):
    for row in gold:
        answer = assistant.ask(row["question"], history=row["history"])
        for a in (answer, *answer.alternatives):
            if a.citation is None:
                continue
            doc = assistant.document(a.citation.doc_id)
            assert doc.text[a.citation.start:a.citation.end] == a.text
            assert doc.text[a.citation.sentence_start:a.citation.sentence_end] == a.sentence


def test_does_not_build_into_a_folder_of_other_files(tmp_path, encoder):
    from qa.config import Settings
    from qa.index import IndexNotFoundError
    from qa.pipeline import Assistant

    (tmp_path / "a.txt").write_text("2024年安排预算资金300万元。", encoding="utf-8")
    settings = Settings.from_env(index_dir=tmp_path)
    with pytest.raises(IndexNotFoundError, match="not empty"):
        Assistant(settings, encoder=encoder).warm_up(progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # nothing written


def test_punctuation_only_and_contentless_questions_abstain(assistant):
    assert assistant.ask("？").notice == "请输入问题。"
    answer = assistant.ask("是多少？")
    assert answer.abstained and answer.text == ""


def test_added_document_is_searchable_after_earlier_questions(tmp_path, encoder):
    """BM25 statistics cached by the retriever follow the index when documents are added."""
    from qa.config import Settings
    from qa.pipeline import Assistant
    from qa.retrieval import Retriever

    doc = tmp_path / "parking.md"
    doc.write_text("# 西岭街道2024年停车改造通知\n\n2024年西岭街道新增公共停车位300个，"
                   "主要分布在三个老旧小区。\n", encoding="utf-8")
    assistant = Assistant(Settings.from_env(index_dir=tmp_path / "index"), encoder=encoder)
    assistant.warm_up(progress=False)
    assert assistant.ask("2023年新增了多少个托位？").text == "124个"
    vocabulary = len(assistant.index.bm25.vocab_dict)
    assert len(assistant.add_files([doc])) == 1
    assert len(assistant.index.bm25.vocab_dict) > vocabulary
    assert assistant.ask("2024年西岭街道新增了多少个公共停车位？").text == "300个"
    fresh = Retriever(assistant.index, encoder, assistant.settings)
    question = "西岭街道公共停车位"
    assert assistant.retriever.bm25_max(question) == pytest.approx(fresh.bm25_max(question))


def test_missing_reader_adapter_falls_back_to_the_rules_with_a_message(assistant, tmp_path, capsys):
    from qa.pipeline import Assistant

    settings = assistant.settings.replace(reader="neural", reader_adapter=tmp_path / "no-adapter")
    fallback = Assistant(settings, index=assistant.index, encoder=assistant.encoder).warm_up(progress=False)
    assert fallback.reader_kind == "rules"
    assert "no reader adapter" in fallback.reader_warning
    assert "using the rule-based reader" in capsys.readouterr().err
    assert fallback.ask("2023年新增了多少个托位？").text == "124个"
    assert fallback.use_reader("neural") == "rules"
    assert fallback.use_reader("span") == "rules" and not fallback.reader.span_only


def test_span_reader_alone_answers_without_rules_and_switches_back(assistant):
    try:
        assert assistant.use_reader("span") == "span" and assistant.reader.span_only
        answer = assistant.ask("商会企业与哪个村结对共建？")
        assert answer.text == "盐源县拦河村"  # the span reader's own span, no rule candidate
        assert 0.5 <= answer.confidence <= 1.0  # the passage's calibrated answer probability
        doc = assistant.document(answer.citation.doc_id)
        assert doc.text[answer.citation.start:answer.citation.end] == answer.text
    finally:
        assert assistant.use_reader("neural") == "neural" and not assistant.reader.span_only


def _two_city_assistant(tmp_path, encoder):
    """An assistant over two constructed city reports with the same indicators."""
    from qa.config import Settings
    from qa.documents import load_documents
    from qa.index import Index
    from qa.pipeline import Assistant

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, city, tourists, income in (("a.txt", "甲川市", "1200万人次", "86.5亿元"),
                                         ("b.txt", "乙岭市", "530万人次", "31.2亿元")):
        (folder / name).write_text(
            f"2024年{city}政府工作报告\n\n一、2023年工作回顾\n\n"
            f"过去一年，{city}接待游客{tourists}，实现旅游收入{income}。全年新增城镇就业2.1万人。\n",
            encoding="utf-8")
    settings = Settings.from_env(index_dir=tmp_path / "index")
    index = Index.build(load_documents([folder]), encoder, settings, progress=False)
    return Assistant(settings, index=index, encoder=encoder).warm_up(progress=False)


def test_follow_up_stays_on_the_report_of_the_previous_answer(tmp_path, encoder):
    assistant = _two_city_assistant(tmp_path, encoder)
    first = assistant.ask("乙岭市2023年接待游客多少？")
    assert first.text == "530万人次"
    follow = assistant.ask("旅游收入呢？", history=["乙岭市2023年接待游客多少？"])
    assert follow.text == "31.2亿元"
    assert assistant.document(follow.citation.doc_id).title.startswith("2024年乙岭市")
    other = assistant.ask("甲川市的旅游收入呢？", history=["乙岭市2023年接待游客多少？"])
    assert other.text == "86.5亿元"  # a follow-up that names another report goes there


def test_nonsense_questions_abstain_and_english_questions_still_answer(assistant):
    for question in ["12345", "%s", "admin'--", "{0}", "' OR 1=1 --", "???", "0x1F", "%d %d %d",
                     "${jndi:ldap://x/a}", "../../etc/passwd", "1 2 3 4 5", "\\x00\\x1b", "qwertyuiop"]:
        answer = assistant.ask(question)
        assert answer.abstained, (question, answer.text, answer.confidence)
        assert answer.text == "" and answer.citation is None
    assert assistant.ask("How many childcare places were added in 2023?").text == "124个"


def test_a_10000_item_history_is_answered(assistant):
    history = [*["2023年完成固定资产投资多少？", "今年的目标是多少？"] * 4_999, "2023年新增了多少个托位？",
               "托育驿站呢？"]
    assert len(history) == 10_000
    answer = assistant.ask("托育驿站呢？", history=history)
    assert answer.standalone_question == "2023年新增了多少个托育驿站？"
    assert answer.text == "4家"
    junk = assistant.ask("2023年新增了多少个托位？", history=["那呢？" * 50] * 10_000)
    assert junk.text == "124个"


def test_fuzzed_questions_give_valid_unicode_answers_cited_exactly(assistant):
    """Seeded fuzz: 200 questions through the rule-based reader (fast), 30 through the
    neural one; every answer encodes as UTF-8 JSON and cites exactly."""
    import json
    import random

    from qa.pipeline import Assistant

    rules = Assistant(assistant.settings.replace(reader="rules"), index=assistant.index,
                      encoder=assistant.encoder).warm_up(progress=False)
    rng = random.Random(12)
    pieces = ["\ud800", "\udfff", "\x00", "\u202e", "\u200f", "\ufeff", "\ufffe", "<b>", "</script>",
              "<img src=x onerror=alert(1)>", "%s", "' OR 1=1 --", "托位", "2023年", "新增了多少个",
              "？", "How many", " ", "\n", "😀", "\U0010ffff", "ｱ", "臺北"]
    questions = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(230)]
    questions += ["托" * 100_000, "\ud800" * 100_000, "<p>" * 30_000 + "2023年新增了多少个托位？"]
    answered = 0
    for i, question in enumerate(questions):
        reader = assistant if i >= 200 else rules
        answer = reader.ask(question, history=[rng.choice(pieces) for _ in range(3)])
        json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
        answered += not answer.abstained
        for a in (answer, *answer.alternatives):
            if a.citation is not None:
                doc = assistant.document(a.citation.doc_id)
                assert doc.text[a.citation.start:a.citation.end] == a.text
    assert answered  # some fuzzed questions hold a real question (托位 + 新增了多少个)
    assert answer.text == "124个"  # the last: a real question behind 30,000 tags


def test_history_beyond_max_history_is_not_used(assistant):
    from qa.config import Settings
    from qa.pipeline import Assistant

    history = ["2023年新增了多少个托位？", "2023年完成固定资产投资多少？"]
    short = Assistant(assistant.settings.replace(max_history=1), index=assistant.index,
                      encoder=assistant.encoder).warm_up(progress=False)
    assert short.ask("托育驿站呢？", history=history).standalone_question == "2023年托育驿站多少？"
    assert assistant.ask("托育驿站呢？", history=history[:1]).standalone_question == "2023年新增了多少个托育驿站？"
    with pytest.raises(ValueError, match="max_history must be >= 0"):
        Settings(max_history=-1)


# --- concurrency: additions beside the live index, other writers, bounded work ---


class _GatedEncoder:
    """The real encoder, except that :meth:`encode_passages` waits for ``release``
    (and sets ``embedding`` when it starts), so a test can act while documents embed."""

    def __init__(self, encoder):
        import threading

        self._encoder = encoder
        self.embedding = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode_passages(self, texts, *args, **kwargs):
        self.embedding.set()
        assert self.release.wait(120), "the test never released the encoder"
        return self._encoder.encode_passages(texts, *args, **kwargs)


PARKING = ("# 西岭街道2024年停车改造通知\n\n2024年西岭街道新增公共停车位300个，"
           "主要分布在三个老旧小区。\n")


def test_questions_are_answered_while_a_document_is_added(tmp_path, encoder):
    import threading

    from qa.config import Settings
    from qa.pipeline import Assistant

    doc = tmp_path / "parking.md"
    doc.write_text(PARKING, encoding="utf-8")
    gated = _GatedEncoder(encoder)
    gated.release.set()  # the shipped corpus is built without waiting
    assistant = Assistant(Settings.from_env(index_dir=tmp_path / "index"), encoder=gated)
    assistant.warm_up(progress=False)
    gated.release.clear()
    added: list[str] = []
    adding = threading.Thread(target=lambda: added.extend(assistant.add_files([doc])))
    adding.start()
    try:
        assert gated.embedding.wait(60)
        # the addition is embedding: questions are answered from the index as it was
        assert assistant.ask("2023年新增了多少个托位？").text == "124个"
        assert assistant.ask("2024年西岭街道新增了多少个公共停车位？").text != "300个"
        assert len(assistant.documents()) == 1
    finally:
        gated.release.set()
        adding.join(120)
    assert len(added) == 1
    assert assistant.ask("2024年西岭街道新增了多少个公共停车位？").text == "300个"


def test_answers_from_a_document_another_process_added(tmp_path, default_encoder, monkeypatch):
    import subprocess
    import sys

    import qa.pipeline
    from qa.config import Settings
    from qa.index import Index
    from qa.pipeline import Assistant

    monkeypatch.setattr(qa.pipeline, "RELOAD_CHECK_S", 0.0)  # check at every question
    index_dir = tmp_path / "index"
    assistant = Assistant(Settings.from_env(index_dir=index_dir), encoder=default_encoder).warm_up(progress=False)
    assert assistant.ask("2024年西岭街道新增了多少个公共停车位？").text != "300个"
    doc = tmp_path / "parking.md"
    doc.write_text(PARKING, encoding="utf-8")
    cli = "import sys; from qa.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", cli, "index", "add", str(doc), "--index", str(index_dir),
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "added 1 document(s)" in done.stdout
    answer = assistant.ask("2024年西岭街道新增了多少个公共停车位？")
    assert answer.text == "300个"
    assert assistant.document(answer.citation.doc_id).path == str(doc.resolve())
    # and an upload in the app now keeps the CLI's document (the save merges, never overwrites)
    other = tmp_path / "park.md"
    other.write_text("# 北山街道2024年公园建设\n\n北山街道2024年新建口袋公园5个。\n", encoding="utf-8")
    assert len(assistant.add_files([other])) == 1
    assert len(Index.load(index_dir, default_encoder).documents) == 3


def test_cross_lingual_question_encodes_a_bounded_text(assistant, monkeypatch):
    from qa.reader.candidates import (
        SEMANTIC_CANDIDATES,
        SEMANTIC_CLAUSE_CHARS,
        SEMANTIC_QUESTION_CHARS,
    )

    calls: list[list[str]] = []
    encode = assistant.encoder.encode_queries

    def spy(texts, *args, **kwargs):
        calls.append(list(texts))
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(assistant.encoder, "encode_queries", spy)
    question = ("How many childcare places and nursery stations were added in 2023? " * 8)[:500]  # no Chinese
    assistant.clear_query_cache()
    assistant.ask(question)
    batches = [texts for texts in calls if len(texts) > 1]
    assert [question[:SEMANTIC_QUESTION_CHARS]] in calls  # the question, cut, on its own
    assert len(batches) == 1 and 0 < len(batches[0]) <= SEMANTIC_CANDIDATES
    assert max(len(t) for t in batches[0]) <= SEMANTIC_CLAUSE_CHARS
    assert len(set(batches[0])) == len(batches[0])  # each clause encoded once


def test_heavy_questions_are_answered_one_at_a_time_ordinary_ones_together(assistant, monkeypatch):
    import threading
    import time

    active, peak = [0], [0]
    count = threading.Lock()
    meet = threading.Barrier(2, timeout=60)  # ordinary questions: both must be inside at once
    search = assistant._search

    def watched_search(state, query, *args, **kwargs):
        with count:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            if len(query) < 30 and not query.isascii():
                meet.wait()
            else:
                time.sleep(0.3)
            return search(state, query, *args, **kwargs)
        finally:
            with count:
                active[0] -= 1

    monkeypatch.setattr(assistant, "_search", watched_search)
    answers: list = []

    def ask_all(questions):
        threads = [threading.Thread(target=lambda q=q: answers.append(assistant.ask(q))) for q in questions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    ask_all(["%s" * 250, "What was the regional GDP in 2023?", "托育" * 60])
    assert peak[0] == 1 and len(answers) == 3
    ask_all(["2023年新增了多少个托位？", "2023年完成固定资产投资多少？"])
    assert peak[0] == 2 and sorted(a.text for a in answers[3:]) == ["124个", "32.5亿元"]
