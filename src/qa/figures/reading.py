"""Reading a quantity in its sentence: metric, change, direction, respectively-lists."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from qa.figures.numbers import _is_clause_sep, _Quantity
from qa.figures.vocabulary import (
    _CHANGE_DOWN,
    _CHANGE_WORDS,
    _CN_DIGITS,
    _LEAD_WORDS_LONGEST,
    _LINK_WORDS_LONGEST,
    _MARKER_RE,
    _MAX_METRIC,
    _NOUN_STOPS,
    _TAIL_RE,
    COUNTER_UNITS,
    LEVEL_ENDINGS,
    LEVEL_VERBS,
    MAGNITUDES,
    MAGNITUDES_LONGEST,
    RATE_UNITS,
    SCOPE_ONLY,
)

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
    clause_start: int = -1  # where the clause of the number starts
    part: bool = False  # 其中N: a part of the figure before, whose metric it shares


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
        for w in _LINK_WORDS_LONGEST:
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
        t = _TIME_LEAD_RE.match(seg)  # 2017年, 2017年底: a time, not the metric
        if t and t.end():
            s += t.end()
            changed = True
            continue
        scope = _SCOPE_LEAD_RE.match(seg)  # 全区实现地区生产总值 → 地区生产总值
        if scope and len(seg) > scope.end():
            s += scope.end()
            changed = True
            continue
        for w in _LEAD_WORDS_LONGEST:
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
        or (w == "由" and before in ("自", "理", "经", "缘"))
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
    for k, ch in enumerate(seg):  # 20项民生工程和市定20项…: the next quantity's words
        if ch in "和及与" and re.search(r"[0-9一二三四五六七八九十两]", text[pos + k + 1 : pos + k + 5]):
            seg = seg[:k]
            break
    while seg.endswith(("和", "及", "与", "以及")):  # 33个机关事业单位和1…
        seg = seg[:-2] if seg.endswith("以及") else seg[:-1]
    return (pos, pos + len(seg)) if seg else None


#: Verbs whose object is the quantity's own noun (涉及1.6亿元的…榜单).
_SCOPE_VERBS = ("涉及", "包括", "涵盖", "覆盖", "惠及")

#: jieba part-of-speech flags of words that can name an indicator (nouns,
#: nominal verbs such as 投资, idioms and abbreviations such as 粮食产量, 人均).
_NOMINAL = ("n", "vn", "an", "l", "j", "b", "s", "eng", "nz", "nt", "ns", "nr", "ng")


@functools.lru_cache(maxsize=4096)
def _words(seg: str) -> tuple[tuple[str, str], ...]:
    """(word, flag) pairs of ``seg`` from jieba's part-of-speech tagger.

    Cached: one quantity's metric is often tested twice (``_single_verb``, then
    ``_is_nominal``) and a document repeats its metrics (``投资``)."""
    import jieba.posseg as pseg  # loaded on first use (about a second)

    return tuple((p.word, p.flag) for p in pseg.cut(seg))


def _is_nominal(seg: str) -> bool:
    """True when ``seg`` holds a word that can name an indicator (``首批公布涉及`` holds none)."""
    return any(flag.startswith(_NOMINAL) for _, flag in _words(seg))


def _single_verb(seg: str) -> bool:
    """True when ``seg`` is one verb and nothing else (``实施``, ``完成``)."""
    if not seg or len(seg) > 3:
        return False
    words = _words(seg)
    return len(words) == 1 and words[0][1] == "v"


def _noun_after(text: str, pos: int, hi: int, bare: bool = False) -> tuple[int, int] | None:
    """The noun phrase a quantity modifies: ``1.6亿元的19项技术需求榜单`` → ``技术需求榜单``.

    Without ``bare`` the noun must follow ``的``; with it, it may follow the
    quantity directly (``10蒸吨以下燃煤锅炉改造``).
    """
    if not text.startswith("的", pos) and not (bare and pos < hi and _is_cjk(text[pos])):
        return None
    k = pos + 1 if text.startswith("的", pos) else pos
    digits = k
    while k < hi and (text[k].isdigit() or text[k] == "."):
        k += 1  # a count between: 的19项
    if k > digits:
        m = _TAIL_RE.match(text, k, hi)
        k = m.end() if m else k
    noun = _counted_noun(text, k, hi)
    if not noun:
        return None
    words = _words(text[noun[0] : noun[1]])
    return noun if words and (words[0][1].startswith(_NOMINAL) or words[0][1] == "a") else None


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" and ch not in _CN_DIGITS


def _base_unit(unit: str) -> str:
    """``unit`` without its magnitude prefix (``万人次`` → ``人次``)."""
    for mag in MAGNITUDES_LONGEST:
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
        part_of = text[ms:me] == "其中"  # 9条…，其中4条: a part of the figure before
        if text[ms:me] in SCOPE_ONLY:
            metric = (-1, -1)
        if (_base_unit(q.unit) in COUNTER_UNITS or q.unit in MAGNITUDES) and q.end < hi:
            noun = _counted_noun(text, q.end, hi)
            if noun:
                metric = noun
        elif q.end < hi and (metric == (-1, -1) or _single_verb(text[ms:me])):
            # 完成37.8亿元的年度投资计划, 实施10蒸吨以下燃煤锅炉改造: the noun after
            noun = _noun_after(text, q.end, hi, bare=True)
            if noun:
                metric = noun
        if link.startswith(_SCOPE_VERBS) and metric != (-1, -1) and not _is_nominal(text[metric[0]:metric[1]]):
            # a clause fragment (首批公布涉及1.6亿元的…榜单): the noun the quantity modifies
            metric = _noun_after(text, q.end, hi) or metric
        # 提高到92%, 增至, 降至: a level reached, not a change (提高0.5个百分点 is one)
        level = link.endswith(LEVEL_VERBS)
        moved = any(w in link for w in _CHANGE_WORDS) and not level
        direction = 0
        if moved:
            down = q.value < 0 or any(w in link for w in _CHANGE_DOWN)
            direction = -1 if down else 1
        is_change = moved and q.unit in RATE_UNITS
        readings.append(_Reading(q, metric, link, is_change, direction, clause_start, part_of))
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
    """b restates a's metric in the next clause: ``增长11%，达到282亿元``,
    ``年均增长7.5%，2017年达到320亿元``."""
    gap = text[a.q.end : b.q.start - len(b.q.lead) - len(b.link)]
    gap = gap[:1] + _TIME_LEAD_RE.sub("", gap[1:])
    return bool(b.link) and len(gap) == 1 and _is_clause_sep(text, a.q.end)


#: A time that opens a clause (``2017年``, ``2017年底``, ``年底``): not part of a metric.
_TIME_LEAD_RE = re.compile(r"(?:(?:19|20)[0-9]{2}年(?:底|末|初|度|上半年|前三季度)?|年底|年末)(?:[，,])?")
#: A scope before a lead verb (``全区实现``, ``全市完成``): the verb ends the scope.
_SCOPE_LEAD_RE = re.compile(
    r"全(?:区|市|县|省|镇|乡|旗|州|盟|街道)(?=" + "|".join(
        ("实现", "完成", "累计", "共", "新增", "达到", "拥有", "有")) + ")"
)


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
            items = _list_items(text, head)
            if len(items) == len(run):  # A、B、C、D分别为a、b、c、d: item i ↔ value i
                for r, item in zip(run, items, strict=True):
                    r.metric = item
            elif head.metric == (-1, -1):
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
        if head.metric == (-1, -1) and head.part and i > 0:
            head.metric = readings[i - 1].metric
        if head.metric == (-1, -1):
            if head.direction:  # a change or an increment (比年初增加468.6亿元)
                levels = _levels(readings[:i], head)
                if levels:
                    head.metric = levels[-1].metric
            elif i > 0 and (_joined(text, readings[i - 1], head) or _restated(text, readings[i - 1], head)
                            or _same_clause(readings[i - 1], head)):
                head.metric = readings[i - 1].metric
        i += 1


def _same_clause(a: _Reading, b: _Reading) -> bool:
    """b stands in a's clause right after it (城镇化率由85%提高到92%)."""
    return a.clause_start == b.clause_start and a.clause_start >= 0 and b.link.endswith(LEVEL_ENDINGS)


_ITEM_SEPS = "、和及与"


def _list_items(text: str, head: _Reading) -> list[tuple[int, int]]:
    """The items named before ``分别`` (``粮食、棉花、油料产量分别为`` → 3 spans), or [].

    Items are split at ``、``/``和``/``及``/``与`` in the words from the clause start
    to the link words; the first loses its leading adverbials (``全年``, ``其中`` …).
    """
    if head.clause_start < 0:
        return []
    end = head.q.start - len(head.q.lead) - len(head.link)
    s = head.clause_start
    if end - s < 3:
        return []
    items, k = [], s
    for i in range(s, end):
        if text[i] in _ITEM_SEPS:
            items.append((k, i))
            k = i + 1
    items.append((k, end))
    if len(items) < 2:
        return []
    ms, me, _ = _strip_metric(text, items[0][0], items[0][1])
    items[0] = (ms, me)
    if not all(e > b for b, e in items):
        return []
    # 城镇和农村居民人均可支配收入: a bare modifier shares the long head noun of the
    # last item, so its metric runs from its own start to the end of the list
    last = items[-1][1] - items[-1][0]
    return [(b, items[-1][1]) if e - b <= 2 and last >= 6 else (b, e) for b, e in items]
