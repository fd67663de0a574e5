"""`qa index build --ray`: the Ray build equals the local one, and a failed job writes nothing.

The build tests need Ray (the ``scale`` extra; CI installs it) and the real
encoder, loaded in each Ray actor: slow. One local Ray runtime (2 CPUs) serves them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_CORPUS_DIR, Settings

ROOT = Path(__file__).resolve().parents[1]
#: A shipped sample: the default report (.txt) and an example notice (.html).
SAMPLE = [DEFAULT_CORPUS_DIR, ROOT / "examples"]
QUESTION = "2023年新增了多少个托位？"


@pytest.fixture(scope="module")
def ray_local():
    """A private local Ray runtime for this module, shut down at its end."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {k: os.environ[k] for k in ("PYTHONPATH", "QA_HOME")
                                       if os.environ.get(k)}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def documents():
    from qa.documents import read_documents

    return read_documents(SAMPLE).documents


@pytest.fixture(scope="module")
def local_index(documents, encoder):
    from qa.index import Index

    return Index.build(documents, encoder, Settings(), progress=False)


def _settings(directory: Path) -> Settings:
    return Settings.from_env(index_dir=directory)


def _same_index(ray_index, local_index) -> None:
    assert [c.id for c in ray_index.chunks] == [c.id for c in local_index.chunks]
    assert [c.text for c in ray_index.chunks] == [c.text for c in local_index.chunks]
    assert ray_index.dense.ntotal == local_index.dense.ntotal == len(local_index.chunks)
    cosines = np.sum(ray_index.embeddings * local_index.embeddings, axis=1)
    assert cosines.min() >= 1 - 1e-4
    for key in ("format_version", "model", "chunker", "bm25", "settings", "dense", "counts", "documents"):
        assert ray_index.manifest[key] == local_index.manifest[key], key


@pytest.mark.slow
def test_ray_build_matches_local_build(ray_local, documents, local_index, encoder, tmp_path):
    from qa.index import Index
    from qa.pipeline import Assistant
    from qa.ray_build import build_index_with_ray

    settings = _settings(tmp_path / "ray")
    built = build_index_with_ray(documents, settings, workers=2, progress=False)
    built.save(settings.index_dir)
    loaded = Index.load(settings.index_dir, encoder)
    _same_index(loaded, local_index)
    assert len(loaded.documents) == 2

    local_answer = Assistant(settings, index=local_index, encoder=encoder).ask(QUESTION)
    ray_answer = Assistant(settings, encoder=encoder).ask(QUESTION)  # from the saved Ray index
    assert ray_answer.text == local_answer.text == "124个"
    assert ray_answer.citation == local_answer.citation
    assert ray_answer.to_dict(with_passages=False) == local_answer.to_dict(with_passages=False)


@pytest.mark.slow
def test_killed_worker_batch_is_retried(ray_local, documents, local_index, tmp_path):
    """An encoder process that dies mid-job is restarted by Ray and its batch re-run:
    the index is complete and the same as a local build."""
    from qa.ray_build import build_index_with_ray

    marker = str(tmp_path / "killed-once")

    def die_once(rows):
        if not os.path.exists(marker):
            Path(marker).write_text(f"rows {rows.min()}-{rows.max()}")
            os._exit(1)  # the worker process dies, as on a lost machine

    built = build_index_with_ray(documents, _settings(tmp_path / "ray"), workers=2,
                                 progress=False, on_batch=die_once)
    assert Path(marker).exists()  # a worker did die
    _same_index(built, local_index)


@pytest.mark.slow
def test_failed_job_leaves_the_old_index(ray_local, local_index, encoder, tmp_path, monkeypatch, capsys):
    """A batch that fails on every try fails `qa index build --ray` with a clear
    error, and the index on disk stays the previous one, loadable and unchanged."""
    import qa.ray_build
    from qa.cli import main
    from qa.index import Index, read_manifest

    directory = tmp_path / "index"
    local_index.save(directory)
    before = read_manifest(directory)

    def always_fail(rows):
        raise RuntimeError(f"encoder out of memory on rows {rows.min()}-{rows.max()}")

    monkeypatch.setattr(qa.ray_build, "build_index_with_ray",
                        functools.partial(qa.ray_build.build_index_with_ray, on_batch=always_fail))
    status = main(["index", "build", str(DEFAULT_CORPUS_DIR), "--index", str(directory),
                   "--ray", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert "qa: error: the Ray embedding job failed" in err
    assert "encoder out of memory on rows" in err
    assert read_manifest(directory) == before
    kept = Index.load(directory, encoder)
    assert [c.id for c in kept.chunks] == [c.id for c in local_index.chunks]
    assert len(kept.documents) == 2


def test_ray_flag_does_not_take_a_folder_as_the_address(tmp_path, capsys):
    from qa.cli import main

    status = main(["index", "build", "--index", str(tmp_path / "i"), "--ray", str(DEFAULT_CORPUS_DIR)])
    assert status == 2
    assert "--ray took" in capsys.readouterr().err


def test_missing_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    import sys

    from qa.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    status = main(["index", "build", str(DEFAULT_CORPUS_DIR), "--index", str(tmp_path / "i"),
                   "--ray", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert "qa: error: Ray is not installed" in err
    assert "pip install -e '.[scale]'" in err
    assert not (tmp_path / "i" / "manifest.json").exists()
