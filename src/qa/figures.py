"""Every quantity in a document as a :class:`Figure` record (value, unit, metric, period).

Public API::

    extract_figures(doc, chunks) -> list[Figure]      # in document order
    filter_figures(figures, query=None, period=None) -> list[Figure]
    format_figures(figures, fmt="table") -> str         # "table" | "csv" | "json"
    parse_number(text) -> float                          # "60.3", "三", "1.6万" ...

How a figure is read (rules, not per-document cases; the unit tables below are
the whole vocabulary):

* **Number**: Arabic (``60.3``, ``1,234``, full-width digits) or Chinese
  (``三``, ``十``, ``二十五``, ``两``). ``Figure.value`` is the number *as written*
  and the unit carries the magnitude: ``60.3亿元`` → value 60.3, unit ``亿元``;
  ``1.6万余`` → value 1.6, unit ``万``, qualifier ``余``. :meth:`Figure.scaled_value`
  applies the magnitude (1.6万 → 16000).
* **Sign**: a ``-`` that does not stand between two numbers is a sign
  (``同比分别-6.2%、-19.3%`` → -6.2, -19.3; ``1-10月`` is a range).
* **Changes**: a rate (``%``, ``‰``, ``个百分点``, ``倍``) after a change word
  (``同比``, ``增长``, ``下降``, ``提高`` …) has ``is_change=True``. The value keeps
  the number as written; the direction is in ``direction`` (+1 up, -1 down):
  ``下降5.7%`` → value 5.7, direction -1; :attr:`Figure.change` gives -5.7.
* **Qualifiers**: ``余``/``多`` inside or after the number (``1600余万元``, ``1.6万余``)
  and ``以上``/``以下``/``左右``/``以内`` after the unit (``4.6个以上``) are part of
  ``text``; leading ones (``约``, ``近``, ``超``, ``超过``, ``逾``, ``不足`` …) stand
  just before ``start`` and are only recorded in ``qualifier``.
* **Not figures**: years and durations (a number followed by ``年``), dates and
  times (``3月``, ``21日``, ``2024-03-21``, ``11:04``), ordinals (``第八批``),
  list and section numbers (``一是``, ``（1）``, ``1.``), footnote markers
  (``①``, ``[1]``), anything inside quotation marks or book-title marks
  (``“2332”``, ``“三个一点”``: names and slogans), codes glued to Latin letters
  (``5G``, ``A2``), a bare ``一`` (``一个``, ``一批``, ``一场接一场``: the article,
  not a count), Chinese numerals without a unit, and fixed political or
  statistical terms (:data:`FIXED_TERMS`: ``三次产业``, ``八项规定`` …).
  A bare Arabic number without a unit is a figure only after ``为``/``达``/``是``
  at the end of a clause (``指数为100.2。``); ratios (``3.9:39.0:57.1``, unit ``:``,
  value = first term) and fractions (``1/4``, value 0.25) always are.
* **Ranges** ``3-5个`` are one figure: ``value`` 3, ``value_to`` 5.
* **Metric**: the noun phrase before the number in its clause, after dropping
  link words (``实现``, ``完成``, ``达到``, ``为``, ``同比增长`` …), footnote markers
  (``全市生产总值②达到`` → ``全市生产总值``) and leading adverbials (``全年``,
  ``其中``, ``累计``, ``力争`` …). A counted noun after a counter (``三部电梯加装`` →
  ``电梯加装``, ``提供575个岗位`` → ``岗位``) is preferred. A change without its own
  metric (``13.1亿元,同比增长20.4%``) takes the metric of the nearest level figure
  before it in the sentence; the respectively-construction
  (``A 60.3亿元,B 2亿元,同比分别-6.2%、-19.3%``) pairs the k changes with the k
  level figures before them, in order. Inherited metrics keep the offsets of
  the words they were read from.
* **Period**: the year nearest before the figure in its sentence (``2024年…``);
  otherwise the innermost section heading with a year (``一、2023年工作回顾``);
  otherwise a year in the document title that is not a date. **Kind**:
  ``target`` after a planning cue in the sentence (``力争``, ``确保``, ``计划``,
  ``预计``, ``目标为`` …; not after ``完成``/``实现``: ``完成年度计划82.3%`` is a
  result), otherwise from the heading (``回顾``/``总结`` → ``actual``,
  ``主要工作``/``安排``/``计划`` → ``target``) or a title that names a bulletin
  (``公报`` → ``actual``); ``''`` when the sentence names a year other than the
  section's.

All offsets are characters into ``Document.text``, half-open ``[start, end)``;
``doc.text[f.start:f.end] == f.text`` and
``doc.text[f.metric_start:f.metric_end] == f.metric`` for every figure.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from qa.documents import Document
from qa.script import fold

if TYPE_CHECKING:  # pragma: no cover
    from qa.chunking import Chunk

__all__ = [
    "FORMATS",
    "Figure",
    "extract_figures",
    "filter_figures",
    "format_figures",
    "parse_number",
    "unit_scale",
]


@dataclass(frozen=True)
class Figure:
    """One quantity found in a document.

    Offsets are characters into ``Document.text``, half-open.

    Attributes:
        doc_id, chunk_id: where it is (the first chunk holding its sentence).
        text: the surface form, exactly ``doc.text[start:end]``: number with its
            sign, trailing qualifier and unit (``60.3亿元``, ``-6.2%``, ``1600余万元``,
            ``三部``, ``4.6个以上``, ``1.6万余``).
        start, end: offsets of ``text``.
        value: the number as written, as a float, sign included (``三`` → 3.0,
            ``-6.2%`` → -6.2, ``60.3亿元`` → 60.3: the magnitude stays in ``unit``).
        unit: ``亿元``, ``万元``, ``%``, ``个``, ``家``, ``人次``, ``万`` … ('' if none;
            ``:`` for a ratio).
        qualifier: ``余``, ``以上``, ``约`` … ('' if none; a leading and a trailing
            one are concatenated, leading first).
        metric: what it measures (``地区生产总值``), '' if unknown; exactly
            ``doc.text[metric_start:metric_end]``.
        metric_start, metric_end: offsets of the metric words (-1 if unknown).
        period: year the figure refers to (``"2023"``), '' if unknown.
        kind: ``actual`` (a result), ``target`` (a plan or goal) or ''.
        is_change: True for a year-on-year or growth rate (``同比增长20.4%``).
        sentence_start, sentence_end: offsets of the sentence it stands in.
        direction: for a change, +1 (增长, 提高 …) or -1 (下降, 减少 …, or a
            negative number); 0 otherwise.
        value_to: upper end of a range (``3-5个`` → 5.0), else None.
    """

    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    value: float
    unit: str
    qualifier: str
    metric: str
    metric_start: int
    metric_end: int
    period: str
    kind: str
    is_change: bool
    sentence_start: int
    sentence_end: int
    direction: int = 0
    value_to: float | None = None

    @property
    def change(self) -> float | None:
        """The signed change for a rate of change (``下降5.7%`` → -5.7), else None."""
        if not self.is_change:
            return None
        return -abs(self.value) if self.direction < 0 else self.value

    def scaled_value(self) -> float:
        """``value`` times the magnitude in ``unit`` (``1.6万`` → 16000.0)."""
        return self.value * unit_scale(self.unit)

    def to_dict(self) -> dict:
        """All fields as a JSON-ready dict (field name → value)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ----------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------

