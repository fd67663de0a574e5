"""Tests of the ``qa index`` and ``qa search`` commands (qa.cli).

Fast tests swap the encoder for the fake of ``test_index.py``; the ``slow`` test
runs the installed console script end to end with the real model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_index import HashEncoder

from qa import cli
from qa.config import DEFAULT_CORPUS_DIR


@pytest.fixture()
def fake_encoder(monkeypatch):
    encoder = HashEncoder()
    monkeypatch.setattr(cli, "_load_encoder", lambda model, settings: encoder)
    return encoder


@pytest.fixture()
def corpus_copy(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS_DIR, folder)
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [["--help"], ["index", "--help"], ["index", "build", "--help"],
                                  ["index", "add", "--help"], ["index", "info", "--help"],
                                  ["search", "--help"], ["reader", "train", "--help"],
                                  ["reader", "info", "--help"]])
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    assert "usage: qa" in capsys.readouterr().out


def test_help_does_not_import_heavy_modules():
    code = ("import sys, qa.cli; qa.cli.build_parser(); "
            "print(sorted(m for m in ('faiss', 'bm25s', 'torch', 'jieba') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_build_info_add_search(tmp_path, corpus_copy, fake_encoder, capsys):
    index_dir = str(tmp_path / "idx")
    code, out, _ = run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")
    assert code == 0 and "indexed 1 document(s)" in out

    code, out, _ = run(capsys, "index", "info", "--index", index_dir)
    assert code == 0 and "东柳街道2023年工作总结和2024年工作思路" in out and fake_encoder.name in out

    code, out, _ = run(capsys, "index", "add", str(corpus_copy), "--index", index_dir, "--no-progress")
    assert code == 0 and "added 0 document(s), 1 already indexed" in out

    other = tmp_path / "other" / corpus_copy.name
    other.mkdir(parents=True)
    (other / "dongliu-2023-review-2024-plan.txt").write_text("海拉尔区2018年地区生产总值增长5%。", encoding="utf-8")
    code, out, _ = run(capsys, "index", "add", str(other), "--index", index_dir, "--no-progress")
    assert code == 0 and "added 1 document(s)" in out and "2 document(s)" in out

    code, out, _ = run(capsys, "search", "海拉尔区2018年地区生产总值", "-k", "3", "--index", index_dir, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    top = rows[0]
    assert "海拉尔区" in top["text"]
    assert {"score", "scores", "ranks", "chunk_id", "section_path", "start", "end", "title"} <= set(top)

    code, out, _ = run(capsys, "search", "地区生产总值", "--retriever", "bm25", "--index", index_dir)
    assert code == 0 and "#1  score" in out and "chunk " in out and "bm25 " in out


def test_missing_index_is_one_line_exit_2(tmp_path, fake_encoder, capsys):
    code, out, err = run(capsys, "search", "问题", "--index", str(tmp_path / "none"))
    assert code == 2
    assert err.startswith("qa: error: no index in") and "qa index build --index" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_model_mismatch_is_exit_2(tmp_path, corpus_copy, monkeypatch, capsys):
    encoders = iter([HashEncoder(), HashEncoder(salt="retrained")])
    monkeypatch.setattr(cli, "_load_encoder", lambda model, settings: next(encoders))
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")[0] == 0
    code, _, err = run(capsys, "search", "问题", "--index", index_dir)
    assert code == 2 and "fingerprint" in err and "qa index build --index" in err


def test_bad_path_and_bad_k_are_exit_2(tmp_path, fake_encoder, capsys):
    code, _, err = run(capsys, "index", "build", str(tmp_path / "missing.txt"), "--index", str(tmp_path / "i"))
    assert code == 2 and "missing.txt" in err
    code, _, err = run(capsys, "search", "问题", "-k", "0", "--index", str(tmp_path / "i"))
    assert code == 2 and "-k" in err


@pytest.mark.slow
def test_console_script_end_to_end(tmp_path):
    qa = shutil.which("qa", path=os.path.dirname(sys.executable)) or shutil.which("qa")
    assert qa, "the qa console script is not installed (pip install -e .)"
    index_dir = str(tmp_path / "idx")
    built = subprocess.run([qa, "index", "build", "--index", index_dir, "--no-progress"],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    found = subprocess.run([qa, "search", "2023年东柳街道地区生产总值是多少？", "-k", "3", "--json",
                            "--index", index_dir], capture_output=True, text=True, timeout=600)
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert "全年实现地区生产总值60.3亿元" in rows[0]["text"]
    assert set(rows[0]["scores"]) == {"dense", "bm25"}


@pytest.mark.parametrize("argv", [["ask", "   "], ["ask", "？"], ["search", ""]])
def test_empty_question_is_refused_before_loading_anything(argv, capsys):
    from qa.cli import main

    assert main(argv) == 2
    assert "the question is empty" in capsys.readouterr().err


def test_index_add_of_a_missing_file_fails_fast(tmp_path, capsys):
    from qa.cli import main

    assert main(["index", "add", str(tmp_path / "nope.html"), "--index", str(tmp_path)]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_reader_commands_report_missing_files(tmp_path, capsys):
    code, _, err = run(capsys, "reader", "info", "--adapter", str(tmp_path))
    assert code == 2 and "no reader adapter" in err
    code, _, err = run(capsys, "reader", "train", "--data", str(tmp_path / "none.json"), "--out", str(tmp_path / "o"))
    assert code == 2 and "training data not found" in err
    assert not (tmp_path / "o").exists()
