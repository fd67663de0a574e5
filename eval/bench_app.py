"""Benchmark the web app: time from start to ready, and per-question latency.

    python eval/bench_app.py [--index DIR] [--questions N] [--json OUT]

Starts ``python app.py`` on a free port over an *existing* index (build one
first with ``qa index build`` or one run of ``python app.py``), measures the
seconds until it prints its ready line and answers HTTP, then asks the gold
questions of ``eval/seed_qa.jsonl`` through ``gradio_client`` (the same ``/ask``
endpoint the page uses; follow-ups get their history asked first, untimed) and
reports latency statistics in milliseconds. One untimed question warms up first.
Numbers, not assertions: compare them across commits on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "seed_qa.jsonl"
READY = re.compile(r"qa app ready: (http://\S+)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(index_dir: Path, log_path: Path, timeout: float = 600.0):
    """Start ``python app.py`` and wait until it serves.

    Returns:
        (process, url, seconds from launch to the first HTTP 200 of the page).

    Raises:
        RuntimeError: the app exited or did not become ready in ``timeout`` seconds
            (the message ends with the app's log).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(free_port()), "--index", str(index_dir)]
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
    """Mean, median, 90th percentile and max of ``times`` (seconds), in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 1),
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(p90, 1),
        "max_ms": round(ms[-1], 1),
    }


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
    args = p.parse_args(argv)
    index_dir = (args.index or Settings.from_env().index_dir).resolve()
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
