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
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
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
from qa.documents import Document, DocumentError  # noqa: E402
from qa.figures import Figure  # noqa: E402
from qa.question import clean_question  # noqa: E402
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

    def __init__(self, delay: float = 0.0, add_gate: threading.Event | None = None):
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
        #: when given, ``add_files`` waits until it is set (an upload still indexing)
        self.add_gate = add_gate
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
        if not re.search(r"\w", clean_question(question, 500)[0]):  # as Assistant.ask does
            return Answer(question, "", "", "", None, 0.0, True, notice="请输入问题。")
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
        if self.add_gate is not None:
            assert self.add_gate.wait(60), "the test never released the upload"
        added = []
        for path in paths:
            text = Path(path).read_text(encoding="utf-8")
            if not text.strip():
                raise DocumentError(f"{path}: no body text after removing metadata and boilerplate")
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
    chat = result[1]  # (input, chat, source, transcript, browser store, picker)
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


def test_abstention_lists_related_passages_once(client):
    result = client.predict(Q_NONE, api_name="/ask")
    reply, source = last_reply(result), result[2]
    assert NO_ANSWER_MESSAGE in reply and "相关段落" in reply
    assert reply.count("持续优化服务供给。深入推进") == 1  # the related passage, in the chat
    assert NO_ANSWER_MESSAGE in source
    assert "持续优化服务供给" not in source and "qa-related" not in source  # not repeated


def test_question_emptied_by_cleaning_asks_for_a_question(client):
    reply = last_reply(client.predict("<img src=x onerror=alert(1)>", api_name="/ask"))
    assert "请输入问题。" in reply
    assert NO_ANSWER_MESSAGE not in reply and "相关段落" not in reply and "理解" not in reply


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


def test_new_conversation_starts_empty(client, fake_app):
    client.predict(Q_TUOWEI, api_name="/ask")
    client.predict(api_name="/clear")
    client.predict(Q_FOLLOW, api_name="/ask")
    assert fake_app[0].calls[-1] == (Q_FOLLOW, ())


# --- conversations kept in the browser (gr.BrowserState) ---------------------------


def _ask(h, question: str, turns: list, conversation: str, store):
    """One question through ``Handlers.ask``; returns (turns, conversation id, store)."""
    out = h.ask(question, turns, conversation, store)
    return out[2], out[5], out[6]


def test_conversation_round_trips_through_the_browser_store(tmp_path):
    h = app.Handlers(FakeAssistant(), tmp_path)
    turns, conv, store = _ask(h, Q_TUOWEI, [], "", None)
    turns, conv2, store = _ask(h, Q_FOLLOW, turns, conv, store)
    assert conv2 == conv and len(conv) == 32
    stored = json.loads(json.dumps(store))  # what localStorage holds is plain JSON
    assert stored["current"] == conv and [c["id"] for c in stored["conversations"]] == [conv]
    assert stored["conversations"][0]["title"] == Q_TUOWEI
    assert "reply" not in stored["conversations"][0]["turns"][0]  # no HTML is stored

    # a page refresh: a fresh session restores the same chat, source and transcript
    chat, restored, source, transcript, _file, conv3, _store, picker = app.Handlers(
        FakeAssistant(), tmp_path).restore(stored)
    assert conv3 == conv
    assert [t["question"] for t in restored] == [Q_TUOWEI, Q_FOLLOW]
    assert [t["reply"] for t in restored] == [t["reply"] for t in turns]  # rendered again, equal
    assert [t["answer"]["citation"] for t in restored] == [t["answer"]["citation"] for t in turns]
    start = CORPUS_TEXT.index("新增托育驿站4家") + 6
    assert restored[1]["answer"]["citation"]["start"] == start
    assert "<mark>4家</mark>" in source and "托育服务圈。" in source  # the cited paragraph
    assert chat[-1]["content"] == turns[-1]["reply"] and "**答案：** 4家" in transcript
    assert picker["choices"] == [(f"{stored['conversations'][0]['updated'][5:]} · {Q_TUOWEI}（2 问）",
                                  conv)]

    # the follow-up after a refresh still sees the earlier questions
    assistant = FakeAssistant()
    app.Handlers(assistant, tmp_path).ask("托育驿站呢？", restored, conv3, stored)
    assert assistant.calls[-1] == (Q_FOLLOW, (Q_TUOWEI, Q_FOLLOW))