#: Magnitude prefixes (multiplier). 千 and 百 alone are not used as prefixes:
#: they clash with 千米, 千瓦, 百分点.
MAGNITUDES: dict[str, float] = {
    "万亿": 1e12,
    "千万": 1e7,
    "百万": 1e6,
    "亿": 1e8,
    "万": 1e4,
}

#: Base units by category. A unit is ``[magnitude] base``, or a magnitude alone.
UNITS: dict[str, tuple[str, ...]] = {
    "rate": ("%", "％", "‰", "个百分点", "百分点", "倍"),
    "money": ("元", "美元", "港元", "欧元"),
    "area": ("平方公里", "平方千米", "平方米", "平米", "亩", "公顷"),
    "length": ("公里", "千米", "延米", "米"),
    "volume": ("立方米",),
    "mass": ("吨", "千克", "公斤", "斤"),
    "energy": ("千瓦时", "千瓦", "兆瓦", "蒸吨"),
    "transport": ("吨公里", "人公里", "标准箱", "标箱", "架次", "航次"),
    "time": ("个月", "小时", "分钟", "天", "周岁", "岁"),
    "people": ("人次", "户次", "家次", "人", "名", "户", "位"),
    "events": ("场次", "班次", "车次"),
    "count": (
        "个", "家", "件", "场", "次", "项", "部", "起", "条", "所", "座", "间", "处",
        "宗", "只", "头", "辆", "台", "套", "张", "篇", "本", "册", "支", "种", "类",
        "盏", "幢", "栋", "棵", "株", "艘", "批次", "批", "根", "份", "笔", "例", "枚", "组",
        "队", "村", "床", "户",
    ),
}
_UNIT_CATEGORY = {u: cat for cat, units in UNITS.items() for u in units}
#: Units of a rate: only these can be a change.
RATE_UNITS = frozenset(UNITS["rate"])
#: Units that count things: a noun right after them is the metric (三部电梯).
COUNTER_UNITS = frozenset(UNITS["count"] + UNITS["people"] + UNITS["events"])

#: Qualifiers between the number and the unit, or after a magnitude.
INNER_QUALIFIERS = "余多"
#: Qualifiers after the unit (part of ``text``).
POST_QUALIFIERS = ("以上", "以下", "以内", "左右")
#: Qualifiers just before the number (not part of ``text``).
LEAD_QUALIFIERS = ("大约", "将近", "接近", "超过", "不足", "不到", "约", "近", "超", "逾", "仅")

#: Fixed terms whose numeral is part of a name, not a count.
FIXED_TERMS = (
    "三次产业", "八项规定", "五位一体", "四个全面", "四个意识", "四个自信", "两个维护",
    "两个确立", "两个毫不动摇", "三个代表", "两个一百年", "三人篮球", "铁人三项",
)

