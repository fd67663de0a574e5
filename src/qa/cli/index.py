"""``qa index build|add|info``: read documents (a bad file is reported and skipped), build or
extend an index, describe one."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qa.cli import common
from qa.cli.common import (
    CLIError,
    add_index_flag,
    add_model_flag,
    open_index,
    settings_from,
)

#: Skipped files named in the summary line; the rest are counted (each is on stderr).
SKIPPED_NAMED = 5

def _load_documents(paths: Sequence[str], strict: bool = False, verb: str = "indexed"):
    """Read ``paths`` (before any model loads); return a :class:`qa.documents.LoadReport`.

    Each file that cannot be read is reported on stderr as it is met
    (``qa: skipped PATH: reason``) and left out. Raises :class:`CLIError` when a path
    does not exist, when no file could be read (the message is the summary), or,
    with ``strict``, at the first file that cannot be read.
    """
    from qa.documents import DocumentError, read_documents

    missing = [p for p in paths if not Path(p).exists() and not Path(p).is_symlink()]
    if missing:
        raise CLIError(f"no such file or directory: {', '.join(missing)}")

    def report(skipped) -> None:
        print(f"qa: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)

    try:
        loaded = read_documents([Path(p) for p in paths], strict=strict, on_skip=report)
    except DocumentError as exc:
        if not strict:
            raise
        raise CLIError(f"{exc} (--strict stops at the first file that cannot be read; nothing was written)") from exc
    if not loaded.files:
        other = ", ".join(f"{n:,} {suffix}" for suffix, n in loaded.other_types.items())
        raise CLIError(f"no readable documents (.txt, .md, .html, .htm, .pdf, .docx) in {', '.join(paths)}"
                       + (f" (found {other})" if other else ""))
    if not loaded.documents:
        raise CLIError(f"nothing to index: {loaded.summary(verb, SKIPPED_NAMED)}")
    return loaded


def add_index_command(subparsers) -> None:
    index = subparsers.add_parser("index", help="build, extend or describe the index",
                                  description="Build, extend or describe the persisted index.")
    commands = index.add_subparsers(dest="index_command", metavar="{build,add,info}", required=True)

    build = commands.add_parser(
        "build", help="(re)build the index from files or folders",
        description="Chunk, embed and index documents, replacing any index in DIR "
                    "(atomically: the old one stays loadable until the new one is complete). "
                    "A file that cannot be read is skipped, with the reason on stderr and a "
                    "summary at the end; the command fails only when no file can be read.")
    build.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or folders (.txt, .md, .html, .pdf, .docx); default: the shipped corpus")
    add_index_flag(build)
    add_model_flag(build, "default: $QA_MODEL or the shipped multilingual-e5-small")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_strict_flag(build)
    build.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="embed the chunks on Ray (needs the scale extra): join the cluster at "
                            "ADDRESS (HOST:PORT or auto), or without ADDRESS start a local runtime")
    build.add_argument("--workers", type=int, default=2, metavar="N",
                       help="encoder actors of a --ray build (default 2)")
    build.set_defaults(func=_run_index_build)

    add = commands.add_parser(
        "add", help="add documents without re-embedding the indexed ones",
        description="Add documents to an existing index. Files already indexed (same "
                    "content) are skipped; a changed file at an indexed path replaces it. "
                    "A file that cannot be read is skipped and listed, as in `qa index build`.")
    add.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to add")
    add_index_flag(add)
    add_model_flag(add, "default: the model recorded in the index")
    add.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_strict_flag(add)
    add.set_defaults(func=_run_index_add)

    info = commands.add_parser("info", help="describe the index (model, counts, documents)",
                               description="Validate the index in DIR and describe it.")
    add_index_flag(info)
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.set_defaults(func=_run_index_info)


def _add_strict_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first file that cannot be read, writing nothing (default: "
                             "skip it, say why on stderr, and fail only when no file could be read)")


def _run_index_build(args: argparse.Namespace) -> int:
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.index import Index

    settings = settings_from(args)
    if args.ray and Path(args.ray).exists():
        raise CLIError(f"--ray took {args.ray!r} as the Ray cluster address; write the paths "
                       f"before --ray, or give the address as --ray=HOST:PORT")
    if args.ray is not None:
        from qa.ray_runtime import require_ray

        require_ray(("data",))  # before any document is read or model loaded
    paths = args.paths or [str(DEFAULT_CORPUS_DIR)]
    started = time.perf_counter()
    loaded = _load_documents(paths, strict=args.strict, verb="indexed")
    documents = loaded.documents
    encoder = common.load_encoder(settings.model, settings)
    ready = time.perf_counter()
    if args.ray is not None:
        from qa.ray_build import build_index_with_ray

        if args.workers < 1:
            raise CLIError(f"--workers must be >= 1, got {args.workers}")
        index = build_index_with_ray(documents, settings, address=args.ray or None,
                                     workers=args.workers, progress=not args.no_progress)
    else:
        index = Index.build(documents, encoder, settings, progress=not args.no_progress)
    dropped = _replaced_documents(settings.index_dir, index)
    index.save(settings.index_dir)
    done = time.perf_counter()
    counts = index.manifest["counts"]
    print(
        f"indexed {counts['documents']} document(s), {counts['chunks']} chunks "
        f"({index.manifest['dense']['type']} dense index, model {encoder.name}) into "
        f"{settings.index_dir} in {done - started:.1f} s "
        f"(loading {ready - started:.1f} s, chunk+embed+index+save {done - ready:.1f} s)"
    )
    if loaded.skipped or loaded.other_types:
        print(loaded.summary("indexed", SKIPPED_NAMED))
    if dropped:
        shown = "; ".join(f"{d.get('title') or d.get('id')} ({d.get('path')})" for d in dropped[:SKIPPED_NAMED])
        more = f"; and {len(dropped) - SKIPPED_NAMED} more" if len(dropped) > SKIPPED_NAMED else ""
        print(f"note: the index in {settings.index_dir} held {len(dropped)} document(s) this build does not "
              f"include, now replaced: {shown}{more}. Add a document back with "
              f"`qa index add PATH --index {settings.index_dir}`.", file=sys.stderr)
    return 0


def _replaced_documents(directory, index) -> list[dict]:
    """Documents of the index already in ``directory`` (from its manifest) that ``index``
    lacks: what a rebuild into the same directory drops. Empty when there is no
    readable index there."""
    from qa.index.errors import IndexStoreError
    from qa.index.store import read_manifest

    try:
        old = read_manifest(directory).get("documents") or []
    except (IndexStoreError, OSError):
        return []
    return [d for d in old if isinstance(d, dict) and d.get("id") not in index.documents]


def _run_index_add(args: argparse.Namespace) -> int:
    loaded = _load_documents(args.paths, strict=args.strict, verb="read")  # before the model loads
    documents = loaded.documents
    settings, index, encoder = open_index(args)
    added = index.add(documents, encoder, progress=not args.no_progress)
    if added:
        index.save(settings.index_dir)
    counts = index.manifest["counts"]
    skipped = len({d.id for d in documents}) - len(added)
    print(f"added {len(added)} document(s), {skipped} already indexed; index now has "
          f"{counts['documents']} document(s), {counts['chunks']} chunks")
    for doc_id in added:
        doc = index.documents[doc_id]
        print(f"  {doc_id}  {doc.title}  {doc.path}")
    if loaded.skipped or loaded.other_types:
        print(loaded.summary("read", SKIPPED_NAMED))
    return 0


def _run_index_info(args: argparse.Namespace) -> int:
    from qa.index import Index, describe

    settings = settings_from(args)
    index = Index.load(settings.index_dir, encoder=None)  # validates files and counts
    info = describe(index.manifest)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    model, counts, dense = info["model"], info["counts"], info["dense"]
    print(f"index       {settings.index_dir} (format {info['format_version']}, generation {info['generation']})")
    print(f"created     {info['created']}  updated {info['updated'] or '-'}  saved {info['saved']}")
    print(f"model       {model['name']} (fingerprint {model['fingerprint']}, dim {model['dim']})")
    tuned = "".join(f" {k}={dense[k]}" for k in ("factory", "nprobe", "ef_search", "refine") if k in dense)
    print(f"dense       {dense['type']}{tuned}  vectors {counts['vectors']}")
    print(f"bm25        {info['bm25']['method']} k1={info['bm25']['k1']} b={info['bm25']['b']}  "
          f"documents {counts['bm25_docs']}")
    print(f"chunker     max_chars={info['chunker']['max_chars']} "
          f"overlap_sentences={info['chunker']['overlap_sentences']}")
    print(f"documents   {counts['documents']}  chunks {counts['chunks']}")
    for doc in info["documents"]:
        print(f"  {doc['id']}  {doc['chunks']:>4} chunks  {doc['title']}  {doc['path']}")
    return 0
