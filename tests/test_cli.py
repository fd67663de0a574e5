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
from qa.cli import common
from qa.config import DEFAULT_CORPUS_DIR


@pytest.fixture()
def fake_encoder(monkeypatch):
    encoder = HashEncoder()
    monkeypatch.setattr(common, "load_encoder", lambda model, settings: encoder)
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
                                  ["reader", "info", "--help"], ["reader", "calibrate", "--help"]])
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


def test_rebuilding_an_index_names_the_documents_it_drops(tmp_path, corpus_copy, fake_encoder, capsys):
    index_dir = str(tmp_path / "idx")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notice.txt").write_text("关于汛期安全的通知\n\n区级仓库已储备编织袋5.2万条。", encoding="utf-8")
    run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")
    run(capsys, "index", "add", str(other), "--index", index_dir, "--no-progress")
    code, out, err = run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")
    assert code == 0 and "indexed 1 document(s)" in out
    assert "held 1 document(s) this build does not include" in err and "notice.txt" in err
    assert f"qa index add PATH --index {index_dir}" in err
    code, out, err = run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")
    assert code == 0 and "does not include" not in err  # the same documents again: nothing dropped


def test_missing_index_is_one_line_exit_2(tmp_path, fake_encoder, capsys):
    code, out, err = run(capsys, "search", "问题", "--index", str(tmp_path / "none"))
    assert code == 2
    assert err.startswith("qa: error: no index in") and "qa index build --index" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_model_mismatch_is_exit_2(tmp_path, corpus_copy, monkeypatch, capsys):
    encoders = iter([HashEncoder(), HashEncoder(salt="retrained")])
    monkeypatch.setattr(common, "load_encoder", lambda model, settings: next(encoders))
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
    code, _, err = run(capsys, "reader", "calibrate", "--data", str(tmp_path / "none.json"))
    assert code == 2 and "calibration data not found" in err
    (tmp_path / "train.json").write_text('{"data": []}', encoding="utf-8")
    code, _, err = run(capsys, "reader", "calibrate", "--data", str(tmp_path / "train.json"), "--questions", "0")
    assert code == 2 and "--questions must be >= 1, got 0" in err


# --------------------------------------------------------------------------- unreadable files


@pytest.fixture()
def mixed_folder(tmp_path):
    """Two good documents and two that cannot be read (source line only, white space only)."""
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "a00001.txt").write_text("汛期安排\n本市汛期为每年6月1日至9月30日。\n", encoding="utf-8")
    (folder / "a00085.txt").write_text("（出处：北京市防汛手册）\n", encoding="utf-8")
    (folder / "a00086.txt").write_text("\u3000\u2003\n\u200b\ufeff\n", encoding="utf-8")
    (folder / "a00090.txt").write_text("转移安置\n暴雨预警时低洼地区居民转移到就近避险点。\n", encoding="utf-8")
    (folder / "handbook.xlsx").write_bytes(b"PK\x03\x04")
    return folder


def test_build_skips_unreadable_files_and_lists_them(tmp_path, mixed_folder, fake_encoder, capsys):
    index_dir = tmp_path / "idx"
    code, out, err = run(capsys, "index", "build", str(mixed_folder), "--index", str(index_dir), "--no-progress")
    assert code == 0
    assert "indexed 2 document(s)" in out
    assert out.splitlines()[-1] == (
        "indexed 2 of 4 files; 2 skipped: a00085.txt (no body text after removing metadata and "
        "boilerplate), a00086.txt (no visible text, only white space and invisible characters "
        "(U+2003, U+200B, U+3000, U+FEFF)); not read (unsupported types): 1 .xlsx"
    )
    assert err.splitlines() == [
        f"qa: skipped {mixed_folder / 'a00085.txt'}: no body text after removing metadata and boilerplate",
        f"qa: skipped {mixed_folder / 'a00086.txt'}: no visible text, only white space and invisible "
        "characters (U+2003, U+200B, U+3000, U+FEFF)",
    ]
    code, out, _ = run(capsys, "index", "info", "--index", str(index_dir), "--json")
    assert sorted(d["path"].rsplit("/", 1)[1] for d in json.loads(out)["documents"]) == ["a00001.txt", "a00090.txt"]


def test_strict_build_fails_fast_and_writes_nothing(tmp_path, mixed_folder, fake_encoder, capsys):
    index_dir = tmp_path / "idx"
    code, out, err = run(capsys, "index", "build", str(mixed_folder), "--index", str(index_dir), "--strict")
    assert code == 2 and out == ""
    assert err == (f"qa: error: {mixed_folder / 'a00085.txt'}: no body text after removing metadata and "
                   "boilerplate (--strict stops at the first file that cannot be read; nothing was written)\n")
    assert not index_dir.exists() and fake_encoder.passages == 0


def test_build_with_no_readable_file_fails_and_writes_nothing(tmp_path, mixed_folder, fake_encoder, capsys):
    for good in ("a00001.txt", "a00090.txt"):
        (mixed_folder / good).unlink()
    index_dir = tmp_path / "idx"
    code, _, err = run(capsys, "index", "build", str(mixed_folder), "--index", str(index_dir))
    assert code == 2 and not index_dir.exists()
    assert err.splitlines()[-1].startswith("qa: error: nothing to index: indexed 0 of 2 files; 2 skipped: "
                                           "a00085.txt (no body text")


