"""Datasets, the runner, the JSON summary, reports and ``compare``, with fake assistants.

The fake assistants return known answers, passages and latencies, so every
expected metric below is worked out by hand.
"""

from __future__ import annotations

import csv
import json

import pytest

from qa.chunking import Chunk
from qa.documents import Document, document_id
from qa.evaluation import DatasetError, evaluate, load_dataset, squad_documents, summarize
from qa.evaluation.cli import main
from qa.evaluation.compare import diff, format_diff
from qa.evaluation.report import write_json
from qa.reader import Answer, Citation
from qa.retrieval import Passage

# ---------------------------------------------------------------- fixtures
TEXT = "东柳街道2023年实现地区生产总值60.3亿元。新增托位124个。引进企业137家。"
DOC = Document(id=document_id(TEXT), path="corpus.txt", title="东柳", text=TEXT)
OTHER = Document(id=document_id("无关文本。"), path="other.txt", title="other", text="无关文本。")


def span(text: str, piece: str) -> tuple[int, int]:
    start = text.index(piece)
    return start, start + len(piece)


def chunk(doc: Document, piece: str) -> Chunk:
    start, end = span(doc.text, piece)
    return Chunk(f"{doc.id}-{start}-{end}", doc.id, start, end, piece, (), 1, ())


A = chunk(DOC, "东柳街道2023年实现地区生产总值60.3亿元。")
B = chunk(DOC, "新增托位124个。")
C = chunk(DOC, "引进企业137家。")
X = chunk(OTHER, "无关文本。")


class FakeAssistant:
    """``ask`` answers from a script; ``search`` ranks from a script; records ``doc_ids``."""

    def __init__(self, script, rankings, documents, clock=None, latency_s=None, neural_script=None,
                 span_script=None):
        self.script, self.rankings, self._documents = script, rankings, documents
        self.clock, self.latency_s = clock, latency_s or {}
        self.asked: list[tuple[str, tuple, list | None]] = []
        self.searched: list[tuple[str, str, list | None]] = []
        self.scripts = {"rules": script, "neural": neural_script, "span": span_script}
        self.reader_warning = "" if neural_script is not None else "neural reader unavailable (test)"

    def use_reader(self, kind):
        kind = kind if self.scripts[kind] is not None else "rules"
        self.script = self.scripts[kind]
        return kind

    def documents(self):
        return self._documents

    def ask(self, question, history=(), doc_ids=None):
        self.asked.append((question, tuple(history), doc_ids))
        if self.clock is not None:
            self.clock.now += self.latency_s.get(question, 0.0)
        reply = self.script.get(question)
        passages = tuple(Passage(c, 1.0) for c in self.rankings.get(question, ()))
        if reply is None:
            return Answer(question, question, "", "", None, 0.1, True, passages=passages)
        doc, piece = reply
        start, end = span(doc.text, piece)
        citation = Citation(doc.id, doc.title, (), "c", 1, start, end, start, end)
        return Answer(question, question, piece, piece, citation, 0.9, False, passages=passages)

    def search(self, query, k=5, retriever=None, doc_ids=None):
        self.searched.append((query, retriever, doc_ids))
        found = [c for c in self.rankings.get(query, ()) if doc_ids is None or c.doc_id in doc_ids]
        return [Passage(c, 1.0) for c in found[:k]]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def gold_row(qid, question, answers, kind, evidence=None, **extra):
    row = {"id": qid, "question": question, "answers": answers, "type": kind, "history": []}
    row["evidence"] = evidence
    if evidence:
        row["evidence_start"], row["evidence_end"] = span(TEXT, evidence)
    row.update(extra)
    return row


@pytest.fixture
def gold_file(tmp_path):
    """Four questions: right, wrong answer, wrongly abstained, unanswerable (abstained)."""
    rows = [
        gold_row("q1", "地区生产总值是多少？", ["60.3亿元"], "figure", "地区生产总值60.3亿元"),
        gold_row("q2", "新增多少托位？", ["124个"], "figure", "新增托位124个"),
        gold_row("q3", "引进多少企业？", ["137家"], "fact", "引进企业137家"),
        gold_row("q4", "常住人口有多少？", [], "unanswerable"),
    ]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", "utf-8")
    return path


