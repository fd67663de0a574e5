"""Span helpers: pure functions over text and offsets that generators use to
find, align and trim candidate spans."""

from __future__ import annotations

import functools
import re

from qa.chunking import Chunk, Sentence
from qa.figures import Figure
from qa.question import TIME_WORDS

_EDGE = "的了是为与和及在对把被将“”\"' "
_QUOTED = re.compile(r"[“\"《「][^“”\"《》「」]{1,30}[”\"》」]")
NAME_WORDS = ("叫什么", "名字", "名称", "什么名")
_OPENERS, _CLOSERS = "（(【[「『《“‘〈", "）)】]」』》”’〉"
_PUNCTUATION = "，,。.、；;：:！!？?…—·"


def trim_punctuation(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a neural span past white space, edge punctuation and unbalanced
    brackets or quotes. The reader's tokens can straddle a character boundary
    (``》。``, ``。“``), so a span may begin or end with a stray mark; a
    balanced pair (``《飞狐外传》``, ``（1276年）``) is kept."""
    while start < end:
        c, last = text[start], text[end - 1]
        if c.isspace() or c in _PUNCTUATION or c in _CLOSERS:
            start += 1
        elif last.isspace() or last in _PUNCTUATION or last in _OPENERS:
            end -= 1
        elif c in _OPENERS and _CLOSERS[_OPENERS.index(c)] not in text[start + 1:end]:
            start += 1
        elif last in _CLOSERS and _OPENERS[_CLOSERS.index(last)] not in text[start:end - 1]:
            end -= 1
        else:
            break
    return start, end


CLAUSE_BREAKS = re.compile(r"[,，;；:：。]")
_CLAUSE_OR_LINE = re.compile(r"[,，;；:：。\n]")
#: Words that scope a figure to the report's whole year or area (``全年``, ``全市``, ``年末``).
_SCOPE_WORDS = re.compile(r"全年|年末|年初|本年|当年|全(?:市|州|县|区|省|国|镇|乡|旗|盟|体)")
_EMPTY_BRACKETS = re.compile(r"\s*(?:（\s*）|\(\s*\))[是为,，\s]*")


def bigrams(text: str) -> list[str]:
    return [text[i:i + 2] for i in range(len(text) - 1)]


@functools.lru_cache(maxsize=4096)
def term_pattern(term: str) -> re.Pattern:
    """A regex finding ``term`` in text; a number only as a whole number
    (``37`` is not in ``137`` or ``37.5``). Cached: closeness asks it per figure."""
    head = r"(?<![\d.])" if term[:1].isdigit() else ""
    tail = r"(?![\d.]?\d)" if term[-1:].isdigit() else ""
    return re.compile(head + re.escape(term) + tail)


def contains(text: str, term: str) -> bool:
    """``term in text``, a number only as a whole number (:func:`term_pattern`)."""
    if not any(ch.isdigit() for ch in term[:1] + term[-1:]):
        return term in text
    return term in text and term_pattern(term).search(text) is not None


def coverage(units: dict[str, float], text: str) -> float:
    """IDF-weighted share of ``units`` in ``text`` (numbers as whole numbers); a
    missing word of 3+ characters (not a number) earns half the share of its bigrams
    that are present."""
    total = sum(units.values())
    if not total:
        return 0.0
    found = 0.0
    for term, weight in units.items():
        if contains(text, term):
            found += weight
        elif len(term) >= 3 and not re.search(r"\d", term):  # a number is there whole or not at all
            grams = bigrams(term)
            found += weight * 0.5 * sum(g in text for g in grams) / len(grams)
    return found / total



def restated(question: str, text: str, fig: Figure) -> float:
    """Share of the figure's own description that the question restates, in [0, 1].

    The description is the figure's clause up to the number (``亿元以上`` for
    ``5家`` in ``注册资金千万元以上46家,亿元以上5家``), or its metric when the
    number opens the clause (``同比分别-6.2%、-19.3%``); the share is
    of its character bigrams found in the question. Questions usually restate
    the clause of the figure they ask for, so this separates figures that share
    a sentence. The clause never reaches back over a line break (a heading above),
    and the words that only scope a figure to the whole year or area
    (:data:`_SCOPE_WORDS`: ``全年全市居民人均可支配收入``) are not counted: questions
    rarely restate them, while qualifiers (``农村``, ``城镇``) tell figures apart.
    """
    breaks = [m.end() for m in _CLAUSE_OR_LINE.finditer(text, max(0, fig.start - 40), fig.start)]
    clause = text[breaks[-1] if breaks else max(0, fig.start - 40):fig.start]
    grams = set(bigrams(_SCOPE_WORDS.sub("", clause).strip())) or set(bigrams(fig.metric))
    if not grams:
        return 0.5
    return sum(g in question for g in grams) / len(grams)


def sentence_at(chunk: Chunk, offset: int) -> Sentence:
    for sentence in chunk.sentences:
        if sentence.start <= offset < sentence.end:
            return sentence
    return Sentence(chunk.start, chunk.end, chunk.text)


def clause(text: str, start: int, end: int) -> str:
    """The clause around ``[start, end)``: back to the previous and on to the next break."""
    lo = max((m.end() for m in CLAUSE_BREAKS.finditer(text, max(0, start - 60), start)), default=max(0, start - 60))
    hi_m = CLAUSE_BREAKS.search(text, end, end + 60)
    return text[lo:hi_m.start() if hi_m else min(len(text), end + 60)]


def strip_time(text: str) -> str:
    return TIME_WORDS.sub("", text).strip()


def _find_anchor(pattern: str, text: str, suffix: bool, lo: int = 0) -> tuple[int, int, int]:
    """Longest suffix (or prefix) of ``pattern`` (≥ 2 chars) in ``text[lo:]``:
    ``(start, end, matched_length)``, or ``(-1, -1, 0)``."""
    for size in range(len(pattern), 1, -1):
        piece = pattern[-size:] if suffix else pattern[:size]
        at = text.find(piece, lo)
        if at >= 0:
            return at, at + size, size
    return -1, -1, 0


def align(left: str, right: str, head: str, name: bool, sentence: Sentence):
    """Span of ``sentence`` that the question word stands for, as absolute offsets.

    Returns ``(start, end, anchor_share)`` or None. ``anchor_share`` is the
    fraction of the question context matched around the span.
    """
    text = sentence.text
    right_core = right.lstrip("的了是")
    ls, le, lmatch = _find_anchor(left, text, suffix=True) if len(left) >= 2 else (-1, -1, 0)
    rs, _, rmatch = _find_anchor(right_core, text, suffix=False, lo=max(le, 0)) if len(right_core) >= 2 else (-1, -1, 0)
    if head and rs < 0:
        rs, _, rmatch = _find_anchor(head + right_core, text, suffix=False, lo=max(le, 0))
        if rmatch <= len(head):  # the class noun alone: see _end_before_question_words
            rs, rmatch = -1, 0
        rs = rs + len(head) if rs >= 0 and text.startswith(head, rs) else rs
    denominator = max(1, len(left) + len(right_core))
    share = (lmatch + rmatch) / denominator
    if lmatch == 0 and rmatch == 0:
        return None
    if name and le >= 0:  # X叫什么: a quoted name right before or after the anchor X
        before = text[max(0, ls - 32):ls]
        quote = None
        for m in _QUOTED.finditer(before):
            if m.end() == len(before):
                quote = m
        if quote:
            return sentence.start + ls - len(before) + quote.start(), sentence.start + le, max(share, 0.6)
        after = _QUOTED.match(text, le) or _QUOTED.match(text, le + 1)
        if after:
            return sentence.start + after.start(), sentence.start + after.end(), max(share, 0.6)
    if le >= 0 and rs >= 0 and rs > le:
        start, end = le, rs
    elif rs > 0 and lmatch == 0:
        breaks = [m.end() for m in CLAUSE_BREAKS.finditer(text, 0, rs)]
        start, end = (breaks[-1] if breaks else 0), rs
    elif le >= 0 and rmatch == 0:
        m = CLAUSE_BREAKS.search(text, le)
        start, end = le, _end_before_question_words(text, le, m.start() if m else len(text), head, right_core)
    else:
        return None
    if head and text.startswith(head, end) and not text[start:end].endswith(head):
        end += len(head)
    return sentence.start + start, sentence.start + end, share


#: Characters that continue a list after an item (``甲公司和乙工作室``).
_LIST_LINKS = frozenset("和与及或、")


def _end_before_question_words(text: str, start: int, end: int, head: str, after: str) -> int:
    """Where a span that runs from ``start`` to its clause's end (``end``: the question's
    words after its question word were not found whole) should stop: after the class
    noun ``head`` where the span names it (``新闻与传播学院`` of ``新闻与传播学院兼职``
    for ``哪个学院``; not where a list runs on: ``甲公司和…``), else before the first word
    of two or more characters of ``after`` that it repeats (``甲公司和乙工作室`` of
    ``甲公司和乙工作室开发的系列第三部作品`` for ``由哪两家公司合作开发的``), else ``end``.
    At least one character is kept. jieba segments ``after`` (search mode: ``合作开发``
    gives ``开发`` too)."""
    at = text.find(head, start + 1, end) if head else -1
    while at >= 0:
        if text[at + len(head):at + len(head) + 1] not in _LIST_LINKS:
            return at + len(head)
        at = text.find(head, at + 1, end)  # ``甲公司和乙公司``: the list runs on
    cuts = [text.find(word, start + 1, end) for word in _words(after)]
    return min((at for at in cuts if at >= 0), default=end)


@functools.lru_cache(maxsize=1024)
def _words(text: str) -> tuple[str, ...]:
    """jieba's search-mode words of ``text`` of two or more characters (one question's words
    are looked up in every sentence aligned to it: segmented once)."""
    import jieba

    return tuple(word for word in jieba.lcut_for_search(text) if len(word) >= 2)


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past white space, function characters at the
    edges, empty brackets (``（）``, left where a source dropped a gloss) and a
    closing full stop; keeps balanced quotes."""
    while True:
        m = _EMPTY_BRACKETS.match(text, start, end)
        if not m:
            break
        start = m.end()
    while start < end and text[start] in _EDGE and not (text[start] == "“" and "”" in text[start:end]):
        start += 1
    while end > start and (text[end - 1] in "。.,，;；:：!！?？ \n" or (text[end - 1] in _EDGE and text[end - 1] != "”")):
        end -= 1
    return start, end


