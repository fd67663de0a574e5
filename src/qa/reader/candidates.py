"""Candidate generators: every span that could answer a question, with the
rule evidence the scorer reads as features.

By expected answer type (:mod:`qa.question`):

* ``quantity`` — :class:`~qa.figures.Figure` records in the retrieved chunks,
  with closeness of the question's words to the number, restatement of the
  figure's clause, unit/change/period agreement;
* ``list`` / ``entity`` — the gap left by the question word when the question
  is aligned with a sentence (``商会企业与哪个村结对共建`` against
  ``商会企业与盐源县拦河村结对共建`` → ``盐源县拦河村``), a classic rule for
  Chinese factoid extraction;
* ``ordinal`` — enumerated items (``一是…；二是…``);
* ``rank`` — positions in a ranking or a series (``位居全球第五``, ``第六次荣获``), by
  closeness of the question's words;
* ``date`` — dates near the question's words;
* ``meta`` — the document's own metadata header (publication date, publisher);
* every type — whole sentences; and the neural span reader's best span per passage.

Lexical evidence (support of a passage, closeness of the question's words to a
span) is :mod:`qa.reader.evidence`.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Sequence

import numpy as np

from qa.chunking import Chunk, Sentence
from qa.documents import Document
from qa.figures import Figure
from qa.question import RANK_QUESTION, Question, date_precision
from qa.reader.constraints import document_scope, question_places
from qa.reader.evidence import LexicalEvidence
from qa.reader.figure_fit import as_printed_end, figure_type_fit
from qa.reader.records import Candidate
from qa.reader.spans import (
    NAME_WORDS,
    WH_SPAN,
    after_class_word,
    align,
    asked_place,
    clause,
    coverage,
    place_in_span,
    restated,
    sentence_at,
    shape_neural_span,
    split_question,
    strip_time,
    trim,
    trim_punctuation,
    trim_question_context,
    variants,
)
from qa.retrieval import Passage
from qa.script import fold

_LIST_TRAILER = re.compile(r"等(?:[一二两三四五六七八九十几\d]+[个家项所座名位条批种类])?.*$")
_DATE = re.compile(
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|(?:19|20)\d{2}年\d{1,2}月|(?:19|20)\d{2}年"
)
#: A stretch of time written from one date to another (``2025年1月1日-2025年12月31日``,
#: ``2024年3月1日至3月15日``, ``1969年至1970年``): the first date has its year, the second
#: may leave out what it shares with the first.
DATE_RANGE = re.compile(
    r"(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?\s*(?:至|到|-|—|–|~|～)\s*"
    r"(?:(?:19|20)\d{2}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*日)"
)
_CN = "零一二三四五六七八九十"
#: A position: ``第`` and a number (``第五``, ``第21``, ``第十二``).
_RANK_NUMBER = re.compile(r"第(?:[〇零一二两三四五六七八九十百]+|\d+)")
#: Bounds of the cross-lingual re-ranking (:meth:`CandidateGenerator._rerank_semantic`): the
#: candidates re-ranked, and the characters encoded of each clause and of the question.
SEMANTIC_CANDIDATES = 40
SEMANTIC_CLAUSE_CHARS = 100
SEMANTIC_QUESTION_CHARS = 200
#: Office titles a person's name follows (代区长 included as 区长's longer form).
_TITLES = re.compile(r"代?(?:省长|市长|区长|县长|旗长|州长|镇长|乡长|主任|书记|局长|主席|厅长|部长|院长|校长|董事长|总经理)")
#: Questions that ask for a person.
_PERSON_QUESTION = re.compile(r"谁|哪位|什么人|姓名|名字叫")


class CandidateGenerator:
    """Finds candidate spans in retrieved passages, with their rule evidence.

    Args:
        documents: document id → :class:`Document`.
        chunks: every indexed chunk (for bigram document frequencies).
        figures: every figure of the indexed documents.
        embed: optional ``texts -> (n, d) float32`` L2-normalised encoder used
            only for questions with no Chinese words to match (cross-lingual).
        spans: optional neural span proposer, ``(question, contexts) -> [SpanPrediction | None]``
            with offsets into each context (:meth:`qa.span_model.SpanModel.predict`);
            its best span in each of the top ``span_passages`` passages becomes a
            candidate (``kind="neural"``).
        span_passages: how many of the best passages the span proposer reads.
    """

    def __init__(
        self,
        documents: dict[str, Document],
        chunks: Sequence[Chunk],
        figures: Sequence[Figure],
        embed: Callable[[list[str]], np.ndarray] | None = None,
        spans: Callable[[str, list[str]], list] | None = None,
        span_passages: int = 3,
    ) -> None:
        self.documents = documents
        self.spans = spans
        self.span_passages = span_passages
        self.embed = embed
        self._folded = {doc_id: folded for doc_id, doc in documents.items()
                        if (folded := fold(doc.text)) != doc.text}
        self.evidence = LexicalEvidence(
            [self._folded.get(c.doc_id, c.text)[c.start:c.end] if c.doc_id in self._folded else c.text
             for c in chunks])
        self.figures_by_doc: dict[str, list[Figure]] = {}
        for figure in sorted(figures, key=lambda f: f.start):
            self.figures_by_doc.setdefault(figure.doc_id, []).append(figure)
        self._figure_starts = {d: [f.start for f in fs] for d, fs in self.figures_by_doc.items()}

    def figures_in(self, chunk: Chunk) -> list[Figure]:
        """Figures whose number starts inside ``chunk`` (by position: overlapping
        chunks share the figures of their common sentences)."""
        figures = self.figures_by_doc.get(chunk.doc_id, [])
        starts = self._figure_starts.get(chunk.doc_id, [])
        return figures[bisect.bisect_left(starts, chunk.start):bisect.bisect_left(starts, chunk.end)]

    def candidates(self, q: Question, passages: Sequence[Passage]) -> list[Candidate]:
        """Every candidate in ``passages`` (best first), by :attr:`Candidate.rule_confidence`.

        Each candidate knows its passage's rank; a candidate that a neural span
        overlaps carries that span's probability (``neural``, ``neural_iou``),
        and the neural spans are candidates of their own.
        """
        all_units = self.evidence.units(q)
        places = [stem for stem, _ in question_places(q.match_text)]
        found: list[Candidate] = []
        views = [self._matching_view(p) for p in passages]
        supports = [self.evidence.support(all_units, p) * _rank_prior(rank) for rank, (_, p) in enumerate(views)]
        n = self.span_passages
        neural, answerable = self._neural(q, views[:n], supports[:n]) if self.spans else ([], {})
        for rank, ((doc, passage), support) in enumerate(zip(views, supports, strict=True)):
            start = len(found)
            units = self.evidence.without_subject(all_units, document_scope(doc).subject, places)
            if q.answer_type == "meta":
                found += self._meta(q, passage, doc, support)
            if q.answer_type == "quantity":
                found += self._figures(q, units, passage, doc, support)
            if q.answer_type == "ordinal":
                found += self._items(q, units, passage, doc, support)
            if q.answer_type == "rank":
                found += self._ranks(q, units, passage, doc, support)
            if q.answer_type == "date":
                found += self._dates(q, units, passage, doc, support)
            if q.answer_type in ("list", "entity", "description", "date", "ordinal"):
                found += self._aligned(q, passage, doc, support)
            if q.answer_type in ("entity", "list") and _PERSON_QUESTION.search(q.match_text):
                found += self._people(q, passage, doc, support)
            found += self._sentences(q, units, passage, doc, support)
            found[start:] = [dataclasses.replace(c, rank=rank) for c in found[start:]]
        if neural:
            found = _agree(found, neural)
        if answerable:
            found = [dataclasses.replace(c, parts=(*c.parts, ("answerable", answerable.get(c.chunk.id, 0.0))))
                     for c in found]
        if q.english and self.embed is not None and found:
            found = self._rerank_semantic(q, found)
        found.sort(key=lambda c: c.rule_confidence, reverse=True)
        return found

    def span_candidates(self, q: Question, passages: Sequence[Passage]) -> list[tuple[Candidate, float]]:
        """The span reader's candidates alone, with their confidence, best first.

        One span per passage read (the best :attr:`span_passages`), ordered by
        ``P(passage answers) · P(span | it does)`` (calibrated answer probability
        times :attr:`SpanPrediction.probability`); the confidence returned is the
        passage's answer probability (the span probability for an adapter without
        a calibration). Needs :attr:`spans`; empty without it.
        """
        if not self.spans:
            return []
        views = [self._matching_view(p) for p in passages[:self.span_passages]]
        neural, answerable = self._neural(q, views, [0.0] * len(views))
        scored = [(c, answerable.get(c.chunk.id, c.neural)) for c in neural]
        scored.sort(key=lambda item: item[1] * item[0].neural, reverse=True)
        return scored

    def _matching_view(self, passage: Passage) -> tuple[Document, Passage]:
        """The passage's document and the passage with Simplified text to match
        against (the same objects when the document is Simplified already).
        Offsets are unchanged; answers are sliced from the original text."""
        doc = self.documents[passage.chunk.doc_id]
        folded = self._folded.get(doc.id)
        if folded is None:
            return doc, passage
        chunk = passage.chunk
        chunk = dataclasses.replace(
            chunk, text=folded[chunk.start:chunk.end],
            sentences=tuple(dataclasses.replace(s, text=folded[s.start:s.end]) for s in chunk.sentences))
        return dataclasses.replace(doc, text=folded), dataclasses.replace(passage, chunk=chunk)

    # -------------------------------------------------------------- candidates
    def _figures(self, q, units, passage, doc, support) -> list[Candidate]:
        out = []
        pub_year = document_scope(doc).publication_year
        years = q.target_years(pub_year)
        for fig in self.figures_in(passage.chunk):
            sentence = sentence_at(passage.chunk, fig.start)
            closeness = self.evidence.closeness(units, doc.text, fig.start, fig.end, fig.metric, sentence) if units else 0.5
            restatement = restated(q.match_text, doc.text, fig)
            type_fit = figure_type_fit(q, fig, years, pub_year)
            fit = 0.25 * closeness + 0.3 * restatement + 0.45 * type_fit
            parts = (("closeness", closeness), ("restated", restatement), ("type_fit", type_fit))
            out.append(Candidate(passage.chunk, fig.start, as_printed_end(doc.text, fig, q.match_text), sentence, fit, support,
                                 "figure", figure=fig, parts=parts))
        return out

    def _meta(self, q, passage, doc, support) -> list[Candidate]:
        labels = {  # most specific label first
            "date": ("发布日期", "发布时间", "发文时间", "生成日期", "日期"),
            "publisher": ("发布机构", "发文单位", "信息来源", "来源"),
            "index_number": ("索引号",),
            "title": ("标题",),
        }
        if re.search(r"机构|单位|谁|部门", q.match_text):
            key = "publisher"
        elif "索引号" in q.match_text:
            key = "index_number"
        elif re.search(r"标题|题目|名称", q.match_text):
            key = "title"
        else:
            key = "date"
        value = fold(doc.metadata.get(key, ""))
        if not value:
            return []
        for label in (m for name in labels[key] for m in re.finditer(name, doc.text)):
            at = doc.text.find(value, label.end(), label.end() + 40)
            if at < 0 and key == "date":  # header date written another way (2024年3月21日)
                m = _DATE.search(doc.text, label.end(), label.end() + 40)
                at, value = (m.start(), m.group(0)) if m else (-1, value)
            if at >= 0:
                line_start = doc.text.rfind("\n", 0, label.start()) + 1
                line_end = doc.text.find("\n", at)
                line_end = len(doc.text) if line_end < 0 else line_end
                sentence = Sentence(line_start, line_end, doc.text[line_start:line_end])
                return [Candidate(passage.chunk, at, at + len(value), sentence, 1.0, 1.0, "meta")]
        return []

    def _items(self, q, units, passage, doc, support) -> list[Candidate]:
        n = q.ordinal
        if not 0 < n <= 10:
            return []
        cn = _CN[n]
        pattern = re.compile(rf"(?:(?<![\u4e00-\u9fff]){cn}是|第{cn}[,，、是:：]|[（(]{n}[）)]|{chr(0x2460 + n - 1)})")
        out = []
        for m in pattern.finditer(passage.chunk.text):
            start = passage.chunk.start + m.end()
            end_m = re.compile(r"[;；。\n]").search(doc.text, start, passage.chunk.end)
            end = end_m.start() if end_m else passage.chunk.end
            if end - start < 2:
                continue
            sentence = sentence_at(passage.chunk, m.start() + passage.chunk.start)
            lead = doc.text[max(passage.chunk.start, m.start() + passage.chunk.start - 40):start]
            share = coverage(units, lead + doc.text[sentence.start:sentence.end])
            out.append(Candidate(passage.chunk, start, end, sentence, 0.5 + 0.5 * share, support,
                                 "item", parts=(("closeness", share),)))
        return out

    def _ranks(self, q, units, passage, doc, support) -> list[Candidate]:
        """Positions ``第N`` in the passage (kind ``item``), by closeness of the question words.

        A series word after ``第几`` in the question (``第几次``, ``第几批``, ``第几季度``)
        must follow the number too, and the span keeps it (``第六次``). A ranking
        (``排第几``, ``第几名``, ``第几位``) takes a bare ``第N`` or one with ``位``/``名``
        (kept: ``第21位``); a ``第N`` that starts another word (``第一产业``, ``第三批``)
        is not a rank."""
        asked = RANK_QUESTION.search(q.match_text)
        word = (asked.group(1) or "") if asked else ""
        series = "" if word in ("名", "位") else word
        out = []
        chunk = passage.chunk
        for m in _RANK_NUMBER.finditer(chunk.text):
            rest = chunk.text[m.end():m.end() + 2]
            if series:
                if not rest.startswith(series):
                    continue
                end = m.end() + len(series)
            elif rest[:1] in ("位", "名"):
                end = m.end() + 1
            elif re.match(r"[\u3400-\u9fff]", rest) and rest[0] not in "的、":
                continue
            else:
                end = m.end()
            start = chunk.start + m.start()
            sentence = sentence_at(chunk, start)
            closeness = self.evidence.closeness(units, doc.text, start, chunk.start + end, "", sentence)
            out.append(Candidate(chunk, start, chunk.start + end, sentence, 0.5 + 0.5 * closeness,
                                 support, "item", parts=(("closeness", closeness),)))
        return out

    def _dates(self, q, units, passage, doc, support) -> list[Candidate]:
        """Dates in the passage, by closeness of the question words; only the year
        (the year and month) when the question asks which year (which month); for
        a question about a stretch of time (``实施周期``), also each :data:`DATE_RANGE`."""
        out = []
        precision = date_precision(q.match_text)
        matches = list(_DATE.finditer(passage.chunk.text))
        if precision == "range":
            matches += list(DATE_RANGE.finditer(passage.chunk.text))
        for m in matches:
            start = passage.chunk.start + m.start()
            text = m.group(0).rstrip()
            if precision == "year":
                text = text[:text.index("年") + 1] if "年" in text else text[:4]
            elif precision == "month" and "月" in text:
                text = text[:text.index("月") + 1]
            sentence = sentence_at(passage.chunk, start)
            closeness = self.evidence.closeness(units, doc.text, start, start + len(text), "", sentence)
            out.append(Candidate(passage.chunk, start, start + len(text), sentence, 0.5 + 0.5 * closeness,
                                 support, "date", parts=(("closeness", closeness),)))
        return out

    def _people(self, q, passage, doc, support) -> list[Candidate]:
        """Names written after an office title (``海拉尔区人民政府区长　杜联合``,
        ``市长闫继红在…``): the span is the name, not the title. The title asked
        about (``哪位区长``) is preferred; a name is the jieba word after the
        title tagged as a person (``nr``), or 2–3 Chinese characters standing
        alone before white space or punctuation."""
        import jieba.posseg

        asked = [t for t in _TITLES.findall(q.match_text)]
        chunk = passage.chunk
        out = []
        for m in _TITLES.finditer(chunk.text):
            at = m.end()
            while at < len(chunk.text) and chunk.text[at] in " \u3000\t":
                at += 1
            rest = chunk.text[at:at + 8]
            words = jieba.posseg.lcut(rest)
            if not words:
                continue
            word, flag = words[0]
            alone = re.match(r"[\u4e00-\u9fff]{2,3}(?=$|[\s\u3000,，。、;；:：（(])", rest)
            if flag != "nr" and not alone:
                continue
            name = word if flag == "nr" and 2 <= len(word) <= 4 else alone.group(0)
            start = chunk.start + at
            title_match = float(any(t == m.group(0) or m.group(0).endswith(t) for t in asked)) if asked else 0.5
            out.append(Candidate(chunk, start, start + len(name), sentence_at(chunk, start),
                                 0.6 + 0.4 * title_match, support, "span",
                                 parts=(("anchor", title_match), ("person", 1.0))))
        return out

    def _aligned(self, q, passage, doc, support) -> list[Candidate]:
        wh = WH_SPAN.search(q.match_text)
        if not wh:
            return []
        before, head, after = split_question(q.match_text, wh.start(), wh.end())
        left, right = strip_time(before), after
        name = any(w in q.match_text for w in NAME_WORDS)
        suffixes = asked_place(q.match_text, wh.start())
        rest = after_class_word(after) if not head and wh.group().endswith("什么") else ""
        out = []
        for sentence in passage.chunk.sentences:
            span = align(left, right, head, name, sentence)
            if span is None:
                continue
            start, end, anchor = span
            if q.answer_type == "list" or "、" in doc.text[start:end]:
                end = start + len(_LIST_TRAILER.sub("", doc.text[start:end]))
            start, end = trim(doc.text, start, end)
            place = place_in_span(doc.text[start:end], suffixes) if suffixes else None
            if place:
                start, end = start + place[0], start + place[1]
            else:
                text = doc.text[start:end]
                ds, de = trim_question_context(text, before, after, anywhere=False)
                if de == len(text) and rest:  # 什么语言 / 什么时候: the words after the class noun
                    de = min(de, trim_question_context(text, "", rest, anywhere=False)[1])
                start, end = trim(doc.text, start + ds, start + de)
            if end - start < 1 or end - start > 60:
                continue
            fit = 0.5 + 0.5 * anchor
            if q.answer_type == "date" and not re.search(r"\d|[一二三四五六七八九十]+[年月日]", doc.text[start:end]):
                fit *= 0.6  # a date question answered without a date
            out.append(Candidate(passage.chunk, start, end, sentence, fit, support, "span",
                                 parts=(("anchor", anchor),)))
            for vs, ve in variants(doc.text, start, end, q.match_text):
                out.append(Candidate(passage.chunk, vs, ve, sentence, fit, support, "span",
                                     parts=(("anchor", anchor), ("variant", 1.0))))
        return out

    def _sentences(self, q, units, passage, doc, support) -> list[Candidate]:
        """Whole sentences, the fallback; weak for questions that want a number."""
        out = []
        scale = {"description": 0.6, "quantity": 0.3}.get(q.answer_type, 0.45)
        for sentence in passage.chunk.sentences:
            share = coverage(units, sentence.text) if units else 0.0
            fit = scale * share if units else 0.3
            start, end = trim(doc.text, sentence.start, sentence.end)
            out.append(Candidate(passage.chunk, start, end, sentence, fit, support, "sentence",
                                 parts=(("closeness", share),)))
        return out

    def _neural(self, q: Question, views, supports) -> tuple[list[Candidate], dict[str, float]]:
        """The span proposer's best span in each passage (read in its Simplified view),
        and the reader's calibrated probability that each passage answers the
        question at all (``SpanPrediction.answer_probability``), by chunk id
        (empty for an adapter without a no-answer calibration).

        Fit is the span's probability against the window's other spans
        (``SpanPrediction.probability``), scaled by 0.8 for quantity questions
        (the rule score the scorer reads as a feature; the unscaled probability
        is ``neural``). ``views`` are the best passages in rank order, so each
        span's rank is its position there.
        """
        predictions = self.spans(q.text, [p.chunk.text for _, p in views])
        answerable = {p.chunk.id: pred.answer_probability for (_, p), pred in zip(views, predictions, strict=True)
                      if pred is not None and pred.answer_probability is not None}
        out = []
        for rank, ((doc, passage), support, pred) in enumerate(zip(views, supports, predictions, strict=True)):
            if pred is None:
                continue
            chunk = passage.chunk
            start, end = trim_punctuation(doc.text, chunk.start + pred.start, chunk.start + pred.end)
            if start >= end:
                continue
            start, end = shape_neural_span(q.match_text, q.answer_type, doc.text, start, end)
            fit = pred.probability * (0.8 if q.answer_type == "quantity" else 1.0)
            out.append(Candidate(chunk, start, end, sentence_at(chunk, start), fit, support, "neural",
                                 rank=rank, neural=pred.probability, neural_iou=1.0))
        return out, answerable

    def _rerank_semantic(self, q: Question, found: list[Candidate]) -> list[Candidate]:
        """For questions without Chinese words: fit from the encoder's similarity
        between the question and each candidate's clause (computed on demand).

        Weighted 0.3 against 0.7 for the candidate's own fit: at clause level
        multilingual-e5-small separates related Chinese terms poorly across
        languages (``childcare places`` is closer to 托育驿站 than to 托位).

        Bounded work whatever the input: at most :data:`SEMANTIC_CANDIDATES`
        candidates, each distinct clause cut to :data:`SEMANTIC_CLAUSE_CHARS` and
        encoded once, the question cut to :data:`SEMANTIC_QUESTION_CHARS`.
        """
        found = sorted(found, key=lambda c: c.rule_confidence, reverse=True)[:SEMANTIC_CANDIDATES]
        clauses = [clause(self.documents[c.chunk.doc_id].text, c.start, c.end)[:SEMANTIC_CLAUSE_CHARS]
                   for c in found]
        distinct = list(dict.fromkeys(clauses))  # candidates in one clause: encoded once
        # the question apart, so the clauses are not padded to its length
        question = self.embed([q.text[:SEMANTIC_QUESTION_CHARS]])[0]
        sim_of = dict(zip(distinct, self.embed(distinct) @ question, strict=True))
        sims = [sim_of[clause] for clause in clauses]
        out = []
        for cand, sim in zip(found, sims, strict=True):
            semantic = float(np.clip((sim - 0.7) / 0.2, 0.0, 1.0))
            kind_bonus = 1.0 if cand.kind == "figure" and q.answer_type == "quantity" else 0.7
            out.append(dataclasses.replace(cand, fit=min(1.0, 0.7 * cand.fit + 0.3 * semantic) * kind_bonus,
                                           parts=(*cand.parts, ("semantic", semantic))))
        return out


def _agree(found: list[Candidate], neural: list[Candidate]) -> list[Candidate]:
    """Merge the neural reader's spans into the rule candidates.

    Every rule candidate that a neural span overlaps records that span's
    probability and their character IoU (the scorer's ``neural`` features); a
    neural span with exactly the same offsets as a rule candidate is not added
    again, every other one competes as a candidate of its own.
    """
    out = []
    for cand in found:
        best, iou = 0.0, 0.0
        for span in neural:
            if span.chunk.doc_id != cand.chunk.doc_id or span.end <= cand.start or cand.end <= span.start:
                continue
            inter = min(span.end, cand.end) - max(span.start, cand.start)
            union = max(span.end, cand.end) - min(span.start, cand.start)
            if (span.neural, inter / union) > (best, iou):
                best, iou = span.neural, inter / union
        out.append(dataclasses.replace(cand, neural=best, neural_iou=iou) if best else cand)
    same = {(c.chunk.doc_id, c.start, c.end) for c in found}
    return out + [c for c in neural if (c.chunk.doc_id, c.start, c.end) not in same]



def _rank_prior(rank: int) -> float:
    """Mild preference for better-ranked passages: 1, 0.95, 0.9, … (floor 0.7)."""
    return max(0.7, 1.0 - 0.05 * rank)
