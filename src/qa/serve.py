"""``qa serve``: :meth:`qa.pipeline.Assistant.ask` as a small JSON HTTP API.

Public interface:

    handle(assistant, method, path, body) -> (status, payload)   # the API, without a server
    make_server(assistant, host="127.0.0.1", port=8000) -> ThreadingHTTPServer   # one process
    serve_with_ray(settings, replicas=2, host, port, address=None) -> RayService  # Ray Serve
    ask_remote(url, question, history=(), timeout=60) -> dict     # a client of either
    RemoteAssistant(url)                 # what the web app needs of an Assistant, over HTTP

The API (UTF-8 JSON both ways)::

    POST /ask     {"question": "2023年新增了多少个托位？", "history": ["上一个问题", ...]}
                  → 200 Answer.to_dict()  (text, citation with character offsets, passages, …)
                  → 400 {"error": "..."} when the body is not such an object
    GET  /health  → 200 {"status": "ok", "documents": n, "chunks": m, "replica": "<pid>"}

One process (:func:`make_server`) answers questions on a thread each
(``Assistant.ask`` is thread-safe). With Ray Serve (:func:`serve_with_ray`) each of
N replicas is a Ray actor that loads the model and the index once, read-only, and
Ray's HTTP proxy spreads the requests over them; ``handle`` is the same code in both.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qa.config import Settings

#: Largest request body accepted (bytes); a question is cut at ``Settings.max_question_chars`` anyway.
MAX_BODY_BYTES = 1 << 20
#: Earlier questions of a conversation accepted in ``history``.
MAX_HISTORY_ITEMS = 100


class RequestError(ValueError):
    """The request body is not ``{"question": str, "history": [str, ...]}`` (HTTP 400)."""


def parse_ask(body: bytes) -> tuple[str, list[str]]:
    """``(question, history)`` from a ``POST /ask`` body.

    Raises:
        RequestError: not UTF-8 JSON, not an object, ``question`` missing or not a
            string, ``history`` not a list of strings, or too long.
    """
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(f"request body over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"the body is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError('the body must be a JSON object {"question": "...", "history": [...]}')
    question, history = data.get("question"), data.get("history", [])
    if not isinstance(question, str):
        raise RequestError('"question" must be a string')
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise RequestError('"history" must be a list of strings (earlier questions, oldest first)')
    if len(history) > MAX_HISTORY_ITEMS:
        raise RequestError(f'"history" has {len(history)} items; at most {MAX_HISTORY_ITEMS}')
    return question, history


def handle(assistant, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Answer one HTTP request: ``(status code, JSON payload)``; never raises on bad input."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/ask":
        if method != "POST":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST /ask with a JSON body"}
        try:
            question, history = parse_ask(body)
        except RequestError as exc:
            return HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        return HTTPStatus.OK, assistant.ask(question, history=history).to_dict()
    if path == "/health":
        index = assistant.warm_up(progress=False).index
        return HTTPStatus.OK, {"status": "ok", "documents": len(index.documents),
                               "chunks": len(index.chunks), "replica": str(os.getpid())}
    return HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path}; use POST /ask or GET /health"}


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    """The stdlib handler of :func:`make_server` (``self.server.assistant`` answers)."""

    protocol_version = "HTTP/1.1"

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            status, payload = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request body too large"}
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length else b""
            status, payload = handle(self.server.assistant, method, self.path, body)
        data = _json_bytes(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self._respond("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._respond("POST")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - one line per request is noise
        pass


def make_server(assistant, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A threaded HTTP server of the API over ``assistant`` (not started: call
    ``serve_forever()``; ``port=0`` picks a free port, see ``server.server_address``).

    The assistant is warmed up first, so the first request is not slow.
    """
    assistant.warm_up(progress=False)
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    server.assistant = assistant
    return server


# --------------------------------------------------------------------------- Ray Serve


class AnswerReplica:
    """A Ray Serve replica: one :class:`~qa.pipeline.Assistant` over the index, loaded once.

    Ray Serve calls it with each HTTP request (a ``starlette.requests.Request``);
    the answer is computed on a thread, so a replica takes several requests at once.
    """

    def __init__(self, settings: Settings, threads: int = 1) -> None:
        import torch

        from qa.pipeline import Assistant

        torch.set_num_threads(max(1, threads))
        self.assistant = Assistant(settings).warm_up(progress=False)

    async def __call__(self, request):
        import asyncio

        from starlette.responses import Response

        body = await request.body()
        status, payload = await asyncio.to_thread(
            handle, self.assistant, request.method, request.url.path, body)
        return Response(_json_bytes(payload), status_code=int(status),
                        media_type="application/json; charset=utf-8")


@dataclass
class RayService:
    """A running Ray Serve application of the API (see :func:`serve_with_ray`);
    ``replicas`` is the number Ray Serve reports running."""

    url: str
    replicas: int
    _ray: Any
    _stop_ray: bool

    def stop(self) -> None:
        """Delete the application, stop Serve, and disconnect (a local runtime ends)."""
        from ray import serve

        serve.shutdown()
        if self._stop_ray:
            self._ray.shutdown()


