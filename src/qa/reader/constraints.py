"""Agreement between a question and a candidate on year, place and kind of quantity.

A person never answers ``北京市2022年地区生产总值`` from Baoding's report, a 2020
question from a report that covers 2013–2014, or an investment amount with a
count of projects. Each check returns ``+1`` (agrees), ``0`` (nothing to check)
or ``-1`` (disagrees); :func:`vetoed` turns the ``-1`` cases that a human would
never answer into a hard refusal, the rest are features for the scorer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from qa.documents import Document
from qa.question import YEAR, Question, place_names

#: How far into a document its own place is named (title, header, opening).
HEADER_CHARS = 300
CURRENCY = ("元",)
PERCENT = ("%", "‰", "个百分点", "百分点")
COUNT = ("个", "家", "项", "人", "名", "所", "座", "户", "件", "次", "场", "条", "处", "台", "辆", "部",
         "批", "种", "位", "套", "间", "张", "本", "篇", "份", "栋", "人次", "万人", "万人次")
#: A question about a multi-year total (``五年来累计``, ``“十三五”期间``).
_SPAN_WORDS = re.compile(r"累计|五年|几年来|期间|以来|十[二三四五]五")
_MONEY_WORDS = re.compile(
    r"收入|投资|产值|总值|总额|金额|资金|经费|预算|支出|销售额|税收|增加值|营业额|成交额|多少钱|GDP|gdp|生产总值|总量|"
    r"消费品零售|补贴|补助|奖补|奖金|工资|薪酬|费用|贷款|融资")


@dataclass(frozen=True)
class DocumentScope:
    """What a document is about: its places and years, computed once per document.

    Attributes:
        header: title, publisher and the opening :data:`HEADER_CHARS` characters of the body.
        years: years named anywhere in the text (``2019年``, ``2019年3月``), plus the
            publication year and the one before it (a report published in 2019
            reviews 2018 and plans 2019).
        publication_year: from ``metadata["date"]``, else None.
        subject: what the whole document is about, Simplified: its title, publisher
            and issuer (no body text).
        written_years: every year-like number the text writes, with or without ``年``
            (``世界杯2002``, ``1960年代``): :data:`qa.question.YEAR` matches.
    """

    header: str
    text: str
    years: frozenset[int]
    publication_year: int | None
    subject: str
    written_years: frozenset[int]


@lru_cache(maxsize=256)
def _scope(doc_id: str, title: str, publisher: str, issuer: str, date: str, text: str,
           body_start: int) -> DocumentScope:
    from qa.script import fold

    match = re.match(r"(\d{4})", date)
    pub = int(match.group(1)) if match else None
    matches = [(int(m.group(1)), m.group(0).endswith("年")) for m in YEAR.finditer(text)]
    years = {year for year, with_nian in matches if with_nian}
    if pub:
        years |= {pub - 1, pub}
    header = " ".join((title, publisher, text[body_start:body_start + HEADER_CHARS]))
    subject = fold(" ".join(filter(None, (title, publisher, issuer))))
    return DocumentScope(header, text, frozenset(years), pub, subject, frozenset(y for y, _ in matches))


def document_scope(doc: Document) -> DocumentScope:
    """The :class:`DocumentScope` of ``doc`` (cached by document id and content)."""
    return _scope(doc.id, doc.title, doc.metadata.get("publisher", ""), doc.metadata.get("issuer", ""),
                  doc.metadata.get("date", ""), doc.text, doc.body_start)


def question_places(text: str) -> tuple[tuple[str, bool], ...]:
    """Place names in a question as ``(stem, strong)`` pairs (``北京市`` → ``("北京", True)``);
    see :func:`qa.question.place_names`."""
    return tuple((p.stem, p.strong) for p in place_names(text))


def place_agreement(q: Question, doc: Document, sentence: str) -> float:
    """+1 when every place the question names is the document's own (title,
    publisher, opening); 0.5 when one is only named in the candidate's
    sentence, or is a weak place (:func:`question_places`) the document's text
    names; 0 when the question names none; -1 when a strong place is not the
    document's (a veto), -0.5 when a weak one appears nowhere in it."""
    places = question_places(q.match_text)
    if not places:
        return 0.0
    scope = document_scope(doc)
    score = 1.0
    for place, strong in places:
        if place in scope.header:
            continue
        if place in sentence or (not strong and place in scope.text):
            score = min(score, 0.5)
        else:
            return -1.0 if strong else -0.5
    return score