#: Words between a metric and its number, dropped from the end of the metric.
_LINK_WORDS = (
    "比上年同期", "比上年末", "较上年同期", "较上年末", "比去年同期", "比上年", "较上年",
    "比去年", "较去年", "比年初", "同比", "环比", "分别", "达到", "提高到", "提升到",
    "增长到", "增加到", "下降到", "降低到", "增长", "下降", "提高", "提升", "增加",
    "减少", "降低", "上升", "回落", "下滑", "上涨", "扩大", "缩小", "收窄", "实现",
    "完成", "累计", "共计", "合计", "总计", "突破", "保持在", "控制在", "稳定在",
    "年均", "平均", "分别为", "均为", "均达", "均", "保持", "达", "为", "至", "到", "了",
    "共", "在", "的",
) + LEAD_QUALIFIERS
#: Words dropped from the start of a metric.
_LEAD_WORDS = (
    "初步核算", "全年", "年末", "年初", "其中", "累计", "共计", "合计", "总计",
    "实现", "完成", "达到", "获得", "取得", "力争", "确保", "争取", "力求", "预计",
    "计划", "拥有", "全部", "分别", "共", "占",
)
_CHANGE_UP = ("增长", "提高", "提升", "增加", "上升", "上涨", "扩大")
_CHANGE_DOWN = ("下降", "减少", "降低", "回落", "下滑", "缩小", "收窄")
_CHANGE_WORDS = _CHANGE_UP + _CHANGE_DOWN + ("同比", "环比", "比上年", "较上年", "比去年")
#: Planning cues that make a figure a target: strong ones anywhere, weak ones
#: (also used for results: 确保了, 争取上级资金) only outside a review section.
_TARGET_CUES = ("力争", "力求", "预计", "目标为", "目标是", "目标：", "目标:", "预期目标")
_WEAK_TARGET_CUES = ("确保", "争取", "计划")
#: A cue after these (in the same clause) names a plan that was met: a result.
_ACHIEVED = ("完成", "实现", "达成", "超额", "占")
#: Unit categories a Chinese numeral may carry without a magnitude (三部, 五场).
_CN_COUNTED = ("count", "people", "events", "time")
#: Words that end a counted noun after its counter (三部电梯加装 → 电梯加装).
_NOUN_STOPS = (
    "的", "全部", "全年", "顺利", "成功", "积极", "提供", "开展", "进行", "实施", "实现",
    "完成", "试点", "参加", "参与", "获得", "入选", "安装", "均", "被", "在", "已",
)
#: After ``N次`` these make the number a session's ordinal (十一届四次全会).
_SESSION_WORDS = ("会议", "全会", "全体会议", "全委", "常委会", "代表大会", "大会")
_MAX_METRIC = 20  # characters kept at most of a long metric phrase

_ACTUAL_HEADINGS = ("回顾", "总结", "完成情况", "工作情况", "执行情况", "成绩")
_TARGET_HEADINGS = ("主要工作", "工作安排", "安排", "计划", "思路", "目标", "任务", "打算", "展望")
_ACTUAL_TITLES = ("公报", "统计")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}

_DIGIT = "0-9０-９"
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_ALL_BASE = tuple(u for units in UNITS.values() for u in units)
_TAIL_RE = re.compile(
    rf"(?P<q1>[{INNER_QUALIFIERS}])?(?P<mag>{_alt(MAGNITUDES)})?(?P<q2>[{INNER_QUALIFIERS}])?"
    rf"(?P<base>{_alt(_ALL_BASE)})?(?:/(?P<per>{_alt(_ALL_BASE)}))?"
    rf"(?P<q3>{_alt(POST_QUALIFIERS)})?"
)
_NUM_RE = re.compile(
    rf"(?P<ar>[{_DIGIT}]{{1,3}}(?:,[0-9]{{3}})+(?![0-9])(?:[.．][{_DIGIT}]+)?"
    rf"|[{_DIGIT}]+(?:[.．][{_DIGIT}]+)?)"
    r"|(?P<cn>[零〇一二两三四五六七八九十百千万亿]+)"
)
_ARABIC_RE = re.compile(rf"[{_DIGIT}]+(?:[.．][{_DIGIT}]+)?")
_RATIO_RE = re.compile(rf"(?:[:：][{_DIGIT}]+(?:[.．][{_DIGIT}]+)?)+")
_FRACTION_RE = re.compile(rf"/([{_DIGIT}]+)(?![{_DIGIT}.])")
_RANGE_RE = re.compile(rf"[-–—~～至到]([{_DIGIT}]+(?:[.．][{_DIGIT}]+)?)")
_DATE_RE = re.compile(
    rf"[{_DIGIT}]{{4}}[-/.][{_DIGIT}]{{1,2}}[-/.][{_DIGIT}]{{1,2}}"
    rf"|(?<![{_DIGIT}.:：])[{_DIGIT}]{{1,2}}[:：][{_DIGIT}]{{2}}(?:[:：][{_DIGIT}]{{2}})?(?![{_DIGIT}.:：])"
)
_YEAR_RE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})(?:[-—~～至到](?:19|20)[0-9]{2})?年")
_TITLE_YEAR_RE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})年(?![0-9]{1,2}月|度?[0-9])")
_MARKER_RE = re.compile(r"(?:[\u2460-\u2473\u2776-\u277f]|\^?\[[0-9]{1,3}\])$")
_CLAUSE_SEPS = set("，,；;：:。！？!?")
_SIGNS = "-−－"
_OPEN_QUOTES = {"“": "”", "《": "》", "「": "」", "『": "』", "〈": "〉"}
_MAX_QUOTE = 40  # a quoted span longer than this is a quotation, not a name


