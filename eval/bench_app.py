"""Benchmark the web app: time from start to ready, per-question latency, and latency under load.

    python eval/bench_app.py [--index DIR] [--questions N] [--json OUT]
    python eval/bench_app.py --load {library,app} [--index DIR] [--hostile 2] [--upload-kb 1024]
                             [--min-questions 20] [--json OUT]

Starts ``python app.py`` on a free port over an *existing* index (build one
first with ``qa index build`` or one run of ``python app.py``), measures the
seconds until it prints its ready line and answers HTTP, then asks the gold
questions of ``eval/seed_qa.jsonl`` through ``gradio_client`` (the same ``/ask``
endpoint the page uses; follow-ups get their history asked first, untimed) and
reports latency statistics in milliseconds. One untimed question warms up first.
Numbers, not assertions: compare them across commits on the same machine.

With ``--load``, ordinary questions (the gold questions, one client, one after
the other) are timed while ``--hostile`` clients send slow or huge questions
without pause (500 characters without Chinese, which take the cross-lingual
path; 500 Chinese characters; junk) and one ``--upload-kb`` document is added.
It runs until the upload has finished and at least ``--min-questions`` ordinary
questions were answered, on a copy of the index (the given one is not changed).
Target: p95 of the ordinary questions at most 1 s. ``--load library`` drives an
:class:`qa.pipeline.Assistant` from threads (what the library allows);
``--load app`` starts ``python app.py`` and drives it over HTTP with
``gradio_client`` (what the app's queue settings allow).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "seed_qa.jsonl"
READY = re.compile(r"qa app ready: (http://\S+)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(index_dir: Path, log_path: Path, timeout: float = 600.0, app: Path | None = None):
    """Start ``python app.py`` and wait until it serves.

    Returns:
        (process, url, seconds from launch to the first HTTP 200 of the page).

    Raises:
        RuntimeError: the app exited or did not become ready in ``timeout`` seconds
            (the message ends with the app's log).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(app or ROOT / "app.py"), "--port", str(free_port()), "--index", str(index_dir)]
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    while time.perf_counter() - started < timeout:
        match = READY.search(log_path.read_text(encoding="utf-8"))
        if match and _responds(match.group(1)):
            return proc, match.group(1), time.perf_counter() - started
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"app not ready; log:\n{log_path.read_text(encoding='utf-8')[-3000:]}")


def _responds(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=5).status == 200
    except OSError:
        return False