def asked_years(q: Question, doc: Document) -> tuple[int, ...]:
    """Years the question asks about, ``去年``/``今年`` resolved against ``doc``'s publication year."""
    return q.target_years(document_scope(doc).publication_year)


def document_year_agreement(q: Question, doc: Document) -> float:
    """+1 when the document covers a year the question names (:attr:`DocumentScope.years`),
    -1 when its text never writes any of them, not even as a bare number or a decade
    (``世界杯2002``, ``1960年代``), 0 otherwise or when the question names no year."""
    years = asked_years(q, doc)
    if not years:
        return 0.0
    scope = document_scope(doc)
    if set(years) & scope.years:
        return 1.0
    return 0.0 if set(years) & scope.written_years else -1.0


def period_agreement(q: Question, doc: Document, period: str, sentence: str) -> float:
    """For a figure: +1 when its period is a year the question names (or the
    sentence names that year), -1 when its period is another year and the
    sentence does not name the asked one, 0 when either is unknown. A
    cumulative figure (period ``2016-2020``) agrees only with a question about
    a span of years that it covers: a five-year total never answers a single year."""
    years = asked_years(q, doc)
    if not years:
        return 0.0
    span = re.fullmatch(r"(\d{4})-(\d{4})", period)
    if span:  # a cumulative figure (五年来, “十三五”期间): only for a question about that span
        first, last = int(span.group(1)), int(span.group(2))
        asks_span = bool(_SPAN_WORDS.search(q.match_text)) or len(set(years)) > 1
        return 1.0 if asks_span and first <= min(years) and max(years) <= last else -1.0
    if any(f"{y}" in sentence for y in years):
        return 1.0
    if not period[:4].isdigit():
        return 0.0
    return 1.0 if int(period[:4]) in years else -1.0


#: Physical measures, by the units reports write them in (checked in this order: ``平方米``
#: is an area before it is a length in 米).
MEASURES = (
    ("concentration", ("克/立方米", "克/升")),
    ("area", ("平方米", "平方公里", "平方千米", "亩", "公顷")),
    ("length", ("公里", "千米", "米")),
    ("mass", ("吨", "公斤", "千克")),
    ("days", ("天",)),
)
#: A question's words that name a physical measure (``二氧化硫年平均浓度``, ``建筑面积``):
#: a figure in another kind of unit (``246天``) does not answer it.
_MEASURE_WORDS = (
    ("concentration", re.compile(r"浓度")),
    ("area", re.compile(r"面积")),
    ("length", re.compile(r"里程|长度")),
    ("days", re.compile(r"天数")),
)
#: A question for an identifier (``邮政编码``, ``电话``): a string of digits, never a
#: quantity with a unit or magnitude (``1.6万余``).
_CODE_WORDS = re.compile(r"邮政编码|邮编|电话|号码|编号|区号|代码")


def expected_unit_class(q: Question) -> str:
    """The kind of quantity asked for: ``percent``, ``money``, ``count``, a physical
    measure of :data:`MEASURES` (``area``, ``concentration`` …) or '' (unknown).

    The measure word after ``多少`` decides (``多少亩`` → area); else a word of the
    question (``浓度``, ``收入``); a change (``增长多少``) may be in percent, so only
    a named unit decides for it. ``code`` for an identifier (:data:`_CODE_WORDS`)."""
    if _CODE_WORDS.search(q.match_text):
        return "code"
    if q.wants_percent:
        return "percent"
    if q.unit_hint:
        return unit_class(q.unit_hint)
    if q.wants_change:
        return ""
    for measure, words in _MEASURE_WORDS:
        if words.search(q.match_text):
            return measure
    return "money" if _MONEY_WORDS.search(q.match_text) else ""


