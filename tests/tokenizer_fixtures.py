"""Small ``tokenizers`` Unigram tokenizers written by the tests (no model download)."""

from __future__ import annotations

from pathlib import Path

#: ``(piece, score)``: specials first, pieces of Chinese and ASCII text, pieces out of
#: the pruned set (Korean, Greek-free Latin letters with accents) and the lowest score
#: on a piece the pruned set drops (``ü``), so pruning must keep it for the unknown score.
VOCAB = [
    ("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0),
    ("▁", -2.0), ("托", -5.0), ("位", -5.0), ("托位", -6.0), ("한", -3.0), ("é", -4.0),
    ("▁PM", -7.0), ("2", -3.0), (".", -2.0), ("5", -3.0), ("yz", -20.0), ("w", -15.0),
    ("zw", -1.0), ("z", -2.0), ("ü", -50.0), ("▁caf", -6.0), ("<mask>", 0.0),
]


def write_unigram(directory: Path, vocab=VOCAB) -> Path:
    """Write ``directory/tokenizer.json``: Unigram over ``vocab`` (unknown id 3), NFKC,
    Metaspace, ``<s> $A </s>`` / ``<s> $A </s> </s> $B </s>`` and ``<mask>`` as the last
    special token (as XLM-R's). Returns the file's path."""
    from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram(list(vocab), unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False)
                            for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>") if p in ids])
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    return directory / "tokenizer.json"
