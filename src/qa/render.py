"""Answers, citations, figures and conversations as escaped HTML, Markdown, JSON and CSV.

Pure functions used by ``app.py``; nothing here imports Gradio or touches the model.

Safety rule: every piece of document or user text is HTML-escaped here. Highlighting
applies the character offsets (half-open ``[start, end)`` into ``Document.text``) to the
*raw* text first and escapes each piece afterwards, so an offset can never land inside
an entity such as ``&lt;`` and no document text can inject markup.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from qa.config import NO_ANSWER_MESSAGE
from qa.reader import Answer, Citation

#: Characters of a related passage shown under an abstention.
SNIPPET_CHARS = 120
#: Alternatives shown in the source panel.
MAX_ALTERNATIVES = 2
#: Related passages listed under an abstention.
MAX_RELATED = 3
#: Shown for a question that is empty once cleaned (when the answer has no notice).
EMPTY_QUESTION_MESSAGE = "请输入问题。"

KIND_LABELS = {"actual": "实际", "target": "目标", "cumulative": "累计", "": ""}
FIGURE_HEADERS = ["文档", "指标", "原文", "数值", "单位", "期间", "类型", "增速", "位置", "所在句子"]
DOCUMENT_HEADERS = ["标题", "发布机构", "日期", "索引号", "字符数", "分块数", "文件", "文档ID"]


def escape(text: str) -> str:
    """HTML-escape ``text`` (``&``, ``<``, ``>``, quotes); newlines become ``<br>``."""
    return html.escape(text, quote=True).replace("\n", "<br>")


def highlight(text: str, start: int, end: int, *, offset: int = 0) -> str:
    """``text`` as escaped HTML with ``[start, end)`` wrapped in ``<mark>``.

    Args:
        text: raw (unescaped) text that begins at character ``offset`` of its document.
        start, end: document character offsets of the span, half-open.
        offset: document offset of ``text[0]`` (0 when ``start``/``end`` index ``text``).

    Raises:
        ValueError: if the span does not lie inside ``text``.
    """
    lo, hi = start - offset, end - offset
    if not 0 <= lo <= hi <= len(text):
        raise ValueError(
            f"span [{start}, {end}) is outside the text at [{offset}, {offset + len(text)})"
        )
    return f"{escape(text[:lo])}<mark>{escape(text[lo:hi])}</mark>{escape(text[hi:])}"


def cut_question(question: str, limit: int) -> tuple[str, str]:
    """``question`` stripped and cut to ``limit`` characters, and a notice ('' if not cut)."""
    question = question.strip()
    if len(question) <= limit:
        return question, ""
    return question[:limit], f"问题过长，只使用了前 {limit} 个字。"


def section_label(section_path: Sequence[str]) -> str:
    """A section path joined with ``›`` (raw text, not escaped)."""
    return " › ".join(section_path) if section_path else "正文"


def citation_path(title: str, section_path: Sequence[str]) -> str:
    """``title > section > subsection`` (raw text): empty parts and their ``>`` are left out.

    A document without sections gives just its title, never ``Title >``.
    """
    return " > ".join(p for p in (title, *section_path) if p and p.strip())


def citation_line(citation: Citation) -> str:
    """One-line raw-text citation for a terminal:
    ``Title > Section（第 3 段，字符 120–124）`` (``Title（第 1 段…`` without sections;
    ``（第 2 页，第 3 段…`` for a paged document)."""
    page = f"第 {citation.page} 页，" if getattr(citation, "page", None) else ""
    return (
        f"{citation_path(citation.title, citation.section_path)}"
        f"（{page}第 {citation.paragraph} 段，字符 {citation.start}–{citation.end}）"
    )


def citation_label(citation: Citation) -> str:
    """One-line raw-text citation: title, section path, paragraph, character offsets."""
    page = f"第 {citation.page} 页 · " if getattr(citation, "page", None) else ""
    return (
        f"《{citation.title}》 · {section_label(citation.section_path)} · "
        f"{page}第 {citation.paragraph} 段 · 字符 {citation.start}–{citation.end}"
    )


def sentence_html(answer: Answer) -> str:
    """The supporting sentence as escaped HTML with the answer marked."""
    c = answer.citation
    try:
        return highlight(answer.sentence, c.start, c.end, offset=c.sentence_start)
    except ValueError:  # answer outside its sentence: show both, still escaped
        return f"{escape(answer.sentence)}（<mark>{escape(answer.text)}</mark>）"


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def related_html(answer: Answer, limit: int = MAX_RELATED) -> str:
    """The retrieved passages of ``answer`` as an escaped HTML list ('' when none)."""
    items = [
        f"<li><small>{escape(section_label(p.chunk.section_path))} · 第 {p.chunk.paragraph} 段"
        f"</small><br>{escape(_snippet(p.chunk.text))}</li>"
        for p in answer.passages[:limit]
    ]
    return f"<ol class=\"qa-related\">{''.join(items)}</ol>" if items else ""


def _notices(answer: Answer, extra: str = "") -> str:
    parts = [n for n in (extra, answer.notice) if n]
    return "".join(f'<div class="qa-notice"><small>⚠ {escape(n)}</small></div>' for n in parts)


def is_empty_question(answer: Answer) -> bool:
    """True for the reply to a question that cleaning emptied (e.g. only HTML tags):
    nothing was asked, so nothing was looked up (no standalone question)."""
    return answer.abstained and answer.citation is None and not answer.standalone_question.strip()


def _rewrite(answer: Answer) -> str:
    if not answer.standalone_question.strip() or answer.standalone_question == answer.question:
        return ""
    return (
        f'<div class="qa-rewrite"><small>按“{escape(answer.standalone_question)}”理解</small></div>'
    )


def answer_html(answer: Answer, notice: str = "") -> str:
    """A chat reply: short answer, marked sentence, citation; or the abstention.

    The result is one ``<div>`` block without blank lines, so a Markdown renderer
    passes it through as HTML. ``notice`` is an extra message from the app (for
    example that the question was cut).

    An abstention lists its related passages here only (the source panel does not
    repeat them); a question that cleaning emptied shows only its notice
    (``请输入问题。``), not the abstention.
    """
    if is_empty_question(answer):
        message = answer.notice or EMPTY_QUESTION_MESSAGE
        body = f'<div class="qa-short"><b>{escape(message)}</b></div>'
        extra = f'<div class="qa-notice"><small>⚠ {escape(notice)}</small></div>' if notice else ""
        return f'<div class="qa-reply">{body}{extra}</div>'
    if answer.abstained or answer.citation is None:
        related = related_html(answer)
        body = f'<div class="qa-short"><b>{escape(NO_ANSWER_MESSAGE)}</b></div>'
        if related:
            body += f'<div class="qa-related-head">相关段落：</div>{related}'
    else:
        body = (
            f'<div class="qa-short"><b>{escape(answer.text)}</b></div>'
            f'<div class="qa-sentence">{sentence_html(answer)}</div>'
            f'<div class="qa-cite">出处：{escape(citation_label(answer.citation))}'
            f" · 置信度 {answer.confidence:.2f}</div>"
        )
    return f'<div class="qa-reply">{body}{_rewrite(answer)}{_notices(answer, notice)}</div>'


def question_html(question: str) -> str:
    """A user's chat message: escaped, so ``<script>`` shows as text."""
    return f'<div class="qa-question">{escape(question)}</div>'