def unit_class(unit: str) -> str:
    """``money`` / ``percent`` / ``count`` / a measure of :data:`MEASURES` / '' for a figure's unit."""
    if unit.endswith(CURRENCY):
        return "money"
    if unit in PERCENT:
        return "percent"
    for measure, units in MEASURES:
        if any(u in unit for u in units):
            return measure
    if unit in COUNT or unit.endswith(("个", "家", "项", "人", "人次")):
        return "count"
    return ""


#: Questions about a number of people (``常住人口有多少``, ``新增就业人数``).
_PEOPLE = re.compile(r"(?<![千万百每])人口(?!密度)|人数|人次")


def unit_agreement(q: Question, unit: str) -> float:
    """+1 when a figure's unit is of the kind asked for, -1 when it is of another
    known kind, 0 when either is unknown. A number of people (``常住人口``,
    ``人数``, ``人次``; not ``千人口…``) is in a unit with ``人``. A measure word the question names
    (``多少天``, ``多少公里``; not the generic ``个``) must be the figure's own:
    ``208台`` does not answer ``有多少天``. An identifier (``邮政编码``) has no unit."""
    want, have = expected_unit_class(q), unit_class(unit)
    if want == "code":
        return -1.0 if unit else 0.0
    if _PEOPLE.search(q.match_text) and unit and have != "percent" and not q.wants_change:
        return 1.0 if "人" in unit else -1.0  # 常住人口 / 就业人数: in 人 (万人), never in 个 or 元
    if want and have:
        if want == "money" and have == "percent" and q.wants_change:
            return 0.0
        return 1.0 if want == have else -1.0
    hint = q.unit_hint
    if hint and hint != "个" and unit and not q.wants_change and unit not in PERCENT:
        return 1.0 if hint in unit or unit.endswith(hint[-1]) else -1.0
    return 0.0


#: A per-capita quantity (``人均地区生产总值``, ``平均每人``) is another quantity than
#: the total it is computed from; everyday questions say it with these words.
_PER_CAPITA_FIGURE = re.compile(r"人均|平均每人|每人平均|人平")
_PER_CAPITA_QUESTION = re.compile(r"人均|平均|每人|每个人|一个人|每一个人|人平")
_CLAUSE_END = re.compile(r"[，。；！？\n,;]")


def figure_clause(sentence: str, value_at: int, width: int = 30) -> str:
    """The clause that names a figure: at most ``width`` characters before the
    value (``value_at``, an offset into ``sentence``), from the last comma or
    stop before it. Table rows (``人均地区生产总值｜2024年：193483元``) keep their
    row label, which no comma separates from the value."""
    window = sentence[max(0, value_at - width):value_at]
    ends = [m.end() for m in _CLAUSE_END.finditer(window)]
    return window[ends[-1]:] if ends else window


def per_capita_agreement(q: Question, clause: str, is_change: bool = False) -> float:
    """+1 when a figure's clause and the question are both per-capita; -1 when the
    figure is a per-capita level and the question asks for none
    (``人均地区生产总值193483元`` for ``地区生产总值是多少``: a veto); 0 otherwise.

    Changes are left at 0 (``人均收入增长7%`` is how reports word ``收入增长``), and
    so is a question with ``人均`` over a clause without it: reports drop the word
    in a second value of the same sentence (``城镇居民人均…45727元；农村居民19080元``).
    """
    if not _PER_CAPITA_FIGURE.search(clause):
        return 0.0
    if _PER_CAPITA_QUESTION.search(q.match_text):
        return 1.0
    return 0.0 if is_change else -1.0