# ----------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------


def _parse_chinese(text: str) -> int | None:
    """Value of a Chinese numeral (``三`` → 3, ``二十五`` → 25, ``一万五千`` → 15000).

    Returns None when ``text`` is not a well-formed numeral (``一二``, ``十四五``,
    ``八八``) or holds no digit at all (``千万``).
    """
    if not text or not any(c in _CN_DIGITS or c == "十" for c in text):
        return None
    total, section, digit = 0, 0, None
    last_small = 10_000  # the small unit just used; they must decrease
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None:
                return None  # two digits in a row
            digit = _CN_DIGITS[ch]
        elif ch in _CN_SMALL:
            unit = _CN_SMALL[ch]
            if unit >= last_small:
                return None
            section += (1 if digit is None else digit) * unit
            digit, last_small = None, unit
        else:  # 万 / 亿
            big = _CN_BIG[ch]
            section += digit or 0
            if section == 0:
                return None
            total = (total + section) * big if big > 1e4 else total + section * big
            section, digit, last_small = 0, None, 10_000
    return total + section + (digit or 0)


def parse_number(text: str) -> float:
    """Parse a numeral, applying a trailing magnitude.

    Args:
        text: Arabic (``60.3``, ``1,234``, ``-6.2``, full-width digits) or Chinese
            (``三``, ``二十五``, ``两``) numeral, optionally followed by a magnitude
            (``1.6万`` → 16000.0, ``60.3亿`` → 6.03e9, ``三万`` → 30000.0).

    Returns:
        The value as a float.

    Raises:
        ValueError: ``text`` is not a numeral.
    """
    s = text.strip().translate(_FULLWIDTH).replace("−", "-")
    scale = 1.0
    for mag in sorted(MAGNITUDES, key=len, reverse=True):
        if s.endswith(mag) and len(s) > len(mag):
            head = s[: -len(mag)]
            if head[-1].isdigit() or head[-1] in _CN_DIGITS or head[-1] in _CN_SMALL:
                s, scale = head, MAGNITUDES[mag]
                break
    if re.fullmatch(r"[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?", s):
        return float(s.replace(",", "")) * scale
    sign = -1.0 if s.startswith("-") else 1.0
    value = _parse_chinese(s.lstrip("-+"))
    if value is None:
        raise ValueError(f"not a number: {text!r}")
    return sign * value * scale


def unit_scale(unit: str) -> float:
    """Multiplier of the magnitude at the start of ``unit`` (``亿元`` → 1e8, ``%`` → 1)."""
    for mag in sorted(MAGNITUDES, key=len, reverse=True):
        if unit.startswith(mag):
            return MAGNITUDES[mag]
    return 1.0


def _arabic(text: str) -> float:
    return float(text.translate(_FULLWIDTH).replace(",", ""))


# ----------------------------------------------------------------------------
# Scanning one sentence
# ----------------------------------------------------------------------------


@dataclass
class _Quantity:
    """A number found in a sentence, before its metric is known (offsets in doc.text)."""

    start: int
    end: int
    value: float
    unit: str
    lead: str  # leading qualifier (just before start)
    trail: str  # trailing qualifier (inside text)
    value_to: float | None = None


def _quote_mask(text: str) -> bytearray:
    """1 for every character inside quotation or book-title marks (short spans only).

    Curly quotes pair with their closing mark; straight ASCII quotes pair within a line.
    """
    mask = bytearray(len(text))
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        close = _OPEN_QUOTES.get(ch)
        if close is None and ch == '"':
            close = '"'
        if close is not None:
            j = text.find(close, i + 1, min(n, i + 1 + _MAX_QUOTE))
            if j != -1 and "\n" not in text[i:j]:
                mask[i : j + 1] = b"\x01" * (j + 1 - i)
                i = j + 1
                continue
        i += 1
    return mask


def _is_clause_sep(text: str, i: int) -> bool:
    ch = text[i]
    if ch.isspace():
        return True
    if ch not in _CLAUSE_SEPS:
        return False
    if ch in ",:：" and 0 < i < len(text) - 1:
        return not (text[i - 1].isdigit() and text[i + 1].isdigit())
    return True


def _scan(text: str, lo: int, hi: int, quoted: bytearray) -> list[_Quantity]:
    """All quantities in ``text[lo:hi]`` (one sentence), left to right."""
    found: list[_Quantity] = []
    blocked = bytearray(hi - lo)
    for m in _DATE_RE.finditer(text, lo, hi):
        blocked[m.start() - lo : m.end() - lo] = b"\x01" * (m.end() - m.start())
    pos = lo
    while True:
        m = _NUM_RE.search(text, pos, hi)
        if m is None:
            break
        pos = m.end()
        q = _read_arabic(text, m, lo, hi, found) if m.group("ar") else _read_chinese(text, m, hi)
        if q is None:
            continue
        if quoted[m.start()] or blocked[m.start() - lo]:
            pos = max(pos, q.end)
            continue
        found.append(q)
        pos = q.end
    return found


