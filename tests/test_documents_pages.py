"""Pages end to end: the page in ``qa ask`` citations and page accuracy in ``qa eval``."""

from __future__ import annotations

import json

import pytest
from formats_fixtures import cjk_font, write_pdf
from test_cli import fake_encoder, fake_model, run  # noqa: F401  (fixtures)

from qa.evaluation.datasets import DatasetError, load_gold
from qa.evaluation.report import group_metrics
from qa.evaluation.runner import QuestionResult, page_correct
from qa.reader.records import Citation

pytest.importorskip("pdfplumber")


def test_ask_cites_the_pdf_page(tmp_path, fake_model, capsys):  # noqa: F811
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    pdf = write_pdf(tmp_path / "bulletin.pdf", font)
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", "build", str(pdf), "--index", index_dir, "--no-progress")[0] == 0
    code, out, _ = run(capsys, "ask", "年末全市常住人口是多少？", "--reader", "rules", "--threshold", "0",
                       "--index", index_dir, "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["text"] == "100.5万人"
    assert answer["citation"]["page"] == 2
    code, out, _ = run(capsys, "ask", "年末全市常住人口是多少？", "--reader", "rules", "--threshold", "0",
                       "--index", index_dir)
    line = next(s for s in out.splitlines() if s.startswith("出处:"))
    assert "（第 2 页，第 " in line


def _citation(page):
    return Citation("d", "t", (), "c", 1, 0, 3, 0, 5, page=page)


def test_gold_page_key_and_page_accuracy(tmp_path):
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"id": "a", "question": "问一？", "answers": ["1个"], "page": 2},
        {"id": "b", "question": "问二？", "answers": ["2个"], "page": 3},
        {"id": "c", "question": "问三？", "answers": ["3个"]},
        {"id": "d", "question": "问四？", "answers": ["4个"], "page": 1},
    ]
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    examples = load_gold(gold)
    assert [e.page for e in examples] == [2, 3, None, 1]
    cited = [_citation(2), _citation(5), _citation(None), None]  # the last one abstained
    assert [page_correct(e, c) for e, c in zip(examples, cited, strict=True)] == [True, False, None, None]
    results = [
        QuestionResult(e, "x", c is None, 0.5, 0.0, 0.0, 1.0, e.question, (), (), None, False,
                       page=None if c is None else c.page, page_correct=page_correct(e, c))
        for e, c in zip(examples, cited, strict=True)
    ]
    summary = group_metrics(results)
    assert summary["page_accuracy"] == 0.5 and summary["page_judged"] == 2


@pytest.mark.parametrize("page", [0, "2", True, 1.5])
def test_bad_gold_page_is_refused(tmp_path, page):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a", "question": "问？", "answers": ["1"], "page": page}), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"gold.jsonl:1: 'page' must be a positive integer or null"):
        load_gold(gold)
