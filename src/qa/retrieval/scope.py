"""Which documents a question is about: places and years in document titles and
publishers (:class:`DocumentKeys`, :func:`title_scope`), computed once per index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def _place_stems(words: Iterable[str]) -> set[str]:
    """Place names among title words, and their stems: ``海拉尔区`` → ``海拉尔区``, ``海拉尔``;
    ``东柳``, ``街道`` → ``东柳街道``, ``东柳``."""
    words = list(words)
    places: set[str] = set()
    for i, word in enumerate(words):
        if word in _PLACE_WORD_SUFFIXES and i > 0 and len(words[i - 1]) >= 2:
            places |= {words[i - 1] + word, words[i - 1]}
        elif len(word) >= 3 and word[-1] in _PLACE_SUFFIXES:
            places |= {word, word[:-1]}
    return places


_PLACE_SUFFIXES = "省市县区旗镇乡州盟村"
_PLACE_WORD_SUFFIXES = ("街道", "社区", "新区", "自治区", "自治州", "自治县")


@dataclass(frozen=True)
class DocumentKeys:
    """Which documents a place or year names, computed once for a set of documents.

    A *key* is a place name in a document's title or publisher (a word ending in
    省/市/县/区/旗/镇/乡/州/盟/村 or followed by 街道/社区/…, and its stem:
    ``海拉尔区`` and ``海拉尔``) or a year the document is about
    (:func:`document_years`: a report of 2019 is about 2018 and 2019). It
    *names* those documents, provided that is not all of them and they hold at
    least half of the documents whose text contains it (``海拉尔区``, ``东柳``,
    ``2024``; not a place every report mentions).

    Attributes:
        keys: key → ids of the documents it names.
    """

    keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, documents: Iterable) -> DocumentKeys:
        """Keys of ``documents`` (:class:`~qa.documents.Document`); none for fewer than two.

        Cost: one substring test of each candidate key against each text, once.
        """
        from qa.question import content_terms

        documents = list(documents)
        if len(documents) < 2:
            return cls({})
        heads = {d.id: f"{d.title} {d.metadata.get('publisher', '')}" for d in documents}
        places = {d.id: _place_stems(content_terms(heads[d.id])) for d in documents}
        years = {d.id: document_years(d) for d in documents}
        keys = {}
        for key in sorted(set().union(*places.values(), *years.values())):
            named = frozenset(d.id for d in documents if key in places[d.id] or key in years[d.id])
            if len(named) == len(documents):
                continue
            mentioned = sum(1 for d in documents if key in d.text)
            if 2 * len(named) >= mentioned:
                keys[key] = named
        return cls(keys)

    def scope(self, question: str) -> set[str] | None:
        """Ids of the documents ``question`` names, or None when it names none.

        The intersection over the keys the question contains (years as whole
        years, places as substrings); None when there is none or the
        intersection is empty (the keys contradict each other).
        """
        from qa.question import YEAR

        years = {m.group(1) for m in YEAR.finditer(question)}
        scope: frozenset[str] | None = None
        for key, named in self.keys.items():
            if key in years or (not key.isdigit() and key in question):
                scope = named if scope is None else scope & named
        return set(scope) if scope else None


def title_years(document) -> set[int]:
    """The years a document's title names (``2018`` for 政府工作报告（2018年3月7日…）),
    else the year of its ``date`` metadata, else none."""
    from qa.question import YEAR

    named = {int(m.group(1)) for m in YEAR.finditer(document.title)}
    if not named:
        match = YEAR.match(str(document.metadata.get("date", "")))
        named = {int(match.group(1))} if match else set()
    return named


def part_years(document, chunks: Sequence) -> list[tuple[int | None, int | None]]:
    """For each of ``chunks`` (of ``document``): ``(review_year, plan_year)`` of its part.

    The years come from :func:`qa.figures.periods.report_frame` (a 2019 work
    report reviews 2018 and plans 2019; a 2023 bulletin reviews 2023). A
    compilation of several years' bulletins in one file
    (``南京市2021~2024年…统计公报汇总``) has one frame per part
    (:func:`qa.figures.periods.part_frames`: a dateline followed by the year
    before it), so a later part's chunks get that part's years, not the title's.
    ``(None, None)`` when the document names no year.
    """
    from qa.figures.periods import document_parts, part_at
    from qa.script import fold

    parts = document_parts(document.title or document.metadata.get("title", ""), document.metadata,
                           fold(document.text), document.body_start, chunks)
    return [(part.review_year, part.plan_year) for part in (part_at(parts, c.start) for c in chunks)]


def document_years(document) -> set[str]:
    """The years a document is about: each year ``Y`` its title names, and ``Y - 1``.

    A report given in ``Y`` reviews ``Y - 1`` (its 去年) and sets ``Y``'s targets;
    a bulletin titled ``Y`` compares with ``Y - 1``. A title without a year falls
    back to the year of the ``date`` metadata. ``{"2018", "2017"}`` for the
    海拉尔区 report of 2018-03-07.
    """
    return {str(y) for year in title_years(document) for y in (year - 1, year)}


def title_scope(question: str, documents: Iterable) -> set[str] | None:
    """Ids of the documents ``question`` names (:meth:`DocumentKeys.scope`), or None.

    For callers that hold documents rather than a :class:`Retriever` (which has
    :meth:`Retriever.scope`): the keys of one set of documents are computed once
    and cached (by document ids, which are content hashes), so a query costs a
    look-up of the keys, not a scan of the texts.
    """
    documents = list(documents)
    ids = tuple(d.id for d in documents)
    keys = _KEYS_CACHE.get(ids)
    if keys is None:
        keys = DocumentKeys.from_documents(documents)
        _KEYS_CACHE.clear()
        _KEYS_CACHE[ids] = keys
    return keys.scope(question)


_KEYS_CACHE: dict[tuple[str, ...], DocumentKeys] = {}