def _lead_qualifier(text: str, start: int, lo: int) -> str:
    for w in sorted(LEAD_QUALIFIERS, key=len, reverse=True):
        if start - len(w) >= lo and text.startswith(w, start - len(w)):
            return w
    return ""


def _read_arabic(
    text: str, m: re.Match, lo: int, hi: int, found: list[_Quantity]
) -> _Quantity | None:
    start, end = m.start(), m.end()
    prev = text[start - 1] if start > lo else ""
    if prev and (prev.isascii() and (prev.isalnum() or prev in "._/^")):
        return None  # part of a code, a number or a decimal
    if prev in "[［〔【(（第" and prev:
        if prev == "第" or _closes_bracket(text, end, hi):
            return None
    value = _arabic(m.group("ar"))
    nxt = text[end] if end < hi else ""
    if nxt and nxt.isascii() and nxt.isalpha():
        return None  # 5G, 2B
    # sign: a minus that does not join two numbers or follow a figure
    if prev in _SIGNS and start - 1 >= lo:
        before = text[start - 2] if start - 2 >= lo else ""
        after_figure = bool(found) and found[-1].end == start - 1
        if not (before.isalnum() and before.isascii()) and before not in "%％‰" and not after_figure:
            start -= 1
            value = -value
    # dates, years and durations
    if nxt in ("年", "月", "日", "号", "时"):
        return None
    # ratio 3.9:39.0:57.1
    r = _RATIO_RE.match(text, end, hi)
    if r:
        return _Quantity(start, r.end(), value, ":", _lead_qualifier(text, start, lo), "")
    f = _FRACTION_RE.match(text, end, hi)
    if f:
        den = _arabic(f.group(1))
        if den:
            return _Quantity(start, f.end(), value / den, "", _lead_qualifier(text, start, lo), "")
    value_to = None
    rg = _RANGE_RE.match(text, end, hi)
    if rg and _TAIL_RE.match(text, end, hi).end() == end:
        after = text[rg.end()] if rg.end() < hi else ""
        if after in ("年", "月", "日", "号", "时"):
            return None  # 1-10月, 2021-2023年
        value_to = _arabic(rg.group(1))
        end = rg.end()
    t = _TAIL_RE.match(text, end, hi)
    unit = (t.group("mag") or "") + (t.group("base") or "")
    if t.group("per"):
        unit += "/" + t.group("per")
    trail = (t.group("q1") or "") + (t.group("q2") or "") + (t.group("q3") or "")
    if not unit:
        if not _bare_number_ok(text, m.start(), t.end(), lo, hi):
            return None
    if value_to is not None and not unit:
        return None
    return _Quantity(
        start, t.end(), value, unit, _lead_qualifier(text, start, lo), trail, value_to
    )


def _closes_bracket(text: str, end: int, hi: int) -> bool:
    return end < hi and text[end] in "]］〕】)）"


def _bare_number_ok(text: str, start: int, end: int, lo: int, hi: int) -> bool:
    """A number without a unit counts only as ``…为100.2`` at the end of a clause."""
    if end < hi and not _is_clause_sep(text, end) and text[end] not in "、":
        return False
    before = text[max(lo, start - 2) : start]
    return before.endswith(("为", "达", "是")) and not before.endswith("第")


def _in_fixed_term(text: str, pos: int) -> bool:
    """True when ``pos`` lies inside one of :data:`FIXED_TERMS`."""
    lo = max(0, pos - 4)
    window = text[lo : pos + 8]
    for term in FIXED_TERMS:
        k = window.find(term)
        if k != -1 and lo + k <= pos < lo + k + len(term):
            return True
    return False


def _read_chinese(text: str, m: re.Match, hi: int) -> _Quantity | None:
    raw = m.group("cn")
    start = m.start()
    if start > 0 and text[start - 1] == "第":
        return None
    if _in_fixed_term(text, start):
        return None
    mag = ""
    digits = raw
    for big in ("亿", "万"):
        if digits.endswith(big) and len(digits) > 1:
            digits, mag = digits[:-1], big
            break
    if (digits == "一" and not mag) or set(digits) <= {"零", "〇"}:
        return None
    value = _parse_chinese(digits)
    if value is None:
        return None
    t = _TAIL_RE.match(text, m.end(), hi)
    if not t.group("base"):
        return None
    if t.group("mag") and mag:
        return None
    if t.group("base") == "次" and text.startswith(_SESSION_WORDS, t.end()):
        return None  # 四次会议, 六次全会: a session number
    if not (mag or t.group("mag")) and _UNIT_CATEGORY.get(t.group("base")) not in _CN_COUNTED:
        return None  # 三元 (a name); Chinese numerals count things, amounts carry 万/亿
    unit = mag + (t.group("mag") or "") + t.group("base")
    trail = (t.group("q1") or "") + (t.group("q2") or "") + (t.group("q3") or "")
    return _Quantity(start, t.end(), float(value), unit, "", trail)


