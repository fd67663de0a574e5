"""Article text and metadata of an HTML page (see :func:`html_to_text`)."""

from __future__ import annotations

import re

from qa.documents.decoding import _CONTROL_MAP
from qa.documents.header import _put, iso_date
from qa.documents.lines import SPACE

_NOISE_TAGS = (
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "nav", "header",
    "footer", "aside", "form", "button", "select", "input", "textarea", "link", "meta",
    "object", "embed", "img", "video", "audio", "map",
)  # fmt: skip
_BLOCK_TAGS = (
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
    "section", "article", "blockquote", "pre", "dd", "dt", "dl", "center", "main", "td", "th",
)  # fmt: skip
#: CMS comment markers around the article body, e.g. Hanweb's
#: ``<!--ZJEG_RSS.content.begin-->`` … ``<!--ZJEG_RSS.content.end-->``.
_CONTENT_BEGIN = re.compile(r"<!--\s*([\w.$\[\]<>]*?content)[._ -]?(begin|start)\s*-->", re.I)
_HTML_DATE_META = ("pubdate", "publishdate", "article:published_time", "firstpublishedtime", "date")
_HTML_SOURCE_META = ("contentsource", "source", "author")
_HTML_TITLE_META = ("articletitle", "og:title", "title")
_PAGE_LABELS = re.compile(
    r"(索引号|发布机构|发文机关|成文日期|发布日期|文号)\s*[:：]\s*([^\s|]+(?: \d\d:\d\d)?)"
)


def html_to_text(raw: str) -> tuple[str, dict[str, str]]:
    """Article text and metadata of an HTML page.

    Metadata comes from ``<meta>`` tags (``ArticleTitle``/``og:title``,
    ``PubDate``/``publishdate``…, ``contentSource``, ``SiteName``, ``ColumnName``,
    ``url``), then from labels in the page text (``索引号：``, ``发布日期：``).
    The body is the HTML between CMS content markers (``<!--…content.begin-->``
    … ``<!--…content.end-->``) where present, else the element whose ``<p>``
    children hold the most non-link text (the text-density idea of Readability
    and of GeneralNewsExtractor). Scripts, styles, navigation, forms and images
    (with their base64 data) are dropped.

    Returns:
        ``(text, metadata)``: ``text`` is the title line followed by one line per
        non-empty block of the article, indentation and ``&nbsp;`` removed.
    """
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(raw, "lxml")
    meta = _html_meta(soup)
    region = _marked_region(raw)
    container = BeautifulSoup(region, "lxml") if region is not None else soup
    for node in container.find_all(string=lambda s: isinstance(s, Comment)):
        node.extract()
    for tag in container.find_all(_NOISE_TAGS):
        tag.decompose()
    _page_labels(soup.get_text(" "), meta)
    if region is None:
        container = _densest_block(container) or container.body or container
    blocks = _block_texts(container)
    title = meta.get("title") or (blocks[0] if blocks else "")
    title = re.sub(r"\s+", " ", title).strip()
    blocks = [b for b in blocks if b != title]
    if title:
        meta["title"] = title
    text = "\n".join([title, *blocks] if title else blocks)
    return text.translate(_CONTROL_MAP), meta


def _html_meta(soup) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        name = (tag.get("name") or tag.get("property") or "").strip().lower()
        content = (tag.get("content") or "").strip()
        if name and content:
            tags.setdefault(name, content)
    meta: dict[str, str] = {}
    title_tag = soup.find("title")
    for key in _HTML_TITLE_META:
        if tags.get(key):
            meta["title"] = tags[key]
            break
    else:
        h1 = soup.find("h1")
        if h1 and h1.get_text(strip=True):
            meta["title"] = h1.get_text(" ", strip=True)
        elif title_tag and title_tag.get_text(strip=True):
            meta["title"] = re.split(r"\s*[_|–—-]\s*", title_tag.get_text(strip=True))[0]
    for key in _HTML_DATE_META:
        if tags.get(key) and iso_date(tags[key]):
            meta["date"] = iso_date(tags[key])
            meta["datetime"] = tags[key]
            break
    for key in _HTML_SOURCE_META:
        if tags.get(key):
            meta["publisher"] = tags[key]
            break
    for key, out in (("sitename", "site_name"), ("columnname", "column"), ("url", "url")):
        if tags.get(key):
            meta[out] = tags[key]
    if "publisher" not in meta and "site_name" in meta:
        meta["publisher"] = meta["site_name"]
    return meta


def _page_labels(page_text: str, meta: dict[str, str]) -> None:
    for m in _PAGE_LABELS.finditer(page_text):
        _put(meta, m.group(1), m.group(2))


def _marked_region(raw: str) -> str | None:
    """HTML between a ``<!--X.content.begin-->`` comment and its ``<!--X.content.end-->``."""
    for m in _CONTENT_BEGIN.finditer(raw):
        end_marker = re.compile(rf"<!--\s*{re.escape(m.group(1))}[._ -]?(end|stop)\s*-->", re.I)
        e = end_marker.search(raw, m.end())
        if e and raw[m.end() : e.start()].strip():
            return raw[m.end() : e.start()]
    return None


def _visible_len(s: str) -> int:
    return sum(1 for ch in s if ch.isalnum())


def _densest_block(soup):
    """The element whose direct ``<p>``/``<br>`` text, less link text, is longest (or None)."""
    scores: dict[int, tuple[int, object]] = {}
    for p in soup.find_all(["p", "br"]):
        parent = p.parent
        if parent is None:
            continue
        if p.name == "p":
            n = _visible_len(p.get_text()) - sum(
                _visible_len(a.get_text()) for a in p.find_all("a")
            )
        else:
            n = _visible_len(str(p.previous_sibling or ""))
        old = scores.get(id(parent), (0, parent))[0]
        scores[id(parent)] = (old + max(n, 0), parent)
    if not scores:
        return None
    best_score, best = max(scores.values(), key=lambda sv: sv[0])
    return best if best_score > 0 else None


def _block_texts(node) -> list[str]:
    """One string per block element / ``<br>`` line, whitespace collapsed, empty ones dropped."""
    for br in node.find_all("br"):
        br.replace_with("\n")
    for tag in node.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    out = []
    for line in node.get_text().split("\n"):
        line = re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip(SPACE)
        if _visible_len(line):
            out.append(line)
    return out