def tiny_assistant(clock=None):
    script = {
        "地区生产总值是多少？": (DOC, "60.3亿元"),  # right, cited in the evidence
        "新增多少托位？": (DOC, "60.3亿元"),  # wrong, cited outside the evidence
        "常住人口有多少？": None,  # abstains (right)
        "引进多少企业？": None,  # abstains (wrong)
    }
    rankings = {
        "地区生产总值是多少？": [A, B],  # evidence at rank 1
        "新增多少托位？": [A, B, C],  # rank 2
        "引进多少企业？": [X, A],  # not retrieved
        "常住人口有多少？": [X],
    }
    latency = {"地区生产总值是多少？": 0.010, "新增多少托位？": 0.020, "引进多少企业？": 0.030}
    latency["常住人口有多少？"] = 0.040
    return FakeAssistant(script, rankings, [OTHER, DOC], clock=clock, latency_s=latency)


# ---------------------------------------------------------------- gold format
def test_shipped_gold_set_loads(gold):
    examples = load_dataset("eval/seed_qa.jsonl")
    assert len(examples) == len(gold)
    assert sum(not e.answerable for e in examples) == sum(not r["answers"] for r in gold)
    followup = next(e for e in examples if e.history)
    assert followup.type == "followup" and isinstance(followup.history, tuple)


def test_tiny_gold_file_every_question_counted(gold_file):
    clock = FakeClock()
    assistant = tiny_assistant(clock)
    results = evaluate(assistant, load_dataset(gold_file), progress=False, clock=clock)
    s = summarize(results)
    assert (s["n"], s["answerable"], s["unanswerable"]) == (4, 3, 1)
    assert s["em"] == pytest.approx(2 / 4)  # q1 right, q4 rightly abstained
    assert s["f1"] == pytest.approx(2 / 4)  # "60.3亿元" vs "124个" shares no token
    assert s["em_answerable"] == pytest.approx(1 / 3)
    assert s["hit@1"] == pytest.approx(1 / 3)
    assert s["hit@5"] == pytest.approx(2 / 3)
    assert s["mrr@10"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert s["citation_exact"] == pytest.approx(1 / 2)  # q1 yes, q2 no
    assert s["abstain_precision"] == pytest.approx(1 / 2)  # abstained on q3 and q4
    assert s["abstain_recall"] == 1.0
    assert s["latency_ms_p50"] == pytest.approx(25.0)
    assert s["latency_ms_p95"] == pytest.approx(38.5)
    unanswerable = s["by_type"]["unanswerable"]
    assert (unanswerable["n"], unanswerable["em"], unanswerable["abstain_recall"]) == (1, 1.0, 1.0)
    assert unanswerable["hit@1"] is None  # nothing to retrieve: not judged
    assert s["by_type"]["figure"]["em"] == 0.5
    assert sum(g["n"] for g in s["by_type"].values()) == 4
    # the gold document was found from the evidence among two documents
    assert {r.example.doc_id for r in results if r.example.answerable} == {DOC.id}


def test_gold_reader_mode_restricts_to_the_gold_document(gold_file):
    assistant = tiny_assistant()
    results = evaluate(assistant, load_dataset(gold_file), mode="reader", progress=False)
    # the unanswerable question has no gold document, so it is asked over everything
    assert [d for _, _, d in assistant.asked] == [[DOC.id]] * 3 + [None]
    assert [d for _, _, d in assistant.searched] == [[DOC.id]] * 3
    assert [r.evidence_rank for r in results] == [1, 2, None, None]
    assert results[0].ranks == {"hybrid": 1}


def test_followup_history_and_curve_retrievers(tmp_path):
    row = gold_row("f1", "那托位呢？", ["124个"], "followup", "新增托位124个")
    row["history"] = ["地区生产总值是多少？"]
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False), "utf-8")
    assistant = FakeAssistant({"那托位呢？": (DOC, "124个")}, {"那托位呢？": [B]}, [DOC])
    results = evaluate(
        assistant, load_dataset(path), retriever="bm25", curve_retrievers=("dense", "bm25", "hybrid"),
        progress=False,
    )  # fmt: skip
    assert assistant.asked[0][1] == ("地区生产总值是多少？",)
    assert [r for _, r, _ in assistant.searched] == ["bm25", "dense", "hybrid"]
    assert results[0].ranks == {"bm25": 1, "dense": 1, "hybrid": 1}
    assert summarize(results)["hit@k"]["dense"] == [1.0] * 10