def test_folder_of_unsupported_files_names_what_it_found(tmp_path, fake_encoder, capsys):
    (tmp_path / "docs").mkdir()
    for name in ("a.xlsx", "b.xlsx", "c.pptx"):
        (tmp_path / "docs" / name).write_bytes(b"PK")
    code, _, err = run(capsys, "index", "build", str(tmp_path / "docs"), "--index", str(tmp_path / "idx"))
    assert code == 2
    assert err == (f"qa: error: no readable documents (.txt, .md, .html, .htm, .pdf, .docx) in "
                   f"{tmp_path / 'docs'} (found 2 .xlsx, 1 .pptx)\n")


def test_add_skips_unreadable_files(tmp_path, corpus_copy, mixed_folder, fake_encoder, capsys):
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")[0] == 0
    code, out, err = run(capsys, "index", "add", str(mixed_folder), "--index", index_dir)
    assert code == 0
    assert "added 2 document(s), 0 already indexed; index now has 3 document(s)" in out
    assert out.splitlines()[-1].startswith("read 2 of 4 files; 2 skipped: a00085.txt (no body text")
    assert err.count("qa: skipped ") == 2

    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    code, _, err = run(capsys, "index", "add", str(loop), str(mixed_folder / "a00085.txt"), "--index", index_dir)
    assert code == 2
    assert f"qa: skipped {loop}: cannot read file: symbolic link loop (the link never reaches a file)" in err
    assert "qa: error: nothing to index: read 0 of 2 files; 2 skipped: loop.txt (cannot read file: symbolic link loop" in err
    code, _, err = run(capsys, "index", "add", str(loop), "--index", index_dir, "--strict")
    assert code == 2 and "symbolic link loop" in err and "no such file" not in err


# --------------------------------------------------------------------------- default index, ask, figures


@pytest.fixture()
def fake_model(monkeypatch, fake_encoder):
    """The fake encoder for the commands that load it through qa.embedding (ask, figures)."""
    import qa.embedding

    monkeypatch.setattr(qa.embedding, "load_encoder", lambda model, home=None, *rest: fake_encoder)
    fake_encoder.path = None  # no local files: the neural reader cannot load on it (and warns)
    return fake_encoder


def test_ask_from_another_directory_uses_the_users_index(tmp_path, corpus_copy, fake_model, monkeypatch, capsys):
    import qa.config

    home = tmp_path / "home"
    monkeypatch.setenv("QA_HOME", str(home))
    monkeypatch.delenv("QA_INDEX", raising=False)
    monkeypatch.setattr(qa.config, "CHECKOUT_DIR", None)  # an installed package, not a checkout
    (tmp_path / "notice.txt").write_text("防汛值班安排\n今年防汛值班电话为12345。\n", encoding="utf-8")
    first = tmp_path / "work"
    first.mkdir()
    monkeypatch.chdir(first)
    code, out, _ = run(capsys, "index", "build", str(corpus_copy), str(tmp_path / "notice.txt"), "--no-progress")
    assert code == 0 and f"into {home / 'index'} in" in out

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = run(capsys, "ask", "今年防汛值班电话是多少？", "--reader", "rules", "--threshold", "0")
    assert code == 0, err
    assert "答案: 12345" in out
    assert "No index" not in err and list(elsewhere.iterdir()) == []


def test_default_index_dir(tmp_path, monkeypatch):
    import qa.config
    from qa.config import Settings, default_index_dir

    monkeypatch.delenv("QA_INDEX", raising=False)
    monkeypatch.chdir(tmp_path)
    assert qa.config.CHECKOUT_DIR == DEFAULT_CORPUS_DIR.parents[3]  # tests run from the checkout
    assert Settings().index_dir == DEFAULT_CORPUS_DIR.parents[3] / "index"
    monkeypatch.setattr(qa.config, "CHECKOUT_DIR", None)
    assert Settings(home=tmp_path / "h").index_dir == tmp_path / "h" / "index"
    monkeypatch.setenv("QA_HOME", str(tmp_path / "env-home"))
    assert default_index_dir() == tmp_path / "env-home" / "index"
    monkeypatch.setenv("QA_INDEX", "my-index")
    assert Settings().index_dir == Settings.from_env().index_dir == qa.config.Path("my-index")
    assert Settings.from_env(index_dir="flag").index_dir == qa.config.Path("flag")


def test_figures_does_not_load_the_span_reader(tmp_path, corpus_copy, fake_model, capsys):
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", "build", str(corpus_copy), "--index", index_dir, "--no-progress")[0] == 0
    code, out, err = run(capsys, "figures", "--query", "托位", "--period", "2023", "--format", "csv",
                         "--index", index_dir)
    assert code == 0
    assert "neural reader" not in err and err == ""
    assert ",124个,1727,1731,124.0,个,,新增托位,1723,1727,2023,actual," in out


def test_citation_of_a_paragraph_without_section(tmp_path, fake_model, capsys):
    (tmp_path / "notice.txt").write_text("防汛值班安排\n今年防汛值班电话为12345。\n", encoding="utf-8")
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", "build", str(tmp_path / "notice.txt"), "--index", index_dir, "--no-progress")[0] == 0
    code, out, _ = run(capsys, "ask", "今年防汛值班电话是多少？", "--reader", "rules", "--threshold", "0",
                       "--index", index_dir)
    assert code == 0
    assert "出处: 防汛值班安排（第 1 段，字符 16–21）" in out.splitlines()
