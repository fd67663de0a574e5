"""The pruned tokenizer (qa.tokenizer_prune): the full tokenizer's ids and offsets on the
text it accepts, the full tokenizer itself on the rest.

These tests use a small Unigram tokenizer (tests/tokenizer_fixtures.py);
tests/test_onnx_backend.py checks the real model's on the shipped corpus.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizer_fixtures import VOCAB, write_unigram
from tokenizers import Tokenizer

from qa.tokenizer_prune import PRUNED_IDS, PRUNED_TOKENIZER, SwitchingTokenizer, prune_tokenizer


@pytest.fixture()
def tokenizers_pair(tmp_path):
    """(full ``tokenizers.Tokenizer``, :class:`SwitchingTokenizer`, prune entry) of the small vocabulary."""
    source = write_unigram(tmp_path / "model")
    entry = prune_tokenizer(source, tmp_path)
    return Tokenizer.from_file(str(source)), SwitchingTokenizer(source, (tmp_path, entry)), entry


def test_pruning_keeps_the_pieces_of_kept_characters_the_specials_and_the_lowest_score(tmp_path):
    source = write_unigram(tmp_path / "model")
    entry = prune_tokenizer(source, tmp_path)
    kept = np.load(tmp_path / PRUNED_IDS)
    assert kept.dtype == np.int32
    # dropped: 한 (Hangul) and é (a Latin-1 letter); ü is out of the set too but has the lowest score
    assert [VOCAB[i][0] for i in range(len(VOCAB)) if i not in kept] == ["한", "é"]
    assert (entry["pieces"], entry["source_pieces"], entry["file"]) == (len(VOCAB) - 2, len(VOCAB), PRUNED_TOKENIZER)
    pruned = json.loads((tmp_path / PRUNED_TOKENIZER).read_text(encoding="utf-8"))
    assert [t["id"] for t in pruned["added_tokens"]] == [0, 1, 2, 3, len(VOCAB) - 3]  # <mask> renumbered
    assert pruned["model"]["unk_id"] == 3


@pytest.mark.parametrize("text", [
    "yzw",  # full: ▁ yz w (-37); with a higher unknown score ▁ <unk> zw (-33) would win
    "<s>托位<mask> PM2.5",  # specials, and <mask> whose pruned id differs
    "托托位位 x y",  # unknown characters (fused), spaces
    "ＰＭ２.５ ①",  # normalised (NFKC) before the check: full-width letters, ① → 1
])
def test_pruned_ids_and_offsets_equal_the_full_tokenizer(tokenizers_pair, text):
    full, switching, _ = tokenizers_pair
    assert switching.accepts(text)
    want, got = full.encode(text), switching.encode_batch([text])[0]
    assert (got.ids, got.offsets, got.sequence_ids) == (want.ids, want.offsets, want.sequence_ids)
    assert not switching.full_loaded


def test_the_unknown_score_case_needs_the_lowest_piece(tokenizers_pair):
    full, switching, _ = tokenizers_pair
    assert switching.encode_batch(["yzw"])[0].ids == full.encode("yzw").ids == [0, 4, 14, 15, 2]


def test_overflowing_windows_equal_the_full_tokenizer(tokenizers_pair):
    full, switching, _ = tokenizers_pair
    pairs = [("托位", "托位 PM2.5 " * 6), ("x", "托")]
    full.enable_truncation(12, stride=3, strategy="only_second")
    want = full.encode_batch(pairs)
    got = switching.encode_batch(pairs, truncation=(12, 3))
    assert [len(e.overflowing) for e in got] == [len(e.overflowing) for e in want] == [11, 0]
    for w, g in zip(want, got, strict=True):
        for we, ge in zip([w, *w.overflowing], [g, *g.overflowing], strict=True):
            assert (ge.ids, ge.offsets, ge.sequence_ids) == (we.ids, we.offsets, we.sequence_ids)


@pytest.mark.parametrize(("text", "ids"), [
    ("한 托位", [0, 4, 8, 4, 7, 2]),  # 한: a piece the pruned copy dropped
    ("café", [0, 19, 9, 2]),
    ("托位ü", [0, 4, 7, 18, 2]),
])
def test_text_outside_the_set_goes_through_the_full_tokenizer(tokenizers_pair, text, ids):
    full, switching, _ = tokenizers_pair
    assert not switching.accepts(text)
    mixed = switching.encode_batch(["托位", text])  # one text out of the set: the whole call
    assert switching.full_loaded
    assert [e.ids for e in mixed] == [e.ids for e in full.encode_batch(["托位", text])] == [[0, 4, 7, 2], ids]


def test_a_tokenizer_other_than_unigram_is_not_pruned(tmp_path):
    from tokenizers import Tokenizer as Tok
    from tokenizers import models

    Tok(models.WordPiece({"[UNK]": 0, "托": 1}, unk_token="[UNK]")).save(str(tmp_path / "tokenizer.json"))
    assert prune_tokenizer(tmp_path / "tokenizer.json", tmp_path) is None
    assert not (tmp_path / PRUNED_TOKENIZER).exists() and not (tmp_path / PRUNED_IDS).exists()
    switching = SwitchingTokenizer(tmp_path / "tokenizer.json")  # no pruned copy: the full one at once
    assert switching.full_loaded and not switching.accepts("托")
    assert switching.encode_batch(["托"])[0].ids == [1]
