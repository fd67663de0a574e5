"""BM25 over chunks: jieba tokenisation (:func:`tokenize`, :data:`STOP_WORDS`) and the bm25s index.

BM25 is Okapi BM25 as computed by ``bm25s`` (see :mod:`qa.index`); tokens come
from :func:`tokenize`, never from bm25s' own splitter.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qa.chunking import Chunk
from qa.script import fold

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load faiss/bm25s/jieba
    import bm25s


# --------------------------------------------------------------------------- tokenisation

#: Function words and question words dropped by :func:`tokenize`. Kept short on
#: purpose: BM25's IDF already discounts frequent words; these are the ones that
#: occur in questions far more than in answers (多少, 什么 …) or carry no content.
STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 及 及其 以及 或 或者 等 等等 也 都 就 而 并 并且 且 之 其 这 那 这个 那个
    这些 那些 该 此 着 过 被 把 将 对 对于 于 由 从 向 为 为了 以 让 给 吗 呢 吧 啊 呀 么 嘛
    什么 多少 哪些 哪个 哪里 哪 几 几个 如何 怎么 怎样 怎么样 是否 是不是 有没有 请问 请 一下
    你 我 他 她 它 你们 我们 他们 它们 自己
    a an and are as at be by for from how in is it of on or that the this to was what when
    where which who why with
    """.split()
)


@functools.lru_cache(maxsize=1)
def _segmenter():
    """jieba's default tokenizer (``jieba.dt``), initialised once.

    The same instance (and dictionary) the part-of-speech tagger ``jieba.posseg``
    of the question analysis and the figure reader uses: a private
    ``jieba.Tokenizer()`` with the same default dictionary cut identically but
    loaded the dictionary a second time (~0.8 s and ~75 MB at every start)."""
    import jieba

    jieba.dt.initialize()
    return jieba.dt


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text``: jieba search-mode words, normalised and filtered.

    Steps: Unicode NFKC (full-width ``６０％``/``（一）`` → ``60%``/``(一)``),
    Traditional characters folded to Simplified (:func:`qa.script.fold`: jieba's
    dictionary is Simplified) and lower-casing; jieba ``cut_for_search`` (words plus the shorter words inside long
    ones: ``生产总值`` → ``生产``, ``总值``, ``生产总值``), so a question that says 总值
    still matches; then tokens without a letter or digit (punctuation, spaces) and
    :data:`STOP_WORDS` are dropped. Numbers stay whole (``60.3``, ``6.2%``).
    The same function tokenises chunks and queries.

    Example: ``tokenize("2023年地区生产总值是多少？")`` →
    ``["2023", "年", "地区", "生产", "总值", "生产总值"]``.
    """
    text = fold(unicodedata.normalize("NFKC", text)).lower()
    return [
        token
        for token in _segmenter().lcut_for_search(text)
        if token not in STOP_WORDS and any(ch.isalnum() for ch in token)
    ]


def bm25_text(chunk: Chunk, title: str) -> str:
    """Text BM25 indexes for a chunk: the same as the encoder sees (title, section path, text).

    The title lets a question that names the place or year of a document find it
    among several; the section path carries the topic sentence of the paragraph.
    """
    return chunk.embedding_text(title)


def _make_bm25(chunks: Sequence[Chunk], titles: dict[str, str], params: dict[str, Any]) -> bm25s.BM25:
    """A bm25s index with one BM25 document per chunk, in chunk order."""
    import bm25s

    corpus = [tokenize(bm25_text(c, titles[c.doc_id])) for c in chunks]
    bm25 = bm25s.BM25(k1=params["k1"], b=params["b"], method=params["method"])
    bm25.index(corpus, show_progress=False)
    return bm25
