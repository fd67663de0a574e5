"""Numbers and quantities: parsing numerals and scanning a sentence for quantities."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.figures.vocabulary import (
    _CLAUSE_SEPS,
    _CN_BIG,
    _CN_COUNTED,
    _CN_DIGITS,
    _CN_SMALL,
    _DATE_RE,
    _FRACTION_RE,
    _FULLWIDTH,
    _LEAD_QUALIFIERS_LONGEST,
    _MAX_QUOTE,
    _NUM_RE,
    _OPEN_QUOTES,
    _RANGE_RE,
    _RATIO_RE,
    _SESSION_WORDS,
    _SIGNS,
    _TAIL_RE,
    _UNIT_CATEGORY,
    FIXED_TERMS,
    MAGNITUDES,
    MAGNITUDES_LONGEST,
)

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
    for mag in MAGNITUDES_LONGEST:
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
    for mag in MAGNITUDES_LONGEST:
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
    for w in _LEAD_QUALIFIERS_LONGEST:
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