def source_html(answer: Answer, chunk_text: str | None, chunk_start: int = 0) -> str:
    """The source panel: the whole cited paragraph with the span marked, then alternatives.

    Args:
        answer: the answer shown.
        chunk_text: raw text of the cited chunk (``None`` when abstained).
        chunk_start: document offset of ``chunk_text[0]``.
    """
    if answer.abstained or answer.citation is None or chunk_text is None:
        # The related passages are listed once, in the chat reply (answer_html).
        hint = "<p><small>相关段落列在对话中的回答下方。</small></p>" if answer.passages else ""
        return f'<div class="qa-source"><p><b>{escape(NO_ANSWER_MESSAGE)}</b></p>{hint}</div>'

    c = answer.citation
    try:
        paragraph = highlight(chunk_text, c.start, c.end, offset=chunk_start)
    except ValueError:
        paragraph = escape(chunk_text)
    parts = [
        '<div class="qa-source">',
        f'<h4>来源段落</h4><p class="qa-cite">{escape(citation_label(c))}</p>',
        f'<p class="qa-paragraph">{paragraph}</p>',
        alternatives_html(answer),
        "</div>",
    ]
    return "".join(parts)


def alternatives_html(answer: Answer, limit: int = MAX_ALTERNATIVES) -> str:
    """The next best answers with their marked sentences ('' when none)."""
    items = [
        f"<li><b>{escape(alt.text)}</b> <small>（置信度 {alt.confidence:.2f}）</small><br>"
        f"{sentence_html(alt)}<br><small>{escape(citation_label(alt.citation))}</small></li>"
        for alt in answer.alternatives[:limit]
        if alt.citation is not None
    ]
    return f"<h4>其他候选</h4><ol>{''.join(items)}</ol>" if items else ""


