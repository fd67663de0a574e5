"""Extractive answer selection with exact citations, and abstention.

The reader never generates text: every candidate is a pair of character offsets
into a :class:`~qa.documents.Document`, and the answer text is sliced from the
document with them, so ``doc.text[citation.start:citation.end] == answer.text``
by construction (the habit of Haystack's ``ExtractedAnswer``).

Candidates by expected answer type (:mod:`qa.question`):

* ``quantity`` — :class:`~qa.figures.Figure` records in the retrieved chunks,
  scored by closeness of the question's words to the number, unit, change and
  period agreement;
* ``list`` / ``entity`` — the gap left by the question word when the question
  is aligned with a sentence (``商会企业与哪个村结对共建`` against
  ``商会企业与盐源县拦河村结对共建`` → ``盐源县拦河村``), a classic rule for
  Chinese factoid extraction;
* ``ordinal`` — enumerated items (``一是…；二是…``);
* ``date`` — dates near the question's words;
* ``meta`` — the document's own metadata header (publication date, publisher);
* every type — whole sentences as the fallback.

Lexical evidence is weighted by the inverse document frequency of the
question's words over the indexed chunks (Sparck Jones 1972), so rare words
count more; a word missing from a passage earns partial credit for its
character bigrams. The same weights measure *support*: how much of the question
a passage covers. Confidence is ``sqrt(fit × support)``; below
``Settings.abstain_threshold`` the reader abstains (monotone by construction).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.chunking import Chunk, Sentence
from qa.documents import Document
from qa.figures import Figure
from qa.question import TIME_WORDS, Question
from qa.retrieval import Passage
from qa.script import fold


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from. Offsets are characters into ``Document.text``, half-open.

    ``doc.text[start:end] == answer.text`` and
    ``doc.text[sentence_start:sentence_end] == answer.sentence`` always hold.
    """

    doc_id: str
    title: str
    section_path: tuple[str, ...]
    chunk_id: str
    paragraph: int
    start: int
    end: int
    sentence_start: int
    sentence_end: int


@dataclass(frozen=True)
class Answer:
    """The reply to one question.

    Attributes:
        question: the question as asked (after cleaning).
        standalone_question: the question actually answered (a follow-up rewritten
            with the history; equal to ``question`` when not rewritten).
        text: the short answer, exactly ``doc.text[citation.start:citation.end]``;
            '' when abstained.
        sentence: the supporting sentence; '' when abstained.
        citation: where ``text`` is; None when abstained.
        confidence: in [0, 1].
        abstained: True when the documents do not contain the answer.
        alternatives: the next best answers (at most two), each an ``Answer``.
        passages: the retrieved passages, best first (the "related" passages of
            an abstention).
        notice: a message for the user ('' if none), e.g. that the question was cut.
    """

    question: str
    standalone_question: str
    text: str
    sentence: str
    citation: Citation | None
    confidence: float
    abstained: bool
    alternatives: tuple[Answer, ...] = ()
    passages: tuple[Passage, ...] = field(default=(), repr=False)
    notice: str = ""

    def to_dict(self, with_passages: bool = True) -> dict:
        """JSON-ready dict, written out field by field (offsets: characters, half-open)."""
        out = {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "sentence": self.sentence,
            "citation": None if self.citation is None else {
                **dataclasses.asdict(self.citation), "section_path": list(self.citation.section_path)},
            "confidence": round(float(self.confidence), 4),
            "abstained": self.abstained,
            "notice": self.notice,
            "alternatives": [a.to_dict(with_passages=False) for a in self.alternatives],
        }
        if with_passages:
            out["passages"] = [p.to_dict() for p in self.passages]
        return out


@dataclass(frozen=True)
class Candidate:
    """A scored span: ``doc.text[start:end]``, inside ``sentence`` of ``chunk``."""

    chunk: Chunk
    start: int
    end: int
    sentence: Sentence
    fit: float  # how well the span fits the question, in [0, 1]
    support: float  # how much of the question its passage covers, in [0, 1]
    kind: str  # figure | span | item | date | meta | sentence | neural

    @property
    def confidence(self) -> float:
        return max(0.0, min(1.0, math.sqrt(self.fit * self.support)))


