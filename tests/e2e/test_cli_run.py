"""`voronka run` on a fresh data dir: everything up, a Russian reply over HTTP, a second run refused, other commands
join its servers, SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_run_serves_joins_refuses_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"VORONKA_DATA_DIR": str(tmp_path / "data"), "VORONKA_PORT": str(port), "LOG_LEVEL": "WARNING",
                "LLM_PROVIDER": "offline"})
    run = subprocess.Popen([sys.executable, "-m", "cli", "run"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 60
        banner = ""
        while time.monotonic() < deadline and f":{port}" not in banner:
            banner += run.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if http("GET", base + "/ready")["status"] == "ready":
                    break
            except OSError:
                time.sleep(0.2)
        assert http("POST", base + "/api/v1/site/messages", {"session_id": "cli", "text": "Здравствуйте"})["message_id"]
        messages = http("GET", base + "/api/v1/site/messages?session_id=cli&wait=20")["messages"]
        assert any(m["role"] == "assistant" and "Здравствуйте" in m["text"] for m in messages), messages

        second = subprocess.run([sys.executable, "-m", "cli", "run", "--port", str(free_port())], env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "уже запущена" in second.stderr

        state = json.loads((tmp_path / "data" / "services.json").read_text())
        joined = subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert joined.returncode == 0, joined.stderr
        assert json.loads((tmp_path / "data" / "services.json").read_text()) == state  # joined, did not restart
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 4  # postgres, valkey, web, worker, scheduler
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    assert run.returncode == 0
    time.sleep(0.5)
    for pid in (state["postgres_pid"], state["redis_pid"], *(c.pid for c in children)):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