#: Words that link a subject or an act to the entity named after them
#: (``由江苏中圣集团``, ``国务院授予全国脱贫攻坚先进集体``, ``荣获…称号``).
_RELATION = re.compile(r"由|被|授予|授牌|评为|列为|获评|荣获|获得|成为|命名为|确定为|作为|和|与|同")
#: Where a phrase of the question ends: a relation word, a particle or a verb-like link.
_PHRASE_END = re.compile(_RELATION.pattern + r"|的|是|在|了|将|把|[，。？?！!、\s]")


def variants(text: str, start: int, end: int, question: str) -> list[tuple[int, int]]:
    """Other shapes of the span ``[start, end)`` of ``text`` that may be the answer
    itself, each a ``(start, end)`` slice of ``text`` (at least 2 characters):

    - the part after the last relation word (``投资7.2亿元由江苏中圣集团`` →
      ``江苏中圣集团``; ``国务院授予全国脱贫攻坚先进集体`` → ``全国脱贫攻坚先进集体``);
    - the span carried on to the end of a phrase the question names when it
      stops inside one (``胜利社区卫生`` before ``服务中心``, asked
      ``哪家社区卫生服务中心…`` → ``胜利社区卫生服务中心``).

    The scorer weighs them against the span as found (feature ``variant``).
    """
    out: list[tuple[int, int]] = []
    span = text[start:end]
    cuts = [m.end() for m in _RELATION.finditer(span) if 2 <= len(span) - m.end()]
    if cuts:
        out.append(trim(text, start + cuts[-1], end))
    for tail in range(min(len(span), 8), 1, -1):
        at = question.find(span[-tail:])
        if at < 0:
            continue
        phrase_rest = _PHRASE_END.split(question[at + tail:], maxsplit=1)[0]
        grow = 0
        while grow < len(phrase_rest) and end + grow < len(text) and text[end + grow] == phrase_rest[grow]:
            grow += 1
        if grow >= 2:
            out.append((start, end + grow))
        break
    return [(s, e) for s, e in dict.fromkeys(out) if e - s >= 2 and (s, e) != (start, end)]