def test_unknown_mode_is_rejected(gold_file):
    with pytest.raises(ValueError, match="choose one of open, reader"):
        evaluate(tiny_assistant(), load_dataset(gold_file), mode="closed")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "question": "q?"', r"bad\.jsonl:2: invalid JSON"),
        ('{"id": "a", "question": "q?"}', r"bad\.jsonl:2: missing required key 'answers'"),
        ('{"id": "a", "question": "q?", "answers": "x"}', r":2: 'answers' must be a list"),
        ('{"id": "ok", "question": "q?", "answers": []}', r":2: id 'ok' already used on line 1"),
        ('{"id": "b", "question": "q?", "answers": [], "evidence_start": 5}', r":2: 'evidence_"),
        ('["a"]', r":2: expected a JSON object"),
    ],
)
def test_malformed_gold_lines_name_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "question": "q?", "answers": []}\n' + line + "\n", "utf-8")
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_missing_files_say_where_to_look(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found: .*nope.jsonl"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match=r"\.\./shared/data"):
        load_dataset(tmp_path / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", "utf-8")
    with pytest.raises(DatasetError, match="no questions"):
        load_dataset(empty)


# ---------------------------------------------------------------- SQuAD format
P1 = "长城是中国古代的军事防御工程，总长度超过2万公里。"
P2 = "故宫位于北京，是明清两代的皇家宫殿，始建于1406年。"
P3 = "The Bund 外滩位于上海黄浦江畔，全长约1.5公里。"


@pytest.fixture
def squad_file(tmp_path):
    data = {
        "version": "v1.0",
        "data": [
            {"id": "A", "title": "长城与故宫", "paragraphs": [
                {"id": "A_1", "context": P1, "qas": [
                    {"id": "Q1", "question": "长城总长度是多少？", "answers": [
                        {"text": "超过2万公里", "answer_start": P1.index("超过2万公里")},
                        {"text": "2万公里", "answer_start": -1},
                    ]},
                ]},
                {"id": "A_2", "context": P2, "qas": [
                    {"id": "Q2", "question": "故宫位于哪里？", "answers": [
                        {"text": "北京", "answer_start": P2.index("北京")}]},
                    {"id": "Q3", "question": "故宫始建于哪一年？", "answers": [
                        {"text": "1406年", "answer_start": 3}]},  # wrong offset: text only
                ]},
            ]},
            {"id": "B", "title": "外滩", "paragraphs": [
                {"id": "B_1", "context": P3, "qas": [
                    {"id": "Q4", "question": "外滩全长多少？", "answers": [
                        {"text": "约1.5公里", "answer_start": P3.index("约1.5公里")}]},
                ]},
            ]},
        ],
    }  # fmt: skip
    path = tmp_path / "mini_squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_squad_parsing(squad_file):
    docs = squad_documents(squad_file)
    assert [d.path for d in docs] == [
        "mini_squad.json#A_1",
        "mini_squad.json#A_2",
        "mini_squad.json#B_1",
    ]
    assert [d.title for d in docs] == ["长城与故宫", "长城与故宫", "外滩"]
    assert docs[2].id == document_id(P3) and len(docs[2].id) == 16
    assert (docs[1].text, docs[1].body_start, docs[1].body_end) == (P2, 0, len(P2))
    examples = load_dataset(squad_file)
    assert [e.id for e in examples] == ["Q1", "Q2", "Q3", "Q4"]
    q1, _, q3, q4 = examples
    assert q1.answers == ("超过2万公里", "2万公里") and q1.doc_id == docs[0].id
    assert q1.answer_spans == (span(P1, "超过2万公里"),)  # the -1 answer is text only
    assert q3.answer_spans == ()  # its offset does not point at its text
    assert q4.type == "span" and q4.evidence_spans == ()


def squad_assistant(docs):
    d1, d2, d3 = docs
    late = chunk(d1, "总长度超过2万公里。")
    script = {
        "长城总长度是多少？": (d1, "2万公里"),
        "故宫位于哪里？": (d2, "北京"),
        "故宫始建于哪一年？": (d2, "1406年"),
        "外滩全长多少？": (d1, "2万公里"),
    }
    rankings = {
        "长城总长度是多少？": [chunk(d3, "外滩位于上海"), late],  # any chunk of the paragraph
        "故宫位于哪里？": [chunk(d2, "故宫位于北京")],
        "故宫始建于哪一年？": [chunk(d1, "长城"), chunk(d2, "始建于1406年")],
        "外滩全长多少？": [chunk(d1, "长城"), chunk(d2, "故宫")],
    }
    return FakeAssistant(script, rankings, docs)


def test_squad_open_and_reader_modes(squad_file):
    docs = squad_documents(squad_file)
    examples = load_dataset(squad_file)
    open_run = squad_assistant(docs)
    s = summarize(evaluate(open_run, examples, mode="open", progress=False))
    assert all(d is None for _, _, d in open_run.asked)
    assert s["em"] == pytest.approx(3 / 4)  # Q1 matches its second gold answer
    assert s["hit@1"] == pytest.approx(1 / 4)  # Q2 only
    assert s["mrr@10"] == pytest.approx((1 / 2 + 1 + 1 / 2 + 0) / 4)
    assert s["citation_exact"] == pytest.approx(2 / 3)  # Q1, Q2 yes; Q4 wrong paragraph
    assert s["abstain_precision"] is None and s["abstain_recall"] is None
    reader_run = squad_assistant(docs)
    s = summarize(evaluate(reader_run, examples, mode="reader", progress=False))
    assert [d for _, _, d in reader_run.asked] == [
        [docs[0].id],
        [docs[1].id],
        [docs[1].id],
        [docs[2].id],
    ]
    assert all(d == [e.doc_id] for e, (_, _, d) in zip(examples, reader_run.searched, strict=True))
    assert s["hit@1"] == pytest.approx(3 / 4)  # Q4's search finds nothing in its paragraph


# ---------------------------------------------------------------- reports and CLI
REQUIRED = ("n", "answerable", "unanswerable", "em", "f1", "hit@1", "hit@5", "mrr@10",
            "citation_exact", "abstain_precision", "abstain_recall", "latency_ms_p50",
            "latency_ms_p95", "by_type")  # fmt: skip
FRACTIONS = ("em", "f1", "hit@1", "hit@5", "mrr@10", "citation_exact", "abstain_precision",
             "abstain_recall")  # fmt: skip


def run_cli(monkeypatch, assistant, *argv):
    monkeypatch.setattr(
        "qa.evaluation.cli.build_assistant", lambda dataset, settings, progress, cache=None: (assistant, 0.0)
    )
    return main(["eval", *map(str, argv), "--no-progress"])


def test_cli_json_keys_and_reports(monkeypatch, tmp_path, gold_file, capsys):
    out, summary_path = tmp_path / "report", tmp_path / "s.json"
    status = run_cli(
        monkeypatch, tiny_assistant(), "--dataset", gold_file, "--json", summary_path, "--out", out
    )
    assert status == 0
    s = json.loads(summary_path.read_text("utf-8"))
    for key in REQUIRED:
        assert key in s, key
    assert (s["n"], s["answerable"], s["unanswerable"]) == (4, 3, 1)
    for key in FRACTIONS:
        assert s[key] is None or 0.0 <= s[key] <= 1.0, key
    assert 0 <= s["latency_ms_p50"] <= s["latency_ms_p95"]
    assert set(s["by_type"]) == {"figure", "fact", "unanswerable"}
    assert set(s["hit@k"]) == {"dense", "bm25", "hybrid"}
    assert s["mode"] == "open" and s["format"] == "gold"
    report = (out / "report.md").read_text("utf-8")
    assert "## Failed questions (2 of 4)" in report
    assert "### q2 (figure)" in report and "### q3 (fact)" in report
    assert "### q1 " not in report and "### q4 " not in report
    assert "expected: 「124个」" in report and "given: 「60.3亿元」" in report
    assert "given: (abstained)" in report and "新增托位124个" in report  # retrieved evidence
    assert "Voorhees" in report and "Cui et al." in report
    rows = list(csv.DictReader((out / "questions.csv").open(encoding="utf-8-sig")))
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert rows[1]["prediction"] == "60.3亿元" and rows[1]["evidence_rank"] == "2"
    assert (out / "hit_at_k.png").stat().st_size > 0 and (out / "latency.png").stat().st_size > 0
    assert "4 questions (3 answerable, 1 unanswerable)" in capsys.readouterr().out


def test_cli_limit_and_reader_mode(monkeypatch, tmp_path, squad_file):
    assistant = squad_assistant(squad_documents(squad_file))
    summary_path = tmp_path / "s.json"
    args = ("--dataset", squad_file, "--mode", "reader", "--limit", 2, "--json", summary_path)
    assert run_cli(monkeypatch, assistant, *args) == 0
    s = json.loads(summary_path.read_text("utf-8"))
    assert (s["n"], s["mode"], s["format"]) == (2, "reader", "squad")
    assert [d for _, _, d in assistant.asked] == [[e.doc_id] for e in load_dataset(squad_file)[:2]]


def test_cli_errors(monkeypatch, tmp_path, capsys):
    assert main(["eval"]) == 2
    assert "--dataset PATH is required" in capsys.readouterr().err
    assert main(["eval", "--dataset", str(tmp_path / "missing.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "summary not found" in capsys.readouterr().err


def test_compare_prints_signed_differences(tmp_path, capsys):
    a = {"n": 4, "em": 0.5, "f1": 0.6, "abstain_recall": None, "latency_ms_p50": 30.0,
         "by_type": {"figure": {"n": 2, "em": 0.5}}}  # fmt: skip
    b = {"n": 4, "em": 0.75, "f1": 0.5, "abstain_recall": 1.0, "latency_ms_p50": 20.0,
         "by_type": {"figure": {"n": 2, "em": 0.5}, "fact": {"n": 1, "em": 1.0}}}  # fmt: skip
    rows = {name: (delta, verdict) for name, _, _, delta, verdict in diff(a, b)}
    assert rows["em"] == (pytest.approx(0.25), "better")
    assert rows["f1"] == (pytest.approx(-0.1), "worse")
    assert rows["latency_ms_p50"] == (pytest.approx(-10.0), "better")
    assert rows["abstain_recall"] == (None, "")
    assert rows["figure/em"] == (0.0, "same") and rows["fact/em"] == (None, "")
    text = format_diff(a, b)
    assert "+0.250  better" in text and "-0.100  worse" in text and "-10.0  better" in text
    write_json(a, tmp_path / "a.json")
    write_json(b, tmp_path / "b.json")
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert "+0.250  better" in capsys.readouterr().out


def test_cli_reports_both_readers_side_by_side(monkeypatch, tmp_path, gold_file, capsys):
    rules = tiny_assistant()
    neural_script = dict(rules.script)
    neural_script["新增多少托位？"] = (DOC, "124个")  # the neural reader gets q2 right
    both = FakeAssistant(rules.script, rules.rankings, rules._documents, neural_script=neural_script)
    summary_path, out = tmp_path / "s.json", tmp_path / "report"
    assert run_cli(monkeypatch, both, "--dataset", gold_file, "--json", summary_path, "--out", out) == 0
    s = json.loads(summary_path.read_text("utf-8"))
    assert s["reader"] == "neural" and set(s["readers"]) == {"rules", "neural"}  # the default leads
    assert s["readers"]["neural"]["em"] - s["readers"]["rules"]["em"] == pytest.approx(0.25)
    assert s["em"] == s["readers"]["neural"]["em"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split() == ["rules", "neural"]
    assert next(line for line in printed if line.split()[0] == "em").split()[1:] == ["0.500", "0.750"]
    assert "## Readers side by side" in (out / "report.md").read_text("utf-8")
    # without a neural adapter only the rules are evaluated, with a warning
    s_path = tmp_path / "only.json"
    assert run_cli(monkeypatch, tiny_assistant(), "--dataset", gold_file, "--json", s_path) == 0
    only = json.loads(s_path.read_text("utf-8"))
    assert "readers" not in only and only["reader"] == "rules"
    assert "not evaluated" in capsys.readouterr().err


def test_cli_reports_all_three_readers_with_the_span_reader_alone(monkeypatch, tmp_path, gold_file, capsys):
    rules = tiny_assistant()
    span_script = {}  # the span reader alone abstains everywhere: right only on the unanswerable question
    three = FakeAssistant(rules.script, rules.rankings, rules._documents, neural_script=dict(rules.script),
                          span_script=span_script)
    summary_path = tmp_path / "s.json"
    assert run_cli(monkeypatch, three, "--dataset", gold_file, "--reader", "all", "--json", summary_path) == 0
    s = json.loads(summary_path.read_text("utf-8"))
    assert list(s["readers"]) == ["rules", "span", "neural"]
    assert (s["readers"]["rules"]["em"], s["readers"]["span"]["em"]) == (pytest.approx(0.5), pytest.approx(0.25))
    assert capsys.readouterr().out.splitlines()[1].split() == ["rules", "span", "neural"]
