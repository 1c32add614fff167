"""Smoke test of an installed voronka, as a new user meets it: `voronka run` on an empty data dir answers a site
message, then stops cleanly on SIGTERM leaving no process behind.

Usage: <venv>/bin/python .ci/smoke.py <venv>/bin/voronka [--cwd DIR]
Runs with the interpreter of the venv under test (it needs psutil, a runtime dependency, to see descendants).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

READY_TIMEOUT_S = 180
REPLY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def fail(message: str) -> None:
    print(f"smoke: FAIL: {message}", file=sys.stderr)
    raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("voronka")
    parser.add_argument("--cwd", default=None, help="directory to run from (default: a fresh temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="voronka-smoke-") as tmp:
        data_dir = Path(tmp) / "data"
        cwd = Path(args.cwd) if args.cwd else Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN", "_URL", "_SECRET"))}
        env.update(VORONKA_DATA_DIR=str(data_dir), VORONKA_PORT=str(port), VORONKA_HOST="127.0.0.1")
        log_path = Path(tmp) / "voronka.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen([args.voronka, "run"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        root = psutil.Process(proc.pid)
        seen: dict[int, psutil.Process] = {}
        try:
            ready = False
            while time.monotonic() - started < READY_TIMEOUT_S:
                if proc.poll() is not None:
                    fail(f"voronka run exited with {proc.returncode} before ready:\n{log_path.read_text()[-4000:]}")
                for child in root.children(recursive=True):
                    seen.setdefault(child.pid, child)
                try:
                    status, _ = http("GET", f"{base}/ready", timeout=5)
                    ready = status == 200
                except OSError:
                    ready = False
                if ready:
                    break
                time.sleep(0.5)
            if not ready:
                fail(f"/ready not 200 after {READY_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")
            print(f"smoke: ready in {time.monotonic() - started:.1f} s")

            session = f"smoke-{os.getpid()}"
            status, _ = http("POST", f"{base}/api/v1/site/messages",
                             {"session_id": session, "text": "Здравствуйте, нужен ИИ-менеджер для отдела продаж"})
            if status not in (200, 201, 202):
                fail(f"POST /api/v1/site/messages answered {status}")
            sent = time.monotonic()
            reply = ""
            while not reply and time.monotonic() - sent < REPLY_TIMEOUT_S:
                _, body = http("GET", f"{base}/api/v1/site/messages?session_id={session}&wait=20", timeout=30)
                replies = [m for m in body.get("messages", []) if m.get("role") == "assistant" and m.get("text")]
                reply = replies[0]["text"] if replies else ""
            if not reply:
                fail(f"no reply within {REPLY_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")
            print(f"smoke: reply in {time.monotonic() - sent:.1f} s: {reply[:120]!r}")
            for child in root.children(recursive=True):
                seen.setdefault(child.pid, child)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                fail(f"voronka run did not stop within {STOP_TIMEOUT_S} s of SIGTERM")
        time.sleep(1)
        left = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        stray = [p for p in psutil.process_iter(["cmdline"]) if str(data_dir) in " ".join(p.info["cmdline"] or [])]
        if left or stray:
            names = sorted({f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in left + stray})
            for p in left + stray:
                p.kill()
            fail(f"processes left after SIGTERM: {names}")
        if code != 0:
            fail(f"voronka run exited with {code} after SIGTERM:\n{log_path.read_text()[-4000:]}")
        print(f"smoke: stopped cleanly ({len(seen)} child processes, none left)")


if __name__ == "__main__":
    main()
