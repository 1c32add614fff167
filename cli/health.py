"""``voronka health worker|scheduler|web``: a liveness probe for container health checks and operators.

Exit 0 with a one-line message when the process is alive (a fresh Redis heartbeat; for the web, ``/ready`` answers
200), 1 otherwise. Never starts the embedded servers: without ``REDIS_URL`` it uses the running ones of
``VORONKA_DATA_DIR`` (``voronka run``), or reports that there are none.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from voronka.settings import Settings


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from voronka import heartbeat
    from voronka.services import running_redis_url

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


def add_parsers(sub: Any) -> dict[str, Any]:
    p = sub.add_parser("health", help="живость процесса: worker | scheduler | web (код 0 — жив, 1 — нет)")
    p.add_argument("target", choices=["worker", "scheduler", "web"])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--this-host", action="store_true",
                       help="worker/scheduler: только процессы этой машины (контейнера)")
    where.add_argument("--host", default=None, help="worker/scheduler: только процессы машины HOST")
    p.add_argument("--url", default=None, help="web: адрес /ready (по умолчанию из VORONKA_HOST и VORONKA_PORT)")
    p.add_argument("--timeout", type=float, default=5.0, help="web: секунд на ответ")
    return {"health": cmd_health}
