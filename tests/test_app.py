"""API tests of app.py through gradio_client.

Two servers are exercised:

* the app over :class:`FakeAssistant` (in a thread; fast, no model): the wiring,
  sessions, exports, uploads, figures, file serving;
* the real app, ``python app.py`` in a subprocess over the real pipeline
  (marked ``slow``; it builds a fresh index in a temporary folder).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.chunking import Chunk, Sentence  # noqa: E402
from qa.config import DEFAULT_CORPUS_DIR, NO_ANSWER_MESSAGE  # noqa: E402
from qa.documents import Document  # noqa: E402
from qa.figures import Figure  # noqa: E402
from qa.reader import Answer, Citation  # noqa: E402
from qa.retrieval import Passage  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS_TEXT = (DEFAULT_CORPUS_DIR / "dongliu-2023-review-2024-plan.txt").read_text(encoding="utf-8")
TITLE = "东柳街道2023年工作总结和2024年工作思路"
Q_TUOWEI = "2023年新增了多少个托位？"
Q_FOLLOW = "托育驿站呢？"
Q_NONE = "东柳街道常住人口有多少？"
Q_GDP = "2023年东柳街道地区生产总值是多少？"
READY = re.compile(r"qa app ready: (http://\S+)")


def _load_app_module():
    """Import the top-level ``app.py`` by path (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module


app = _load_app_module()


# --- a fake assistant over the real corpus text ---------------------------------


def _chunk(doc: Document, first: str, last: str, section: tuple[str, ...], number: int) -> Chunk:
    """The chunk from ``first`` through ``last`` at their real offsets."""
    start = doc.text.index(first)
    end = doc.text.index(last, start) + len(last)
    return Chunk(f"{doc.id}-{start}-{end}", doc.id, start, end, doc.text[start:end], section,
                 number, (Sentence(start, end, doc.text[start:end]),))


class FakeAssistant:
    """Knows three answers of the default corpus, at their real offsets.

    ``ask`` resolves ``托育驿站呢？`` only after a 托位 question in ``history``,
    like the real conversation rewriter, and abstains on anything else.
    """

    def __init__(self, delay: float = 0.0):
        text = CORPUS_TEXT
        self.doc = Document(hashlib.sha256(text.encode()).hexdigest()[:16],
                            str(DEFAULT_CORPUS_DIR / "dongliu.txt"), TITLE, text,
                            {"publisher": "东柳街道", "date": "2024-03-21"})
        review = "一、2023年工作回顾"
        self.chunks = [
            _chunk(self.doc, "2023年是全面贯彻", "市级荣誉3项。", (review,), 1),
            _chunk(self.doc, "持续优化服务供给", "托育服务圈。",
                   (review, "(三)坚持“聚民意、暖民心”,民生福祉持续增进。", "持续优化服务供给"), 14),
        ]
        self.documents_ = {self.doc.id: self.doc}
        self.index = self  # .chunks, like qa.index.Index
        self.delay = delay
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def _answer(self, question, standalone, answer, sentence, chunk) -> Answer:
        s0 = self.doc.text.index(sentence)
        a0 = self.doc.text.index(answer, s0)
        cit = Citation(self.doc.id, TITLE, chunk.section_path, chunk.id, chunk.paragraph,
                       a0, a0 + len(answer), s0, s0 + len(sentence))
        alt_at = self.doc.text.index("4家", s0)
        alt = Answer(question, standalone, "4家", sentence,
                     Citation(**{**cit.__dict__, "start": alt_at, "end": alt_at + 2}), 0.3, False)
        return Answer(question, standalone, answer, sentence, cit, 0.9, False, (alt,),
                      (Passage(chunk, 1.0),))

    def ask(self, question: str, history=()) -> Answer:
        """One of the three known answers, or an abstention."""
        self.calls.append((question, tuple(history)))
        time.sleep(self.delay)
        tuowei = "新增托育驿站4家,新增托位124个,"
        if "托位" in question:
            return self._answer(question, question, "124个", tuowei, self.chunks[1])
        if "托育驿站" in question and any("托位" in h for h in history):
            return self._answer(question, "2023年新增了多少个托育驿站？", "4家", tuowei,
                                self.chunks[1])
        if "地区生产总值" in question:
            return self._answer(question, question, "60.3亿元", "全年实现地区生产总值60.3亿元,",
                                self.chunks[0])
        return Answer(question, question, "", "", None, 0.1, True,
                      passages=tuple(Passage(c, 0.2) for c in self.chunks))

    def chunk(self, chunk_id: str) -> Chunk:
        return next(c for c in self.chunks if c.id == chunk_id)

    def document(self, doc_id: str) -> Document:
        return self.documents_[doc_id]

    def documents(self) -> list[Document]:
        return list(self.documents_.values())

    def figures(self, query=None, period=None) -> list[Figure]:
        found = []
        for needle, metric, period_ in (("124个", "新增托位", "2023"), ("4.6个", "千人口托位数", "2024")):
            s = self.doc.text.index(needle)
            fig = Figure(self.doc.id, self.chunks[1].id, needle, s, s + len(needle),
                         float(needle[:-1]), "个", "", metric, -1, -1, period_, "actual", False, s, s + 5)
            if (not query or query in metric) and (not period or period == period_):
                found.append(fig)
        return found

    def add_files(self, paths) -> list[str]:
        added = []
        for path in paths:
            text = Path(path).read_text(encoding="utf-8")
            doc = Document(hashlib.sha256(text.encode()).hexdigest()[:16], str(path),
                           text.splitlines()[0], text)
            if doc.id not in self.documents_:
                self.documents_[doc.id] = doc
                added.append(doc.id)
        return added


# --- helpers shared with test_browser ---------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(assistant):
    """Serve the app over ``assistant`` in this process; returns (demo, url)."""
    demo = app.build_app(assistant)
    url = app.serve(demo, "127.0.0.1", free_port(), block=False)
    return demo, url


def start_app_process(index_dir: Path, timeout: float = 900.0):
    """Run ``python app.py`` on a free port; wait for its ready line.

    Returns (process, url, log path). The log collects the app's output.
    """
    port = free_port()
    log_path = index_dir.parent / f"app-{port}.log"
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-u", str(ROOT / "app.py"), "--port", str(port), "--index", str(index_dir)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_text(encoding="utf-8"))
        if match:
            return proc, match.group(1), log_path
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app did not start; log:\n{log_path.read_text(encoding='utf-8')[-3000:]}")


def stop_process(proc) -> None:
    """Stop a process started by :func:`start_app_process`."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def pipeline_available() -> bool:
    """True when the real pipeline's modules are importable."""
    try:
        return all(importlib.import_module(m) for m in ("qa.embedding", "qa.index", "qa.pipeline"))
    except ImportError:
        return False


def last_reply(result) -> str:
    """The last chat message's text from an ``/ask`` result."""
    _, chat, _source, _transcript = result
    content = chat[-1]["content"]
    if isinstance(content, list):  # Gradio 6 messages: a list of parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


# --- the app over the fake assistant -------------------------------------------


@pytest.fixture(scope="module")
def fake_app():
    assistant = FakeAssistant()
    demo, url = serve_in_thread(assistant)
    yield assistant, url
    demo.close()


@pytest.fixture()
def client(fake_app):
    from gradio_client import Client

    return Client(fake_app[1], verbose=False)


def test_cli_defaults_to_localhost():
    args = app.parse_args([])
    assert (args.host, args.port, args.index, args.model) == ("127.0.0.1", 7860, None, None)
    args = app.parse_args(["--port", "9000", "--index", "/x", "--model", "m"])
    assert (args.port, args.index, args.model) == (9000, "/x", "m")


def test_ask_gives_answer_sentence_and_citation(client):
    result = client.predict(Q_TUOWEI, api_name="/ask")
    reply = last_reply(result)
    assert reply.index("124个") < reply.index("<mark>124个</mark>") < reply.index(TITLE)
    assert "持续优化服务供给" in reply and "第 14 段" in reply
    source = result[2]
    assert "<mark>124个</mark>" in source and "托育服务圈。" in source and "其他候选" in source
    assert "124个" in result[3]  # the Markdown transcript


def test_follow_up_passes_previous_questions(client, fake_app):
    client.predict(Q_TUOWEI, api_name="/ask")
    reply = last_reply(client.predict(Q_FOLLOW, api_name="/ask"))
    assert "<b>4家</b>" in reply
    assert "2023年新增了多少个托育驿站？" in reply  # the rewritten question, shown small
    assert fake_app[0].calls[-1] == (Q_FOLLOW, (Q_TUOWEI,))


def test_abstention_lists_related_passages(client):
    result = client.predict(Q_NONE, api_name="/ask")
    reply = last_reply(result)
    assert NO_ANSWER_MESSAGE in reply and "相关段落" in reply
    assert NO_ANSWER_MESSAGE in result[2]


def test_user_text_is_escaped(client):
    reply_chat = client.predict("<script>alert(1)</script><img src=x onerror=alert(2)>",
                                api_name="/ask")[1]
    user = str(reply_chat[-2]["content"])
    assert "&lt;script&gt;" in user and "<script" not in user and "<img" not in user


def test_oversized_question_is_cut_with_notice(client, fake_app):
    reply = last_reply(client.predict("托位" * 400, api_name="/ask"))
    assert "问题过长" in reply
    limit = app.Settings().max_question_chars
    assert len(fake_app[0].calls[-1][0]) == limit


def test_error_shows_short_message(fake_app, caplog):
    from gradio_client import Client

    assistant = fake_app[0]
    original = assistant.ask
    assistant.ask = lambda q, history=(): (_ for _ in ()).throw(RuntimeError("secret detail"))
    try:
        with caplog.at_level("ERROR", logger="qa.app"):
            reply = last_reply(Client(fake_app[1], verbose=False).predict(Q_TUOWEI, api_name="/ask"))
    finally:
        assistant.ask = original
    assert app.ERROR_MESSAGE in reply and "secret" not in reply
    assert "secret detail" in caplog.text


def test_two_sessions_get_their_own_answers():
    from gradio_client import Client

    demo, url = serve_in_thread(FakeAssistant(delay=0.3))
    try:
        a, b = Client(url, verbose=False), Client(url, verbose=False)
        with ThreadPoolExecutor(2) as pool:
            ja = pool.submit(a.predict, Q_TUOWEI, api_name="/ask")
            jb = pool.submit(b.predict, Q_GDP, api_name="/ask")
            assert "<b>124个</b>" in last_reply(ja.result(60))
            assert "<b>60.3亿元</b>" in last_reply(jb.result(60))
            ja = pool.submit(a.predict, Q_FOLLOW, api_name="/ask")
            jb = pool.submit(b.predict, Q_FOLLOW, api_name="/ask")
            assert "<b>4家</b>" in last_reply(ja.result(60))  # a's history has 托位
            assert NO_ANSWER_MESSAGE in last_reply(jb.result(60))  # b's does not
    finally:
        demo.close()


def test_export_markdown_and_json_with_citations(client):
    client.predict(Q_TUOWEI, api_name="/ask")
    md = Path(client.predict(api_name="/export_markdown")).read_text(encoding="utf-8")
    start = CORPUS_TEXT.index("124个")
    assert "**答案：** 124个" in md and f"字符 [{start}, {start + 4})" in md
    import json

    data = json.loads(Path(client.predict(api_name="/export_json")).read_text(encoding="utf-8"))
    assert data["turns"][0]["answer"]["citation"]["start"] == start


def test_clear_empties_the_conversation(client, fake_app):
    client.predict(Q_TUOWEI, api_name="/ask")
    client.predict(api_name="/clear")
    client.predict(Q_FOLLOW, api_name="/ask")
    assert fake_app[0].calls[-1] == (Q_FOLLOW, ())


def test_figures_search_filter_and_csv(client):
    rows = client.predict("托位", app.ALL_PERIODS, api_name="/figures")["data"]
    assert {r[2] for r in rows} == {"124个", "4.6个"}
    rows = client.predict("托位", "2024", api_name="/figures")["data"]
    assert [r[2] for r in rows] == ["4.6个"]
    text = Path(client.predict("", "2023", api_name="/figures_csv")).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("文档,指标,原文") and "124个" in text


def test_upload_adds_documents_once(tmp_path, fake_app):
    from gradio_client import Client, handle_file

    client = Client(fake_app[1], verbose=False)
    good = tmp_path / "notice.md"
    good.write_text("# 通知\n新增停车位300个。\n", encoding="utf-8")
    status, table = client.predict([handle_file(good)], api_name="/add_documents")
    assert "已添加 1 个文档" in status
    assert any(r[0] == "# 通知" for r in table["data"])
    status, _ = client.predict([handle_file(good)], api_name="/add_documents")
    assert "已在索引中" in status


def test_upload_rejects_other_types_and_large_files(tmp_path, fake_app):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(fake_app[1], verbose=False)
    bad = tmp_path / "evil.exe"
    bad.write_bytes(b"MZ")
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict([handle_file(bad)], api_name="/add_documents")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (app.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(Exception, match="(?i)too large|exceed|413"):
        client.predict([handle_file(big)], api_name="/add_documents")


def test_validate_upload_limits(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 101)
    with pytest.raises(app.UploadError, match="文件过大"):
        app.validate_upload(big, max_bytes=100)
    empty = tmp_path / "e.html"
    empty.touch()
    with pytest.raises(app.UploadError, match="空"):
        app.validate_upload(empty)
    assert app.validate_upload(big, max_bytes=200) == big


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("target", ["/etc/passwd", str(ROOT / "app.py"), "app.py"])
def test_serves_no_files_outside_its_own(fake_app, target):
    base = fake_app[1].rstrip("/")
    assert _status(f"{base}/gradio_api/file={target}") in (403, 404)


def test_binds_localhost_only(fake_app):
    assert fake_app[1].startswith("http://127.0.0.1:")


# --- the real app, end to end (needs the real pipeline) -----------------------------


@pytest.fixture(scope="module")
def real_app(tmp_path_factory):
    if not pipeline_available():
        pytest.skip("the real pipeline (qa.embedding / qa.index / Assistant) is not available yet")
    proc, url, log = start_app_process(tmp_path_factory.mktemp("app") / "index")
    yield url, log
    stop_process(proc)


@pytest.mark.slow
def test_real_app_answers_follow_up_and_abstains(real_app):
    from gradio_client import Client

    client = Client(real_app[0], verbose=False)
    result = client.predict(Q_TUOWEI, api_name="/ask")
    reply = last_reply(result)
    assert "<b>124个</b>" in reply and "<mark>124个</mark>" in reply
    start = CORPUS_TEXT.index("新增托位124个") + 4
    assert f"字符 {start}–{start + 4}" in reply and TITLE in reply
    assert "<mark>124个</mark>" in result[2]
    assert "<b>4家</b>" in last_reply(client.predict(Q_FOLLOW, api_name="/ask"))
    assert NO_ANSWER_MESSAGE in last_reply(client.predict(Q_NONE, api_name="/ask"))


@pytest.mark.slow
def test_real_app_two_concurrent_sessions(real_app):
    from gradio_client import Client

    a, b = Client(real_app[0], verbose=False), Client(real_app[0], verbose=False)
    with ThreadPoolExecutor(2) as pool:
        ja = pool.submit(a.predict, Q_TUOWEI, api_name="/ask")
        jb = pool.submit(b.predict, Q_GDP, api_name="/ask")
        assert "<b>124个</b>" in last_reply(ja.result(120))
        assert "<b>60.3亿元</b>" in last_reply(jb.result(120))
    assert "<b>4家</b>" in last_reply(a.predict(Q_FOLLOW, api_name="/ask"))


@pytest.mark.slow
def test_real_app_startup_log(real_app):
    text = Path(real_app[1]).read_text(encoding="utf-8")
    assert "pipeline ready in" in text and "Traceback" not in text



@pytest.mark.slow
def test_real_app_upload_then_answer(real_app, tmp_path):
    from gradio_client import Client, handle_file

    doc = tmp_path / "parking.md"
    doc.write_text("# 西岭街道2024年停车改造通知\n\n2024年西岭街道新增公共停车位300个，"
                   "主要分布在三个老旧小区。\n", encoding="utf-8")
    client = Client(real_app[0], verbose=False)
    status, table = client.predict([handle_file(doc)], api_name="/add_documents")
    assert "已添加 1 个文档" in status, status
    row = next(r for r in table["data"] if "停车" in r[0])
    assert row[5] >= 1  # chunk count
    reply = last_reply(client.predict("2024年西岭街道新增了多少个公共停车位？", api_name="/ask"))
    assert "<b>300个</b>" in reply and "停车改造通知" in reply
