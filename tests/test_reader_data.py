"""Chunk-shaped training examples for the span reader (qa.reader_data)."""

from __future__ import annotations

import json

import pytest

from qa.reader_data import chunk_examples, gold_answers, is_held_out

#: Three sentences of ~105 characters: the chunker (200 characters) cuts the
#: paragraph into three chunks, one per sentence (two do not fit in one chunk, so
#: no sentence is repeated).
S1 = "东柳街道2023年新增托育驿站4家，新增托位124个，建立家庭养育指导中心，为辖区三千多户家庭提供科学育儿指导服务和咨询，覆盖率明显提升，托育服务体系建设取得新的进展，群众对普惠托育的认可度持续上升，育儿负担有所减轻。"
S2 = "商会企业与盐源县拦河村结对共建，建成苹果酒厂房2座，创造就业岗位300余个，带动当地农户增收，帮扶工作得到上级部门的充分肯定和表彰，结对双方在产业、消费、就业等方面的协作不断深化，形成了可复制推广的帮扶经验。"
S3 = "全年完成老旧小区综合改造3个，加装电梯18部，改造雨污管网十二公里，惠及居民四千余户，群众满意度调查结果达到百分之九十八以上，小区环境面貌焕然一新，物业管理水平同步提升，居民的获得感和幸福感明显增强。"
CONTEXT = S1 + S2 + S3


def _squad(path, qas, contexts=(CONTEXT,)):
    data = {"version": "test", "data": [
        {"title": f"t{i}", "paragraphs": [{"context": c, "qas": qas if i == 0 else []}]}
        for i, c in enumerate(contexts)]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _qa(i, question, answer, start=None):
    return {"id": str(i), "question": question,
            "answers": [{"text": answer, "answer_start": CONTEXT.index(answer) if start is None else start}]}


def test_each_question_gets_its_answer_chunk_and_a_chunk_without_the_answer(tmp_path):
    path = _squad(tmp_path / "train.json", [_qa(1, "新增多少托位？", "124个"), _qa(2, "加装了几部电梯？", "18部")])
    examples, stats = chunk_examples(path, negatives=1)
    assert stats.paragraphs == 1 and stats.chunks_per_paragraph == [3]
    answer, no_answer = examples[0], examples[1]
    assert answer.context == S1 and answer.context[answer.start:answer.end] == "124个"
    assert answer.start == S1.index("124个") and answer.answerable
    assert no_answer.start == no_answer.end == -1 and not no_answer.answerable
    assert no_answer.context in (S2, S3)
    assert examples[2].context == S3 and examples[2].context[examples[2].start:examples[2].end] == "18部"
    assert examples[3].context in (S1, S2)
    assert (stats.answer_examples, stats.no_answer_examples, stats.across_boundary) == (2, 2, 0)
    again, _ = chunk_examples(path, negatives=1)
    assert again == examples  # seeded
    both, _ = chunk_examples(path, negatives=2)
    assert {e.context for e in both[1:3]} == {S2, S3}


def test_a_chunk_that_repeats_the_answer_text_is_never_a_no_answer_example(tmp_path):
    # 提升 is in the first and the third sentence: only the second is a no-answer chunk
    path = _squad(tmp_path / "train.json", [_qa(1, "覆盖率怎么样？", "提升")])
    examples, stats = chunk_examples(path, negatives=2)
    assert [(e.context, e.answerable) for e in examples] == [(S1, True), (S2, False)]
    assert stats.no_answer_examples == 1


def test_an_answer_across_chunk_boundaries_is_skipped_and_counted(tmp_path):
    answer = CONTEXT[len(S1) - 5:len(S1) + len(S2) + 5]  # spans all three sentences
    path = _squad(tmp_path / "train.json", [_qa(1, "问题？", answer)])
    examples, stats = chunk_examples(path)
    assert examples == [] and stats.across_boundary == 1 and stats.questions == 1


def test_held_out_split_is_by_paragraph_hash_and_disjoint(tmp_path):
    other = "另一段文字。" * 3
    path = _squad(tmp_path / "train.json", [_qa(1, "新增多少托位？", "124个")], contexts=(CONTEXT, other))
    fraction = 1.0 if is_held_out(CONTEXT, 1.0) else 0.0
    assert is_held_out(CONTEXT, 1.0) and not is_held_out(CONTEXT, 0.0)
    train, _ = chunk_examples(path, held_out=fraction, part="train")
    held, stats = chunk_examples(path, held_out=fraction, part="held_out")
    assert train == [] and [e.answerable for e in held] == [True, False]
    assert stats.held_out_paragraphs == 1
    with pytest.raises(ValueError, match="part must be"):
        chunk_examples(path, part="dev")


def test_wrong_answer_offsets_are_repaired_by_text(tmp_path):
    path = _squad(tmp_path / "train.json", [
        _qa(1, "新增多少托位？", "124个"),
        _qa(2, "与哪个村结对？", "盐源县拦河村", start=3),
        _qa(3, "不在文中", "不存在的答案", start=0),
    ])
    answers, repaired = gold_answers(path)
    assert repaired == 1
    assert [(c[s:e], s) for _, c, _, s, e in answers] == [("124个", CONTEXT.index("124个")),
                                                         ("盐源县拦河村", CONTEXT.index("盐源县拦河村"))]


def test_bad_training_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="training data not found"):
        chunk_examples(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="not SQuAD-format"):
        chunk_examples(tmp_path / "x.json")