#: Class nouns of a ``哪个…`` question that ask for a place (``哪个城市`` → a name ending in ``市``).
PLACE_CLASSES = {"城市": "市", "地市": "市", "市": "市", "县": "县", "区县": "县区", "县区": "县区", "区": "区",
                 "省": "省", "省份": "省", "镇": "镇", "乡镇": "乡镇", "街道": "街道", "村": "村"}


def split_question(question: str, wh_start: int, wh_end: int) -> tuple[str, str, str]:
    """``(before, head, after)`` around the question word ``question[wh_start:wh_end]``:
    ``head`` is the class noun after ``哪个``/``哪家``… (``哪个项目`` → ``项目``), ''
    for other question words; ``after`` stops before the closing particles and
    punctuation (``呢吗？``). jieba (first word) segments the head."""
    after = re.sub(r"[呢吗呀?？。!！\s]+$", "", question[wh_end:])
    head = ""
    if question[wh_start] == "哪" and wh_end - wh_start > 1 and after:
        head = _first_word(after)
        after = after[len(head):]
    return question[:wh_start], head, after


def _first_word(text: str) -> str:
    """The first word of ``text`` when it is Chinese (jieba segments it), else ''."""
    import jieba

    words = jieba.lcut(text) if text else []
    return words[0] if words and re.fullmatch(r"[\u4e00-\u9fff]+", words[0]) else ""