# ----------------------------------------------------------------------------
# Metric, change, period
# ----------------------------------------------------------------------------


@dataclass
class _Reading:
    """A quantity with what was read around it (offsets in doc.text)."""

    q: _Quantity
    metric: tuple[int, int]  # (-1, -1) if none
    link: str  # the link words between metric and number
    is_change: bool
    direction: int  # +1 / -1 after a change word (增长 / 下降), else 0


def _strip_metric(text: str, s: int, e: int) -> tuple[int, int, str]:
    """Drop link words and markers from the end and adverbials from the start.

    Returns (start, end, link words dropped from the end).
    """
    link = ""
    changed = True
    while changed and s < e:
        changed = False
        seg = text[s:e]
        mk = _MARKER_RE.search(seg)
        if mk:
            e -= len(mk.group(0))
            changed = True
            continue
        for w in sorted(_LINK_WORDS, key=len, reverse=True):
            if seg.endswith(w) and not _word_tail(seg, w):
                e -= len(w)
                link = w + link
                changed = True
                break
    changed = True
    while changed and s < e:
        changed = False
        seg = text[s:e]
        if seg[0] in "、和及与":
            s += 1
            changed = True
            continue
        for w in sorted(_LEAD_WORDS, key=len, reverse=True):
            if seg.startswith(w) and len(seg) > len(w) and not seg.startswith("占比"):
                s += len(w)
                changed = True
                break
    while s < e and not _is_word_char(text[s]):
        s += 1
    while s < e and not _is_word_char(text[e - 1]):
        e -= 1
    if text[e - 1 : e] in "）)" and s < e:
        k = max(text.rfind("（", s, e), text.rfind("(", s, e))
        if k > s:
            e = k  # a trailing note: 固定资产投资（不含农户，下同）
    if e - s > _MAX_METRIC:
        s = e - _MAX_METRIC
        k = max(text.rfind(c, s, e) for c in "、的")
        if k != -1 and e - k > 2:
            s = k + 1  # start at a word boundary
        while s < e and not _is_word_char(text[s]):
            s += 1
    return s, e, link


def _word_tail(seg: str, w: str) -> bool:
    """True when a one-character link word ends a longer word (行为, 所在, 目的)."""
    before = seg[-2:-1]
    return (
        (w == "为" and before in ("行", "作", "认", "成", "因"))
        or (w == "在" and before in ("所", "存", "现", "实"))
        or (w == "的" and before in ("目", "有", "真"))
    )


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch).startswith("L") or ch in "”》）)"


def _counted_noun(text: str, pos: int, hi: int) -> tuple[int, int] | None:
    """The noun right after a counter (``三部电梯加装`` → ``电梯加装``), if any."""
    if text.startswith("的", pos):
        pos += 1  # 800户的改造任务
    e = pos
    while e < hi and e - pos < 12 and _is_cjk(text[e]):
        e += 1
    seg = text[pos:e]
    for w in _NOUN_STOPS:
        k = seg.find(w)
        if k != -1:
            seg = seg[:k]
    return (pos, pos + len(seg)) if seg else None


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" and ch not in _CN_DIGITS


def _base_unit(unit: str) -> str:
    """``unit`` without its magnitude prefix (``万人次`` → ``人次``)."""
    for mag in sorted(MAGNITUDES, key=len, reverse=True):
        if unit.startswith(mag) and len(unit) > len(mag):
            return unit[len(mag) :]
    return unit


def _clause_seps(text: str, lo: int, hi: int) -> list[int]:
    """Clause separators in ``text[lo:hi]``, ignoring those inside brackets."""
    seps, depth = [], 0
    for i in range(lo, hi):
        ch = text[i]
        if ch in "（(":
            close = "）" if ch == "（" else ")"
            depth += 1 if text.find(close, i, hi) != -1 else 0
        elif ch in "）)" and depth:
            depth -= 1
        elif not depth and _is_clause_sep(text, i):
            seps.append(i)
    return seps


def _read_sentence(
    text: str, lo: int, hi: int, quantities: list[_Quantity]
) -> list[_Reading]:
    seps = _clause_seps(text, lo, hi)
    readings: list[_Reading] = []
    prev_end = lo
    for q in quantities:
        clause_start = max([lo] + [i + 1 for i in seps if i < q.start])
        s = max(clause_start, prev_end)
        ms, me, link = _strip_metric(text, s, q.start - len(q.lead))
        metric = (ms, me) if me > ms else (-1, -1)
        if (_base_unit(q.unit) in COUNTER_UNITS or q.unit in MAGNITUDES) and q.end < hi:
            noun = _counted_noun(text, q.end, hi)
            if noun:
                metric = noun
        moved = any(w in link for w in _CHANGE_WORDS)
        direction = 0
        if moved:
            down = q.value < 0 or any(w in link for w in _CHANGE_DOWN)
            direction = -1 if down else 1
        is_change = moved and q.unit in RATE_UNITS
        readings.append(_Reading(q, metric, link, is_change, direction))
        prev_end = q.end
    _link_metrics(text, readings)
    return readings


