"""Question (+ history) → :class:`~qa.reader.Answer`: the one answering path.

The CLI (``qa ask``), the Gradio app and the evaluation all call
:meth:`Assistant.ask`; this module only connects the parts (conversation →
question analysis → retriever → reader) and never re-implements them.

    assistant = Assistant(settings)   # cheap
    assistant.warm_up()               # loads encoder + index (builds if missing)
    assistant.ask("2023年新增了多少个托位？").text   # '124个'

Thread-safe: questions may be asked from several threads. The index, retriever,
reader and figures form one :class:`_State`, replaced whole (never modified), so
each question reads one consistent state. :meth:`Assistant.add_files` embeds new
documents beside the live index and swaps the new state in when it is saved, so
questions keep being answered meanwhile; an index changed on disk by another
process (``qa index add``) is picked up at the next question (checked at most
every :data:`RELOAD_CHECK_S` seconds, by a ``stat`` of ``manifest.json``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.chunking import Chunk
from qa.config import DEFAULT_CORPUS_DIR, NO_ANSWER_MESSAGE, Settings
from qa.conversation import rewrite
from qa.documents import Document
from qa.figures import Figure
from qa.lexicon import official_terms
from qa.question import Question, analyze, clean_question, place_names
from qa.reader import Answer, Reader
from qa.retrieval import Passage

#: Seconds between two checks of the index directory for a change by another process.
RELOAD_CHECK_S = 1.0
#: Longest an addition waits, before each embedding batch, for the questions being
#: answered to finish: questions go first, and an addition still advances while
#: questions never stop coming.
YIELD_TO_QUESTIONS_S = 2.0
#: Questions longer than this (characters, after cleaning), and questions without
#: Chinese (the cross-lingual path encodes their candidates' clauses), are *heavy*:
#: answered one at a time, so however many clients send them they use about one
#: core and ordinary questions keep the rest.
HEAVY_QUESTION_CHARS = 100


@dataclass(frozen=True)
class _State:
    """What answers questions: an index with its retriever, reader and figures.

    Replaced whole, never modified, so a question that took it reads one index.
    """

    index: Any  # qa.index.Index
    retriever: Any  # qa.retrieval.Retriever
    reader: Reader
    figures: list[Figure]


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
        self.encoder = encoder
        self._given_index = index
        self._state: _State | None = None
        self._query_cache: dict[str, object] = {}
        self._lock = threading.Lock()  # the query cache
        self._warm_lock = threading.Lock()
        self._update_lock = threading.Lock()  # one addition or reload at a time
        self._figure_cache: dict[tuple[str, str], list[Figure]] = {}  # (doc id, chunker) → figures
        self._watched: Path | None = None  # the index directory, when the index was loaded from it
        self._seen: tuple | None = None  # manifest.json's stat signature last looked at
        self._checked = 0.0  # time.monotonic() of the last look
        self._asking = 0  # questions being answered now
        self._idle = threading.Condition()  # notified when _asking drops to 0
        self._heavy = threading.Lock()  # held while a heavy question is answered
        self._span_model = None
        #: Why the neural reader is not in use ("" when it is, or was not asked for).
        self.reader_warning = ""

    @property
    def index(self):
        """The :class:`~qa.index.Index` questions are answered from now (None before
        :meth:`warm_up` unless one was given)."""
        return self._state.index if self._state is not None else self._given_index

    @property
    def retriever(self):
        """The :class:`~qa.retrieval.Retriever` over :attr:`index` (None before :meth:`warm_up`)."""
        return self._state.retriever if self._state is not None else None

    @property
    def reader(self) -> Reader | None:
        """The :class:`~qa.reader.Reader` over :attr:`index` (None before :meth:`warm_up`)."""
        return self._state.reader if self._state is not None else None

    # ----------------------------------------------------------------- set-up
    def warm_up(self, progress: bool = True) -> Assistant:
        """Load the encoder and the index (building the default index if missing),
        extract figures, and run one query so the first question is not slow.

        Raises:
            qa.embedding.ModelError: the model cannot be built or loaded.
            qa.index.IndexError: the index exists but is corrupt or was built
                with another model (the message says how to rebuild).
        """
        if self._state is not None:
            return self
        with self._warm_lock:  # two first questions at once load once
            if self._state is None:
                self._load(progress)
        return self

    def _load(self, progress: bool) -> None:
        from qa.embedding import encoder_for
        from qa.index import Index, IndexNotFoundError

        if self.encoder is None:
            self.encoder = encoder_for(self.settings)
        index = self._given_index
        if index is None:
            directory = Path(self.settings.index_dir)
            seen = _signature(directory)  # before loading: a change during the load is seen later
            try:
                index = Index.load(directory, self.encoder)
            except IndexNotFoundError:
                _check_can_build_into(directory)
                if progress:
                    print(f"No index in {directory}; building it from the shipped corpus…",
                          file=sys.stderr)
                from qa.documents import load_documents

                documents = load_documents([DEFAULT_CORPUS_DIR])
                index = Index.build(documents, self.encoder, self.settings, progress=progress)
                index.save(directory)
            self._watched, self._seen, self._checked = directory, seen, time.monotonic()
        self._state = self._make_state(index)
        self.encoder.encode_queries(["预热"])

    def _make_state(self, index) -> _State:
        """Retriever, figures and reader over ``index`` (figures of documents seen
        before are reused); modifies nothing the current state uses."""
        from qa.figures import extract_figures
        from qa.retrieval import Retriever

        retriever = Retriever(index, self.encoder, self.settings)
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in index.chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        chunker = repr(sorted(index.manifest.get("chunker", {}).items()))  # figures follow the chunks
        cache = {(doc_id, chunker): self._figure_cache.get((doc_id, chunker)) for doc_id in index.documents}
        for (doc_id, _), figures in cache.items():
            if figures is None:
                cache[doc_id, chunker] = extract_figures(index.documents[doc_id], by_doc.get(doc_id, []))
        self._figure_cache = cache
        figures = [fig for doc_id in by_doc for fig in cache[doc_id, chunker]]
        spans = self._span_proposer()
        reader = Reader(
            index.documents,
            index.chunks,
            figures,
            self.settings.abstain_threshold,
            embed=self._embed_queries,
            spans=spans,
            span_passages=self.settings.span_passages,
            span_only=self.reader_kind == "span",
        )
        return _State(index, retriever, reader, figures)

    def _embed_queries(self, texts: list[str]):
        """``(n, d)`` float32 query embeddings; one text is looked up in the query cache first."""
        import numpy as np

        if len(texts) == 1:
            return np.asarray(self._query_vector(texts[0]))[None, :]
        return self.encoder.encode_queries(texts)

    @property
    def reader_kind(self) -> str:
        """The reader in use: ``settings.reader``, or ``rules`` when the span reader cannot load."""
        return "rules" if self.settings.reader == "rules" or self.reader_warning else self.settings.reader

    def _span_proposer(self):
        """``SpanModel.predict`` when a reader that uses it is configured and loads, else None."""
        span_model = self._load_span_model() if self.settings.reader in ("neural", "span") else None
        return span_model.predict if span_model is not None else None

    def use_reader(self, kind: str) -> str:
        """Switch to the ``rules``, ``span`` or ``neural`` reader (the index stays loaded).

        Returns the reader now in use: ``rules`` when the span reader cannot load
        (see :attr:`reader_warning`). Raises ``ValueError`` for an unknown kind.
        """
        self.settings = self.settings.replace(reader=kind)
        if self.reader is not None:
            self.reader.spans = self._span_proposer()  # figures and weights stay as they are
            self.reader.span_only = self.reader_kind == "span"
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
                if getattr(self.encoder, "backend", "torch") == "onnx":
                    from qa.onnx_backend import OnnxSpanModel

                    self._span_model = OnnxSpanModel(self.encoder, self.settings.reader_adapter)
                else:
                    recorded = AdapterConfig.load(self.settings.reader_adapter).base_fingerprint
                    base = recorded if self.encoder.matches(recorded) else self.encoder.fingerprint
                    self._span_model = SpanModel(self.encoder.path, self.settings.reader_adapter,
                                                 base_fingerprint=base)
            except AdapterError as exc:
                self.reader_warning = f"neural reader unavailable ({exc}); using the rule-based reader"
                print(f"qa: warning: {self.reader_warning}", file=sys.stderr)
        return self._span_model

    # -------------------------------------------------------------- answering
    def ask(self, question: str, history: Sequence[str] = (), doc_ids: Iterable[str] | None = None) -> Answer:
        """Answer ``question``; ``history`` holds the earlier user questions, oldest first
        (only the last ``settings.max_history`` are used).

        ``doc_ids`` restricts retrieval to those documents (reading-comprehension
        evaluation); see :meth:`search`. Never raises on bad input: an empty question gives an
        abstained :class:`Answer` whose ``notice`` says why. The answer holds the cleaned
        question (:func:`~qa.question.clean_question`), never the raw one, so every string
        in it is valid Unicode. Thread-safe; heavy questions (see :data:`HEAVY_QUESTION_CHARS`)
        are answered one at a time.
        """
        self.warm_up(progress=False)
        with self._idle:
            self._asking += 1
        try:
            return self._ask(self._current(), question, history, doc_ids)
        finally:
            with self._idle:
                self._asking -= 1
                if not self._asking:
                    self._idle.notify_all()

    def _ask(self, state: _State, question: str, history: Sequence[str],
             doc_ids: Iterable[str] | None) -> Answer:
        prepared, doc_ids = self._analysed(state, question, history, doc_ids)
        if prepared.q is None:
            return Answer(prepared.text, "", "", "", None, 0.0, True, notice="请输入问题。")
        with self._turn(prepared):  # a heavy question holds the lock once, for search and reading
            prepared = self._retrieved(state, prepared, doc_ids)
            return state.reader.read(prepared.q, prepared.passages, prepared.text, prepared.notice)

    def prepare(self, question: str, history: Sequence[str] = (),
                doc_ids: Iterable[str] | None = None, state: _State | None = None) -> Prepared:
        """Everything before answer selection: the cleaned question, the standalone
        question (a follow-up rewritten with the last ``settings.max_history`` items of
        ``history``, everyday indicator words in the reports' own terms), its analysis
        and the retrieved passages. ``q`` is None when there is no question (empty, or
        punctuation only); a question without content gets no passages. :meth:`ask`
        and the scorer's training (:mod:`qa.reader.fit`) both start here."""
        self.warm_up(progress=False)
        state = state or self._current()
        prepared, doc_ids = self._analysed(state, question, history, doc_ids)
        with self._turn(prepared):
            return self._retrieved(state, prepared, doc_ids)

    def _analysed(self, state: _State, question: str, history: Sequence[str],
                  doc_ids: Iterable[str] | None) -> tuple[Prepared, Iterable[str] | None]:
        """:meth:`prepare` up to retrieval: the question without passages, and the
        documents to search (``doc_ids``, or the conversation's :meth:`_focus`)."""
        text, notice = clean_question(question, self.settings.max_question_chars)
        if not re.search(r"\w", text):  # empty, or punctuation only
            return Prepared(question, text, notice, "", None, []), doc_ids
        recent = list(history)[-self.settings.max_history:] if self.settings.max_history else []
        cleaned_history = [h for h in (clean_question(h, self.settings.max_question_chars)[0]
                                       for h in recent) if h]
        standalone = official_terms(rewrite(text, cleaned_history))
        q = analyze(standalone)
        if q.has_content and doc_ids is None and cleaned_history:
            doc_ids = self._focus(state, text, standalone, cleaned_history)
        return Prepared(question, text, notice, standalone, q, []), doc_ids

    def _retrieved(self, state: _State, prepared: Prepared, doc_ids: Iterable[str] | None) -> Prepared:
        """``prepared`` with its passages; none when it has no content to look up
        (numbers, code or format strings alone)."""
        if prepared.q is None or not prepared.q.has_content:
            return prepared
        return dataclasses.replace(prepared, passages=self._search(state, prepared.standalone, doc_ids=doc_ids))

    def _turn(self, prepared: Prepared):
        """The heavy-question lock for a heavy question (:func:`_is_heavy`), else a no-op context."""
        return self._heavy if _is_heavy(prepared) else contextlib.nullcontext()

    def _focus(self, state: _State, text: str, standalone: str, history: Sequence[str]) -> set[str] | None:
        """The document a question in a conversation stays on: the one the
        previous question was answered from (its best passage), unless the
        question names a place (:func:`qa.question.place_names`) or documents of
        its own (:meth:`qa.retrieval.Retriever.scope`).
        None: no restriction."""
        documents = state.index.documents
        if len(documents) < 2 or any(p.strong for p in place_names(text)):
            return None  # the question names its own place
        if state.retriever.scope(standalone) is not None:
            return None
        previous = official_terms(rewrite(history[-1], history[:-1]))
        best = self._search(state, previous, k=1)
        return {best[0].chunk.doc_id} if best else None

    def search(self, query: str, k: int | None = None, retriever: str | None = None,
               doc_ids: Iterable[str] | None = None) -> list[Passage]:
        """Retrieve the ``k`` best passages (default ``settings.top_k``) for ``query``.

        Without ``doc_ids``, a query that names a place or year found in only
        some documents' titles searches those (:meth:`qa.retrieval.Retriever.scope`).
        """
        self.warm_up(progress=False)
        return self._search(self._current(), query, k, retriever, doc_ids)

    def _search(self, state: _State, query: str, k: int | None = None, retriever: str | None = None,
                doc_ids: Iterable[str] | None = None) -> list[Passage]:
        ids = set(doc_ids) if doc_ids is not None else state.retriever.scope(query)
        return state.retriever.search(query, k=k or self.settings.top_k, retriever=retriever,
                                      doc_ids=ids, query_vector=self._query_vector(query))

    def _current(self) -> _State:
        """The state to answer from, after picking up an index another process
        changed on disk (see :meth:`reload_if_changed`)."""
        if self._watched is not None and time.monotonic() - self._checked >= RELOAD_CHECK_S:
            self.reload_if_changed()
        return self._state

    def reload_if_changed(self) -> bool:
        """Load the index again if another process saved a new generation of it.

        Cheap when nothing changed (one ``stat`` of ``manifest.json``). While an
        addition or another reload is under way, returns at once (False): that
        one installs the newest index. An index that cannot be loaded (rebuilt
        with another model, say) is reported on stderr once and the current one
        kept. Returns True when a new index was swapped in.
        """
        from qa.index import Index, IndexStoreError, read_manifest

        if self._watched is None or self._state is None:
            return False
        self._checked = time.monotonic()
        seen = _signature(self._watched)
        if seen == self._seen or not self._update_lock.acquire(blocking=False):
            return False
        try:
            current = self._state.index.manifest.get("generation")
            if read_manifest(self._watched).get("generation") == current:
                self._seen = seen
                return False
            index = Index.load(self._watched, self.encoder)
            self._state = self._make_state(index)
            self._seen = seen
            return True
        except IndexStoreError as exc:
            self._seen = seen
            print(f"qa: warning: the index in {self._watched} changed on disk but cannot be "
                  f"loaded ({exc}); answering from the index loaded before", file=sys.stderr)
            return False
        finally:
            self._update_lock.release()

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
        return list(self._current().index.documents.values())

    def document(self, doc_id: str) -> Document:
        """The document with id ``doc_id``; ``KeyError`` if not indexed."""
        self.warm_up(progress=False)
        return self._current().index.documents[doc_id]

    def chunk(self, chunk_id: str) -> Chunk:
        """The chunk with id ``chunk_id``; ``KeyError`` if not indexed."""
        self.warm_up(progress=False)
        for chunk in self._current().index.chunks:
            if chunk.id == chunk_id:
                return chunk
        raise KeyError(chunk_id)

    def figures(self, query: str | None = None, period: str | None = None) -> list[Figure]:
        """Figures of the indexed documents, filtered by words in ``query`` and ``period``."""
        from qa.figures import filter_figures

        self.warm_up(progress=False)
        return filter_figures(self._current().figures, query=query, period=period)

    def add_files(self, paths: Sequence[str | Path]) -> list[str]:
        """Add documents to the index and save it; returns the ids of new documents.

        The documents are embedded beside the live index (questions are answered
        from it meanwhile, from other threads); the new index is saved (merged
        with whatever another process saved since, see :meth:`qa.index.Index.save`)
        and then swapped in. Additions from several threads run one at a time.
        Questions go first: before each embedding batch the addition waits (up to
        :data:`YIELD_TO_QUESTIONS_S`) until no question is being answered.

        Raises ``qa.documents.DocumentError`` for an unreadable or unsupported file,
        ``qa.index.IndexLockError`` when another writer holds the index too long.
        """
        from qa.documents import load_documents

        self.warm_up(progress=False)
        documents = load_documents(paths)
        with self._update_lock:
            index, added = self._state.index.extended(documents, self.encoder,
                                                      pause=self._yield_to_questions)
            if added:
                index.save(self.settings.index_dir)
                self._state = self._make_state(index)
        return added

    def _yield_to_questions(self) -> None:
        """Wait (at most :data:`YIELD_TO_QUESTIONS_S`) until no question is being answered."""
        with self._idle:
            self._idle.wait_for(lambda: self._asking == 0, timeout=YIELD_TO_QUESTIONS_S)


def _is_heavy(prepared: Prepared) -> bool:
    """A question answered one at a time: long, or without Chinese (the cross-lingual path)."""
    return prepared.q is not None and (prepared.q.english or len(prepared.standalone) > HEAVY_QUESTION_CHARS)


#: Files that may sit in an index directory before the first build (the repo's index/README.md).
_INDEX_DIR_EXTRAS = {"README.md", ".gitkeep", ".lock"}


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


def _signature(directory: Path) -> tuple | None:
    """``(mtime_ns, size, inode)`` of ``directory/manifest.json``, or None when absent.

    :meth:`qa.index.Index.save` replaces the manifest with a new file, so any save
    changes it."""
    try:
        st = os.stat(Path(directory) / "manifest.json")
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def abstention_text(answer: Answer) -> str:
    """The user-facing sentence for an abstention: ``文档中没有找到相关信息``, or the
    notice when there was no question to answer, e.g. ``请输入问题。``."""
    if not answer.standalone_question:
        return answer.notice
    return f"{answer.notice} {NO_ANSWER_MESSAGE}".strip()
