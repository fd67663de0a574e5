"""Follow-up questions → standalone questions, using the conversation history.

``rewrite("托育驿站呢？", ["2023年新增了多少个托位？"])`` →
``"2023年新增了多少个托育驿站？"``. A question that stands on its own is returned
unchanged. Pure string rules (no model): a follow-up is short, opens with a
connective (``那``, ``那么``, ``还有``) or closes with ``呢``, or has no content of
its own beyond a period and an aspect word (``目标``, ``增速``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.question import TIME_WORDS, content_terms, place_names

_LEAD = re.compile(r"^(?:那么|那|还有|另外|然后|而|and|what about|how about)\s*", re.I)
_TAIL = re.compile(r"[呢吗呀啊]?[?？。.!！\s]*$")
_ASK = re.compile(r"多少|几|哪|什么|谁|何时|如何|怎么|怎样|为什么|是否|吗")
#: Words that ask about another aspect of the same topic (appended, not substituted).
ASPECT_WORDS = ("增长目标", "目标", "计划", "增速", "增幅", "增长", "同比", "变化", "占比", "比重", "完成情况")
_PRONOUN = re.compile(r"^(?:它|其|该|这个|那个|这项|这些|那些|此)")
_TOPIC_AFTER_WH = re.compile(r"(?:多少|几)(?:个|家|件|次|名|项|场|部|条|起|所|户|座|人次|人)?([\u4e00-\u9fff]{2,8})")
_TOPIC_BEFORE_WH = re.compile(r"([\u4e00-\u9fff]{2,12}?)(?:是|有|为|达到|达)?(?:多少|几|哪|什么)")
_QUESTION_TAIL = re.compile(r"(?:是|有|为|达到|达)?(?:多少|几)[^，。？?]*[?？]?$")


def is_follow_up(question: str) -> bool:
    """True when ``question`` needs the history to be understood."""
    core = _core(question)
    if _LEAD.match(question) or re.search(r"呢[?？。\s]*$", question) or _PRONOUN.match(core):
        return True
    own = [t for t in content_terms(question) if t not in ASPECT_WORDS]
    return not own


def rewrite(question: str, history: Sequence[str]) -> str:
    """The standalone form of ``question`` given earlier user questions (oldest first).

    Returns ``question`` unchanged when there is no history or it is not a
    follow-up. Earlier follow-ups are resolved first, so chains work: the chain
    of follow-ups that ends at ``question`` is walked back to the last question
    that stands on its own, then resolved forwards, one step per item (no
    recursion, so any length of history is safe; the caller bounds its cost,
    :attr:`qa.config.Settings.max_history`).
    """
    chain = [question]
    for earlier in reversed(history):
        if not is_follow_up(chain[-1]):
            break
        chain.append(earlier)
    resolved = chain.pop()  # stands on its own, or is the oldest question
    while chain:
        resolved = _resolve(chain.pop(), resolved)
    return resolved


def _resolve(question: str, previous: str) -> str:
    """A follow-up ``question`` made standalone with ``previous`` (already standalone)."""
    core = _core(question)
    years = [m.group(0) for m in TIME_WORDS.finditer(core)]
    places = [p for p in place_names(core) if p.strong]
    rest = TIME_WORDS.sub("", core)
    for place in places:
        rest = rest.replace(place.word, "")
    rest = _PRONOUN.sub("", rest).strip("的 ")
    base = previous
    if years:
        base = _replace_years(base, years[0])
    if places:  # 甲川市的旅游收入呢？ after a question about 乙岭市: the new place replaces the old
        base = _replace_place(base, places[0].word)
    if not rest:
        return base
    if _ASK.search(rest):
        topic = _topic(previous)
        at = base.find(topic) if topic else -1
        own = [t for t in content_terms(rest) if t not in ASPECT_WORDS]
        if own and at >= 0 and _QUESTION_TAIL.match(base, at + len(topic)):
            return f"{base[:at]}{rest}？"  # the previous question's period and place, the new topic
        # the previous question's words before its 多少个 go with its topic: 这些项目总投资多少？
        # after 2022年保定安排了多少个重点项目？ asks about the projects 2022年保定安排 (period,
        # place, and the verb that makes them planned ones)
        counted = _TOPIC_AFTER_WH.search(base)
        lead = base[:counted.start()].rstrip("了的共总一有") if counted and counted.group(1) == topic else ""
        if lead:
            return f"{lead}的{topic}的{rest}？"
        year = years[0] if years else _time_word(previous)
        # a strong place (保定市) first, else one jieba tags as a place (保定): the user named it
        earlier = sorted(place_names(previous), key=lambda p: not p.strong)
        place = "" if places else next((p.word for p in earlier), "")
        context = "".join(w for w in (year, place) if w and w not in topic)
        return f"{context}{topic}{'的' if topic else ''}{rest}？"
    aspect = next((w for w in ASPECT_WORDS if rest.endswith(w)), "")
    if aspect:
        head = _QUESTION_TAIL.sub("", base).rstrip("的")
        return f"{head}的{rest}是多少？"
    topic = _topic(previous)
    if topic and topic in base:
        return base.replace(topic, rest, 1)
    return f"{rest}：{base}"


def _time_word(text: str) -> str:
    """The first time word of ``text`` with the ``年`` after it (``2022年``), or ''."""
    m = TIME_WORDS.search(text)
    if not m:
        return ""
    return m.group(0) + "年" if text.startswith("年", m.end()) else m.group(0)


def _core(question: str) -> str:
    return _TAIL.sub("", _LEAD.sub("", question.strip())).strip()


def _replace_years(text: str, year: str) -> str:
    if TIME_WORDS.search(text):
        return TIME_WORDS.sub(year, text, count=1)
    return f"{year}{'' if year.endswith('年') else '年'}{text}"


def _replace_place(text: str, place: str) -> str:
    """``text`` with its first strong place name replaced by ``place`` (prepended when it names none)."""
    old = next((p.word for p in place_names(text) if p.strong), "")
    return text.replace(old, place, 1) if old else f"{place}{text}"


def _topic(question: str) -> str:
    """The thing asked about: the words after ``多少个`` or before ``是多少``,
    the period and the place left out (``乙岭市2023年接待游客多少？`` → ``接待游客``)."""
    core = TIME_WORDS.sub("", _core(question))
    for place in place_names(core):
        core = core.replace(place.word, "") if place.strong else core
    match = _TOPIC_AFTER_WH.search(core)
    if match:
        return match.group(1)
    match = _TOPIC_BEFORE_WH.search(core)
    if match:
        return match.group(1).lstrip("的")
    return core
