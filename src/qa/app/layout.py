"""The app's Gradio layout: the question, figures and documents tabs wired to :class:`Handlers`."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from qa import chat_store, render
from qa.app.handlers import ALL_PERIODS, Handlers
from qa.app.uploads import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES

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
#: localStorage key of the conversations kept in the browser.
STORAGE_KEY = "qa-conversations"

#: Styles of the answer and source panels (given to ``launch`` by :func:`qa.app.server.serve`).
APP_CSS = """
.qa-reply .qa-short { font-size: 1.15em; margin-bottom: .3em; }
.qa-cite { font-size: .95em; margin-top: .35em; color: var(--body-text-color); }
.qa-reply .qa-sentence, .qa-paragraph { line-height: 1.7; }
.qa-reply small, .qa-source small { color: #666; }
.qa-rewrite small { font-style: italic; }
mark { background: #ffe58f; padding: 0 .1em; }
"""


def build_app(assistant: Any, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
              storage_secret: str | None = None) -> gr.Blocks:
    """The Gradio Blocks app over a warmed-up ``assistant``.

    ``storage_secret`` encrypts the conversations kept in the browser; give the
    same one on every start (see :func:`qa.app.server.storage_secret`) so they stay readable
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