def test_past_conversations_reopen_and_stay_bounded(tmp_path):
    h = app.Handlers(FakeAssistant(), tmp_path)
    store = None
    first = None
    for i in range(app.chat_store.MAX_CONVERSATIONS + 5):
        _, conv, store = _ask(h, f"{Q_GDP}（第{i}次）", [], "", store)
        first = first or conv
    *_, new_conv, store, _picker = h.new_conversation(store)
    assert new_conv == "" and store["current"] == ""
    kept = [c["id"] for c in store["conversations"]]
    assert len(kept) == app.chat_store.MAX_CONVERSATIONS and first not in kept  # oldest dropped
    chat, turns, *_ = h.open_conversation(kept[-1], store)
    assert [t["question"] for t in turns] == [f"{Q_GDP}（第5次）"]
    assert "<b>60.3亿元</b>" in chat[-1]["content"]
    *_, store, _picker = h.delete_conversation(kept[0], store)
    assert kept[0] not in [c["id"] for c in store["conversations"]]


def test_history_passed_to_the_assistant_is_bounded(tmp_path):
    assistant = FakeAssistant()
    h = app.Handlers(assistant, tmp_path)
    turns, conv, store = [], "", None
    for i in range(app.MAX_HISTORY + 10):
        turns, conv, store = _ask(h, f"问题{i}", turns, conv, store)
    history = assistant.calls[-1][1]
    assert history == tuple(f"问题{i}" for i in range(9, app.MAX_HISTORY + 9))


def test_browser_store_from_elsewhere_is_not_trusted():
    from qa import chat_store

    assert chat_store.restore_turns(None) == ("", [])
    assert chat_store.restore_turns({"version": 99, "current": "x", "conversations": []}) == ("", [])
    bad = {"version": 1, "current": "c", "conversations": [
        {"id": "c", "title": "t", "updated": "", "turns": [
            {"question": "q", "notice": "", "answer": {"question": 1}},  # does not parse: dropped
            {"question": "<script>", "notice": "", "answer": {
                "question": "<script>", "standalone_question": "<script>", "text": "", "sentence": "",
                "citation": None, "confidence": 0.1, "abstained": True, "passages": []}},
        ]}, "not a conversation"]}
    conv, turns = chat_store.restore_turns(bad)
    assert conv == "c" and [t["question"] for t in turns] == ["<script>"]
    chat, *_ = app.Handlers(FakeAssistant(), Path(".")).restore(bad)
    assert "<script" not in chat[0]["content"] and "&lt;script&gt;" in chat[0]["content"]


def test_browser_store_size_is_bounded(monkeypatch):
    from qa import chat_store

    monkeypatch.setattr(chat_store, "MAX_STORE_CHARS", 20_000)
    assistant = FakeAssistant()
    turn = {"question": Q_NONE, "notice": "", "answer": assistant.ask(Q_NONE).to_dict()}
    store = None
    for i in range(12):
        store = chat_store.save_conversation(store, f"c{i}", [turn] * 5, "2026-01-01 00:00")
    size = len(json.dumps(store, ensure_ascii=False))
    assert size <= 20_000 and store["conversations"][0]["id"] == "c11"
    assert len(store["conversations"]) < 12
    huge = chat_store.save_conversation(None, "big", [turn] * 500, "2026-01-01 00:00")
    assert len(json.dumps(huge, ensure_ascii=False)) <= 20_000
    assert 0 < len(huge["conversations"][0]["turns"]) < chat_store.MAX_TURNS


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


def test_upload_skips_bad_files_and_says_why(tmp_path, fake_app):
    from gradio_client import Client, handle_file

    client = Client(fake_app[1], verbose=False)
    good = tmp_path / "park.txt"
    good.write_text("西岭街道停车通知\n新增公共停车位300个。\n", encoding="utf-8")
    blank = tmp_path / "blank.txt"
    blank.write_text("\u3000 \n", encoding="utf-8")
    empty = tmp_path / "empty.md"
    empty.touch()
    status, table = client.predict([handle_file(blank), handle_file(good), handle_file(empty)],
                                   api_name="/add_documents")
    lines = status.splitlines()
    assert lines[0] == "✅ 已添加 1 个文档（共 3 个文件，2 个未能添加）。"
    assert "- ❌ blank.txt：no body text after removing metadata and boilerplate" in lines
    assert "- ✅ park.txt：已添加" in lines and "- ❌ empty.md：文件是空的" in lines
    assert "/tmp" not in status and str(tmp_path) not in status  # no server paths
    assert any(r[0] == "西岭街道停车通知" for r in table["data"])


