"""`qa serve`: the JSON HTTP API, in one process and on two Ray Serve replicas.

Each client asks its own question at the same time as the others; every reply
must be the answer to that client's question (no cross-talk between requests or
replicas), with the exact citation.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.config import DEFAULT_CORPUS_DIR, Settings

QUESTION = "2023年新增了多少个托位？"
CLIENTS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, default_encoder, gold):
    """(settings, index, expected): the shipped corpus indexed into a directory, and
    for CLIENTS questions the answer an in-process Assistant gives (question → dict)."""
    from qa.documents import read_documents
    from qa.index import Index
    from qa.pipeline import Assistant

    settings = Settings.from_env(index_dir=tmp_path_factory.mktemp("serve-index"))
    index = Index.build(read_documents([DEFAULT_CORPUS_DIR]).documents, default_encoder, settings, progress=False)
    index.save(settings.index_dir)
    questions = [QUESTION] + [row["question"] for row in gold if not row["history"]][: CLIENTS - 1]
    assert len(set(questions)) == CLIENTS
    assistant = Assistant(settings, encoder=default_encoder)
    expected = {q: assistant.ask(q).to_dict() for q in questions}
    return settings, index, expected


def _post(url: str, payload: dict | bytes) -> tuple[int, dict]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(url + "/ask", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8"))


def _check_concurrent_clients(url: str, index, expected: dict) -> None:
    """CLIENTS clients at once, each with its own question, twice over."""
    from qa.serve import ask_remote

    questions = list(expected) * 2
    with ThreadPoolExecutor(CLIENTS) as pool:
        replies = list(pool.map(lambda q: ask_remote(url, q, timeout=300), questions))
    for question, reply in zip(questions, replies, strict=True):
        want = expected[question]
        assert reply["question"] == question
        for key in ("text", "sentence", "citation", "abstained", "standalone_question"):
            assert reply[key] == want[key], (question, key)
        assert reply["confidence"] == pytest.approx(want["confidence"], abs=1e-3)
    answer = replies[questions.index(QUESTION)]
    assert answer["text"] == "124个"
    citation = answer["citation"]
    text = index.documents[citation["doc_id"]].text
    assert text[citation["start"]:citation["end"]] == "124个"
    assert text[citation["sentence_start"]:citation["sentence_end"]] == answer["sentence"]


def _load_app_module():
    """The top-level ``app.py`` (not part of the package)."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("app", Path(__file__).resolve().parents[1] / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module


def _check_app_backend(url: str, index, tmp_path) -> None:
    """`python app.py --backend URL`: the app's handlers answer through the API."""
    from qa.serve import BackendError, RemoteAssistant

    app = _load_app_module()
    remote = RemoteAssistant(url).warm_up()
    _, _, turns, source, *_ = app.Handlers(remote, tmp_path).ask(QUESTION, [])
    answer = turns[-1]["answer"]
    assert answer["text"] == "124个" and "124个" in turns[-1]["reply"]
    chunk = index.chunks[[c.id for c in index.chunks].index(answer["citation"]["chunk_id"])]
    assert remote.chunk(chunk.id).text == chunk.text  # the source panel's chunk came over HTTP
    assert "124个</mark>" in source
    status, _ = app.Handlers(remote, tmp_path)._add_one(str(DEFAULT_CORPUS_DIR / "missing.txt"))
    assert status == "failed"
    with pytest.raises(BackendError, match="cannot reach the qa API at http://127.0.0.1:9"):
        RemoteAssistant("http://127.0.0.1:9").warm_up()


@pytest.mark.slow
def test_one_process_server_answers_concurrent_clients(served, default_encoder, tmp_path):
    from qa.pipeline import Assistant
    from qa.serve import make_server

    settings, index, expected = served
    server = make_server(Assistant(settings, encoder=default_encoder), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _check_concurrent_clients(url, index, expected)
        # follow-up with history: the standalone question is rewritten from the history
        status, reply = _post(url, {"question": "托育驿站呢？", "history": [QUESTION]})
        assert status == 200 and reply["standalone_question"] != reply["question"]
        # bad bodies: a clear 400, the server keeps serving
        status, reply = _post(url, b"not json")
        assert status == 400 and reply["error"].startswith("the body is not UTF-8 JSON")
        assert _post(url, {"history": []}) == (400, {"error": '"question" must be a string'})
        status, reply = _post(url, {"question": QUESTION, "history": "上一个问题"})
        assert status == 400 and '"history" must be a list of strings' in reply["error"]
        with urllib.request.urlopen(url + "/health", timeout=30) as response:
            health = json.loads(response.read())
        assert health["status"] == "ok" and health["chunks"] == len(index.chunks)
        _check_app_backend(url, index, tmp_path)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_qa_serve_on_two_ray_replicas_answers_concurrent_clients(served):
    """`qa serve --ray --replicas 2` as a command: ready with 2 running replicas,
    8 concurrent clients each get their own answer, SIGTERM stops it cleanly."""
    pytest.importorskip("ray")
    pytest.importorskip("ray.serve")
    import os
    import signal
    import subprocess
    import sys

    settings, index, expected = served
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--index", str(settings.index_dir), "--host",
         "127.0.0.1", "--port", str(port), "--ray", "--replicas", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())
    try:
        ready = process.stdout.readline()  # printed once every replica is up
        assert ready.startswith(f"qa: serving POST http://127.0.0.1:{port}/ask on 2 Ray Serve replica(s)"), ready
        url = f"http://127.0.0.1:{port}"
        _check_concurrent_clients(url, index, expected)
        code, reply = _post(url, {"question": 42})
        assert (code, reply) == (400, {"error": '"question" must be a string'})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class _EchoAssistant:
    """Stands in for Assistant: answers each question with itself (no model)."""

    def ask(self, question, history=()):
        from qa.reader import Answer

        return Answer(question, " / ".join([*history, question]), question, "", None, 0.5, False)


def test_handle_routes_and_refuses_bad_bodies():
    from qa.serve import MAX_BODY_BYTES, handle

    assistant = _EchoAssistant()
    status, payload = handle(assistant, "POST", "/ask", json.dumps({"question": "问", "history": ["前"]}).encode())
    assert status == 200 and payload["text"] == "问" and payload["standalone_question"] == "前 / 问"
    assert handle(assistant, "GET", "/ask")[0] == 405
    assert handle(assistant, "POST", "/nope", b"{}") == (404, {"error": "no such endpoint /nope; use POST /ask or GET /health"})
    assert handle(assistant, "POST", "/ask", b"[1]")[1]["error"].startswith("the body must be a JSON object")
    assert handle(assistant, "POST", "/ask", b"\xff")[1]["error"].startswith("the body is not UTF-8 JSON")
    too_long = json.dumps({"question": "问", "history": ["前"] * 101}).encode()
    assert handle(assistant, "POST", "/ask", too_long) == (400, {"error": '"history" has 101 items; at most 100'})
    assert handle(assistant, "POST", "/ask", b" " * (MAX_BODY_BYTES + 1))[0] == 400


def test_qa_serve_ray_refuses_a_missing_index(tmp_path, capsys):
    from qa.cli import main

    assert main(["serve", "--ray", "--index", str(tmp_path / "none")]) == 2
    assert f"no index in {tmp_path / 'none'}" in capsys.readouterr().err