def _joined(text: str, a: _Reading, b: _Reading) -> bool:
    """b follows a with only ``、``/``和``/``及`` between them."""
    gap = text[a.q.end : b.q.start - len(b.q.lead)]
    return len(gap) <= 1 and all(c in "、和及与" for c in gap)


def _levels(before: list[_Reading], change: _Reading, need: int = 1) -> list[_Reading]:
    """Level figures a change can refer to, best last.

    A change in percentage points refers to a rate (城镇化率为67.42%，提高0.94个百分点);
    a percentage change to an amount, not to a share (完成年度计划82.3%，同比增长15.3%
    refers to the investment before it). Falls back to any level figure.
    """
    levels = [r for r in before if not r.is_change and r.metric != (-1, -1)]
    points = _base_unit(change.q.unit) in ("个百分点", "百分点")
    preferred = [r for r in levels if (r.q.unit in RATE_UNITS) == points]
    return preferred if len(preferred) >= need else levels


def _restated(text: str, a: _Reading, b: _Reading) -> bool:
    """b restates a's metric in the next clause: ``增长11%，达到282亿元``."""
    gap = text[a.q.end : b.q.start - len(b.q.lead) - len(b.link)]
    return bool(b.link) and len(gap) == 1 and _is_clause_sep(text, a.q.end)


def _link_metrics(text: str, readings: list[_Reading]) -> None:
    """Give metrics to changes and list members that have none (in place)."""
    i = 0
    while i < len(readings):
        head = readings[i]
        run = [head]
        while i + len(run) < len(readings) and _joined(text, run[-1], readings[i + len(run)]):
            run.append(readings[i + len(run)])
        if "分别" in head.link and len(run) >= 2:
            for r in run[1:]:
                if head.is_change and r.q.unit in RATE_UNITS:
                    r.is_change = True
                    down = r.q.value < 0 or any(w in head.link for w in _CHANGE_DOWN)
                    r.direction = -1 if down else 1
            if head.metric == (-1, -1):
                levels = _levels(readings[:i], head, len(run))
                if len(levels) >= len(run):
                    for r, level in zip(run, levels[-len(run) :], strict=True):
                        r.metric = level.metric
            else:
                for r in run[1:]:
                    if r.metric == (-1, -1):
                        r.metric = head.metric
            i += len(run)
            continue
        if head.metric == (-1, -1):
            if head.direction:  # a change or an increment (比年初增加468.6亿元)
                levels = _levels(readings[:i], head)
                if levels:
                    head.metric = levels[-1].metric
            elif i > 0 and (_joined(text, readings[i - 1], head) or _restated(text, readings[i - 1], head)):
                head.metric = readings[i - 1].metric
        i += 1


def _heading_period(section_path: Sequence[str]) -> tuple[str, str]:
    """(year, kind) from the innermost heading that names a year."""
    for heading in reversed(section_path):
        m = _YEAR_RE.search(heading)
        if m:
            return m.group(1), _heading_kind(heading)
    return "", ""


def _heading_kind(heading: str) -> str:
    if any(w in heading for w in _ACTUAL_HEADINGS):
        return "actual"
    if any(w in heading for w in _TARGET_HEADINGS):
        return "target"
    return ""


def _title_period(title: str) -> tuple[str, str]:
    years = {m.group(1) for m in _TITLE_YEAR_RE.finditer(title)}
    if len(years) != 1:
        return "", ""
    kind = "actual" if any(w in title for w in _ACTUAL_TITLES) else ""
    return years.pop(), kind


def _date_year(date: str) -> str:
    m = re.match(r"((?:19|20)[0-9]{2})-", date)
    return m.group(1) if m else ""


def _has_target_cue(text: str, lo: int, pos: int, cues: Sequence[str]) -> bool:
    """A planning cue before ``pos`` in the sentence, not after 完成/实现 in its clause."""
    seg = text[lo:pos]
    for cue in cues:
        k = seg.find(cue)
        while k != -1:
            clause_start = max([0] + [i + 1 for i in range(k) if _is_clause_sep(seg, i)])
            done = seg.startswith("了", k + len(cue))  # 确保了: it happened
            if not done and not any(w in seg[clause_start:k] for w in _ACHIEVED):
                return True
            k = seg.find(cue, k + 1)
    return False


# ----------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------


