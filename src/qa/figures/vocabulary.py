"""Vocabulary of figure reading: units, qualifiers, link words, cues and the regular expressions built from them."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    "共", "在", "的", "由", "从",
    # level verbs: the number after them is the level reached, not the change
    "增至", "降至", "升至", "减至", "提高至", "提升至", "增长至", "增加至", "下降至", "降低至",
    "减少至", "上升到", "上升至", "扩大到", "扩大至", "缩小到", "缩小至", "回落到", "回落至",
    "控制到", "控制至", "达到了", "各", "涉及", "包括", "涵盖", "覆盖", "惠及",
) + LEAD_QUALIFIERS
#: Endings of link words that make the number a level reached (提高到92%, 降至3%).
LEVEL_ENDINGS = ("到", "至", "达到", "达到了")
#: A change verb fused with 到/至: the number is the level reached (提高到92%),
#: unlike 增长达到10% where the growth rate itself reaches 10%.
LEVEL_VERBS = tuple(w + end for w in ("增长", "下降", "提高", "提升", "增加", "减少", "降低", "上升",
                                      "回落", "下滑", "上涨", "扩大", "缩小", "收窄", "控制")
                    for end in ("到", "至")) + ("增至", "降至", "升至", "减至")
#: Scope words that are no metric on their own (其中4条: a part of the figure before).
SCOPE_ONLY = ("其中", "全年", "年内", "年末", "今年", "当年", "累计", "共", "合计", "共计")
#: Words dropped from the start of a metric.
_LEAD_WORDS = (
    "初步核算", "全年", "年末", "年初", "其中", "累计", "共计", "合计", "总计",
    "实现", "完成", "达到", "获得", "取得", "力争", "确保", "争取", "力求", "预计",
    "计划", "拥有", "共有", "全部", "分别", "共", "占",
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
    "受到", "获评", "荣获", "列入", "纳入", "建成", "通车", "投入使用", "落地", "加快", "如期",
)
#: After ``N次`` these make the number a session's ordinal (十一届四次全会).
_SESSION_WORDS = ("会议", "全会", "全体会议", "全委", "常委会", "代表大会", "大会")
_MAX_METRIC = 20  # characters kept at most of a long metric phrase

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}

_DIGIT = "0-9０-９"
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")


def _longest_first(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(words, key=len, reverse=True))


#: The word lists above, longest first, so that a prefix or suffix match takes
#: the longest word (``提高到`` before ``到``).
MAGNITUDES_LONGEST = _longest_first(MAGNITUDES)
_LINK_WORDS_LONGEST = _longest_first(_LINK_WORDS)
_LEAD_WORDS_LONGEST = _longest_first(_LEAD_WORDS)
_LEAD_QUALIFIERS_LONGEST = _longest_first(LEAD_QUALIFIERS)


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
_RATIO_RE = re.compile(rf"(?:[:：][{_DIGIT}]+(?:[.．][{_DIGIT}]+)?)+")
_FRACTION_RE = re.compile(rf"/([{_DIGIT}]+)(?![{_DIGIT}.])")
_RANGE_RE = re.compile(rf"[-－–—~～至到]([{_DIGIT}]+(?:[.．][{_DIGIT}]+)?)")
_DATE_RE = re.compile(
    rf"[{_DIGIT}]{{4}}[-/.][{_DIGIT}]{{1,2}}[-/.][{_DIGIT}]{{1,2}}"
    rf"|(?<![{_DIGIT}.:：])[{_DIGIT}]{{1,2}}[:：][{_DIGIT}]{{2}}(?:[:：][{_DIGIT}]{{2}})?(?![{_DIGIT}.:：])"
)
_MARKER_RE = re.compile(r"(?:[\u2460-\u2473\u2776-\u277f]|\^?\[[0-9]{1,3}\])$")
_CLAUSE_SEPS = set("，,；;：:。！？!?")
_SIGNS = "-−－"
_OPEN_QUOTES = {"“": "”", "《": "》", "「": "」", "『": "』", "〈": "〉"}
_MAX_QUOTE = 40  # a quoted span longer than this is a quotation, not a name