_CLAUSE_END = re.compile(r"[,，;；:：。！？!?\n]")
#: Bounds on the cross-lingual re-ranking (:meth:`Reader._rerank_semantic`), so a long
#: or hostile question without Chinese costs about what an ordinary one does: the
#: best candidates re-ranked, characters of each clause and of the question encoded.
SEMANTIC_CANDIDATES = 40
SEMANTIC_CLAUSE_CHARS = 100
SEMANTIC_QUESTION_CHARS = 200
_LIST_TRAILER = re.compile(r"等(?:[一二两三四五六七八九十几\d]+[个家项所座名位条批种类])?.*$")
_EDGE = "的了是为与和及在对把被将“”\"' "
_DATE = re.compile(
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|(?:19|20)\d{2}年\d{1,2}月|(?:19|20)\d{2}年"
)
_WH_SPAN = re.compile(
    r"(叫什么名字|叫什么|什么名字|是什么|是谁|哪(?:[一二两三四五六七八九十几]?[个些家位项座所条种批])|哪里|哪儿|什么|谁)"
)
_YEAR_QUESTION = re.compile(r"哪一?年|几几年|什么年份|which year", re.I)
_QUOTED = re.compile(r"[“\"《「][^“”\"《》「」]{1,30}[”\"》」]")
_CN = "零一二三四五六七八九十"
NAME_WORDS = ("叫什么", "名字", "名称", "什么名")


