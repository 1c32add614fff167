"""``voronka health worker|scheduler|web``: real worker and scheduler processes keep a Redis heartbeat; the command
exits 0 while it is fresh and 1 once the process is gone (killed: the key expires; stopped: it is deleted)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from db.embedded import free_port
from tests.support.processes import TEST_SECRET, VoronkaProcess
from voronka import heartbeat
from workers.heartbeat import worker_threads_alive


def _env(redis_url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "VORONKA_DATA_DIR": str(data_dir), "ENVIRONMENT": "test",
            "LOG_JSON": "false", "JWT_SECRET_KEY": TEST_SECRET}


def health(redis_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", "health", *args], env=_env(redis_url, data_dir),
                          capture_output=True, text=True, timeout=60)


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start(process: str, services: tuple[str, str], data_dir: Path, seconds: str) -> VoronkaProcess:
    return VoronkaProcess(process, database_url=services[0], redis_url=services[1], data_dir=data_dir,
                          env={"VORONKA_HEARTBEAT_SECONDS": seconds}).start(ready_text=f"{process} started")


def test_no_heartbeat_is_unhealthy(redis_client, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for process in ("worker", "scheduler"):
        result = health(redis_url, tmp_path, process)
        assert result.returncode == 1, result
        assert "нет свежего сигнала" in result.stderr


def test_no_redis_is_unhealthy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = health(f"redis://127.0.0.1:{free_port()}/0", tmp_path, "worker")
    assert result.returncode == 1 and "Redis недоступен" in result.stderr, result


@pytest.mark.parametrize("process", ["worker", "scheduler"])
def test_live_process_beats_and_a_killed_one_goes_stale(process, redis_client, services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = "scheduler" if process == "worker" else "worker"
    proc = start(process, services, tmp_path, "0.5")
    try:
        assert proc.proc is not None
        key = heartbeat.heartbeat_key(process, pid=proc.proc.pid)
        wait_for(lambda: redis_client.exists(key), 20, f"the {process} heartbeat")
        ttl = redis_client.pttl(key)
        assert 0 < ttl <= heartbeat.ttl_ms(0.5)
        time.sleep(heartbeat.ttl_ms(0.5) / 1000 * 1.5)  # longer than one TTL: only a refreshed key survives
        assert redis_client.exists(key), f"the {process} heartbeat is not refreshed"

        for args in ((process,), (process, "--this-host"), (process, "--host", socket.gethostname())):
            result = health(services[1], tmp_path, *args)
            assert result.returncode == 0, (args, result, proc.log()[-2000:])
            assert f"{process}: жив" in result.stdout and f":{proc.proc.pid})" in result.stdout
        assert health(services[1], tmp_path, process, "--host", "some-other-host").returncode == 1
        assert health(services[1], tmp_path, other).returncode == 1  # one process's beat is not the other's

        proc.kill()  # SIGKILL: no clean-up, the key has to expire by itself
        wait_for(lambda: not redis_client.exists(key), heartbeat.ttl_ms(0.5) / 1000 + 5, "the key to expire")
        result = health(services[1], tmp_path, process)
        assert result.returncode == 1 and "нет свежего сигнала" in result.stderr, result
    finally:
        proc.stop()


@pytest.mark.parametrize("process", ["worker", "scheduler"])
def test_clean_stop_deletes_the_heartbeat(process, redis_client, services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = start(process, services, tmp_path, "30")  # a 90 s TTL: gone right after the stop only if deleted
    assert proc.proc is not None
    key = heartbeat.heartbeat_key(process, pid=proc.proc.pid)
    try:
        wait_for(lambda: redis_client.exists(key), 20, f"the {process} heartbeat")
        assert health(services[1], tmp_path, process, "--this-host").returncode == 0
    finally:
        proc.stop()
    assert proc.proc.returncode == 0, proc.log()[-2000:]
    assert not redis_client.exists(key)
    assert health(services[1], tmp_path, process).returncode == 1


def test_a_worker_with_a_dead_thread_withholds_its_beat(redis_client, redis_url) -> None:  # type: ignore[no-untyped-def]
    alive, dead = SimpleNamespace(is_alive=lambda: True), SimpleNamespace(is_alive=lambda: False)
    assert worker_threads_alive(SimpleNamespace(workers=[alive, alive], consumers={"inbound": alive}))
    assert not worker_threads_alive(SimpleNamespace(workers=[alive, dead], consumers={"inbound": alive}))
    assert not worker_threads_alive(SimpleNamespace(workers=[alive], consumers={"inbound": dead}))
    assert not worker_threads_alive(SimpleNamespace(workers=[], consumers={}))

    state = {"alive": False}
    thread = heartbeat.HeartbeatThread(redis_url, "worker", 0.2, alive=lambda: state["alive"]).start()
    try:
        time.sleep(0.5)
        assert not redis_client.exists(thread.key)
        state["alive"] = True
        wait_for(lambda: redis_client.exists(thread.key), 5, "the beat once every thread is alive")
    finally:
        thread.stop()
    assert not redis_client.exists(thread.key)


async def test_health_web_asks_ready(tmp_path, redis_url) -> None:  # type: ignore[no-untyped-def]
    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    async def not_ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "not_ready", "checks": {"postgres": {"ok": False}}}, status=503)

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "health", "web", *args, env=_env(redis_url, tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    app = web.Application()
    app.router.add_get("/ready", ready)
    app.router.add_get("/down/ready", not_ready)
    async with TestServer(app) as server:
        code, out = await run("--url", str(server.make_url("/ready")))
        assert code == 0 and "web: готов" in out, out
        code, out = await run("--url", str(server.make_url("/down/ready")))
        assert code == 1 and "503" in out and "not_ready" in out, out
    code, out = await run("--url", f"http://127.0.0.1:{free_port()}/ready", "--timeout", "2")
    assert code == 1 and "недоступен" in out, out


def test_ready_url_of_a_wildcard_bind_is_the_loopback() -> None:
    assert heartbeat.ready_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/ready"
    assert heartbeat.ready_url("::", 9000) == "http://127.0.0.1:9000/ready"
    assert heartbeat.ready_url("10.0.0.5", 8080) == "http://10.0.0.5:8080/ready"
    assert heartbeat.ready_url("fe80::1", 8080) == "http://[fe80::1]:8080/ready"
