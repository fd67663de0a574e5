"""Question analysis: cleaning, expected answer type, period asked about, content terms.

Pure functions over the question string. The reader uses :class:`Question` to
choose and score candidate spans; nothing here looks at documents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: Answer types, from the most to the least specific.
ANSWER_TYPES = ("meta", "ordinal", "rank", "date", "quantity", "list", "entity", "description")

_FULLWIDTH_ALNUM = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for c in range(r[0], r[1] + 1)} | {0x3000: 0x20}
_TAG = re.compile(r"<[^<>]{0,200}>")
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff]")

YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)(?:\s*年(?!代))?")
RELATIVE_YEARS = {"前年": -2, "去年": -1, "上一年": -1, "上年": -1, "今年": 0, "本年": 0,
                  "当年": 0, "明年": 1, "下一年": 1}
RELATIVE_YEARS_EN = {"last year": -1, "this year": 0, "next year": 1}
#: A year (``2023年``) or a relative year (``去年``, ``last year``).
TIME_WORDS = re.compile(
    "|".join([YEAR.pattern, *map(re.escape, RELATIVE_YEARS), *map(re.escape, RELATIVE_YEARS_EN)]), re.I
)

# Question phrases (removed from the content terms). Longest first.
_WH = sorted(
    [
        "是多少", "有多少", "为多少", "达多少", "多少", "是几", "有几", "几", "多大", "多高", "多长",
        "多久", "多远", "多重", "哪些", "哪几", "哪个", "哪家", "哪里", "哪儿", "哪天", "哪一天",
        "哪年", "哪一年", "哪", "是什么", "叫什么", "什么", "是谁", "谁", "何时", "何地", "如何",
        "怎么样", "怎么", "怎样", "为什么", "为何", "是否", "吗", "呢", "名字", "名称",
    ],
    key=len,
    reverse=True,
)
_MEASURE = (
    "亿元|万元|千元|元|万平方米|平方米|平方公里|公里|万人次|人次|万人|人|个|家|件|次|名|项|场|部|条|起|"
    "所|户|座|栋|处|吨|天|年|月|位|批|期|支|种|类|辆|台|套|间|张|本|篇|份|份次|千米|米|亩|公顷"
)
_UNIT_HINT = re.compile(rf"(?:多少|几)({_MEASURE})")
#: Chinese classifier expected for an English count noun ("how many companies" → 家).
_EN_CLASSIFIERS = (
    (r"compan|enterpris|firm|business|station|shop|store|market|canteen|restaurant|hospital|"
     r"bank|factor|kindergarten|nurser", "家"),
    (r"people|person|resident|student|worker|elder|senior|volunteer|member", "人"),
    (r"times|visit|inspection", "次"),
    (r"case|complaint|petition|letter", "件"),
    (r"event|activit|fair|session|performance|game", "场"),
    (r"elevator|lift", "部"),
    (r"honou?r|award|prize|project|measure", "项"),
)
_FUNCTION_CHARS = set("的了是有在和与及或也都就还并而被把将要会能对于从向到给让使")

#: A word of a question without Chinese: letters only (two or more), with inner
#: apostrophes or hyphens ("city's", "year-on-year"); digits, code marks and
#: format specifiers make a token something else.
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}(?:['’-][^\W\d_]+)*")
#: Punctuation that may surround a word in a sentence ("(GDP),", "“places”?").
_WORD_EDGES = "\"'“”‘’()[]«».,!?;:…"
#: English words that carry no topic: function and question words, greetings.
_EN_FUNCTION_WORDS = frozenset("""
a about above after again all also am an and any are as at be been before being below between both but by can
could did do does doing during each either few for from had has have having he her here hers him his how i if in
into is it its itself just me more most my no nor not now of off on once only or other our ours out over own per
same she should so some such than that the their theirs them then there these they this those through to too
under until up very was we were what when where which while who whom whose why will with would yet you your
yours many much may might must shall tell please show give list hi hello hey thanks thank ok okay yes
""".split())
#: Words of code, query languages and placeholders: alone they ask nothing.
_CODE_WORDS = frozenset("""
select union insert delete update drop alter truncate exec execute declare null nan none undefined true false
script alert eval echo php javascript onerror onload src href http https www jndi ldap passwd etc admin root sudo
foo bar baz qux test testing lorem ipsum asdf qwerty xxx
""".split())

_QUANTITY = re.compile(r"多少|(?<!哪)几[^乎]|多大|多高|多长|多久|多远|多重|规模|数量|how (?:many|much)|how large|number of|amount", re.I)
_PERCENT = re.compile(r"比例|比重|占比|百分|增幅|增速|降幅|覆盖率|率|percent|rate", re.I)
_CHANGE = re.compile(r"同比|增长|上涨|涨了|涨幅|增加(?!值)|下降|减少|提高|降低|上升|增幅|增速|降幅|变化|变动|growth|grow|increase|decrease|decline|change", re.I)
_TARGET = re.compile(r"目标|计划|力争|预计|预期|打算|拟|要达到|要新建|要推进|要|将|target|plan|goal|aim", re.I)
_DATE = re.compile(r"哪天|哪一天|哪日|何时|什么时候|什么时间|日期|哪年|哪一年|哪个年份|什么年份|哪个月|哪一个月|哪月|几月|几号|起止时间|when|what date|which year|"
                   r"起止日期|实施周期|时间段|哪段时间", re.I)
#: The precision a date question asks for: a year (``哪一年``), a month (``哪个月``), else a day.
_YEAR_ASKED = re.compile(r"哪一?年|几几年|什么年份|哪个年份|哪一年份|which year", re.I)
_MONTH_ASKED = re.compile(r"哪一?个?月(?!\d)|几月|what month", re.I)
#: A question for a stretch of time from one date to another (``实施周期是什么``, ``起止时间``).
_RANGE_ASKED = re.compile(r"起止|周期|时间段|哪段时间|从什么时候到什么时候|from when", re.I)


def date_precision(text: str) -> str:
    """``range``, ``year``, ``month`` or ``day``: what date the question ``text`` asks for
    (``…项目的实施周期是什么？`` → ``range``, from one date to another; ``莱索托哪一年独立？``
    → ``year``; ``…公报是哪个月发布的？`` → ``month``; ``哪天`` → ``day``)."""
    if _RANGE_ASKED.search(text):
        return "range"
    if _YEAR_ASKED.search(text):
        return "year"
    if _MONTH_ASKED.search(text):
        return "month"
    return "day"


_LIST = re.compile(r"哪些|哪几|有哪|which (?:\w+ )?(?:are|were)|list", re.I)
_ENTITY = re.compile(r"哪个|哪家|哪里|哪儿|哪位|哪两|哪一|谁|叫什么|名字|名称|who|which|where|what is the name", re.I)
#: A question for a position in a ranking or a series (``排第几``, ``第几次``, ``名次``);
#: group 1: the word after ``第几``, a series (``次``, ``批``, ``季度``) or a ranking (``名``, ``位``).
RANK_QUESTION = re.compile(r"第几(季度|次|批|届|轮|期|号|季|名|位|个|项|条|天|周)?|排名多少|排多少名|名次|位次")
_ORDINAL = re.compile(r"第([一二三四五六七八九十]|\d+)(?:个|项|条|点|方面)?")
_META = re.compile(
    r"(?:这份|本|该|此)?(?:文件|文档|文章|报告|通知)(?:是)?(?:哪天|何时|什么时候|哪一天|由谁|哪个|谁)?"
    r"(?:发布|印发|发文|公开|生成)|(?:发布|印发|发文)(?:日期|时间|机构|单位)|索引号"
)


#: Administrative suffixes of Chinese place names (longest first).
PLACE_SUFFIXES = ("自治州", "自治县", "街道", "省", "市", "区", "县", "镇", "乡", "旗", "州")
#: Words that end like a place but name none (``全市``, ``地区生产总值``).
_NOT_PLACES = re.compile(r"^(?:全|本|我|该|各|城|市|地|社|辖|景|园|新|老|小|山)")
#: Generic areas and titles that end in an administrative suffix but name no place
#: (``住宅小区``, ``工业区``, ``棚户区``, ``先进县``, ``友好城市``, ``自治区`` alone); jieba tags
#: them ``n``, while names it knows (``浦东新区``, ``内蒙古自治区``) are ``ns`` and kept.
_GENERIC_AREAS = re.compile(
    r"(?:小区|园区|工业区|开发区|高新区|示范区|保护区|试验区|实验区|功能区|集聚区|先行区|棚户区|景区|城区|"
    r"社区|街区|片区|辖区|山区|矿区|牧区|林区|库区|灾区|老区|新区|市区|郊区|特区|自治区|自治州|自治县|"
    r"城市|超市|都市|夜市|集市|股市|楼市|先进县|示范县|强县|大县|城镇|乡镇|小镇|重镇|名镇)$")
#: A common noun before a lone suffix word is not a name (``企业`` + ``省了``: the verb to save):
#: nouns at least this frequent in jieba's dictionary are common ones (``企业`` 34,826,
#: ``赤塔`` 16, ``乔巴山`` 15).
_COMMON_NOUN_FREQ = 1000
#: jieba tags of words that can name a place before a suffix word (person, place, other proper
#: names, nouns), and of words that never name one (time, numbers, measure words, verbs, pronouns).
_NAME_FLAGS = frozenset({"ns", "nr", "nz", "nt", "n", "j", "nrt", "nrfg"})
_NOT_NAME_FLAGS = frozenset({"t", "m", "q", "v", "vn", "d", "r", "p", "c", "u", "a", "f", "mq"})


@dataclass(frozen=True)
class Place:
    """A place named in a question: ``word`` as written (``北京市``, ``东柳街道``),
    its ``stem`` without the administrative suffix (``北京``, ``东柳``), and whether
    it is ``strong`` (suffixed) or only tagged as a place by jieba (``郑州``)."""

    word: str
    stem: str
    strong: bool


@lru_cache(maxsize=4096)
def place_names(text: str) -> tuple[Place, ...]:
    """Place names in ``text``, in order.

    Strong: a word of 3+ characters ending in an administrative suffix
    (``保定市``, ``海拉尔区``), or a name followed by a suffix word (``东柳`` +
    ``街道``). Weak: a word jieba tags as a place (``ns``) without a suffix
    (``郑州``; jieba also tags ``新建`` so). Time words, numbers, generic
    words (``全市``, ``地区``) and generic areas (``住宅小区``, ``友好城市``, ``企业`` + ``省``)
    are not places.
    """
    import jieba.posseg

    words = [(w, flag) for w, flag in jieba.posseg.lcut(text)]
    found: dict[str, Place] = {}
    for i, (word, flag) in enumerate(words):
        if not re.fullmatch(r"[\u4e00-\u9fff]{2,}", word) or flag in _NOT_NAME_FLAGS or _NOT_PLACES.match(word):
            continue
        nxt = words[i + 1][0] if i + 1 < len(words) else ""
        if len(word) >= 3 and word.endswith(PLACE_SUFFIXES):
            if flag != "ns" and _GENERIC_AREAS.search(word):
                continue
            place = Place(word, _stem(word), True)
        elif nxt in PLACE_SUFFIXES and flag in _NAME_FLAGS and not (
                flag == "n" and jieba.dt.FREQ.get(word, 0) >= _COMMON_NOUN_FREQ):
            place = Place(word + nxt, word, True)
        elif flag == "ns":
            place = Place(word, word, False)
        else:
            continue
        if len(place.stem) >= 2 and (place.stem not in found or place.strong):
            found[place.stem] = place
    return tuple(found.values())


def _stem(place: str) -> str:
    for suffix in PLACE_SUFFIXES:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            return place[: -len(suffix)]
    return place


@dataclass(frozen=True)
class Question:
    """The analysis of one question.

    Attributes:
        text: the cleaned question, as asked.
        match_text: ``text`` folded to Simplified Chinese (:func:`qa.script.fold`),
            what the patterns and the reader match against.
        answer_type: one of :data:`ANSWER_TYPES`.
        years: years named in the question (``2023年`` → 2023), in order.
        relative_year: offset of ``去年``/``今年``/``明年`` (-1/0/+1) against the
            document's publication year; None if not used.
        wants_target: asks about a plan or goal (``目标``, ``计划``, ``力争`` …).
        wants_change: asks about a change or growth rate (``同比``, ``增长`` …).
        wants_percent: the answer is a ratio or rate (``%``).
        unit_hint: measure word after ``多少``/``几`` (``家``, ``个``, ``亿元``), or ''.
        ordinal: for ``第一个…``, the 1-based position asked for; else 0.
        terms: content words (jieba), question words and function words removed.
        english: the question has no Chinese characters.
        has_content: the question carries something to look up: a Chinese question
            has content words (``terms``); one without Chinese reads as natural
            language (:func:`has_natural_language`). Numbers, format strings, code
            and punctuation alone do not.
    """

    text: str
    match_text: str
    answer_type: str
    years: tuple[int, ...]
    relative_year: int | None
    wants_target: bool
    wants_change: bool
    wants_percent: bool
    unit_hint: str
    ordinal: int
    terms: tuple[str, ...]
    english: bool
    has_content: bool

    def target_years(self, publication_year: int | None) -> tuple[int, ...]:
        """Years asked about, resolving ``去年``/``今年``/``明年`` against ``publication_year``."""
        if self.years:
            return self.years
        if self.relative_year is not None and publication_year:
            return (publication_year + self.relative_year,)
        return ()


def clean_question(raw: str, max_chars: int) -> tuple[str, str]:
    """Normalise a user question; return ``(question, notice)``.

    Turns full-width digits and letters into ASCII (Chinese punctuation is
    kept), drops HTML tags and control characters, collapses white space, and
    cuts to ``max_chars`` characters (``notice`` then says so). Never raises;
    an empty result means there was no question.
    """
    text = (raw or "").translate(_FULLWIDTH_ALNUM)
    text = _TAG.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = _SPACE.sub(" ", text).strip()
    notice = ""
    if len(text) > max_chars:
        text = text[:max_chars]
        notice = f"问题过长，只使用了前 {max_chars} 个字符。"
    return text, notice


def analyze(question: str) -> Question:
    """Analyse a cleaned question (see :func:`clean_question`); Traditional Chinese
    is folded to Simplified first."""
    from qa.script import fold

    text = fold(question)
    english = not _CJK.search(text)
    terms = content_terms(text)
    lower = text.lower()
    years = tuple(int(m.group(1)) for m in YEAR.finditer(text))
    relative = None
    for word, offset in {**RELATIVE_YEARS, **RELATIVE_YEARS_EN}.items():
        if word in lower:
            relative = offset
            break
    unit = _UNIT_HINT.search(text)
    unit_hint = unit.group(1) if unit else (_english_unit(lower) if english else "")
    ordinal = _ORDINAL.search(text)
    wants_change = bool(_CHANGE.search(text))
    wants_percent = bool(_PERCENT.search(text)) or (wants_change and "多少" in text and not unit)
    if _META.search(text):
        answer_type = "meta"
    elif _DATE.search(text):  # before ordinals: 第十五届…第三次会议是哪天开的
        answer_type = "date"
    elif RANK_QUESTION.search(text):
        answer_type = "rank"
    elif ordinal and re.search(r"什么|哪|是", text[ordinal.end():]):
        answer_type = "ordinal"
    elif _QUANTITY.search(text) or (wants_change and re.search(r"多少|几", text)):
        answer_type = "quantity"
    elif _LIST.search(text):
        answer_type = "list"
    elif _ENTITY.search(text):
        answer_type = "entity"
    else:
        answer_type = "description"
    return Question(
        text=question,
        match_text=text,
        answer_type=answer_type,
        years=years,
        relative_year=relative,
        wants_target=bool(_TARGET.search(text)),
        wants_change=wants_change,
        wants_percent=wants_percent,
        unit_hint=unit_hint,
        ordinal=_ordinal_value(ordinal.group(1)) if ordinal else 0,
        terms=terms,
        english=english,
        has_content=has_natural_language(text) if english else bool(terms),
    )


def letter_words(text: str) -> tuple[list[str], int]:
    """``(words, tokens)``: the white-space separated tokens of ``text`` that are
    words (letters only, two or more, surrounding punctuation ignored), lower-cased,
    in order; and how many tokens hold a letter or digit at all.

    ``"How many places, in 2023?"`` → ``(["how", "many", "places", "in"], 5)``;
    ``"%s {0} 0x1F"`` → ``([], 3)``.
    """
    words, tokens = [], 0
    for token in text.split():
        if not any(ch.isalnum() for ch in token):
            continue
        tokens += 1
        core = token.strip(_WORD_EDGES)
        if _LETTER_WORD.fullmatch(core):
            words.append(core.lower())
    return words, tokens


def has_natural_language(text: str) -> bool:
    """Whether a question without Chinese reads as natural language, so the
    cross-lingual path has something to look up.

    True when ``text`` has at least two words (:func:`letter_words`), at least
    half of its tokens are words, and at least one word is neither a function or
    question word (``how``, ``the``) nor a word of code or a placeholder
    (``select``, ``null``, ``foo``); a code word in capitals, as query languages
    write them (``DROP TABLE users``), marks the whole text as code. ``"What is the GDP growth target for 2024?"``
    → True; ``"12345"``, ``"%s"``, ``"admin'--"``, ``"' OR 1=1 --"``,
    ``"SELECT * FROM t"``, ``"qwertyuiop"`` → False.
    """
    words, tokens = letter_words(text)
    if len(words) < 2 or 2 * len(words) < tokens:
        return False
    if any(core.isupper() and core.lower() in _CODE_WORDS
           for core in (token.strip(_WORD_EDGES) for token in text.split())):
        return False
    return any(w not in _EN_FUNCTION_WORDS and w not in _CODE_WORDS for w in words)


def _english_unit(lower: str) -> str:
    """Classifier for ``how many <noun>`` (``个`` when the noun is not listed);
    ``元`` for ``how much money``; '' otherwise."""
    if re.search(r"how much (?:money|funding|investment|revenue|income|subsid)", lower):
        return "元"
    match = re.search(r"how many ((?:\w+ ?){1,2})", lower)
    if not match:
        return ""
    for word in match.group(1).split():
        for pattern, classifier in _EN_CLASSIFIERS:
            if re.match(pattern, word):
                return classifier
    return "个"


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _ordinal_value(token: str) -> int:
    return int(token) if token.isdigit() else _CN_DIGITS.get(token, 0)


def strip_question_words(text: str) -> str:
    """``text`` with years, relative years, question words (+ measure word) and
    punctuation replaced by spaces, so the remaining runs are content."""
    out = TIME_WORDS.sub(" ", text)
    out = re.sub(rf"(?:(?:排名|排在|位居|位列|排)?第)?(?:多少|几)(?:{_MEASURE})?", " ", out)
    for word in _WH:
        out = out.replace(word, " ")
    out = re.sub(r"[^\w\u3400-\u9fff]+", " ", out)
    return out


@lru_cache(maxsize=4096)
def content_terms(text: str) -> tuple[str, ...]:
    """Content words of a question: jieba words with question and function words removed.

    ``"2023年新增了多少个托位？"`` → ``("新增", "托位")``. English words are kept
    lower-cased (the dense retriever handles cross-lingual matching).
    """
    import jieba

    terms: list[str] = []
    for run in strip_question_words(text).split():
        for word in jieba.lcut(run):
            word = word.strip().lower()
            if not word or all(ch in _FUNCTION_CHARS for ch in word):
                continue
            terms.append(word)
    return tuple(dict.fromkeys(terms))
