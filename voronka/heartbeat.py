"""Liveness heartbeats of the worker and scheduler processes, and the checks behind ``voronka health``.

A live process keeps the Redis key ``voronka:heartbeat:<process>:<hostname>:<pid>``, rewritten every
``VORONKA_HEARTBEAT_SECONDS`` with a TTL of three intervals, so the key exists only while the process keeps proving
it works; a clean stop deletes it at once. The worker beats from a thread its Dramatiq middleware starts at worker
boot (``workers/heartbeat.py``), and only while every consumer and worker thread is alive; the scheduler beats from
an APScheduler interval job, so a scheduler whose job threads are stuck goes quiet too.

``voronka health worker|scheduler`` exits 0 when such a key exists (for any host, or ``--this-host``), 1 otherwise;
``voronka health web`` asks the web receiver's ``/ready``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis as redis_lib
from loguru import logger

PREFIX = "voronka:heartbeat:"


def ttl_ms(interval: float) -> int:
    """A key lives three intervals (at least a second): one missed beat is not death, three are."""
    return max(int(interval * 3 * 1000), 1000)


def heartbeat_key(process: str, *, host: str | None = None, pid: int | None = None) -> str:
    return f"{PREFIX}{process}:{host or socket.gethostname()}:{pid if pid is not None else os.getpid()}"


def beat(redis: Any, process: str, interval: float, *, key: str | None = None) -> None:
    """Write (or refresh) this process's heartbeat."""
    value = {"process": process, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time(),
             "interval": interval}
    redis.set(key or heartbeat_key(process), json.dumps(value), px=ttl_ms(interval))


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


@dataclass(frozen=True)
class Beat:
    key: str
    host: str
    pid: int
    age: float  # seconds since the last beat


def fresh_beats(redis: Any, process: str, *, host: str | None = None) -> list[Beat]:
    """Heartbeats of ``process`` that have not expired (for one host, or all), newest first."""
    pattern = f"{PREFIX}{_glob_escape(process)}:{_glob_escape(host) if host else '*'}:*"
    now = time.time()
    found: list[Beat] = []
    for raw_key in redis.scan_iter(match=pattern, count=200):
        raw = redis.get(raw_key)
        if raw is None:  # expired between SCAN and GET
            continue
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        try:
            value = json.loads(raw)
            found.append(Beat(key, str(value["host"]), int(value["pid"]), max(0.0, now - float(value["at"]))))
        except (ValueError, KeyError, TypeError):
            continue  # not ours: ignore
    return sorted(found, key=lambda b: b.age)


class HeartbeatThread:
    """A daemon thread beating every ``interval`` seconds while ``alive()`` holds; ``stop`` deletes the key."""

    def __init__(self, redis_url: str, process: str, interval: float,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self.redis = redis_lib.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.process = process
        self.interval = interval
        self.alive = alive
        self.key = heartbeat_key(process)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{process}", daemon=True)

    def start(self) -> HeartbeatThread:
        self._thread.start()
        return self

    def _beat(self) -> None:
        try:
            if not self.alive():
                logger.warning("{} heartbeat withheld: a thread of this process has died", self.process)
                return
            beat(self.redis, self.process, self.interval, key=self.key)
        except Exception as exc:  # Redis down: the next tick tries again; a heartbeat must never stop the process
            logger.warning("{} heartbeat failed: {}", self.process, type(exc).__name__)

    def _run(self) -> None:
        self._beat()
        while not self._stop.wait(self.interval):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        forget(self.redis, self.key)
        self.redis.close()


def forget(redis: Any, key: str) -> None:
    """Delete a heartbeat on a clean stop (a stopped process is not alive; no need to wait for the TTL)."""
    try:
        redis.delete(key)
    except Exception as exc:
        logger.warning("heartbeat {} not deleted: {}", key, type(exc).__name__)


# --- checks (``voronka health``) ---------------------------------------------------------------------------------
def check_process(redis_url: str, process: str, *, host: str | None = None) -> tuple[bool, str]:
    """(alive, one-line message): is there a fresh heartbeat of ``process`` (on ``host``)?"""
    where = f" на {host}" if host else ""
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        beats = fresh_beats(client, process, host=host)
    except redis_lib.RedisError as exc:
        return False, f"{process}: Redis недоступен ({type(exc).__name__}), сигнал жизни не проверить"
    finally:
        client.close()
    if not beats:
        return False, f"{process}: нет свежего сигнала жизни{where} (ключей {PREFIX}{process}:… нет)"
    newest = beats[0]
    return True, (f"{process}: жив{where}, процессов: {len(beats)}, последний сигнал {newest.age:.1f} с назад "
                  f"({newest.host}:{newest.pid})")


def ready_url(host: str, port: int) -> str:
    """``/ready`` of a receiver bound to ``host``: a wildcard address is asked on the loopback."""
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/ready"


def check_web(url: str, *, timeout: float = 5.0) -> tuple[bool, str]:
    """(ready, one-line message) from the web receiver's readiness endpoint."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read(500)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(500)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return False, f"web: {url} недоступен ({reason})"
    if status == 200:
        return True, f"web: готов ({url})"
    return False, f"web: {url} ответил {status}: {body.decode('utf-8', 'replace').strip()}"