def extract_figures(doc: Document, chunks: Sequence[Chunk]) -> list[Figure]:
    """Every quantity in ``doc`` as a :class:`Figure`, in document order.

    Args:
        doc: the document; every offset indexes ``doc.text``. Traditional
            Chinese is read through its Simplified folding (:func:`qa.script.fold`,
            same length), so units and cues match; ``text`` and ``metric`` are
            sliced from the original.
        chunks: its chunks (from :func:`qa.chunking.chunk_document`); their
            sentences are read, each sentence once even where chunks overlap,
            and their ``section_path`` gives the period. A chunk without
            sentences is read as one sentence.

    Returns:
        Figures sorted by ``start`` (see the module docstring for the rules).

    Raises:
        ValueError: a chunk belongs to another document or its offsets do not
            match ``doc.text``.
    """
    text = fold(doc.text)  # Traditional read as Simplified (same length); spans sliced from doc.text
    quoted = _quote_mask(text)
    title_year, title_kind = _title_period(doc.title or doc.metadata.get("title", ""))
    seen: set[tuple[int, int]] = set()
    figures: list[Figure] = []
    for chunk in sorted(chunks, key=lambda c: (c.start, c.end)):
        if chunk.doc_id != doc.id:
            raise ValueError(f"chunk {chunk.id} belongs to document {chunk.doc_id}, not {doc.id}")
        if doc.text[chunk.start : chunk.end] != chunk.text:
            raise ValueError(f"chunk {chunk.id} offsets do not match the document text")
        sec_year, sec_kind = _heading_period(chunk.section_path)
        if not sec_kind:
            sec_kind = next((k for k in map(_heading_kind, chunk.section_path) if k), "")
        sentences = [(s.start, s.end) for s in chunk.sentences] or [(chunk.start, chunk.end)]
        for lo, hi in sentences:
            if (lo, hi) in seen:
                continue
            seen.add((lo, hi))
            readings = _read_sentence(text, lo, hi, _scan(text, lo, hi, quoted))
            for r in readings:
                figures.append(
                    _figure(doc, chunk.id, text, lo, hi, r, sec_year, sec_kind, title_year, title_kind)
                )
    figures.sort(key=lambda f: (f.start, f.end))
    return figures


def _figure(
    doc: Document,
    chunk_id: str,
    text: str,
    lo: int,
    hi: int,
    r: _Reading,
    sec_year: str,
    sec_kind: str,
    title_year: str,
    title_kind: str,
) -> Figure:
    q = r.q
    years = [m for m in _YEAR_RE.finditer(text, lo, q.start)]
    if years:
        period = years[-1].group(1)
        kind = sec_kind if period == sec_year else ("" if sec_year else title_kind)
    elif sec_year:
        period, kind = sec_year, sec_kind
    elif title_year:
        period, kind = title_year, title_kind or sec_kind
    else:  # a dated brief (1-10月…): the year it was published
        period, kind = _date_year(doc.metadata.get("date", "")), sec_kind
    cues = _TARGET_CUES if sec_kind == "actual" else _TARGET_CUES + _WEAK_TARGET_CUES
    if _has_target_cue(text, lo, q.start, cues):
        kind = "target"
    ms, me = r.metric
    return Figure(
        doc_id=doc.id,
        chunk_id=chunk_id,
        text=doc.text[q.start : q.end],
        start=q.start,
        end=q.end,
        value=q.value,
        unit=q.unit,
        qualifier=q.lead + q.trail,
        metric=doc.text[ms:me] if ms >= 0 else "",
        metric_start=ms,
        metric_end=me,
        period=period,
        kind=kind,
        is_change=r.is_change,
        sentence_start=lo,
        sentence_end=hi,
        direction=r.direction,
        value_to=q.value_to,
    )


def filter_figures(
    figures: Iterable[Figure], query: str | None = None, period: str | int | None = None
) -> list[Figure]:
    """The figures that match a query and a period, in their order.

    Args:
        figures: figures from :func:`extract_figures`.
        query: whitespace-separated terms; a figure matches when every term occurs
            in its metric, text or unit (``托位`` matches ``新增托位``). None or
            blank matches all.
        period: a four-digit year (``2023`` or ``"2023"``); None matches all.

    Raises:
        ValueError: ``period`` is not a four-digit year.
    """
    year = ""
    if period is not None and str(period).strip():
        year = str(period).strip()
        if not re.fullmatch(r"[0-9]{4}", year):
            raise ValueError(f"period must be a four-digit year such as 2023, got {period!r}")
    terms = query.split() if query else []
    out = []
    for f in figures:
        if year and f.period != year:
            continue
        hay = f"{f.metric} {f.text} {f.unit}"
        if all(t in hay for t in terms):
            out.append(f)
    return out


#: Output formats of :func:`format_figures`.
FORMATS = ("table", "csv", "json")
_TABLE_COLUMNS = ("period", "kind", "metric", "text", "value", "unit", "qualifier", "change", "start", "end")


def format_figures(figures: Sequence[Figure], fmt: str = "table") -> str:
    """Render figures as an aligned text table, CSV (all fields, header row) or JSON.

    The table shows period, kind, metric, text, value, unit, qualifier, the signed
    change (for rates of change) and the offsets; column widths count East Asian
    wide characters as two. JSON is a list of :meth:`Figure.to_dict` objects
    (non-ASCII kept as is).

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps([f.to_dict() for f in figures], ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        names = [f.name for f in fields(Figure)]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for f in figures:
            writer.writerow(["" if getattr(f, n) is None else getattr(f, n) for n in names])
        return buf.getvalue()
    rows = [list(_TABLE_COLUMNS)]
    for f in figures:
        change = f.change
        rows.append([
            f.period, f.kind, f.metric, f.text, f"{f.value:g}", f.unit, f.qualifier,
            "" if change is None else f"{change:+g}", str(f.start), str(f.end),
        ])
    widths = [max(_width(r[i]) for r in rows) for i in range(len(_TABLE_COLUMNS))]
    lines = ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _width(s: str) -> int:
    """Display width: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