def after_class_word(after: str) -> str:
    """``after`` (the question's words after its question word) less its first word, the
    noun that classes the answer in ``什么语言广播的电影频道`` or ``什么时候生产销售``: a
    span may run on into the words after that noun (``华语广播的电影频道``,
    ``春节时期生产销售``), which the noun itself keeps from being next to the question
    word. '' when nothing follows the first word. jieba (first word) segments it."""
    word = _first_word(after)
    return after[len(word):] if word else ""


def trim_question_context(span: str, before: str, after: str, keep: int = 2,
                          anywhere: bool = True) -> tuple[int, int]:
    """``(start, end)`` within ``span`` once the question's own words are cut from its edges.

    A span proposed for ``…以什么作为唯一标识？`` may run on into the words the
    question puts after its question word (``自然人纳税人识别号为唯一标识``) or
    start with those it puts before (``作者张三`` for ``…的作者是谁``). The longest
    end of at least 2 characters found in ``after``, or of any length that
    ``after`` starts with (``华语广播的电影频道`` for ``以什么语言广播的电影频道``), is
    cut; so is the longest start found in ``before``, or that ``before`` ends with
    (``受清太祖努尔哈赤`` for ``…受谁重用``), leaving at least ``keep`` characters.
    Without ``anywhere`` only the words next to the question word are cut (for
    a span already aligned with the question: ``普陀区真金路…`` keeps the
    ``普陀区`` that the question names further away).
    """
    start, end = 0, len(span)
    for size in range(end - keep, 0, -1):
        piece = span[end - size:end]
        if (anywhere and size >= 2 and piece in after) or after.startswith(piece):
            end -= size
            break
    for size in range(end - start - keep, 0, -1):
        piece = span[start:start + size]
        if (anywhere and size >= 2 and piece in before) or before.endswith(piece):
            start += size
            break
    return start, end


def place_in_span(span: str, suffixes: str) -> tuple[int, int] | None:
    """``(start, end)`` of the one place name in ``span`` that ends in one of
    ``suffixes`` (``据凯里市城市`` → ``凯里市`` for ``市``), or None when there is
    none or more than one."""
    from qa.question import place_names

    found = [p.word for p in place_names(span) if p.strong and p.word.endswith(tuple(suffixes))]
    if len(found) != 1:
        return None
    at = span.find(found[0])
    return (at, at + len(found[0])) if at >= 0 else None


#: The question word a span stands for; ``为什么`` asks for a reason, which no span
#: beside the question's words is (the neural reader and whole sentences answer it).
WH_SPAN = re.compile(  # not 为什么 (why), but 列为/评为/作为…什么 (as what)
    r"(?<!^为)(?<![^列作成称评定视名认]为)(叫什么名字|叫什么|什么名字|是什么|是谁|哪(?:[一二两三四五六七八九十几]?[个些家位项座所条种批])|哪里|哪儿|什么|谁)"
)


def asked_place(question: str, wh_start: int) -> str:
    """Suffixes of the place a ``哪个城市``-style question asks for (``市``), '' for other
    questions; ``wh_start``: where its question word starts."""
    asked = re.match(r"哪[一个座所]*", question[wh_start:])
    rest = question[wh_start + asked.end():] if asked else ""
    return next((PLACE_CLASSES[k] for k in sorted(PLACE_CLASSES, key=len, reverse=True) if rest.startswith(k)), "")


def shape_neural_span(question: str, answer_type: str, text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]``, a span the neural reader proposed for ``question``, without
    the question's own words at its edges (:func:`trim_question_context`), and for a
    ``哪个城市``-style question the one place name of the asked kind inside it
    (:func:`place_in_span`). Figures, dates, ranks and ordinals keep their shape."""
    wh = WH_SPAN.search(question)
    if wh is None or answer_type in ("quantity", "date", "rank", "ordinal"):
        return start, end
    suffixes = asked_place(question, wh.start())
    if suffixes:
        place = place_in_span(text[start:end], suffixes)
        if place:
            return start + place[0], start + place[1]
    before, head, after = split_question(question, wh.start(), wh.end())
    ds, de = trim_question_context(text[start:end], before, after)
    if head and text[start:end].endswith(head):
        de = end - start  # 哪两个菜场: the answer ends with the class noun (东海菜场), even where
        # the question names it again after the gap (获评省四星级菜场)
    return trim(text, start + ds, start + de) if (ds, de) != (0, end - start) else (start, end)
