"""Real voronka processes for tests (a Dramatiq worker, the scheduler), pointed at the session's services."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TEST_SECRET = "test-secret-key-0123456789abcdef"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it when the test process dies (a killed pytest leaves no worker)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class VoronkaProcess:
    def __init__(self, command: str, *, database_url: str, redis_url: str, data_dir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.command = command
        self.env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                    "VORONKA_DATA_DIR": str(data_dir), "LOG_JSON": "false", "LLM_PROVIDER": "offline",
                    "ENVIRONMENT": "test", "VORONKA_ACK_TIMEOUT_SECONDS": "4",
                    "JWT_SECRET_KEY": TEST_SECRET, **(env or {})}
        self.log_path = data_dir / f"{command}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_text: str = "started", timeout: float = 90.0) -> VoronkaProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", self.command, "--no-migrate"],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready_text in self.log():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited: {self.log()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.command} did not start: {self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
