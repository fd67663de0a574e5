"""The qa web app: a thin Gradio layer over :class:`qa.pipeline.Assistant`.

Run ``python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--model NAME]``,
or ``python app.py --backend URL`` to answer through a ``qa serve`` API.
The app builds the model and the index when they are missing, warms the encoder
up, then serves on 127.0.0.1 (by default) and prints the address.

Every answer comes from ``Assistant.ask``; this file only wires widgets to it and
formats the result through :mod:`qa.render` (which escapes all text).
"""

from __future__ import annotations

import os

# Before gradio is imported: no analytics, no Hugging Face Hub traffic.
for _name, _value in (
    ("GRADIO_ANALYTICS_ENABLED", "False"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
):
    os.environ.setdefault(_name, _value)

import argparse  # noqa: E402
import atexit  # noqa: E402
import logging  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from qa import chat_store, render  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.logs import quiet_libraries  # noqa: E402

log = logging.getLogger("qa.app")

#: Largest document accepted for upload (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: File types accepted for upload.
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
#: Questions offered as clickable examples.
EXAMPLES = [
    "2023年新增了多少个托位？",
    "托育驿站呢？",
    "2023年东柳街道地区生产总值是多少？",
    "2024年固定资产投资目标是多少？",
    "全年共引进企业多少家？",
]
#: Questions run in their own concurrency group, several at a time (``Assistant.ask``
#: only reads), so one slow question does not hold up everyone else's.
ASK_QUEUE = "ask"
ASK_CONCURRENCY = 4
#: Uploads run one at a time in a separate group: indexing a file does not stop
#: questions (the library builds the new index beside the live one and swaps it in).
UPLOAD_QUEUE = "upload"
#: Earlier questions of the conversation passed to ``Assistant.ask`` (the latest).
MAX_HISTORY = 20
#: localStorage key of the conversations kept in the browser.
STORAGE_KEY = "qa-conversations"
#: File under ``Settings.home`` holding the key that encrypts the browser-side
#: conversations, so they stay readable after the app restarts.
STORAGE_SECRET_FILE = "app-storage-secret"
ALL_PERIODS = "全部"
ERROR_MESSAGE = "抱歉，处理时出错了，请稍后再试。"

APP_CSS = """
.qa-reply .qa-short { font-size: 1.15em; margin-bottom: .3em; }
.qa-cite { font-size: .95em; margin-top: .35em; color: var(--body-text-color); }
.qa-reply .qa-sentence, .qa-paragraph { line-height: 1.7; }
.qa-reply small, .qa-source small { color: #666; }
.qa-rewrite small { font-style: italic; }
mark { background: #ffe58f; padding: 0 .1em; }
"""


class UploadError(ValueError):
    """An uploaded file that cannot be added (wrong type, too large, unreadable)."""


def validate_upload(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Check an uploaded file's type and size; return it as a Path.

    Raises:
        UploadError: with a message for the user naming the accepted types or the limit.
    """
    path = Path(path)
    if path.suffix.lower() not in UPLOAD_SUFFIXES:
        raise UploadError(
            f"{path.name}: 不支持的文件类型，只接受 {' '.join(UPLOAD_SUFFIXES)} 文件"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{path.name}: 文件过大（{size / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB"
        )
    if size == 0:
        raise UploadError(f"{path.name}: 文件是空的")
    return path


class Handlers:
    """The event handlers of the app, bound to one assistant.

    Per-session data lives in a ``gr.State`` holding a list of turns, each
    ``{"question": str, "notice": str, "answer": Answer.to_dict(),
    "reply": str (HTML)}``, and the id of the conversation; every conversation is
    also kept in the browser (a ``gr.BrowserState`` holding a :mod:`qa.chat_store`
    value), so it survives a page refresh and can be reopened later. Nothing
    per-session is kept here.
    """

    def __init__(self, assistant: Any, export_dir: Path, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.assistant = assistant
        self.export_dir = export_dir
        self.max_upload_bytes = max_upload_bytes
        settings = getattr(assistant, "settings", None) or Settings()
        self.max_question_chars = settings.max_question_chars

    # --- chat -------------------------------------------------------------

    def ask(self, message: str, turns: list[dict], conversation: str = "", store: Any = None):
        """Answer ``message`` in the context of the session's earlier questions.

        Returns: (cleared input, chat messages, turns, source panel HTML, Markdown
        transcript, conversation id, browser store, past-conversations picker update).
        """
        turns = list(turns or [])
        question, notice = render.cut_question(message or "", self.max_question_chars)
        if not question:
            gr.Warning("请输入问题。")
            return ("", chat_messages(turns), turns, gr.skip(), render.export_markdown(turns),
                    gr.skip(), gr.skip(), gr.skip())
        history = tuple(t["question"] for t in turns[-MAX_HISTORY:])
        try:
            answer = self.assistant.ask(question, history=history)
            reply = render.answer_html(answer, notice)
            source = gr.skip() if render.is_empty_question(answer) else self._source(answer)
            record = answer.to_dict()
        except Exception:
            log.exception("ask failed for question %r (history %r)", question, history)
            reply = f'<div class="qa-reply"><b>{render.escape(ERROR_MESSAGE)}</b></div>'
            source, record = "", _error_record(question)
        turns.append({"question": question, "notice": notice, "answer": record, "reply": reply})
        conversation = conversation or chat_store.new_conversation_id()
        store = chat_store.save_conversation(store, conversation, turns, _now())
        return ("", chat_messages(turns), turns, source, render.export_markdown(turns),
                conversation, store, _picker(store, conversation))

    def _source(self, answer: Any) -> str:
        """The source panel for ``answer`` (whole cited chunk with the span marked)."""
        if answer.abstained or answer.citation is None:
            return render.source_html(answer, None)
        chunk = self.assistant.chunk(answer.citation.chunk_id)
        return render.source_html(answer, chunk.text, chunk.start)

    def restore(self, store: Any, conversation: str | None = None):
        """Show a conversation kept in the browser: the current one on page load,
        or ``conversation`` when the user picks it from the list.

        Returns: (chat messages, turns, source panel HTML, Markdown transcript,
        export file, conversation id, browser store, picker update).
        """
        conversation, restored = chat_store.restore_turns(store, conversation)
        turns = [
            {"question": t["question"], "notice": t["notice"], "answer": t["parsed"].to_dict(),
             "reply": render.answer_html(t["parsed"], t["notice"])}
            for t in restored
        ]
        source = _stored_source(restored[-1]["parsed"]) if restored else ""
        saved = gr.skip()
        if conversation and isinstance(store, dict) and store.get("current") != conversation:
            store = saved = {**store, "current": conversation}
        return (chat_messages(turns), turns, source, render.export_markdown(turns), None,
                conversation, saved, _picker(store, conversation))

    def open_conversation(self, conversation: str | None, store: Any):
        """The past conversation picked in the list (see :meth:`restore`)."""
        if not conversation:
            return tuple(gr.skip() for _ in range(8))
        return self.restore(store, conversation)

    def new_conversation(self, store: Any = None):
        """Start an empty conversation; the current one stays in the list.

        Returns: (chat, turns, source, transcript, export file, conversation id,
        browser store, picker update).
        """
        store = {**(store if isinstance(store, dict) else chat_store.new_store()), "current": ""}
        return [], [], "", "", None, "", store, _picker(store, None)

    def delete_conversation(self, conversation: str = "", store: Any = None):
        """Remove the current conversation from the browser and start an empty one."""
        if conversation:
            store = chat_store.save_conversation(store, conversation, [], _now())
        return self.new_conversation(store)

    def export(self, turns: list[dict], fmt: str) -> str | None:
        """Write the conversation as ``md`` or ``json`` and return the file path."""
        if not turns:
            gr.Warning("还没有可导出的对话。")
            return None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        records = [{k: t[k] for k in ("question", "notice", "answer")} for t in turns]
        text = (
            render.export_json(records, stamp)
            if fmt == "json"
            else render.export_markdown(records, stamp)
        )
        return str(self._write(f"qa-conversation-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}", text))

    def export_markdown(self, turns: list[dict]) -> str | None:
        """The conversation as a Markdown file."""
        return self.export(turns, "md")

    def export_json(self, turns: list[dict]) -> str | None:
        """The conversation as a JSON file."""
        return self.export(turns, "json")

    def _write(self, name: str, text: str) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.export_dir))  # one folder per file: no clashes
        path = folder / name
        path.write_text(text, encoding="utf-8-sig" if name.endswith(".csv") else "utf-8")
        return path

    # --- figures ----------------------------------------------------------

    def period_choices(self) -> list[str]:
        """``全部`` and every period found in the figures, oldest first."""
        return [ALL_PERIODS, *sorted({f.period for f in self.assistant.figures() if f.period})]

    def figure_periods(self) -> Any:
        """Dropdown update listing every period (refreshed on load: uploads add periods)."""
        return gr.update(choices=self.period_choices())

    def figures(self, query: str, period: str) -> list[list[Any]]:
        """Rows of the figures table matching ``query`` and ``period``."""
        found = self.assistant.figures(
            query=(query or "").strip() or None,
            period=None if period in (None, "", ALL_PERIODS) else period,
        )
        documents = {d.id: d for d in self.assistant.documents()}
        return render.figure_rows(found, documents)

    def figures_csv(self, query: str, period: str) -> str:
        """The current figures selection as a CSV file (UTF-8 with BOM, for Excel)."""
        rows = self.figures(query, period)
        return str(self._write("figures.csv", render.figures_csv(rows)))

    # --- documents --------------------------------------------------------

    def documents(self) -> list[list[Any]]:
        """Rows of the documents table with chunk counts."""
        chunks = getattr(getattr(self.assistant, "index", None), "chunks", ()) or ()
        counts = Counter(c.doc_id for c in chunks)
        return render.document_rows(self.assistant.documents(), counts)

    def add_documents(self, files: list[str] | None, progress=gr.Progress()):  # noqa: B008
        """Check and index uploaded files one by one; return (status Markdown, documents table).

        A file that cannot be added (type, size, unreadable, no text) is reported
        with its reason and skipped; the others are still indexed.
        """
        paths = [getattr(f, "name", f) for f in files or []]
        if not paths:
            return "请先选择要上传的文件。", self.documents()
        results: list[tuple[str, str, str]] = []  # (file name, outcome, reason)
        for number, path in enumerate(paths):
            name = Path(path).name
            progress(number / len(paths), desc=f"索引 {name}（{number + 1}/{len(paths)}）")
            results.append((name, *self._add_one(path)))
        return upload_status(results), self.documents()

    def _add_one(self, path: str) -> tuple[str, str]:
        """Add one uploaded file: ``("added" | "known" | "failed", reason)``."""
        from qa.documents import DocumentError

        try:
            checked = validate_upload(path, self.max_upload_bytes)
            added = list(self.assistant.add_files([str(checked)]))
        except (UploadError, DocumentError, OSError, ValueError) as exc:
            # the message may name the upload's temporary path: keep only the reason
            reason = " ".join(str(exc).replace(str(Path(path).parent) + os.sep, "").split())
            return "failed", reason.removeprefix(f"{Path(path).name}: ")
        except Exception as exc:
            log.exception("add_files failed for %s", path)
            return "failed", f"添加失败：{type(exc).__name__}（详情见服务器日志）"
        return ("added", "") if added else ("known", "")


def _now() -> str:
    """Local time as ``YYYY-MM-DD HH:MM`` (when a conversation was last updated)."""
    return time.strftime("%Y-%m-%d %H:%M")


def _picker(store: Any, conversation: str | None) -> dict:
    """Update of the past-conversations dropdown: the stored ones, the current selected."""
    options = chat_store.choices(store)
    return gr.update(choices=options,
                     value=conversation if any(v == conversation for _, v in options) else None)


def _stored_source(answer: Any) -> str:
    """The source panel of a restored answer, from the passages stored with it
    ('' when the cited passage was not kept, or nothing was asked)."""
    if render.is_empty_question(answer):
        return ""
    if answer.abstained or answer.citation is None:
        return render.source_html(answer, None)
    for passage in answer.passages:
        if passage.chunk.id == answer.citation.chunk_id:
            return render.source_html(answer, passage.chunk.text, passage.chunk.start)
    return ""


def _error_record(question: str) -> dict:
    """The exported record of a question that failed."""
    return {
        "question": question,
        "standalone_question": question,
        "text": "",
        "sentence": "",
        "citation": None,
        "confidence": 0.0,
        "abstained": True,
        "notice": ERROR_MESSAGE,
        "alternatives": [],
        "passages": [],
    }


def upload_status(results: list[tuple[str, str, str]]) -> str:
    """A Markdown report of an upload: a summary line, then one line per file.

    ``results`` holds ``(file name, "added" | "known" | "failed", reason)``.
    """
    added = sum(1 for _, outcome, _ in results if outcome == "added")
    failed = [(name, reason) for name, outcome, reason in results if outcome == "failed"]
    known = len(results) - added - len(failed)
    summary = f"已添加 {added} 个文档（共 {len(results)} 个文件"
    summary += f"，{known} 个已在索引中" if known else ""
    summary += f"，{len(failed)} 个未能添加）。" if failed else "）。"
    icon = "✅" if added else ("❌" if failed and not known else "ℹ️")
    lines = [f"{icon} {summary}"]
    for name, outcome, reason in results:
        if outcome == "known":
            lines.append(f"- ℹ️ {_md_text(name)}：已在索引中，未重复添加")
        elif outcome == "failed":
            lines.append(f"- ❌ {_md_text(name)}：{_md_text(reason)}")
        else:
            lines.append(f"- ✅ {_md_text(name)}：已添加")
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """``text`` for a Markdown line: HTML-escaped, Markdown punctuation backslashed."""
    escaped = render.escape(" ".join(text.split()))
    return "".join("\\" + ch if ch in "\\`*_[]#|~<>!" else ch for ch in escaped)


def chat_messages(turns: list[dict]) -> list[dict]:
    """Chatbot messages (role/content dicts) rebuilt from the session's turns."""
    messages = []
    for t in turns:
        messages.append({"role": "user", "content": render.question_html(t["question"])})
        messages.append({"role": "assistant", "content": t["reply"]})
    return messages


def build_app(assistant: Any, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
              storage_secret: str | None = None) -> gr.Blocks:
    """The Gradio Blocks app over a warmed-up ``assistant``.

    ``storage_secret`` encrypts the conversations kept in the browser; give the
    same one on every start (see :func:`storage_secret`) so they stay readable
    after a restart (default: a random one, good for this process only).
    """
    export_dir = Path(tempfile.mkdtemp(prefix="qa-app-"))
    atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
    h = Handlers(assistant, export_dir, max_upload_bytes)
    with gr.Blocks(title="政务文档问答", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## 政务文档问答\n答案逐字摘自文档，并给出出处（标题、章节、段落、字符位置）。")
        with gr.Tab("问答"):
            _chat_tab(demo, h, storage_secret)
        with gr.Tab("数据"):
            _figures_tab(demo, h)
        with gr.Tab("文档"):
            _documents_tab(demo, h)
    demo.export_dir = export_dir  # removed by serve() on exit
    return demo


def _chat_tab(demo: gr.Blocks, h: Handlers, storage_secret: str | None) -> None:
    """Chat, source panel, examples, past conversations, new/delete/export/copy."""
    turns = gr.State([])
    conversation = gr.State("")
    store = gr.BrowserState(chat_store.new_store(), storage_key=STORAGE_KEY, secret=storage_secret)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="对话",
                show_label=False,  # a floating label would cover the messages when scrolled
                elem_id="qa-chat",
                height=520,
                latex_delimiters=[],
                buttons=[],
                feedback_options=None,
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="输入问题，例如：2023年新增了多少个托位？",
                    show_label=False,
                    elem_id="qa-question",
                    scale=5,
                    lines=1,
                )
                send = gr.Button("提问", variant="primary", elem_id="qa-send", scale=1)
            gr.Examples(EXAMPLES, inputs=question, label="示例问题")
            with gr.Row():
                new = gr.Button("新对话", elem_id="qa-new")
                delete = gr.Button("删除此对话", elem_id="qa-delete")
                export_md = gr.Button("导出 Markdown", elem_id="qa-export-md")
                export_json = gr.Button("导出 JSON", elem_id="qa-export-json")
            export_file = gr.File(label="导出文件", interactive=False)
            with gr.Accordion("对话文本（可复制，含出处）", open=False):
                transcript = gr.Textbox(show_label=False, lines=8, buttons=["copy"], interactive=False)
        with gr.Column(scale=2):
            past = gr.Dropdown(
                label=f"历史对话（保存在本浏览器中，最近 {chat_store.MAX_CONVERSATIONS} 个）",
                choices=[],
                value=None,
                elem_id="qa-past",
                interactive=True,
            )
            source = gr.HTML(label="来源", elem_id="qa-source", padding=True)
    outputs = [question, chatbot, turns, source, transcript, conversation, store, past]
    ask = {"concurrency_id": ASK_QUEUE, "concurrency_limit": ASK_CONCURRENCY}
    inputs = [question, turns, conversation, store]
    send.click(h.ask, inputs, outputs, api_name="ask", **ask)
    question.submit(h.ask, inputs, outputs, api_visibility="private", **ask)
    shown = [chatbot, turns, source, transcript, export_file, conversation, store, past]
    new.click(h.new_conversation, store, shown, api_name="clear")
    chatbot.clear(h.new_conversation, store, shown, api_visibility="private")  # the chat's bin icon
    delete.click(h.delete_conversation, [conversation, store], shown, api_name="delete_conversation")
    past.input(h.open_conversation, [past, store], shown, api_visibility="private")
    demo.load(h.restore, store, shown, api_visibility="private")
    export_md.click(h.export_markdown, turns, export_file, api_name="export_markdown")
    export_json.click(h.export_json, turns, export_file, api_name="export_json")


def _figures_tab(demo: gr.Blocks, h: Handlers) -> None:
    """Searchable figures table with a period filter and CSV download."""
    with gr.Row():
        query = gr.Textbox(label="搜索指标或原文", placeholder="例如：托位、地区生产总值", scale=3)
        period = gr.Dropdown(
            label="期间",
            choices=h.period_choices(),
            value=ALL_PERIODS,
            allow_custom_value=True,  # periods of documents uploaded later
            scale=1,
        )
        search = gr.Button("搜索", scale=1)
    table = gr.Dataframe(headers=render.FIGURE_HEADERS, interactive=False, wrap=True)
    with gr.Row():
        download = gr.Button("下载 CSV")
        csv_file = gr.File(label="CSV 文件", interactive=False)
    search.click(h.figures, [query, period], table, api_name="figures")
    for trigger in (query.submit, period.change):
        trigger(h.figures, [query, period], table, api_visibility="private")
    download.click(h.figures_csv, [query, period], csv_file, api_name="figures_csv")
    demo.load(h.figure_periods, None, period, api_visibility="private")
    demo.load(h.figures, [query, period], table, api_visibility="private")


def _documents_tab(demo: gr.Blocks, h: Handlers) -> None:
    """Indexed documents with metadata and chunk counts; upload to add."""
    table = gr.Dataframe(headers=render.DOCUMENT_HEADERS, interactive=False, wrap=True)
    limit_mb = h.max_upload_bytes / 1048576
    files = gr.File(
        label=f"上传文档（{' '.join(UPLOAD_SUFFIXES)}，每个不超过 {limit_mb:.0f} MB）",
        file_count="multiple",
        file_types=list(UPLOAD_SUFFIXES),
    )
    add = gr.Button("添加到索引", variant="primary")
    status = gr.Markdown()
    add.click(
        h.add_documents,
        files,
        [status, table],
        api_name="add_documents",
        concurrency_id=UPLOAD_QUEUE,
        concurrency_limit=1,
    )
    demo.load(h.documents, None, table, api_visibility="private")


# --- start-up ---------------------------------------------------------------


def load_assistant(settings: Settings, warm_question: str = EXAMPLES[0]) -> Any:
    """Build (if missing) and load the model and index, then answer one question.

    The warm-up question runs the whole path once (encoder, retrieval, reader) so
    the first user does not wait for lazy initialisation.
    """
    from qa.pipeline import Assistant  # heavy: torch, faiss

    assistant = Assistant(settings)
    started = time.perf_counter()
    assistant.warm_up(progress=True)
    assistant.ask(warm_question)
    log.info("pipeline ready in %.1f s", time.perf_counter() - started)
    return assistant


def serve(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> str:
    """Start the queue and the server; print and return the local URL.

    With ``block=False`` the server runs in a background thread (tests, benchmarks);
    call ``demo.close()`` to stop it.
    """
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
        show_error=False,
        max_file_size=max_upload_bytes,
        css=APP_CSS,
        footer_links=["api"],
    )
    if not block:
        print(f"qa app ready: {url}", flush=True)
        return url
    try:
        print(f"qa app ready: {url}", flush=True)
        demo.block_thread()  # returns on Ctrl-C or SIGTERM (see stop_on_signals)
    except KeyboardInterrupt:  # a signal before block_thread took over (e.g. during the print)
        pass
    finally:
        demo.close()
        shutil.rmtree(getattr(demo, "export_dir", ""), ignore_errors=True)
    return url


def stop_on_signals() -> None:
    """Make SIGTERM stop the app like Ctrl-C (SIGINT) does, so the clean-up runs:
    the server closes and the temporary export folder is removed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def storage_secret(home: Path) -> str | None:
    """The key that encrypts the conversations kept in the browser, read from (or
    created in) ``home/app-storage-secret``; None (a random key per start) when
    ``home`` is not writable."""
    path = Path(home) / STORAGE_SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 16:
            return secret
    except (OSError, UnicodeDecodeError):
        pass
    secret = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
    except OSError as exc:
        log.warning("cannot keep the conversation key in %s (%s): "
                    "saved conversations will not survive a restart", path, exc)
        return None
    return secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="qa: web app for questions over government documents")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--index", default=None, help="index directory (default $QA_INDEX, else index/ of the checkout, else $QA_HOME/index)")
    p.add_argument("--model", default=None, help="encoder name or path (default $QA_MODEL or built-in)")
    p.add_argument("--backend", default=None, metavar="URL",
                   help="answer through a `qa serve` API at URL (e.g. http://127.0.0.1:8000) instead "
                        "of loading the model and index here; the documents and figures tabs are then "
                        "empty and uploads go to the server")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python app.py``."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    quiet_libraries()
    stop_on_signals()
    try:
        settings = Settings.from_env(model=args.model, index_dir=args.index)
    except ValueError as exc:
        return _fail(exc)
    from qa.index import IndexStoreError
    from qa.model_build import ModelError
    from qa.serve import BackendError, RemoteAssistant

    if args.backend:
        print(f"Answering through the qa API at {args.backend}", flush=True)
    else:
        print(f"Loading the model and the index from {settings.index_dir} "
              "(built on first run: about a minute on 2 cores)…", flush=True)
    try:
        if args.backend:
            assistant = RemoteAssistant(args.backend, settings=settings).warm_up()
        else:
            assistant = load_assistant(settings)
        demo = build_app(assistant, storage_secret=storage_secret(settings.home))
        serve(demo, args.host, args.port)
    except (IndexStoreError, ModelError, BackendError) as exc:  # the message says how to fix it
        return _fail(exc)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while loading
        print("qa app: interrupted", file=sys.stderr)
        return 130
    return 0


def _fail(exc: BaseException) -> int:
    """Print ``error: <message>`` on one line (no traceback) and return exit status 2."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
