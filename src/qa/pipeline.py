"""Question (+ history) → :class:`~qa.reader.Answer`: the one answering path.

The CLI (``qa ask``), the Gradio app and the evaluation all call
:meth:`Assistant.ask`; this module only connects the parts (conversation →
question analysis → retriever → reader) and never re-implements them.

    assistant = Assistant(settings)   # cheap
    assistant.warm_up()               # loads encoder + index (builds if missing)
    assistant.ask("2023年新增了多少个托位？").text   # '124个'
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.chunking import Chunk
from qa.config import DEFAULT_CORPUS_DIR, NO_ANSWER_MESSAGE, Settings
from qa.conversation import rewrite
from qa.documents import Document
from qa.figures import Figure
from qa.lexicon import official_terms
from qa.question import Question, analyze, clean_question
from qa.reader import Answer, Reader
from qa.retrieval import Passage, title_scope


@dataclass(frozen=True)
class Prepared:
    """A question made ready for answer selection (:meth:`Assistant.prepare`).

    Attributes:
        raw: the question as given; text: cleaned; notice: a message for the user
            ('' if none); standalone: ``text`` rewritten with the history.
        q: the analysis of ``standalone``; None when there is no question.
        passages: the retrieved passages, best first.
    """

    raw: str
    text: str
    notice: str
    standalone: str
    q: Question | None
    passages: list[Passage]


class Assistant:
    """Answers questions over one index.

    Args:
        settings: configuration (default: :meth:`Settings.from_env`).
        index: an already built :class:`~qa.index.Index` (e.g. an in-memory
            evaluation index); by default the index in ``settings.index_dir`` is
            loaded, or built from the shipped corpus when missing.
        encoder: an already loaded :class:`~qa.embedding.Encoder`.

    Construction is cheap; :meth:`warm_up` (called by the first ``ask``) loads
    the model and the index.
    """

    def __init__(self, settings: Settings | None = None, *, index=None, encoder=None) -> None:
        self.settings = settings or Settings.from_env()
        self.index = index
        self.encoder = encoder
        self.retriever = None
        self.reader: Reader | None = None
        self._figures: list[Figure] = []
        self._query_cache: dict[str, object] = {}
        self._lock = threading.Lock()
        self._span_model = None
        #: Why the neural reader is not in use ("" when it is, or was not asked for).
        self.reader_warning = ""

    # ----------------------------------------------------------------- set-up
    def warm_up(self, progress: bool = True) -> Assistant:
        """Load the encoder and the index (building the default index if missing),
        extract figures, and run one query so the first question is not slow.

        Raises:
            qa.embedding.ModelError: the model cannot be built or loaded.
            qa.index.IndexError: the index exists but is corrupt or was built
                with another model (the message says how to rebuild).
        """
        if self.reader is not None:
            return self
        from qa.embedding import load_encoder
        from qa.index import Index, IndexNotFoundError
        from qa.retrieval import Retriever

        if self.encoder is None:
            self.encoder = load_encoder(self.settings.model, self.settings.home)
        if self.index is None:
            try:
                self.index = Index.load(self.settings.index_dir, self.encoder)
            except IndexNotFoundError:
                _check_can_build_into(self.settings.index_dir)
                if progress:
                    print(f"No index in {self.settings.index_dir}; building it from the shipped corpus…",
                          file=sys.stderr)
                from qa.documents import load_documents

                documents = load_documents([DEFAULT_CORPUS_DIR])
                self.index = Index.build(documents, self.encoder, self.settings, progress=progress)
                self.index.save(self.settings.index_dir)
        self.retriever = Retriever(self.index, self.encoder, self.settings)
        self._refresh_reader()
        self.encoder.encode_queries(["预热"])
        return self

    def _refresh_reader(self) -> None:
        from qa.figures import extract_figures

        by_doc: dict[str, list[Chunk]] = {}
        for chunk in self.index.chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        self._figures = [
            fig for doc_id, chunks in by_doc.items()
            for fig in extract_figures(self.index.documents[doc_id], chunks)
        ]
        self.reader = Reader(
            self.index.documents,
            self.index.chunks,
            self._figures,
            self.settings.abstain_threshold,
            embed=lambda texts: self.encoder.encode_queries(texts),
            spans=self._span_proposer(),
            span_passages=self.settings.span_passages,
        )

    @property
    def reader_kind(self) -> str:
        """The reader in use: ``settings.reader``, or ``rules`` when the neural one cannot load."""
        return "rules" if self.settings.reader == "rules" or self.reader_warning else "neural"

    def _span_proposer(self):
        """``SpanModel.predict`` when the neural reader is configured and loads, else None."""
        span_model = self._load_span_model() if self.settings.reader == "neural" else None
        return span_model.predict if span_model is not None else None

    def use_reader(self, kind: str) -> str:
        """Switch to the ``rules`` or ``neural`` reader (the index stays loaded).

        Returns the reader now in use: ``rules`` when the neural one cannot load
        (see :attr:`reader_warning`). Raises ``ValueError`` for an unknown kind.
        """
        self.settings = self.settings.replace(reader=kind)
        if self.reader is not None:
            self.reader.spans = self._span_proposer()  # figures and weights stay as they are
        return self.reader_kind

    def _load_span_model(self):
        """The neural span reader, or None (with :attr:`reader_warning` set and a
        message on stderr) when its adapter is missing, unreadable or made for
        another base model: the rule-based reader then answers alone."""
        from qa.span_model import AdapterConfig, AdapterError, SpanModel

        if self._span_model is None and not self.reader_warning:
            try:
                if self.encoder.path is None:
                    raise AdapterError(f"the encoder {self.encoder.name!r} has no local files to load a reader on")
                recorded = AdapterConfig.load(self.settings.reader_adapter).base_fingerprint
                base = recorded if self.encoder.matches(recorded) else self.encoder.fingerprint
                self._span_model = SpanModel(self.encoder.path, self.settings.reader_adapter,
                                             base_fingerprint=base)
            except AdapterError as exc:
                self.reader_warning = f"neural reader unavailable ({exc}); using the rule-based reader"
                print(f"qa: warning: {self.reader_warning}", file=sys.stderr)
        return self._span_model

    # -------------------------------------------------------------- answering
    def prepare(self, question: str, history: Sequence[str] = (),
                doc_ids: Iterable[str] | None = None) -> Prepared:
        """Everything before answer selection: the cleaned question, the standalone
        question (a follow-up rewritten with ``history``), its analysis and the
        retrieved passages. ``q`` is None when there is no question to answer
        (empty, or punctuation only). :meth:`ask` and the scorer's training
        (:mod:`qa.reader.fit`) both start here."""
        self.warm_up(progress=False)
        text, notice = clean_question(question, self.settings.max_question_chars)
        if not re.search(r"\w", text):  # empty, or punctuation only
            return Prepared(question, text, notice, "", None, [])
        recent = list(history)[-self.settings.max_history:] if self.settings.max_history else []
        cleaned_history = [h for h in (clean_question(h, self.settings.max_question_chars)[0]
                                       for h in recent) if h]
        standalone = official_terms(rewrite(text, cleaned_history))
        q = analyze(standalone)
        if not q.has_content:  # numbers, code or format strings alone: nothing to look up
            return Prepared(question, text, notice, standalone, q, [])
        if doc_ids is None and cleaned_history and standalone != official_terms(text):
            doc_ids = self._focus(standalone, cleaned_history)
        return Prepared(question, text, notice, standalone, q, self.search(standalone, doc_ids=doc_ids))

    def _focus(self, standalone: str, history: Sequence[str]) -> set[str] | None:
        """The document a follow-up stays on: the one the previous question was
        answered from (its best passage), unless the follow-up names documents
        of its own (:func:`qa.retrieval.title_scope`). None: no restriction."""
        documents = self.index.documents.values()
        if len(self.index.documents) < 2 or title_scope(standalone, documents) is not None:
            return None
        previous = rewrite(history[-1], history[:-1])
        best = self.search(previous, k=1)
        return {best[0].chunk.doc_id} if best else None

    def ask(self, question: str, history: Sequence[str] = (), doc_ids: Iterable[str] | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the earlier user questions, oldest first
        (only the last ``settings.max_history`` are used).

        ``doc_ids`` restricts retrieval to those documents (reading-comprehension
        evaluation); see :meth:`search`. Never raises on bad input: an empty question gives an
        abstained :class:`Answer` whose ``notice`` says why. The answer holds the cleaned
        question (:func:`~qa.question.clean_question`), never the raw one, so every string
        in it is valid Unicode.
        """
        prepared = self.prepare(question, history, doc_ids)
        if prepared.q is None:
            return Answer(prepared.text, "", "", "", None, 0.0, True, notice="请输入问题。")
        return self.reader.read(prepared.q, prepared.passages, prepared.text, prepared.notice)

    def search(self, query: str, k: int | None = None, retriever: str | None = None,
               doc_ids: Iterable[str] | None = None) -> list[Passage]:
        """Retrieve the ``k`` best passages (default ``settings.top_k``) for ``query``.

        Without ``doc_ids``, a query that names a place or year found in only
        some documents' titles searches those (:func:`qa.retrieval.title_scope`).
        """
        self.warm_up(progress=False)
        ids = set(doc_ids) if doc_ids is not None else title_scope(query, self.index.documents.values())
        return self.retriever.search(query, k=k or self.settings.top_k, retriever=retriever,
                                     doc_ids=ids, query_vector=self._query_vector(query))

    def clear_query_cache(self) -> None:
        """Forget the cached query embeddings (benchmarks that time encoding call this)."""
        with self._lock:
            self._query_cache.clear()

    def _query_vector(self, query: str):
        """``(d,)`` float32 embedding of ``query``; the last few are kept, so the
        evaluation's extra searches for one question encode it once."""
        with self._lock:
            vector = self._query_cache.get(query)
        if vector is None:
            vector = self.encoder.encode_queries([query])[0]
            with self._lock:
                if len(self._query_cache) >= 64:
                    self._query_cache.pop(next(iter(self._query_cache)))
                self._query_cache[query] = vector
        return vector

    # ------------------------------------------------------------- inventory
    def documents(self) -> list[Document]:
        """The indexed documents, in index order."""
        self.warm_up(progress=False)
        return list(self.index.documents.values())

    def document(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; ``KeyError`` if not indexed."""
        self.warm_up(progress=False)
        return self.index.documents[doc_id]

    def chunk(self, chunk_id: str) -> Chunk:
        """The chunk with id ``chunk_id``; ``KeyError`` if not indexed."""
        self.warm_up(progress=False)
        for chunk in self.index.chunks:
            if chunk.id == chunk_id:
                return chunk
        raise KeyError(chunk_id)

    def figures(self, query: str | None = None, period: str | None = None) -> list[Figure]:
        """Figures of the indexed documents, filtered by words in ``query`` and ``period``."""
        from qa.figures import filter_figures

        self.warm_up(progress=False)
        return filter_figures(self._figures, query=query, period=period)

    def add_files(self, paths: Sequence[str | Path]) -> list[str]:
        """Add documents to the index and save it; returns the ids of new documents.

        Raises ``qa.documents.DocumentError`` for an unreadable or unsupported file.
        """
        from qa.documents import load_documents

        self.warm_up(progress=False)
        added = self.index.add(load_documents(paths), self.encoder)
        if added:
            self.index.save(self.settings.index_dir)
            self._refresh_reader()
        return added


#: Files that may sit in an index directory before the first build (the repo's index/README.md).
_INDEX_DIR_EXTRAS = {"README.md", ".gitkeep"}


def _check_can_build_into(directory: Path) -> None:
    """Refuse to build the shipped corpus's index into a folder that holds other
    files (most likely the user's own documents, given as ``--index`` by mistake).

    Raises:
        qa.index.IndexNotFoundError: with the command that indexes a folder.
    """
    from qa.index import IndexNotFoundError

    directory = Path(directory)
    if directory.is_dir() and any(p.name not in _INDEX_DIR_EXTRAS for p in directory.iterdir()):
        raise IndexNotFoundError(
            f"{directory} holds no index but is not empty, so the shipped corpus is not built "
            f"there; to index the documents in it run `qa index build {directory} --index DIR`, "
            "or give an empty or new directory as --index"
        )


def abstention_text(answer: Answer) -> str:
    """The user-facing sentence for an abstention: ``文档中没有找到相关信息``, or the
    notice when there was no question to answer, e.g. ``请输入问题。``."""
    if not answer.standalone_question:
        return answer.notice
    return f"{answer.notice} {NO_ANSWER_MESSAGE}".strip()