def test_question_is_answered_while_an_upload_is_indexing(tmp_path):
    from gradio_client import Client, handle_file

    gate = threading.Event()
    demo, url = serve_in_thread(FakeAssistant(add_gate=gate))
    try:
        doc = tmp_path / "slow.txt"
        doc.write_text("慢速索引的文档\n内容。\n", encoding="utf-8")
        with ThreadPoolExecutor(2) as pool:
            upload = pool.submit(Client(url, verbose=False).predict, [handle_file(doc)],
                                 api_name="/add_documents")
            time.sleep(1.0)  # let the upload start; it now waits on the gate
            answer = Client(url, verbose=False).predict(Q_TUOWEI, api_name="/ask")
            assert "<b>124个</b>" in last_reply(answer)
            assert not upload.done()  # answered while the upload was still indexing
            gate.set()
            assert "已添加 1 个文档" in upload.result(60)[0]
    finally:
        gate.set()
        demo.close()


def test_slow_question_does_not_hold_up_another(tmp_path):
    from gradio_client import Client

    class Gated(FakeAssistant):
        def __init__(self):
            super().__init__()
            self.gate = threading.Event()

        def ask(self, question, history=()):
            if "慢" in question:
                assert self.gate.wait(60)
            return super().ask(question, history)

    assistant = Gated()
    demo, url = serve_in_thread(assistant)
    try:
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(Client(url, verbose=False).predict, "慢问题", api_name="/ask")
            time.sleep(1.0)
            assert "<b>60.3亿元</b>" in last_reply(Client(url, verbose=False).predict(Q_GDP, api_name="/ask"))
            assert not slow.done()
            assistant.gate.set()
            assert NO_ANSWER_MESSAGE in last_reply(slow.result(60))
    finally:
        assistant.gate.set()
        demo.close()


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


def test_bm25s_debug_lines_stay_out_of_the_log(caplog):
    import logging

    import bm25s

    from qa.logs import quiet_libraries

    quiet_libraries()
    logging.getLogger("bm25s").setLevel(logging.DEBUG)  # what importing bm25s later does
    with caplog.at_level("DEBUG"):
        bm25s.logger.debug("Building index from tokens")
        bm25s.logger.warning("a real warning")
    assert [r.getMessage() for r in caplog.records if r.name == "bm25s"] == ["a real warning"]


# --- start-up and shut-down of python app.py --------------------------------------


@pytest.mark.slow
def test_app_on_index_of_another_model_prints_one_line_and_exits_2(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    manifest = {"format_version": 2, "generation": 1,
                "model": {"name": "someone/other-model", "fingerprint": "0" * 64, "dim": 384},
                "counts": {"documents": 0, "chunks": 0, "vectors": 0, "bm25_docs": 0},
                "files": {}}
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(free_port())],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "qa app ready" not in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "'someone/other-model'" in errors[0] and f"qa index build --index {index}" in errors[0]


SERVE_FAKE = """
import sys
sys.path.insert(0, {tests!r})
from test_app import FakeAssistant, app
demo = app.build_app(FakeAssistant())
print("export folder:", demo.export_dir, flush=True)
app.stop_on_signals()
app.serve(demo, "127.0.0.1", {port})
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_temporary_folder_is_removed_on_sigterm_and_sigint(tmp_path, signum):
    script = tmp_path / "serve_fake.py"
    script.write_text(SERVE_FAKE.format(tests=str(ROOT / "tests"), port=free_port()), encoding="utf-8")
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-u", str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("qa app ready"):
                break
        folder = Path(next(x for x in lines if x.startswith("export folder:")).split(": ", 1)[1].strip())
        assert folder.is_dir() and folder.parent == tmp_path
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert not folder.exists() and "Traceback" not in out


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
    assert "Building index from tokens" not in text  # bm25s's DEBUG line (the index was built)
    assert "DEBUG" not in text



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
