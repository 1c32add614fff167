"""``voronka run``: everything in one process tree.

Starts the embedded servers (unless URLs are set), migrates, then runs web, workers, scheduler and (with a token) the
bot as child processes that die with us (PR_SET_PDEATHSIG). SIGINT/SIGTERM stop the children first, then the servers.
A lock file makes a second ``voronka run`` on the same data dir refuse to start.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from loguru import logger

from cli.services import service_urls
from db.migrate import upgrade
from pipelines.knowledge.rescan import rescan
from voronka.logs import setup_logging
from voronka.settings import Settings

PR_SET_PDEATHSIG = 1
RESTART_LIMIT = 5


class AlreadyRunning(Exception):
    pass


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def run_lock(data_dir: Path) -> IO[str]:  # type: ignore[misc]
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "run.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(f"voronka уже запущена (pid {pid}) с каталогом данных {data_dir}. "
                             "Остановите её (Ctrl-C) или укажите другой VORONKA_DATA_DIR.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield handle
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


def _spawn(child: Child, env: dict[str, str]) -> None:
    child.proc = subprocess.Popen(child.argv, env=env, preexec_fn=_die_with_parent)
    child.started_at = time.monotonic()


def run(settings: Settings, *, port: int) -> int:
    setup_logging(settings, process="run")
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with run_lock(settings.data_dir), service_urls(settings, own=True) as urls:
            upgrade(urls.database_url)
            _ingest_knowledge(settings, urls.database_url, urls.redis_url)
            env = {**os.environ, "DATABASE_URL": urls.database_url, "REDIS_URL": urls.redis_url,
                   "VORONKA_PORT": str(port), "VORONKA_DATA_DIR": str(settings.data_dir)}
            exe = [sys.executable, "-m", "cli"]
            children = [Child(f"web-{i + 1}", [*exe, "web", "--no-migrate"])
                        for i in range(settings.VORONKA_WEB_PROCESSES)]
            children += [Child(f"worker-{i + 1}", [*exe, "worker", "--no-migrate"])
                         for i in range(settings.VORONKA_WORKER_PROCESSES)]
            children.append(Child("scheduler", [*exe, "scheduler", "--no-migrate"]))
            if settings.TELEGRAM_BOT_TOKEN:
                children.append(Child("bot", [*exe, "bot", "--no-migrate"]))
            for child in children:
                _spawn(child, env)
            _wait_for_port(settings.VORONKA_HOST, port, children[0], timeout=60)
            url = f"http://{settings.VORONKA_HOST}:{port}"
            print(f"voronka работает: {url}  (сайт и чат: {url}/, здоровье: {url}/health). Остановка: Ctrl-C",
                  flush=True)
            while not stopping:
                time.sleep(0.5)
                for child in children:
                    assert child.proc is not None
                    code = child.proc.poll()
                    if code is None or stopping:
                        continue
                    if child.restarts >= RESTART_LIMIT:
                        logger.error("{} keeps failing (exit {}); stopping voronka", child.name, code)
                        stopping = True
                        break
                    child.restarts += 1
                    logger.warning("{} exited with {}; restarting ({}/{})", child.name, code, child.restarts,
                                   RESTART_LIMIT)
                    _spawn(child, env)
            _stop_children(children)
    except AlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("voronka остановлена.", flush=True)
    return 0


def _ingest_knowledge(settings: Settings, database_url: str, redis_url: str) -> None:
    """The shipped knowledge base is searchable from the first message (the scheduler keeps it fresh after)."""
    scoped = settings.model_copy(update={"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    report = rescan(scoped)
    if report.failed:
        logger.warning("knowledge base: {} files could not be ingested", len(report.failed))


def _wait_for_port(host: str, port: int, web: Child, *, timeout: float) -> None:
    """Print the URL only once the web receiver accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.proc is not None and web.proc.poll() is not None:
            return  # it died; the supervision loop restarts it and says so
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)


def _stop_children(children: list[Child]) -> None:
    for child in children:
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 40
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("{} did not stop in time; killing it", child.name)
            child.proc.kill()
            child.proc.wait(timeout=5)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    return run(settings, port=args.port or settings.VORONKA_PORT)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None)
    parser.set_defaults(handler=cmd_run)
