"""How well ``qa figures`` reads the documents of an index: period, kind, levels, metrics.

Usage (from the repository root)::

    python eval/figures_report.py                                # ../shared/corpus-extra + default report
    python eval/figures_report.py --index /work/cache/extra-index  # the documents of a built index
    python eval/figures_report.py --rows 20 --seed 7 --no-metadata

No encoder is loaded: documents are read and chunked (or taken, with their
chunks, from a built index), and :func:`qa.figures.extract_figures` runs on each. Printed:

* per document: figures, and the share with a period, with a kind and with both;
  ``--no-metadata`` adds the same document read again with its publication date
  and its title removed (a short report with no metadata: the year must come
  from the text itself);
* **levels read as changes**: figures with ``is_change`` whose link words just
  before the number end in a level verb (``提高到``, ``达到``, ``增至``, ``降至`` …);
* **metric fragments**: metrics whose last jieba word is a function word, or with no nominal word
  (``首批公布涉及``, ``工作受到国务院办公厅表彰``): they name a clause, not an
  indicator; and metrics longer than 12 characters;
* the kinds and the count of cumulative (multi-year) figures;
* ``--rows`` random figures (seeded) for a reader to judge.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from qa.chunking import Chunk, chunk_document  # noqa: E402
from qa.config import DEFAULT_CORPUS_DIR  # noqa: E402
from qa.documents import Document, load_documents  # noqa: E402
from qa.figures import Figure, extract_figures  # noqa: E402
from qa.index import Index  # noqa: E402

#: A level verb right before the number: the figure is a level, not a change.
LEVEL_BEFORE = re.compile(r"(?:到|达|至|为)了?(?:约|近|超过|超|逾)?$")


def from_index(directory: Path) -> list[tuple[Document, list[Chunk]]]:
    """Documents and chunks of the index in ``directory`` (loaded without an encoder)."""
    index = Index.load(directory, encoder=None)
    chunks: dict[str, list[Chunk]] = {d: [] for d in index.documents}
    for c in index.chunks:
        chunks[c.doc_id].append(c)
    docs = sorted(index.documents.values(), key=lambda d: d.path)
    return [(d, chunks[d.id]) for d in docs]


def from_files(paths: list[Path]) -> list[tuple[Document, list[Chunk]]]:
    docs = load_documents(paths)
    return [(d, chunk_document(d)) for d in sorted(docs, key=lambda d: d.path)]


def without_metadata(doc: Document) -> Document:
    """``doc`` with no title and no date in its metadata (the text is unchanged)."""
    meta = {k: v for k, v in doc.metadata.items() if k not in ("date", "datetime", "created", "title")}
    return replace(doc, title="", metadata=meta)


def level_read_as_change(doc: Document, f: Figure) -> bool:
    """True when ``f`` is a change but the words right before it make it a level."""
    before = doc.text[max(f.sentence_start, f.start - 8) : f.start]
    return f.is_change and bool(LEVEL_BEFORE.search(before))


_FUNCTION_POS = ("p", "c", "u", "d", "r", "ul", "uj", "uz", "ud", "ug", "uv", "y", "e", "m", "q")
_NOMINAL_POS = ("n", "vn", "an", "l", "j", "b", "s", "eng")


def metric_is_fragment(metric: str) -> bool:
    """True when the metric ends in a function word or holds no nominal word at all.

    jieba tags many indicator words as verbs (收入, 投资, 就业), so a final verb
    alone does not make a fragment; ``首批公布涉及`` (numeral + verbs) does.
    """
    import jieba.posseg as pseg

    if not metric:
        return False
    words = [p for p in pseg.cut(metric) if p.word.strip()]
    if not words:
        return False
    return words[-1].flag in _FUNCTION_POS or not any(w.flag.startswith(_NOMINAL_POS) for w in words)


def report(pairs: list[tuple[Document, list[Chunk]]], label: str) -> list[tuple[Document, Figure]]:
    print(f"\n== {label}")
    print(f"{'document':44} {'figs':>5} {'period':>7} {'kind':>7} {'both':>7}")
    rows: list[tuple[Document, Figure]] = []
    tot = Counter()
    for doc, chunks in pairs:
        figs = extract_figures(doc, chunks)
        n = len(figs)
        p = sum(bool(f.period) for f in figs)
        k = sum(bool(f.kind) for f in figs)
        b = sum(bool(f.period and f.kind) for f in figs)
        tot.update(n=n, p=p, k=k, b=b)
        name = Path(doc.path).name[:44]
        print(f"{name:44} {n:5d} {p / max(n, 1):7.1%} {k / max(n, 1):7.1%} {b / max(n, 1):7.1%}")
        rows += [(doc, f) for f in figs]
    n = max(tot["n"], 1)
    print(f"{'ALL':44} {tot['n']:5d} {tot['p'] / n:7.1%} {tot['k'] / n:7.1%} {tot['b'] / n:7.1%}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, help="an index directory (default: read the files)")
    ap.add_argument("--extra", type=Path, default=ROOT.parent / "shared" / "corpus-extra",
                    help="documents read with the default report when --index is not given")
    ap.add_argument("--rows", type=int, default=20, help="random figures to print (default 20)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-metadata", action="store_true",
                    help="also read every document with its title and date removed")
    args = ap.parse_args(argv)

    if args.index:
        pairs = from_index(args.index)
    else:
        paths = [DEFAULT_CORPUS_DIR] + sorted(p for p in args.extra.iterdir() if p.name != "README.md")
        pairs = from_files(paths)
    rows = report(pairs, "figures with period and kind, per document")
    if args.no_metadata:
        bare = [(without_metadata(d), c) for d, c in pairs]
        report(bare, "same documents, title and publication date removed")

    changes = [(d, f) for d, f in rows if level_read_as_change(d, f)]
    print(f"\nlevels read as changes: {len(changes)}")
    for d, f in changes[:15]:
        print(f"  {d.text[max(f.sentence_start, f.start - 12):f.end]!r}  metric={f.metric!r}")

    frags = [(d, f) for d, f in rows if metric_is_fragment(f.metric)]
    long_ = [(d, f) for d, f in rows if len(f.metric) > 12]
    print(f"metrics that look like clause fragments (jieba POS): {len(frags)} of {len(rows)}")
    for _, f in frags[:15]:
        print(f"  {f.metric!r} ← {f.text}")
    print(f"metrics longer than 12 characters: {len(long_)}")
    print(f"metrics empty: {sum(not f.metric for _, f in rows)}")
    print("kinds: " + ", ".join(f"{k or '(empty)'} {v}" for k, v in Counter(f.kind for _, f in rows).most_common()))
    print(f"changes: {sum(f.is_change for _, f in rows)}, levels: {sum(not f.is_change for _, f in rows)}")

    rng = random.Random(args.seed)
    sample = rng.sample(rows, min(args.rows, len(rows)))
    print(f"\n{args.rows} random figures (seed {args.seed}): doc | period | kind | chg | metric | text | context")
    for d, f in sample:
        ctx = d.text[max(f.sentence_start, f.start - 24):min(f.sentence_end, f.end + 6)].replace("\n", " ")
        print(f"  {Path(d.path).name[:10]} | {f.period:9} | {f.kind:10} | {'Δ' if f.is_change else ' '} | "
              f"{f.metric} | {f.text} | …{ctx}…")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
