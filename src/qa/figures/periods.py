"""Period and kind of a figure: the report's years, its sections, sentence cues.

Three layers, most general first:

1. :func:`report_frame` — the years a document is about: ``review_year`` (whose
   results it reports) and ``plan_year`` (whose targets it sets), from the title's
   own years, else the publication date (metadata, then a dateline in the title
   or the opening lines) read with the document's genre (a work report published
   in 2019 reviews 2018 and plans 2019; a bulletin published in 2024 reports
   2023), else the years its opening mentions most.
2. :func:`heading_mode` and :func:`paragraph_modes` — whether a place in the
   text reviews or plans: the innermost heading that says so
   (``2018年工作回顾`` / ``2019年工作安排``), else
   the latest paragraph that opens with a review or plan cue (``过去一年``,
   ``今年``, ``主要预期目标`` …), else the genre's default.
3. :func:`figure_period_kind` — one figure: an explicit year or year range in
   its sentence, multi-year cues (``五年来``, ``“十三五”期间``, ``2014年以来``,
   ``累计``), relative years (``今年``, ``去年``), planning cues (``力争``,
   ``预期目标`` …) and the section mode decide ``(period, kind)``.

Kinds: ``actual`` (a result of one period), ``target`` (a plan or goal, of one
year or a range), ``cumulative`` (a result summed over several years, or over a
project's life: ``五年来累计…``; its period is a range ``2014-2018`` when the
start is known, else the year it runs to).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from qa.figures.numbers import _is_clause_sep, _parse_chinese
from qa.figures.vocabulary import _ACHIEVED, _TARGET_CUES, _WEAK_TARGET_CUES

# ----------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------

#: Headings (or title words) of a section that reports results.
REVIEW_HEADINGS = ("回顾", "总结", "完成情况", "工作情况", "执行情况", "成绩", "过去一年", "过去的一年",
                   "过去五年", "五年来", "主要成就", "取得的成效")
#: Headings of a section that plans.
PLAN_HEADINGS = ("主要工作", "工作安排", "安排", "计划", "思路", "目标", "任务", "打算", "展望",
                 "重点工作", "工作要点", "今后", "建议", "部署")
#: Paragraph openers that start a review or a plan where there is no heading.
REVIEW_OPENERS = ("过去一年", "过去的一年", "刚刚过去的一年", "一年来", "过去五年", "五年来", "回顾",
                  "去年以来", "这一年", "今年以来", "今年上半年", "今年前三季度", "今年1-")
PLAN_OPENERS = ("今年", "新的一年", "明年", "今后五年", "未来五年", "主要预期目标", "预期目标",
                "总体要求", "工作安排", "主要任务", "重点抓好", "重点做好")
#: Title words of a document genre.
BULLETIN_WORDS = ("公报", "统计")
REPORT_WORDS = ("政府工作报告", "工作报告", "工作总结", "工作思路", "工作要点", "工作计划", "各位代表")
SUMMARY_WORDS = ("总结", "回顾", "公报", "统计", "年报", "执行情况")
#: Multi-year spans that make a result cumulative (value: years back from the review year).
MULTI_YEAR = {"五年来": 4, "过去五年": 4, "近五年": 4, "五年间": 4, "三年来": 2, "过去三年": 2,
              "近三年": 2, "两年来": 1, "十年来": 9, "过去十年": 9, "近年来": None, "多年来": None}
#: Words that keep ``累计`` within one period (全年累计, 1-10月累计).
WITHIN_PERIOD = ("全年", "年内", "当年", "今年", "本年", "上半年", "下半年", "季度", "月", "年末", "同期")

_YEAR = r"(?:19|20)[0-9]{2}"
#: A year (or a year range) in running text: 2023年, 2014-2018年, 2014年至2018年.
YEAR_RE = re.compile(rf"(?<![0-9])({_YEAR})(?:年?[-—–~～至到]({_YEAR}))?年(?!代)")
#: A year that opens a span to the present: 2014年以来, 自2014年起.
SINCE_RE = re.compile(rf"({_YEAR})年(?:以来|来|至今|起|开始)")
#: The 五年规划 periods: “十三五” → 2016-2020.
PLAN_PERIOD_RE = re.compile(r"([一二三四五六七八九十]{1,3})五(?:”|\")?(?:期间|时期|以来|规划|末|初)")
#: A full date (a publication date or a dateline).
DATE_RE = re.compile(rf"({_YEAR})(?:年([0-9]{{1,2}})月[0-9]{{1,2}}日|-([0-9]{{1,2}})-[0-9]{{1,2}})")
#: A year in a title that is not part of a date.
TITLE_YEAR_RE = re.compile(rf"(?<![0-9])({_YEAR})年(?![0-9]{{1,2}}月|度?[0-9])")
#: Relative years (not after 比/较/同, which make them a base of comparison).
_THIS_YEAR_RE = re.compile(r"(?<![比较同于])(?:今年|本年度|当年)")
_LAST_YEAR_RE = re.compile(r"(?<![比较同于上])(?:去年|上一年)(?!同期)")


# ----------------------------------------------------------------------------
# The report's years
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFrame:
    """The years a document is about.

    Attributes:
        review_year: year whose results it reports (None when nothing tells).
        plan_year: year whose targets it sets (review_year + 1 when inferred).
        genre: ``report`` (a work report or summary), ``bulletin`` (statistical
            bulletin) or ``brief`` (anything else: news, investment briefs).
        source: where the years came from: ``title``, ``date``, ``headings`` or ``text``.
    """

    review_year: int | None
    plan_year: int | None
    genre: str
    source: str


def _genre(head: str) -> str:
    squeezed = re.sub(r"\s+", "", head)
    if any(w in squeezed for w in BULLETIN_WORDS):
        return "bulletin"
    if any(w in squeezed for w in REPORT_WORDS):
        return "report"
    return "brief"


def report_frame(
    title: str,
    metadata: dict,
    text: str,
    body_start: int = 0,
    headings: Sequence[str] = (),
) -> ReportFrame:
    """Resolve the review and plan years of a document.

    Args:
        title: the document title ('' when unknown).
        metadata: the document metadata; ``date``/``datetime``/``created`` are read
            as the publication date (``YYYY-MM-DD`` …).
        text: the (folded) document text; its opening lines stand in for a
            missing title and dateline, its years for missing metadata.
        body_start: where the body starts in ``text``.
        headings: the section headings of the document, in order; a review or
            plan heading that names a year (``一、2023年工作回顾``) is read
            before the years the text mentions.

    Returns:
        A :class:`ReportFrame`; years are None only when the document names no year.
    """
    head = title or ""
    opening = text[: body_start + 600]
    # the genre: from the title, else from the first lines (which usually repeat it)
    genre = _genre(head if head else text[: body_start + 200])
    # 1. years the title names itself (not a date): 2023年…公报, 2023年工作总结和2024年工作思路
    years = sorted({int(m.group(1)) for m in TITLE_YEAR_RE.finditer(head)})
    if len(years) >= 2:
        return ReportFrame(years[0], years[-1], genre, "title")
    if len(years) == 1:
        y = years[0]
        summary = any(w in head for w in SUMMARY_WORDS)
        if genre == "report" and not summary:
            return ReportFrame(y - 1, y, genre, "title")  # 2019年政府工作报告: reviews 2018
        return ReportFrame(y, y + 1, genre, "title")
    # 2. the publication date: metadata, a dateline in the title, in the opening lines
    pub = None
    for key in ("date", "datetime", "created", "published"):
        m = re.match(rf"({_YEAR})-([0-9]{{1,2}})", str(metadata.get(key, "")))
        if m:
            pub = int(m.group(1))
            break
    if pub is None:
        m = DATE_RE.search(head) or DATE_RE.search(opening)
        if m:
            pub = int(m.group(1))
    counts = _year_counts(text, body_start)
    if pub is not None:
        if genre in ("report", "bulletin"):
            return ReportFrame(pub - 1, pub, genre, "date")
        # a brief: the year it was published, unless its text is about the year before
        review = pub - 1 if counts.get(pub - 1, 0) > counts.get(pub, 0) else pub
        return ReportFrame(review, review + 1, genre, "date")
    # 3. headings that name the reviewed or the planned year
    review_h = [int(y) for y, m in map(lambda h: heading_year((h,)), headings) if y and m == "review"]
    plan_h = [int(y) for y, m in map(lambda h: heading_year((h,)), headings) if y and m == "plan"]
    if review_h or plan_h:
        review = review_h[0] if review_h else plan_h[0] - 1
        return ReportFrame(review, plan_h[0] if plan_h else review + 1, genre, "headings")
    # 4. the text: the year its opening names most (latest on a tie)
    if not counts:
        return ReportFrame(None, None, genre, "text")
    review = max(counts, key=lambda y: (counts[y], y))
    if genre == "report" and _plan_first(text, body_start):
        return ReportFrame(review - 1, review, genre, "text")
    return ReportFrame(review, review + 1, genre, "text")


#: A dateline on a line of its own (``2024年3月``, ``2017年3月16日``).
_DATELINE_RE = re.compile(rf"^[ \t]*({_YEAR})年[0-9]{{1,2}}月(?:[0-9]{{1,2}}日)?[ \t]*$", re.M)
#: How far after a dateline a part's opening names the year it reports, in characters.
_PART_OPENING = 80


def part_frames(frame: ReportFrame, text: str, body_start: int = 0) -> list[tuple[int, ReportFrame]]:
    """``(offset, frame)`` pairs, the first at offset 0: where each part of a
    compilation of reports or bulletins begins, and the years it is about.

    A file that gathers several years' bulletins (``南京市2021~2024年…统计公报汇总``)
    has one frame per part. A later part is recognised by a dateline on its own
    line (``2024年3月``) followed within :data:`_PART_OPENING` characters by
    the year before it (``2023年是…``): a bulletin or report published in year
    *y* reviews *y* − 1. A dateline that closes a document (a signature) opens
    nothing, nor does the opening one of the first part (its year is the
    frame's). Briefs and documents without a frame keep the one frame.
    """
    frames = [(0, frame)]
    if frame.genre not in ("report", "bulletin") or frame.review_year is None:
        return frames
    for m in _DATELINE_RE.finditer(text, body_start):
        year = int(m.group(1))
        opening = text[m.end():m.end() + _PART_OPENING]
        if f"{year - 1}年" not in opening:
            continue
        if year - 1 != frames[-1][1].review_year:
            frames.append((m.start(), ReportFrame(year - 1, year, frame.genre, "dateline")))
    return frames


def document_parts(title: str, metadata: dict, text: str, body_start: int,
                   chunks: Sequence) -> list[tuple[int, ReportFrame]]:
    """:func:`part_frames` of a document from its chunks: its :func:`report_frame`
    (the headings read in the chunks' order) split at each later part's dateline.

    Args:
        title: the document title ('' when unknown).
        metadata, text, body_start: as for :func:`report_frame` (``text`` folded).
        chunks: the document's chunks in document order; their section paths are
            the headings.
    """
    headings = list(dict.fromkeys(h for c in chunks for h in c.section_path))
    frame = report_frame(title, metadata, text, max(0, body_start), headings)
    return part_frames(frame, text, max(0, body_start))


def part_at(parts: Sequence[tuple[int, ReportFrame]], offset: int) -> ReportFrame:
    """The frame of the part of :func:`document_parts` that holds character ``offset``."""
    return parts[bisect.bisect_right([start for start, _ in parts], offset) - 1][1]


def _year_counts(text: str, body_start: int, n: int = 3000) -> Counter:
    """How often each year is named in the first ``n`` characters of the body
    (in the whole body when the opening names none)."""
    for seg in (text[body_start : body_start + n], text[body_start:]):
        counts = Counter(int(m.group(1)) for m in YEAR_RE.finditer(seg) if not m.group(2))
        if counts:
            return counts
    return Counter()


def _plan_first(text: str, body_start: int) -> bool:
    """True when the body opens with a plan rather than a review."""
    seg = text[body_start : body_start + 1500]
    plan = min((seg.find(w) for w in PLAN_OPENERS if w in seg), default=10**9)
    review = min((seg.find(w) for w in REVIEW_OPENERS + REVIEW_HEADINGS if w in seg), default=10**9)
    return plan < review


# ----------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------


def heading_mode(heading: str) -> str:
    """``review``, ``plan`` or '' for one heading."""
    if any(w in heading for w in REVIEW_HEADINGS):
        return "review"
    if any(w in heading for w in PLAN_HEADINGS):
        return "plan"
    return ""


def heading_year(section_path: Sequence[str]) -> tuple[str, str]:
    """(year, mode) from the innermost heading that names a year ('' when none)."""
    for heading in reversed(section_path):
        m = YEAR_RE.search(heading)
        if m and not m.group(2):
            return m.group(1), heading_mode(heading)
    return "", ""


def paragraph_modes(text: str, lo: int, hi: int) -> list[tuple[int, str]]:
    """(offset, mode) where a paragraph of ``text[lo:hi]`` opens with a review or plan cue."""
    out = []
    for m in re.finditer(r"[^\n]+", text[lo:hi]):
        para = m.group().strip()[:24]
        start = lo + m.start()
        review = min((para.find(w) for w in REVIEW_OPENERS if w in para), default=99)
        plan = min((para.find(w) for w in PLAN_OPENERS if w in para), default=99)
        if review == plan < 99:  # 今年以来: a review of the year so far
            plan = 99
        if review < plan:
            out.append((start, "review"))
        elif plan < review:
            out.append((start, "plan"))
    return out


# ----------------------------------------------------------------------------
# One figure
# ----------------------------------------------------------------------------


def _plan_period(m: re.Match) -> tuple[int, int] | None:
    n = _parse_chinese(m.group(1))
    if n is None or n < 3:
        return None
    start = 1966 + 5 * (n - 3)  # 三五 1966-1970 … 十三五 2016-2020
    return start, start + 4


def _clause_start(text: str, lo: int, pos: int) -> int:
    for i in range(pos - 1, lo - 1, -1):
        if _is_clause_sep(text, i):
            return i + 1
    return lo


def figure_period_kind(
    text: str,
    lo: int,
    pos: int,
    frame: ReportFrame,
    mode: str,
    section_year: str,
    headings: str = "",
) -> tuple[str, str]:
    """(period, kind) of the quantity at ``pos`` in the sentence ``text[lo:…]``.

    Args:
        text: the folded document text.
        lo: start of the sentence.
        pos: start of the quantity (its leading qualifier excluded).
        frame: the document's :class:`ReportFrame`.
        mode: ``review``, ``plan`` or '' where the sentence stands.
        section_year: the year named by the innermost heading ('' when none).
        headings: the section headings joined (a multi-year heading such as
            ``过去五年工作回顾`` makes its results cumulative).

    Returns:
        period (``"2023"``, ``"2014-2018"`` or '' when the document names no
        year) and kind (``actual``, ``target`` or ``cumulative``, always set).
    """
    before = text[lo:pos]
    review = frame.review_year
    plan = frame.plan_year
    # the span the sentence names, nearest first
    span: tuple[int, int] | None = None
    cumulative_cue = False
    year_m = None
    for m in YEAR_RE.finditer(before):
        year_m = m
    since = None
    for m in SINCE_RE.finditer(before):
        since = m
    plan_m = None
    for m in PLAN_PERIOD_RE.finditer(before):
        plan_m = m
    candidates = [x for x in (year_m, since, plan_m) if x is not None]
    # nearest first; at one place a span (2014年以来, “十三五”期间) wins over its year
    nearest = max(candidates, key=lambda x: (x.start(), x is not year_m)) if candidates else None
    if nearest is not None:
        if nearest is plan_m:
            span = _plan_period(plan_m)
            cumulative_cue = span is not None
        elif nearest is since:
            end = review if review and review >= int(since.group(1)) else int(since.group(1))
            span = (int(since.group(1)), end)
            cumulative_cue = True
        elif year_m.group(2):
            span = (int(year_m.group(1)), int(year_m.group(2)))
            cumulative_cue = True
        else:
            y = int(year_m.group(1))
            span = (y, y)
    multi = next((w for w in MULTI_YEAR if w in before), None)
    if multi is None and not year_m:
        multi = next((w for w in MULTI_YEAR if w in headings), None)
    if span is None and multi is not None:
        back = MULTI_YEAR[multi]
        if review is not None:
            span = (review - back, review) if back is not None else (review, review)
        cumulative_cue = back is not None
    clause = text[_clause_start(text, lo, pos) : pos]
    if "累计" in clause and not any(w in before for w in WITHIN_PERIOD):
        cumulative_cue = True
    # relative years: in a report 今年 is the planned year and 去年 the reviewed one;
    # elsewhere (news, briefs, bulletins) 今年 is the year reported
    if span is None and review is not None:
        this_year = plan if frame.genre == "report" or mode == "plan" else review
        if _THIS_YEAR_RE.search(before) and this_year is not None:
            span = (this_year, this_year)
        elif _LAST_YEAR_RE.search(before):
            span = (review, review) if frame.genre == "report" else (review - 1, review - 1)
    if span is None and section_year:
        y = int(section_year)
        span = (y, y)

    target_cue = _has_target_cue(text, lo, pos, _TARGET_CUES if mode == "review"
                                 else _TARGET_CUES + _WEAK_TARGET_CUES)
    # kind
    if span is not None and span[0] != span[1]:
        future = review is not None and span[1] > review
        kind = "target" if target_cue or future or mode == "plan" else "cumulative"
    elif span is not None:
        y = span[0]
        if review is None:  # no frame: the section decides
            kind = "target" if target_cue or mode == "plan" else "actual"
        else:  # a later year is planned; the reviewed year or before happened,
            # also when a plan section recalls it (2018年全区生产总值增长6%)
            kind = "target" if target_cue or y > review else "actual"
    else:
        kind = "target" if target_cue or mode == "plan" else "actual"
        y0 = plan if kind == "target" else review
        span = (y0, y0) if y0 is not None else None
    if kind != "target" and cumulative_cue and mode != "plan":
        kind = "cumulative"
    if span is None:
        return "", kind
    period = str(span[0]) if span[0] == span[1] else f"{span[0]}-{span[1]}"
    return period, kind


def _has_target_cue(text: str, lo: int, pos: int, cues: Sequence[str]) -> bool:
    """A planning cue before ``pos`` in the sentence, not after 完成/实现 in its clause."""
    seg = text[lo:pos]
    for cue in cues:
        k = seg.find(cue)
        while k != -1:
            clause_start = _clause_start(seg, 0, k)
            done = seg.startswith("了", k + len(cue))  # 确保了: it happened
            if not done and not any(w in seg[clause_start:k] for w in _ACHIEVED):
                return True
            k = seg.find(cue, k + 1)
    return False