# --- export ---------------------------------------------------------------


def _md_citation(c: Mapping[str, Any]) -> str:
    return (
        f"《{c['title']}》 · {section_label(c['section_path'])} · 第 {c['paragraph']} 段 · "
        f"字符 [{c['start']}, {c['end']})（句子 [{c['sentence_start']}, {c['sentence_end']})）"
    )


def _md_turn(number: int, turn: Mapping[str, Any]) -> list[str]:
    a = turn["answer"]
    lines = [f"## {number}. {turn['question']}", ""]
    if a["standalone_question"].strip() and a["standalone_question"] != a["question"]:
        lines += [f"*理解为：{a['standalone_question']}*", ""]
    if a["abstained"] and a["citation"] is None and not a["standalone_question"].strip():
        pass  # a question that cleaning emptied: only its notice follows
    elif a["abstained"] or a["citation"] is None:
        lines += [f"**答案：** {NO_ANSWER_MESSAGE}", ""]
        for p in a.get("passages", [])[:MAX_RELATED]:
            lines.append(f"- 相关段落（{section_label(p['section_path'])}）：{_snippet(p['text'])}")
    else:
        lines += [
            f"**答案：** {a['text']}",
            "",
            f"**依据：** {a['sentence']}",
            "",
            f"**出处：** {_md_citation(a['citation'])}",
        ]
    for note in (turn.get("notice", ""), a["notice"]):
        if note:
            lines += ["", f"> {note}"]
    return lines + [""]


def export_markdown(turns: Iterable[Mapping[str, Any]], exported_at: str = "") -> str:
    """A conversation as Markdown with every citation.

    ``turns`` are ``{"question": str, "answer": Answer.to_dict(), "notice": str}``.
    """
    head = "# 问答记录" + (f"（导出于 {exported_at}）" if exported_at else "")
    lines = [head, ""]
    for number, turn in enumerate(turns, 1):
        lines += _md_turn(number, turn)
    return "\n".join(lines).rstrip() + "\n"


def export_json(turns: Iterable[Mapping[str, Any]], exported_at: str = "") -> str:
    """A conversation as pretty JSON (non-ASCII kept as is) with every citation."""
    doc = {"exported_at": exported_at, "turns": list(turns)}
    return json.dumps(doc, ensure_ascii=False, indent=2)


# --- tables ---------------------------------------------------------------


def figure_rows(figures: Iterable[Any], documents: Mapping[str, Any]) -> list[list[Any]]:
    """Rows of the figures table (:data:`FIGURE_HEADERS`), raw text.

    ``documents`` maps doc id → :class:`~qa.documents.Document` (title and the
    sentence text come from it).
    """
    rows = []
    for f in figures:
        doc = documents.get(f.doc_id)
        title = doc.title if doc else f.doc_id
        sentence = doc.text[f.sentence_start : f.sentence_end] if doc else ""
        rows.append(
            [
                title,
                f.metric,
                f.text,
                f.value,
                f.unit,
                f.period,
                KIND_LABELS.get(f.kind, f.kind),
                "是" if f.is_change else "",
                f"{f.start}–{f.end}",
                sentence,
            ]
        )
    return rows


def figures_csv(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (header + rows) of the figures table."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIGURE_HEADERS)
    writer.writerows(rows)
    return buf.getvalue()


def document_rows(documents: Iterable[Any], chunk_counts: Mapping[str, int]) -> list[list[Any]]:
    """Rows of the documents table (:data:`DOCUMENT_HEADERS`), raw text."""
    rows = []
    for d in documents:
        meta = d.metadata or {}
        rows.append(
            [
                d.title,
                meta.get("publisher", ""),
                meta.get("date", ""),
                meta.get("index_number", ""),
                len(d.text),
                chunk_counts.get(d.id, 0),
                d.path.replace("\\", "/").rsplit("/", 1)[-1],
                d.id,
            ]
        )
    return rows
