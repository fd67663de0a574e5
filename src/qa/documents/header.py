"""Metadata at the top of a document (title, publisher, date …) and where its body starts.

:func:`parse_header` for plain text, :func:`markdown_header` for Markdown front
matter, :func:`document_title_at` / :func:`printed_front_matter` for the title,
issuer and date printed at the top of an extracted PDF/DOCX text.
"""

from __future__ import annotations

import re

from qa.documents.lines import SPACE, Line, iter_lines

#: Chinese metadata labels (government portals, prepended export blocks) and
#: the :attr:`Document.metadata` key each one fills.
KEY_ALIASES = {
    "标题": "title",
    "文章标题": "title",
    "题名": "title",
    "名称": "title",
    "发布机构": "publisher",
    "发文单位": "publisher",
    "发文机关": "publisher",
    "发布单位": "publisher",
    "发布日期": "date",
    "发布时间": "date",
    "发文时间": "date",
    "发文日期": "date",
    "成文日期": "date_written",
    "生成日期": "created",
    "索引号": "index_number",
    "文号": "document_number",
    "发文字号": "document_number",
    "信息来源": "source",
    "来源": "source",
    "来源URL": "source_url",
    "来源网址": "source_url",
    "原文链接": "source_url",
    "报告人": "speaker",
    "组配分类": "category",
    "主题分类": "topic",
    "体裁分类": "genre",
    "公开方式": "disclosure",
    "公开范围": "scope",
    "正文": "",  # marks the end of a prepended block
}
_DATE_KEYS = ("date", "date_written", "created")
_DATE = re.compile(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})")
_LABEL = "|".join(sorted(map(re.escape, KEY_ALIASES), key=len, reverse=True))
_KEY_LINE = re.compile(rf"^({_LABEL})\s*[:：]\s*(.*)$")
_INLINE_KEYS = re.compile(rf"({_LABEL})\s*[:：]\s*")
_MAX_CELL = 100
#: A dateline under a report title: ``——2019年3月4日在…会议上`` (dashes of any
#: kind optional, parentheses optional) or a bare date line ``2024年4月30日``.
_DATELINE = re.compile(
    r"^[-—―─－~～]*\s*[（(]?\s*(\d{4}年\d{1,2}月\d{1,2}日)\s*(在.{2,80}?上)?\s*[)）]?$"
)
_ROLE = "代?(?:省长|市长|区长|县长|州长|旗长|镇长|乡长|主任|主席|书记)"
#: A speaker line: ``海拉尔区人民政府区长　　杜联合``.
_SPEAKER = re.compile(
    rf"^(.{{2,30}}?(?:人民政府|政府|委员会|办事处))[{SPACE}]*({_ROLE})[{SPACE}]*([\u4e00-\u9fff·]{{2,5}})$"
)
_ORG_SUFFIX = re.compile(r"(?:局|队|政府|委员会|委|办公室|办事处|街道|中心|厅|部|院|所|会)$")
_SPACED_TITLE = re.compile(rf"(?:[\u4e00-\u9fff][{SPACE}]+){{2,}}[\u4e00-\u9fff]")
_FOOTNOTE_TAIL = re.compile(r"(?:[①-⑳]|\^?\[\d{1,3}\]|\*)+$")
_TITLE_STOP = "。！？；，,;：:"
_HEADING_START = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、](?!\d)|第[一二三四五六七八九十\d]+[章节])"
)


def iso_date(value: str) -> str:
    """``YYYY-MM-DD`` for the first date in ``value`` (``2024-03-21 11:04``, ``2018年1月31日``), or ``""``."""
    m = _DATE.search(value)
    if not m:
        return ""
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return ""
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _put(meta: dict[str, str], label: str, value: str) -> None:
    """Store one ``label: value`` pair (first value wins; dates become ISO; unknown dates dropped)."""
    value = value.strip(SPACE + "|")
    key = KEY_ALIASES.get(label, label)
    if not key or not value or key in meta:
        return
    if key in _DATE_KEYS:
        iso = iso_date(value)
        if not iso:
            return
        if key == "date" and re.search(r"\d{1,2}:\d{2}", value):
            meta.setdefault("datetime", value)
        value = iso
    meta[key] = value


def _inline_pairs(cell: str) -> list[tuple[str, str]]:
    """``发布日期: 2024-03-21 11:04 信息来源: 东柳街道`` → label/value pairs (empty if none at 0)."""
    found = list(_INLINE_KEYS.finditer(cell))
    if not found or found[0].start() != 0:
        return []
    return [
        (m.group(1), cell[m.end() : found[k + 1].start() if k + 1 < len(found) else len(cell)])
        for k, m in enumerate(found)
    ]


