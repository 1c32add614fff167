"""``voronka health worker|scheduler|web``: a liveness probe for container health checks and operators.

Exit 0 with a one-line message when the process is alive (a fresh Redis heartbeat; for the web, ``/ready`` answers
200), 1 otherwise. Never starts the embedded servers: without ``REDIS_URL`` it uses the running ones of
``VORONKA_DATA_DIR`` (``voronka run``), or reports that there are none. It imports only the heartbeat checks, so a
probe every few seconds stays cheap.
"""

from __future__ import annotations

import argparse
import socket
import sys

from db.embedded import EmbeddedServices
from voronka import heartbeat
from voronka.settings import Settings


def running_redis_url(settings: Settings) -> str:
    """The Redis URL from settings, else that of the embedded servers already running for the data dir, else ""."""
    if settings.redis_url:
        return settings.redis_url
    state = EmbeddedServices(settings.data_dir).read_state()
    return state.redis_url if state is not None else ""


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    if args.target == "web":
        url = args.url or heartbeat.ready_url(settings.VORONKA_HOST, settings.VORONKA_PORT)
        ok, message = heartbeat.check_web(url, timeout=args.timeout)
    else:
        redis_url = running_redis_url(settings)
        if not redis_url:
            print(f"{args.target}: REDIS_URL не задан и встроенные серверы {settings.data_dir} не запущены",
                  file=sys.stderr)
            return 1
        host = socket.gethostname() if args.this_host else args.host
        ok, message = heartbeat.check_process(redis_url, args.target, host=host)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["worker", "scheduler", "web"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--this-host", action="store_true",
                       help="worker/scheduler: только процессы этой машины (контейнера)")
    where.add_argument("--host", default=None, help="worker/scheduler: только процессы машины HOST")
    parser.add_argument("--url", default=None, help="web: адрес /ready (по умолчанию из VORONKA_HOST и VORONKA_PORT)")
    parser.add_argument("--timeout", type=float, default=5.0, help="web: секунд на ответ")
    parser.set_defaults(handler=cmd_health)