def serve_with_ray(settings: Settings, replicas: int = 2, host: str = "127.0.0.1", port: int = 8000,
                   address: str | None = None, cpus_per_replica: float = 1.0) -> RayService:
    """Start the API on Ray Serve with ``replicas`` :class:`AnswerReplica` s; returns once all
    replicas are up (each has loaded the model and the index).

    With ``address`` it joins that Ray cluster, else it starts a local runtime with
    ``max(2, replicas * cpus_per_replica)`` CPUs; an existing connection of this
    process is reused. The HTTP proxy listens on ``host:port``.

    Raises:
        RayMissingError: Ray Serve is not installed.
        RayJobError: the cluster cannot be reached or a replica failed to start.
        ValueError: ``replicas`` < 1.
    """
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    from qa.ray_runtime import RayJobError, connect

    ray, started = connect(address, max(2, int(replicas * cpus_per_replica + 0.999)), ("serve",))
    from ray import serve

    try:
        serve.start(http_options={"host": host, "port": port})
        deployment = serve.deployment(
            AnswerReplica, name="qa", num_replicas=replicas,
            ray_actor_options={"num_cpus": cpus_per_replica},
            max_ongoing_requests=8,
        )
        serve.run(deployment.bind(settings, max(1, int(cpus_per_replica))), name="qa", route_prefix="/")
    except Exception as exc:
        with contextlib.suppress(Exception):  # the first error is the one to report
            serve.shutdown()
        if started:
            ray.shutdown()
        raise RayJobError(f"Ray Serve could not start the qa replicas: {' '.join(str(exc).split())[-800:]}") from exc
    states = serve.status().applications["qa"].deployments["qa"].replica_states
    return RayService(f"http://{host}:{port}", int(states.get("RUNNING", 0)), ray, started)


# --------------------------------------------------------------------------- client


class BackendError(RuntimeError):
    """The HTTP API at the given URL could not be reached or answered with an error."""


def ask_remote(url: str, question: str, history: Sequence[str] = (), timeout: float = 60.0) -> dict[str, Any]:
    """``POST {url}/ask``; returns the answer as a dict (:meth:`qa.reader.Answer.to_dict`).

    Raises:
        BackendError: connection refused or timed out, or a non-200 status (its error text).
    """
    data = _json_bytes({"question": question, "history": list(history)})
    request = urllib.request.Request(url.rstrip("/") + "/ask", data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read().decode("utf-8")).get("error", "")
        except (ValueError, AttributeError):
            reason = ""
        raise BackendError(f"{url} answered {exc.code}: {reason or exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise BackendError(f"cannot reach the qa API at {url}: {getattr(exc, 'reason', exc)}") from exc


def health_remote(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """``GET {url}/health`` as a dict.

    Raises:
        BackendError: not reachable, or not a qa API.
    """
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise BackendError(f"cannot reach the qa API at {url}: {getattr(exc, 'reason', exc)} "
                           f"(start one with `qa serve`)") from exc
    if not isinstance(data, dict) or data.get("status") != "ok":
        raise BackendError(f"{url} is not a qa API (GET /health answered {data!r})")
    return data


class RemoteAssistant:
    """The part of :class:`~qa.pipeline.Assistant` the web app uses, answered by a
    ``qa serve`` API at ``url`` (``python app.py --backend URL``).

    ``ask`` returns :class:`~qa.reader.Answer` objects rebuilt from the JSON;
    ``chunk`` serves the chunks of the passages it has received (the cited one is
    always among them). The documents and figures tabs are empty and uploads are
    refused: the index lives with the API (``qa index add`` there).
    """

    #: Chunks kept for :meth:`chunk` (the passages of recent answers).
    MAX_CHUNKS = 4096

    def __init__(self, url: str, timeout: float = 120.0, settings: Settings | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.settings = settings or Settings()
        self.index = None
        self._chunks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def warm_up(self, progress: bool = False) -> RemoteAssistant:
        """Check that the API answers (raises :class:`BackendError` otherwise)."""
        health_remote(self.url)
        return self

    def ask(self, question: str, history: Sequence[str] = ()):
        """The API's answer to ``question`` (see :func:`ask_remote`) as an Answer."""
        from qa.chat_store import answer_from_dict

        answer = answer_from_dict(ask_remote(self.url, question, history, self.timeout))
        with self._lock:
            for passage in answer.passages:
                self._chunks[passage.chunk.id] = passage.chunk
            while len(self._chunks) > self.MAX_CHUNKS:
                self._chunks.pop(next(iter(self._chunks)))
        return answer

    def chunk(self, chunk_id: str):
        """A chunk of an answer received before. Raises ``KeyError`` for any other id."""
        with self._lock:
            return self._chunks[chunk_id]

    def documents(self) -> list:
        return []

    def figures(self, query: str | None = None, period: str | None = None) -> list:
        return []

    def add_files(self, paths: Sequence[Any]) -> list[str]:
        raise ValueError(f"this app answers through {self.url}: add documents where that API "
                         f"runs (qa index add PATH --index DIR), then restart it")


def serve_forever(server: ThreadingHTTPServer) -> None:
    """Run ``server`` until Ctrl-C, then close it."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = ["AnswerReplica", "BackendError", "RayService", "RemoteAssistant", "RequestError", "ask_remote",
           "handle", "health_remote", "make_server", "parse_ask", "serve_forever", "serve_with_ray"]