def _portal_row(line: str) -> list[str] | None:
    """Cells of a portal table row (``索引号 | K1605… | |``), or None for a non-row line."""
    if "|" not in line:
        return None
    cells = [c.strip(SPACE) for c in line.split("|")]
    cells = [c for c in cells if c]
    if not cells or any(len(c) > _MAX_CELL for c in cells):
        return None
    return cells


def _is_label(cell: str) -> bool:
    return cell in KEY_ALIASES or bool(re.fullmatch(r"[\u4e00-\u9fff]{2,8}", cell))


def parse_header(text: str) -> tuple[dict[str, str], int]:
    """Metadata of a plain-text document and the offset where its body starts.

    Reads, from the top, in this order (each part optional):

    1. a prepended ``标题：… / 发文单位：… / 发文时间：… / 来源URL：… / 正文：``
       block (research exports of news-site pages);
    2. a government-portal table header: rows ``索引号 | … |``, ``发布机构 | … |``,
       a title row ``… |`` and ``发布日期: … 信息来源: … |``;
    3. front matter: a title line (a spaced-out ``政 府 工 作 报 告`` is
       closed up; a trailing footnote marker is dropped), a dateline
       ``——2019年3月4日在…会议上``, a speaker line ``…人民政府区长 某某``,
       issuer lines (``洛阳市统计局``) and a date line.

    The title gets the dateline's meeting in parentheses, as printed on the
    cover of a work report: ``政府工作报告（2018年3月7日在…会议上）``.

    Returns:
        ``(metadata, body_start)``: keys ``title``, ``publisher``, ``date`` (ISO),
        ``index_number``, ``speaker``, ``meeting`` … where found; ``body_start``
        is a character offset into ``text`` (0 when there is no header).
    """
    lines = iter_lines(text)
    meta: dict[str, str] = {}
    i = _key_block(lines, meta)
    i = _portal_table(lines, i, meta)
    i = _front_matter(lines, i, meta)
    title = _FOOTNOTE_TAIL.sub("", meta.get("title", "")).strip(SPACE)
    if title and meta.get("meeting") and "（" not in title and "(" not in title:
        title = f"{title}（{meta['meeting']}）"
    if title:
        meta["title"] = title
    if "publisher" not in meta:
        for key in ("issuer", "speaker_org"):
            if meta.get(key):
                meta["publisher"] = meta[key]
                break
    body_start = lines[i].start if i < len(lines) else len(text)
    return meta, (body_start if i else 0)


def _key_block(lines: list[Line], meta: dict[str, str]) -> int:
    """Consume a prepended ``标题：…`` … ``正文：`` block; return the next line index.

    At least two label lines (or one followed by ``正文：``) make a block; a lone
    ``来源：…`` line is left to the body.
    """
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _KEY_LINE.match(lines[i].text)
        if not m:
            break
        label, value = m.groups()
        if label == "正文":
            # body text on the same line as 正文： stays in the body
            i = i if value.strip(SPACE) else i + 1
            break
        _put(found, label, value)
        i += 1
    if i < 2:
        return 0
    for key, value in found.items():
        meta.setdefault(key, value)
    return i


def _portal_table(lines: list[Line], i: int, meta: dict[str, str]) -> int:
    """Consume government-portal table rows from ``lines[i]``; return the next index.

    At least two rows make a table; a single ``… |`` line is left to the body.
    """
    found: dict[str, str] = {}
    start = i
    while i < len(lines):
        cells = _portal_row(lines[i].text)
        if cells is None:
            break
        if len(cells) == 1:
            pairs = _inline_pairs(cells[0])
            for label, value in pairs:
                _put(found, label, value)
            if not pairs:
                found.setdefault("title", cells[0])
        else:
            for k in range(0, len(cells) - 1, 2):
                if _is_label(cells[k]):
                    _put(found, cells[k], cells[k + 1])
        i += 1
    if i - start < 2:
        return start
    for key, value in found.items():
        meta.setdefault(key, value)
    return i


def _front_matter(lines: list[Line], i: int, meta: dict[str, str]) -> int:
    """Consume title / dateline / speaker / issuer / date lines from ``lines[i]``."""
    first = i
    issuers: list[str] = []
    while i < len(lines):
        s = lines[i].text
        dateline = _DATELINE.match(s)
        speaker = _SPEAKER.match(s)
        if dateline:
            _put(meta, "date", dateline.group(1))
            if dateline.group(2):
                meta.setdefault("meeting", f"{dateline.group(1)}{dateline.group(2)}")
        elif speaker:
            meta.setdefault("speaker_org", speaker.group(1))
            meta.setdefault("speaker", f"{speaker.group(2)} {speaker.group(3)}")
        elif i == first and _is_title_line(s):
            title = re.sub(f"[{SPACE}]+", "", s) if _SPACED_TITLE.fullmatch(s) else s
            meta.setdefault("title", title)
        elif i > first and len(s) <= 30 and _ORG_SUFFIX.search(s) and not _has_stop(s):
            issuers.append(s)
        else:
            break
        i += 1
    if issuers:
        meta.setdefault("issuer", "、".join(issuers))
    return i


