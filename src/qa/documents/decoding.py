"""Bytes to text: byte-order marks, UTF-16 without one, UTF-8, GB18030 and other
charsets (charset-normalizer), binary-file detection, and the canonical line breaks."""

from __future__ import annotations

import codecs

from qa.documents.errors import DocumentError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Encodings charset-normalizer may report for simplified Chinese; all are
#: decoded as GB18030, their superset (GB 18030-2005).
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz", "euc_cn", "ms936"}
#: A decoded text with more control characters than this share (and more than
#: four) is taken for a binary file.
_MAX_CONTROL_RATIO = 0.05


def decode_bytes(data: bytes, source: str = "<bytes>") -> tuple[str, str]:
    """Decode a file's bytes; return ``(text, encoding name)``.

    Order: a byte-order mark (UTF-8/16/32) decides; else NUL bytes at alternate
    offsets mean UTF-16 without a BOM (little- or big-endian by where they fall);
    else strict UTF-8; else the best guess of charset-normalizer, where any
    GB2312/GBK guess is decoded as GB18030 (a superset). The BOM is not part of
    the text.

    Raises:
        DocumentError: empty data; NUL bytes that are not BOM-less UTF-16 of
            Chinese or ASCII text (the message says what reading it so gave); no
            encoding detected;
            or a decoded text with more than 5 % control characters (all signs of
            a binary file).
    """
    if not data.strip():
        raise DocumentError.at(source, f"empty file ({len(data)} bytes, no text)")
    encoding = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    if encoding is None and b"\x00" in data:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            raise DocumentError.at(source, "binary file (contains NUL bytes), not a text document")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise DocumentError.at(
                source,
                f"binary file (contains NUL bytes; read as {encoding.upper()} without a byte-order "
                f"mark: {exc.reason} at byte {exc.start}), not a text document",
            ) from exc
        if _common_share(text) < 0.8:
            raise DocumentError.at(
                source,
                f"binary file (contains NUL bytes; read as {encoding.upper()} without a byte-order "
                f"mark it is not Chinese or ASCII text), not a text document",
            )
    elif encoding is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text = None
        if text is None:
            import charset_normalizer

            best = charset_normalizer.from_bytes(data).best()
            if best is None:
                raise DocumentError.at(
                    source, "cannot detect a text encoding (binary file or unknown encoding)"
                )
            encoding = best.encoding.lower()
            if encoding in _GB_FAMILY:
                encoding = "gb18030"
    else:
        text = None
    if text is None:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DocumentError.at(source, f"cannot decode as {encoding}: {exc}") from exc
    text = text.lstrip("\ufeff")
    controls = sum(1 for ch in text if _is_control(ch) and ch not in "\t\n\r\f")
    if controls > max(4, _MAX_CONTROL_RATIO * len(text)):
        raise DocumentError.at(
            source, f"binary file ({controls} control characters in {len(text)}), not a text document"
        )
    return text, encoding


def _common_share(text: str) -> float:
    """Share of ``text``'s characters that are ASCII, CJK (U+2E80–U+9FFF), general
    punctuation (U+2000–U+206F) or full-width forms (U+FF00–U+FFEF); random bytes
    read as UTF-16 score about 0.45, Chinese text about 1."""
    common = sum(1 for ch in text if ch < "\x80" or "\u2e80" <= ch <= "\u9fff"
                 or "\u2000" <= ch <= "\u206f" or "\uff00" <= ch <= "\uffef")
    return common / max(1, len(text))


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` when ``data`` looks like UTF-16 without a BOM.

    UTF-16 text has an even length, and the NUL bytes of its ASCII characters (line
    breaks, digits, Latin letters) fall on odd offsets (little-endian) or on even ones
    (big-endian); a binary file's NUL bytes fall on both. At least 75 % on one side
    counts (CJK characters U+xx00 such as 一 add NUL bytes on the other side), provided the NUL bytes are many (at least 5 % of the 2-byte units) or the
    bytes without them are not UTF-8: a few stray NUL bytes in a UTF-8 file are not
    UTF-16. Returns None otherwise.
    """
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if odd >= 0.75 * (even + odd):
        encoding = "utf-16-le"
    elif even >= 0.75 * (even + odd):
        encoding = "utf-16-be"
    else:
        return None
    if even + odd >= 0.05 * len(data) / 2:
        return encoding
    try:
        data.replace(b"\x00", b"").decode("utf-8")
    except UnicodeDecodeError:
        return encoding
    return None


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o < 0xA0


_LINE_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROL_MAP = {
    o: ("\n" if chr(o) in _LINE_BREAKS else " ")
    for o in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
    if chr(o) not in "\t\n"
}


def normalize_text(text: str) -> str:
    """Canonical text of a plain file: ``\\r\\n`` → ``\\n``; other controls keep the length.

    Line-like controls (lone ``\\r``, ``\\v``, ``\\f``, U+001C–U+001E, U+0085,
    U+2028, U+2029) become ``\\n``; the remaining C0/C1 controls except ``\\t``
    become a space. Only the CRLF step changes the length.
    """
    return text.replace("\r\n", "\n").translate(_CONTROL_MAP)
