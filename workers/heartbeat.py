"""The worker's liveness heartbeat as a Dramatiq middleware: beats from worker boot to worker shutdown.

It is added by ``cli.worker.run_worker`` only (the web and the scheduler share ``setup_broker`` but run no
worker). A beat is withheld while any consumer or worker thread has died, so the key means "this worker can work".
"""

from __future__ import annotations

from typing import Any

import dramatiq

from voronka.heartbeat import HeartbeatThread


def worker_threads_alive(worker: Any) -> bool:
    threads = [*worker.workers, *worker.consumers.values()]
    return bool(worker.workers) and all(thread.is_alive() for thread in threads)


class WorkerHeartbeat(dramatiq.Middleware):
    def __init__(self, redis_url: str, interval: float) -> None:
        self.redis_url = redis_url
        self.interval = interval
        self.thread: HeartbeatThread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.thread = HeartbeatThread(self.redis_url, "worker", self.interval,
                                      alive=lambda: worker_threads_alive(worker)).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread = None