def _has_stop(s: str) -> bool:
    return any(ch in _TITLE_STOP for ch in s)


def _is_title_line(s: str) -> bool:
    """A short first line that is not a sentence, heading or salutation."""
    return (
        len(s) <= 80
        and s[-1] not in _TITLE_STOP + "。"
        and "。" not in s
        and not _HEADING_START.match(s)
    )


def markdown_header(text: str) -> tuple[dict[str, str], int]:
    """Metadata of a Markdown file: a ``---`` YAML-style front matter, else the first ``#`` heading."""
    meta: dict[str, str] = {}
    body_start = 0
    m = re.match(r"---\n(.*?)\n---[ \t]*(?:\n|$)", text, re.S)
    if m:
        for line in m.group(1).split("\n"):
            key, sep, value = line.partition(":")
            value = value.strip().strip("\"'")
            if sep and value:
                key = key.strip().lower()
                key = {"author": "publisher"}.get(key, KEY_ALIASES.get(key, key))
                if key in _DATE_KEYS:
                    value = iso_date(value) or value
                meta.setdefault(key, value)
        body_start = m.end()
    if "title" not in meta:
        h = re.search(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", text[body_start:], re.M)
        if h:
            meta["title"] = h.group(1).strip()
    return meta, body_start


#: Words a document title ends with (公报, 通知, 预算 …).
_DOC_TYPE_END = re.compile(
    r"(?:公报|报告|预算|决算|通知|意见|方案|规划|计划|办法|决定|公告|通告|批复|纪要|要点|总结|条例|规定|细则|"
    r"(?:公报|报告)[（(]?(?:节选|摘要)[)）]?)$"
)
_TITLE_LINES = 12


def printed_front_matter(text: str, metadata: dict[str, str], declared: str = "") -> None:
    """Title, issuer and date printed at the top of a PDF/DOCX text, into ``metadata``.

    The title is :func:`document_title_at`, else the PDF's declared ``/Title``
    (``declared``), else what :func:`parse_header` found. The issuer
    (``publisher``) and ``date`` come from the lines after the title (or the
    first lines when the title is not printed): a short line ending like an
    organisation (``…统计局``, ``…调查队``) and a date line (``2017年3月16日``).
    """
    title, after = document_title_at(text)
    if not title and declared:
        title, after = declared, 0
    if title:
        metadata["title"] = title
    else:
        return
    for line in iter_lines(text)[after : after + 4]:
        s = re.sub(r"^[\u4e00-\u9fff]{2,8}[：:]\s*", "", line.text)  # 预算主管部门：…
        if "date" not in metadata and len(s) <= 20 and (date := iso_date(s)):
            metadata["date"] = date
        elif ("publisher" not in metadata and len(s) <= 40 and "。" not in s
              and _ORG_SUFFIX.search(s.split()[-1])):
            metadata["publisher"] = s


def document_title_at(text: str) -> tuple[str, int]:
    """The title printed near the top of an extracted PDF/DOCX text, or '' when none.

    The first of the top lines ending with a document-type word (``…统计公报``,
    ``…的通知``, ``…部门预算``); a short line just above it that is part of the
    title (no sentence punctuation, no document number ``〔2019〕``, no date, not a
    ``文件`` red-header line) is put in front of it: a title printed over two lines
    (``黔东南苗族侗族自治州`` / ``2016年国民经济和社会发展统计公报``).

    Returns:
        ``(title, next_line)``: the title and the index (among the non-blank lines)
        of the line after it; ``("", 0)`` when there is none.
    """
    lines = iter_lines(text)[:_TITLE_LINES]
    for k, line in enumerate(lines):
        s = re.sub(r"(?<=[\u4e00-\u9fff])[ \u3000]+(?=[\u4e00-\u9fff])", "", line.text)
        if len(s) > 60 or "。" in s or not _DOC_TYPE_END.search(s):
            continue
        if k:
            above = lines[k - 1].text
            if (len(above) + len(s) <= 60 and not re.search(r"[。，：:；〔\[]|文件$|\d+年\d+月", above)
                    and not _ORG_SUFFIX.search(above)):
                s = above + s
        return s, k + 1
    return "", 0