class Reader:
    """Selects the answer span from retrieved passages.

    Args:
        documents: document id → :class:`Document`.
        chunks: every indexed chunk (for bigram document frequencies).
        figures: every figure of the indexed documents.
        abstain_threshold: confidence below which the reader abstains.
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
        abstain_threshold: float,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        spans: Callable[[str, list[str]], list] | None = None,
        span_passages: int = 3,
    ) -> None:
        self.documents = documents
        self.spans = spans
        self.span_passages = span_passages
        self.abstain_threshold = abstain_threshold
        self.embed = embed
        self._folded = {doc_id: folded for doc_id, doc in documents.items()
                        if (folded := fold(doc.text)) != doc.text}
        self._texts = [self._folded.get(c.doc_id, c.text)[c.start:c.end] if c.doc_id in self._folded
                       else c.text for c in chunks]
        self._idf: dict[str, float] = {}
        self.n_chunks = max(1, len(chunks))
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

    # ----------------------------------------------------------------- weights
    def idf(self, term: str) -> float:
        """Inverse document frequency of ``term`` over chunks: log(1 + N / (df + 0.1)).

        df is counted by substring (Chinese has no word boundaries to count by).
        The small smoothing constant makes a word that occurs nowhere weigh far
        more than a rare one: its absence is the strongest sign that the
        documents do not hold the answer.
        """
        if term not in self._idf:
            df = sum(term in text for text in self._texts)
            self._idf[term] = math.log(1.0 + self.n_chunks / (df + 0.1))
        return self._idf[term]

    def units(self, q: Question) -> dict[str, float]:
        """Question content words → idf. English words are left to the dense retriever."""
        return {t: self.idf(t) for t in q.terms if not re.fullmatch(r"[a-z0-9]+", t)}

    def support(self, units: dict[str, float], passage: Passage) -> float:
        """IDF-weighted share of question words found in the passage and its section path."""
        if not units:
            return _dense_support(passage)
        return _coverage(units, passage.chunk.text + " ".join(passage.chunk.section_path))

    # ------------------------------------------------------------------ answer
    def read(
        self,
        q: Question,
        passages: Sequence[Passage],
        question: str,
        notice: str = "",
    ) -> Answer:
        """The best answer to ``q`` from ``passages`` (best first), or an abstention.

        ``question`` is the text as asked (``q.text`` is the standalone form). A
        Chinese question without content words (``是多少？``) has nothing to
        match and is abstained on.
        """
        candidates = self.candidates(q, passages) if (q.english or self.units(q)) else []
        answers = []
        seen = set()
        for cand in candidates:
            key = (cand.chunk.doc_id, cand.start, cand.end)
            text = self.documents[cand.chunk.doc_id].text[cand.start:cand.end]
            if key in seen or text in {a.text for a in answers}:
                continue
            if answers and _overlaps(answers[0].citation, cand):
                continue  # an alternative that contains (or is inside) the answer adds nothing
            seen.add(key)
            answers.append(self._answer(cand, q, question, passages, notice))
            if len(answers) == 3:
                break
        if not answers or answers[0].confidence < self.abstain_threshold:
            confidence = answers[0].confidence if answers else 0.0
            return Answer(question, q.text, "", "", None, confidence, True,
                          passages=tuple(passages), notice=notice)
        best = answers[0]
        return Answer(best.question, best.standalone_question, best.text, best.sentence,
                      best.citation, best.confidence, False, tuple(answers[1:]),
                      tuple(passages), notice)

    def candidates(self, q: Question, passages: Sequence[Passage]) -> list[Candidate]:
        """All scored candidates, best first."""
        units = self.units(q)
        found: list[Candidate] = []
        views = [self._matching_view(p) for p in passages]
        supports = [self.support(units, p) * _rank_prior(rank) for rank, (_, p) in enumerate(views)]
        n = self.span_passages
        neural = self._neural(q, views[:n], supports[:n]) if self.spans else []
        for (doc, passage), support in zip(views, supports, strict=True):
            if q.answer_type == "meta":
                found += self._meta(q, passage, doc, support)
            if q.answer_type == "quantity":
                found += self._figures(q, units, passage, doc, support)
            if q.answer_type == "ordinal":
                found += self._items(q, units, passage, doc, support)
            if q.answer_type == "date":
                found += self._dates(q, units, passage, doc, support)
            if q.answer_type in ("list", "entity", "description", "date", "ordinal"):
                found += self._aligned(q, passage, doc, support)
            found += self._sentences(q, units, passage, doc, support)
        if neural:
            found = _agree(found, neural, q.answer_type == "quantity")
        if q.english and self.embed is not None and found:
            found = self._rerank_semantic(q, found)
        found.sort(key=lambda c: c.confidence, reverse=True)
        return found

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
        pub_year = _publication_year(doc)
        years = q.target_years(pub_year)
        for fig in self.figures_in(passage.chunk):
            sentence = _sentence_at(passage.chunk, fig.start)
            closeness = self._closeness(units, doc.text, fig.start, fig.end, fig.metric, sentence) if units else 0.5
            restated = _restated(q.match_text, doc.text, fig)
            fit = 0.25 * closeness + 0.3 * restated + 0.45 * _figure_type_fit(q, fig, years, pub_year)
            out.append(Candidate(passage.chunk, fig.start, fig.end, sentence, fit, support, "figure"))
        return out

    def _closeness(self, units: dict[str, float], text: str, start: int, end: int, metric: str,
                   sentence: Sentence) -> float:
        """IDF-weighted closeness of the question words to the span ``[start, end)``
        (a figure's number, a date), in [0, 1].

        A word counts ``exp(-d / 12)`` for its nearest occurrence, ``d`` being
        half the characters between it and the span plus 6 per clause break
        (after the span: twice the distance plus 10); inside ``metric`` (the
        figure's metric words) it counts fully, before the sentence by half. A word that is not
        there counts by the share of its character bigrams that are, halved.
        """
        lo = max(0, sentence.start - 60)
        total = sum(units.values())
        score = 0.0
        for term, weight in units.items():
            if metric and term in metric:
                score += weight
                continue
            best = self._nearest(term, text, lo, sentence, start, end)
            if best == 0.0 and len(term) >= 3:
                grams = _bigrams(term)
                best = 0.5 * sum(self._nearest(g, text, lo, sentence, start, end) for g in grams) / len(grams)
            score += weight * best
        return score / total if total else 0.0

    @staticmethod
    def _nearest(term: str, text: str, lo: int, sentence: Sentence, start: int, end: int) -> float:
        best = 0.0
        for m in re.finditer(re.escape(term), text[lo:sentence.end]):
            s, e = lo + m.start(), lo + m.end()
            if e <= start:
                d = len(_CLAUSE_BREAKS.findall(text, e, start)) * 6 + (start - e) * 0.5
            else:
                d = (s - end) * 2 + 10
            decay = math.exp(-max(d, 0.0) / 12.0)
            if s < sentence.start:
                decay *= 0.5
            best = max(best, decay)
        return best

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
            sentence = _sentence_at(passage.chunk, m.start() + passage.chunk.start)
            lead = doc.text[max(passage.chunk.start, m.start() + passage.chunk.start - 40):start]
            fit = 0.5 + 0.5 * _coverage(units, lead + doc.text[sentence.start:sentence.end])
            out.append(Candidate(passage.chunk, start, end, sentence, fit, support, "item"))
        return out

    def _dates(self, q, units, passage, doc, support) -> list[Candidate]:
        """Dates in the passage, by closeness of the question words; only the year
        when the question asks which year (``哪一年``)."""
        out = []
        year_only = bool(_YEAR_QUESTION.search(q.match_text))
        for m in _DATE.finditer(passage.chunk.text):
            start = passage.chunk.start + m.start()
            text = m.group(0).rstrip()
            if year_only:
                text = text[:text.index("年") + 1] if "年" in text else text[:4]
            sentence = _sentence_at(passage.chunk, start)
            closeness = self._closeness(units, doc.text, start, start + len(text), "", sentence)
            fit = 0.5 + 0.5 * closeness
            out.append(Candidate(passage.chunk, start, start + len(text), sentence, fit, support, "date"))
        return out

    def _aligned(self, q, passage, doc, support) -> list[Candidate]:
        wh = _WH_SPAN.search(q.match_text)
        if not wh:
            return []
        left = _strip_time(q.match_text[:wh.start()])
        right = re.sub(r"[呢吗呀?？。!！\s]+$", "", q.match_text[wh.end():])
        head = ""
        if wh.group(1).startswith("哪") and len(wh.group(1)) > 1 and right:
            import jieba

            words = jieba.lcut(right)
            if words and re.fullmatch(r"[\u4e00-\u9fff]+", words[0]):
                head, right = words[0], right[len(words[0]):]
        name = any(w in q.match_text for w in NAME_WORDS)
        out = []
        for sentence in passage.chunk.sentences:
            span = _align(left, right, head, name, sentence)
            if span is None:
                continue
            start, end, anchor = span
            if q.answer_type == "list" or "、" in doc.text[start:end]:
                end = start + len(_LIST_TRAILER.sub("", doc.text[start:end]))
            start, end = _trim(doc.text, start, end)
            if end - start < 1 or end - start > 60:
                continue
            fit = 0.5 + 0.5 * anchor
            if q.answer_type == "date" and not re.search(r"\d|[一二三四五六七八九十]+[年月日]", doc.text[start:end]):
                fit *= 0.6  # a date question answered without a date
            out.append(Candidate(passage.chunk, start, end, sentence, fit, support, "span"))
        return out

    def _sentences(self, q, units, passage, doc, support) -> list[Candidate]:
        """Whole sentences, the fallback; weak for questions that want a number."""
        out = []
        scale = {"description": 0.6, "quantity": 0.3}.get(q.answer_type, 0.45)
        for sentence in passage.chunk.sentences:
            fit = scale * _coverage(units, sentence.text) if units else 0.3
            start, end = _trim(doc.text, sentence.start, sentence.end)
            out.append(Candidate(passage.chunk, start, end, sentence, fit, support, "sentence"))
        return out

    def _neural(self, q: Question, views, supports) -> list[Candidate]:
        """The span proposer's best span in each passage (read in its Simplified view).

        Fit is the span's probability against the window's other spans and the
        no-answer option (``SpanPrediction.probability``); for quantity questions
        it is scaled by 0.8, so that a figure whose unit and period agree with
        the question wins over a bare neural span of equal weight.
        """
        predictions = self.spans(q.text, [p.chunk.text for _, p in views])
        out = []
        for (doc, passage), support, pred in zip(views, supports, predictions, strict=True):
            if pred is None:
                continue
            chunk = passage.chunk
            start, end = _trim_punctuation(doc.text, chunk.start + pred.start, chunk.start + pred.end)
            if start >= end:
                continue
            fit = pred.probability * (0.8 if q.answer_type == "quantity" else 1.0)
            out.append(Candidate(chunk, start, end, _sentence_at(chunk, start), fit, support, "neural"))
        return out

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
        found = sorted(found, key=lambda c: c.confidence, reverse=True)[:SEMANTIC_CANDIDATES]
        clauses = [_clause(self.documents[c.chunk.doc_id].text, c.start, c.end)[:SEMANTIC_CLAUSE_CHARS]
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
            out.append(Candidate(cand.chunk, cand.start, cand.end, cand.sentence,
                                 min(1.0, 0.7 * cand.fit + 0.3 * semantic) * kind_bonus,
                                 cand.support, cand.kind))
        return out

    def _answer(self, cand: Candidate, q: Question, question: str, passages, notice) -> Answer:
        doc = self.documents[cand.chunk.doc_id]
        citation = Citation(
            doc_id=doc.id,
            title=doc.title,
            section_path=cand.chunk.section_path,
            chunk_id=cand.chunk.id,
            paragraph=cand.chunk.paragraph,
            start=cand.start,
            end=cand.end,
            sentence_start=cand.sentence.start,
            sentence_end=cand.sentence.end,
        )
        return Answer(question, q.text, doc.text[cand.start:cand.end],
                      doc.text[cand.sentence.start:cand.sentence.end], citation,
                      cand.confidence, False, notice=notice)


# --------------------------------------------------------------------- helpers
_OPENERS, _CLOSERS = "（(【[「『《“‘〈", "）)】]」』》”’〉"
_PUNCTUATION = "，,。.、；;：:！!？?…—·"


def _trim_punctuation(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a neural span past white space, edge punctuation and unbalanced
    brackets or quotes. The reader's tokens can straddle a character boundary
    (``》。``, ``。“``), so a span may begin or end with a stray mark; a
    balanced pair (``《飞狐外传》``, ``（1276年）``) is kept."""
    while start < end:
        c, last = text[start], text[end - 1]
        if c.isspace() or c in _PUNCTUATION or c in _CLOSERS:
            start += 1
        elif last.isspace() or last in _PUNCTUATION or last in _OPENERS:
            end -= 1
        elif c in _OPENERS and _CLOSERS[_OPENERS.index(c)] not in text[start + 1:end]:
            start += 1
        elif last in _CLOSERS and _OPENERS[_CLOSERS.index(last)] not in text[start:end - 1]:
            end -= 1
        else:
            break
    return start, end


def _agree(found: list[Candidate], neural: list[Candidate], quantity: bool) -> list[Candidate]:
    """Merge neural candidates into the rule candidates.

    For quantity questions a figure that overlaps a neural span is confirmed by
    it: its fit becomes at least the span's unscaled probability, and the figure
    (whose unit and period were checked) stands in for the span. Every other
    neural span competes on its own fit.
    """
    out = list(found)
    for cand in neural:
        overlapping = [i for i, c in enumerate(out) if quantity and c.kind == "figure"
                       and c.chunk.doc_id == cand.chunk.doc_id and c.start < cand.end and cand.start < c.end]
        for i in overlapping:
            out[i] = dataclasses.replace(out[i], fit=max(out[i].fit, cand.fit / 0.8))
        if not overlapping:
            out.append(cand)
    return out


_CLAUSE_BREAKS = re.compile(r"[,，;；:：。]")
_EMPTY_BRACKETS = re.compile(r"\s*(?:（\s*）|\(\s*\))[是为,，\s]*")


def _bigrams(text: str) -> list[str]:
    return [text[i:i + 2] for i in range(len(text) - 1)]


def _coverage(units: dict[str, float], text: str) -> float:
    """IDF-weighted share of ``units`` in ``text``; a missing word of 3+ characters
    earns half the share of its bigrams that are present."""
    total = sum(units.values())
    if not total:
        return 0.0
    found = 0.0
    for term, weight in units.items():
        if term in text:
            found += weight
        elif len(term) >= 3:
            grams = _bigrams(term)
            found += weight * 0.5 * sum(g in text for g in grams) / len(grams)
    return found / total


def _dense_support(passage: Passage) -> float:
    """Support for a question with no Chinese words to match: the passage's dense
    cosine mapped from [0.72, 0.80] to [0, 1]. Cross-lingual cosines of
    multilingual-e5-small run lower than same-language ones (English questions
    against the Chinese gold corpus: 0.76–0.78 for the right passage; Chinese
    questions: 0.85–0.92)."""
    cosine = passage.scores.get("dense")
    if cosine is None:
        return 0.0
    return float(np.clip((cosine - 0.72) / 0.08, 0.0, 1.0))


def _rank_prior(rank: int) -> float:
    """Mild preference for better-ranked passages: 1, 0.95, 0.9, … (floor 0.7)."""
    return max(0.7, 1.0 - 0.05 * rank)


def _publication_year(doc: Document) -> int | None:
    match = re.match(r"(\d{4})", doc.metadata.get("date", ""))
    return int(match.group(1)) if match else None


def _figure_type_fit(q: Question, fig: Figure, years: tuple[int, ...], pub_year: int | None) -> float:
    """Agreement of a figure with the question's unit, change and period, in [0, 1]."""
    score = 0.0
    # unit
    if q.unit_hint:
        if fig.unit and (fig.unit == q.unit_hint or fig.unit.endswith(q.unit_hint)):
            score += 0.3
        elif q.unit_hint == "个" and fig.unit not in ("%", "‰"):
            score += 0.15
    elif q.wants_percent:
        score += 0.3 if fig.unit in ("%", "‰") else 0.0
    else:
        score += 0.1 if fig.unit in ("%", "‰") else 0.2
    # change
    if q.wants_change == fig.is_change:
        score += 0.3
    elif q.wants_change and fig.unit in ("%", "‰"):
        score += 0.15
    # period
    period = int(fig.period) if fig.period.isdigit() else None
    if years and period is not None:
        score += 0.25 if period in years else 0.0
    else:
        score += 0.12
    is_target = fig.kind == "target"
    asks_future = bool(years and pub_year and min(years) >= pub_year)
    if (q.wants_target or asks_future) == is_target:
        score += 0.15
    return score


def _overlaps(citation: Citation, cand: Candidate) -> bool:
    return (citation.doc_id == cand.chunk.doc_id
            and cand.start < citation.end and citation.start < cand.end)


def _restated(question: str, text: str, fig: Figure) -> float:
    """Share of the figure's own description that the question restates, in [0, 1].

    The description is the figure's clause up to the number (``亿元以上`` for
    ``5家`` in ``注册资金千万元以上46家,亿元以上5家``), or its metric when the
    number opens the clause (``同比分别-6.2%、-19.3%``); the share is
    of its character bigrams found in the question. Questions usually restate
    the clause of the figure they ask for, so this separates figures that share
    a sentence.
    """
    breaks = [m.end() for m in _CLAUSE_BREAKS.finditer(text, max(0, fig.start - 40), fig.start)]
    clause = text[breaks[-1] if breaks else max(0, fig.start - 40):fig.start]
    grams = set(_bigrams(clause.strip())) or set(_bigrams(fig.metric))
    if not grams:
        return 0.5
    return sum(g in question for g in grams) / len(grams)


def _sentence_at(chunk: Chunk, offset: int) -> Sentence:
    for sentence in chunk.sentences:
        if sentence.start <= offset < sentence.end:
            return sentence
    return Sentence(chunk.start, chunk.end, chunk.text)


def _clause(text: str, start: int, end: int) -> str:
    """The clause around ``[start, end)``: back to the previous and on to the next break."""
    lo = max((m.end() for m in _CLAUSE_BREAKS.finditer(text, max(0, start - 60), start)), default=max(0, start - 60))
    hi_m = _CLAUSE_BREAKS.search(text, end, end + 60)
    return text[lo:hi_m.start() if hi_m else min(len(text), end + 60)]


def _strip_time(text: str) -> str:
    return TIME_WORDS.sub("", text).strip()


def _find_anchor(pattern: str, text: str, suffix: bool, lo: int = 0) -> tuple[int, int, int]:
    """Longest suffix (or prefix) of ``pattern`` (≥ 2 chars) in ``text[lo:]``:
    ``(start, end, matched_length)``, or ``(-1, -1, 0)``."""
    for size in range(len(pattern), 1, -1):
        piece = pattern[-size:] if suffix else pattern[:size]
        at = text.find(piece, lo)
        if at >= 0:
            return at, at + size, size
    return -1, -1, 0


def _align(left: str, right: str, head: str, name: bool, sentence: Sentence):
    """Span of ``sentence`` that the question word stands for, as absolute offsets.

    Returns ``(start, end, anchor_share)`` or None. ``anchor_share`` is the
    fraction of the question context matched around the span.
    """
    text = sentence.text
    right_core = right.lstrip("的了是")
    ls, le, lmatch = _find_anchor(left, text, suffix=True) if len(left) >= 2 else (-1, -1, 0)
    rs, _, rmatch = _find_anchor(right_core, text, suffix=False, lo=max(le, 0)) if len(right_core) >= 2 else (-1, -1, 0)
    if head and rs < 0:
        rs, _, rmatch = _find_anchor(head + right_core, text, suffix=False, lo=max(le, 0))
        rs = rs + len(head) if rs >= 0 and text.startswith(head, rs) else rs
    denominator = max(1, len(left) + len(right_core))
    share = (lmatch + rmatch) / denominator
    if lmatch == 0 and rmatch == 0:
        return None
    if name and le >= 0:  # X叫什么: a quoted name right before or after the anchor X
        before = text[max(0, ls - 32):ls]
        quote = None
        for m in _QUOTED.finditer(before):
            if m.end() == len(before):
                quote = m
        if quote:
            return sentence.start + ls - len(before) + quote.start(), sentence.start + le, max(share, 0.6)
        after = _QUOTED.match(text, le) or _QUOTED.match(text, le + 1)
        if after:
            return sentence.start + after.start(), sentence.start + after.end(), max(share, 0.6)
    if le >= 0 and rs >= 0 and rs > le:
        start, end = le, rs
    elif rs > 0 and lmatch == 0:
        breaks = [m.end() for m in _CLAUSE_BREAKS.finditer(text, 0, rs)]
        start, end = (breaks[-1] if breaks else 0), rs
    elif le >= 0 and rmatch == 0:
        m = _CLAUSE_BREAKS.search(text, le)
        start, end = le, (m.start() if m else len(text))
    else:
        return None
    if head and text.startswith(head, end) and not text[start:end].endswith(head):
        end += len(head)
    return sentence.start + start, sentence.start + end, share


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past white space, function characters at the
    edges, empty brackets (``（）``, left where a source dropped a gloss) and a
    closing full stop; keeps balanced quotes."""
    while True:
        m = _EMPTY_BRACKETS.match(text, start, end)
        if not m:
            break
        start = m.end()
    while start < end and text[start] in _EDGE and not (text[start] == "“" and "”" in text[start:end]):
        start += 1
    while end > start and (text[end - 1] in "。.,，;；:：!！?？ \n" or (text[end - 1] in _EDGE and text[end - 1] != "”")):
        end -= 1
    return start, end