def load_questions(path: Path = GOLD, limit: int | None = None) -> list[dict]:
    """Gold rows (``question``, ``history``) from a JSONL file, at most ``limit``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return rows[:limit] if limit else rows


def ask_latencies(url: str, rows: list[dict]) -> list[float]:
    """Seconds per ``/ask`` call for each row, through one gradio_client session.

    The conversation is cleared before each row and the row's history asked
    (untimed), so follow-ups are answered in context.
    """
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict("2023年新增了多少个托位？", api_name="/ask")  # warm-up, untimed
    times = []
    for row in rows:
        client.predict(api_name="/clear")
        for earlier in row.get("history", []):
            client.predict(earlier, api_name="/ask")
        started = time.perf_counter()
        client.predict(row["question"], api_name="/ask")
        times.append(time.perf_counter() - started)
    return times


def summarize(times: list[float]) -> dict[str, float]:
    """Mean, median, 90th and 95th percentiles and max of ``times`` (seconds), in milliseconds."""
    from qa.evaluation.metrics import percentile

    ms = sorted(t * 1000 for t in times)
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 1),
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(percentile(ms, 90), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(ms[-1], 1),
    }


# --- latency under load ------------------------------------------------------------

#: Questions of the hostile clients, sent in turn: each is as long as the app allows.
HOSTILE_QUESTIONS = (
    "%s" * 250,  # no Chinese: the cross-lingual path
    "What is the total number of " + "very " * 94 + "places?",
    "托育" * 250,
    "admin'-- {0} 12345 <img src=x onerror=alert(1)> " * 10,
)


def write_upload(directory: Path, kilobytes: int) -> Path:
    """A new ``.txt`` document of about ``kilobytes`` KB (UTF-8): the shipped report's
    paragraphs, repeated under numbered headings so no two sections are identical."""
    from qa.config import DEFAULT_CORPUS_DIR

    text = next(iter(sorted(DEFAULT_CORPUS_DIR.glob("*.txt")))).read_text(encoding="utf-8")
    parts, size, n = [f"压力测试文档 {time.time_ns()}\n"], 0, 0
    while size < kilobytes * 1024:
        n += 1
        part = f"\n第{n}部分\n{text}"
        parts.append(part)
        size += len(part.encode("utf-8"))
    path = directory / f"upload-{kilobytes}kb.txt"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _under_load(ask: Callable[[str], object], hostile_ask: Callable[[], Callable[[str], object]],
                upload: Callable[[], object], questions: list[str], hostile: int,
                min_questions: int) -> dict:
    """Time ``ask`` on ``questions`` (cycled) while ``hostile`` threads call their own
    ``hostile_ask()`` client without pause and one thread runs ``upload``. When
    ``ask`` returns a float, that is the question's seconds (the rest was set-up).

    Returns the ordinary questions' latency summary, the upload's seconds and error
    (if any), the hostile questions' latency summary and the errors counted.
    """
    stop = threading.Event()
    hostile_times: list[float] = []
    errors: list[str] = []
    upload_result: dict = {}

    def attacker(offset: int) -> None:
        send = hostile_ask()
        i = offset
        while not stop.is_set():
            started = time.perf_counter()
            try:
                seconds = send(HOSTILE_QUESTIONS[i % len(HOSTILE_QUESTIONS)])
                hostile_times.append(seconds if isinstance(seconds, float)
                                     else time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"hostile: {type(exc).__name__}: {exc}")
            i += 1

    def uploader() -> None:
        started = time.perf_counter()
        try:
            upload_result["result"] = repr(upload())[:200]
        except Exception as exc:  # noqa: BLE001 - reported
            upload_result["error"] = f"{type(exc).__name__}: {exc}"
        upload_result["seconds"] = round(time.perf_counter() - started, 1)

    threads = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(hostile)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the hostile clients are busy before the first timed question
    upload_thread = threading.Thread(target=uploader, daemon=True)
    upload_thread.start()
    times: list[float] = []
    i = 0
    while upload_thread.is_alive() or len(times) < min_questions:
        started = time.perf_counter()
        try:
            seconds = ask(questions[i % len(questions)])
            times.append(seconds if isinstance(seconds, float) else time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"ordinary: {type(exc).__name__}: {exc}")
        i += 1
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    upload_thread.join()
    return {
        "ordinary": summarize(times),
        "hostile": summarize(hostile_times) if hostile_times else {"n": 0},
        "upload": upload_result,
        "errors": errors[:20],
        "error_count": len(errors),
    }


def load_library(index_dir: Path, hostile: int, upload_kb: int, min_questions: int) -> dict:
    """:func:`_under_load` against an :class:`~qa.pipeline.Assistant` in this process
    (threads call ``ask`` and ``add_files`` directly), over a copy of ``index_dir``."""
    from qa.config import Settings
    from qa.pipeline import Assistant

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp) / "index"
        shutil.copytree(index_dir, work)
        assistant = Assistant(Settings.from_env(index_dir=work)).warm_up(progress=False)
        assistant.ask("2023年新增了多少个托位？")  # warm-up, untimed
        upload = write_upload(Path(tmp), upload_kb)
        questions = [row["question"] for row in load_questions() if not row.get("history")]
        result = _under_load(assistant.ask, lambda: assistant.ask,
                             lambda: assistant.add_files([upload]), questions, hostile, min_questions)
        result["documents_after"] = len(assistant.documents())
    return result


def load_app(index_dir: Path, hostile: int, upload_kb: int, min_questions: int,
             app: Path | None = None) -> dict:
    """:func:`_under_load` against ``python app.py`` (or ``app``, e.g. a copy with other
    queue settings) over HTTP (one gradio_client per client, uploads through
    ``/add_documents``), over a copy of ``index_dir``."""
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = Path(tmp) / "index"
        shutil.copytree(index_dir, work)
        proc, url, _ = start_app(work, Path(tmp) / "app.log", app=app)
        try:
            def client_ask() -> Callable[[str], object]:
                client = Client(url, verbose=False)

                def ask(question: str) -> object:
                    client.predict(api_name="/clear")  # no history: each question on its own
                    started = time.perf_counter()
                    client.predict(question, api_name="/ask")
                    return time.perf_counter() - started

                return ask

            ordinary = client_ask()
            ordinary("2023年新增了多少个托位？")  # warm-up, untimed
            upload = write_upload(Path(tmp), upload_kb)
            uploader = Client(url, verbose=False)
            questions = [row["question"] for row in load_questions() if not row.get("history")]
            result = _under_load(
                ordinary, client_ask,
                lambda: uploader.predict([handle_file(str(upload))], api_name="/add_documents")[0],
                questions, hostile, min_questions)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return result


def run(index_dir: Path, limit: int | None = None) -> dict:
    """Start the app over ``index_dir``, time it, ask the questions; return the figures."""
    if not (index_dir / "manifest.json").exists():
        raise SystemExit(
            f"no index in {index_dir}: build it first (`qa index build --index {index_dir}` "
            "or run `python app.py` once); this benchmark times start-up with an existing index"
        )
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_app-{os.getpid()}.log"
    proc, url, ready_s = start_app(index_dir, log_path)
    try:
        latency = summarize(ask_latencies(url, load_questions(limit=limit)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"start_to_ready_s": round(ready_s, 2), "ask": latency, "log": str(log_path)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the figures (and writes them with ``--json``)."""
    from qa.config import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, default=None, help="existing index (default: the configured one)")
    p.add_argument("--questions", type=int, default=None, help="ask only the first N gold questions")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    p.add_argument("--load", choices=("library", "app"), default=None,
                   help="time ordinary questions under load (hostile clients and an upload) "
                        "against the library in threads or the app over HTTP")
    p.add_argument("--app", type=Path, default=None,
                   help="app script to start (--load app; default: app.py), e.g. a copy with other queue settings")
    p.add_argument("--hostile", type=int, default=2, help="hostile clients (--load)")
    p.add_argument("--upload-kb", type=int, default=1024, help="size of the uploaded document (--load)")
    p.add_argument("--min-questions", type=int, default=20,
                   help="ordinary questions to time at least (--load)")
    args = p.parse_args(argv)
    index_dir = (args.index or Settings.from_env().index_dir).resolve()
    if args.load:
        if not (index_dir / "manifest.json").exists():
            raise SystemExit(f"no index in {index_dir}: build it first (`qa index build --index {index_dir}`)")
        if args.load == "library":
            result = load_library(index_dir, args.hostile, args.upload_kb, args.min_questions)
        else:
            result = load_app(index_dir, args.hostile, args.upload_kb, args.min_questions, args.app)
        o, h = result["ordinary"], result["hostile"]
        print(f"under load ({args.load}: {args.hostile} hostile clients, {args.upload_kb} KB upload "
              f"in {result['upload'].get('seconds')} s{', ' + result['upload']['error'] if 'error' in result['upload'] else ''}):")
        print(f"  ordinary questions: n {o['n']}, p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, "
              f"max {o['max_ms']} ms (target p95 <= 1000 ms)")
        print(f"  hostile questions: n {h['n']}, p50 {h.get('p50_ms')} ms, max {h.get('max_ms')} ms; "
              f"errors {result['error_count']}")
        if args.json:
            args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        return 0
    result = run(index_dir, args.questions)
    a = result["ask"]
    print(f"start to ready: {result['start_to_ready_s']:.2f} s (index {index_dir})")
    print(
        f"/ask latency over {a['n']} questions: mean {a['mean_ms']} ms, p50 {a['p50_ms']} ms, "
        f"p90 {a['p90_ms']} ms, max {a['max_ms']} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