#: The population a per-capita indicator is about (``城镇居民人均可支配收入``,
#: ``农民人均纯收入``): urban or rural residents; ``城乡``/``城镇和农村`` name both.
_SUBGROUP = re.compile(r"(城镇|农村)(?:和|与|及|、)?(城镇|农村)?(?:常住)?居民|(农民)(?!工)|(城乡)")


def population_subgroups(text: str) -> frozenset[str]:
    """``{"城镇"}``, ``{"农村"}``, both, or none: the resident groups ``text`` names
    (``农民`` is rural, ``城乡`` both; ``农民工`` is no resident group)."""
    found: set[str] = set()
    for m in _SUBGROUP.finditer(text):
        if m.group(4):
            found |= {"城镇", "农村"}
        found |= {g for g in (m.group(1), m.group(2)) if g}
        if m.group(3):
            found.add("农村")
    return frozenset(found)


def subgroup_agreement(q: Question, metric: str) -> float:
    """For a figure of urban or rural residents only (its ``metric``: ``城镇居民人均可支配收入``):
    +1 when the question asks for that group, -1 when it asks for the other one or
    for residents as a whole (``老百姓平均每人一年收入`` → ``居民人均可支配收入``, the
    whole population's figure, not the urban one: a veto); 0 for a figure of all
    residents, of both groups (``城乡居民…分别``) or of no resident group."""
    have = population_subgroups(metric)
    if len(have) != 1:
        return 0.0
    want = population_subgroups(q.match_text)
    if len(want) == 2:
        return 0.0
    if not want:
        return -1.0 if "居民" in q.match_text else 0.0
    return 1.0 if want == have else -1.0


#: Part of a year a figure or a question is about (``1-10月``, ``前三季度``, ``上半年``).
_PART_OF_YEAR = re.compile(r"(?<!\d)1?\d\s*[-—–~～至到]\s*1?\d\s*月|前[一二三四五六七八九十\d]+个?(?:季度|月)|"
                           r"[一二三四]季度|上半年|下半年|1至\d+月")
_WHOLE_YEAR = re.compile(r"全年|一年|年度")


def _part_of_year(text: str) -> str:
    m = _PART_OF_YEAR.search(text)
    return re.sub(r"\s|至|到|～|~|—|–", "-", m.group()) if m else ""


def period_clause(sentence: str, value_at: int, paragraph_opening: str = "") -> str:
    """The words that set a figure's period: its own clause (:func:`figure_clause`),
    the sentence's opening clause (``1-10月，全县完成…``) and the opening clause of
    its paragraph (``paragraph_opening``: a brief's ``1-10月，…。其中…``), unless
    its own clause names the whole year (``全年预计完成…``)."""
    own = figure_clause(sentence, value_at)
    if _WHOLE_YEAR.search(own):
        return own
    opening = _CLAUSE_END.split(sentence[:value_at], maxsplit=1)[0]
    parts = dict.fromkeys(p for p in (_CLAUSE_END.split(paragraph_opening, maxsplit=1)[0], opening, own) if p)
    return "，".join(parts)


def part_of_year_agreement(q: Question, clause: str) -> float:
    """+1 when the question and a figure's clause name the same part of a year
    (``1-10月``), -1 when they name different ones or the question asks for the
    whole year (``全年``) of a figure for part of it, 0 otherwise (a clause
    naming no part is taken as the whole period)."""
    have = _part_of_year(clause)
    want = _part_of_year(q.match_text)
    if want:
        if not have:
            return 0.0
        return 1.0 if want == have else -1.0
    if have and _WHOLE_YEAR.search(q.match_text):
        return -1.0
    return 0.0


_NUMERAL = re.compile(r"[0-9０-９一二两三四五六七八九十零〇半几]")  # a magnitude alone (万元) is no number


def number_agreement(q: Question, text: str) -> float:
    """-1 when a question asks for a quantity and the candidate has no number in
    it at all (``万元``, ``主要用于公共法律服务``): a veto; 0 otherwise."""
    return -1.0 if q.answer_type == "quantity" and not _NUMERAL.search(text) else 0.0
