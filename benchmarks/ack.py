"""Acknowledgement latency of the site chat API under concurrent load, beside a bare aiohttp handler.

    python benchmarks/ack.py [--clients 100] [--requests 3000] [--url http://127.0.0.1:8080]

Without --url it starts its own ``voronka run`` in a temporary data dir. The bare handler (one INSERT into the same
Postgres, no validation, no queue) runs in a child process on another port; both get the same load. Prints p50/p95/p99
and req/s for each and the throughput ratio. Target: p99 ≤ 50 ms at 100 clients and ≥ 50 % of the bare throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare_server(database_url: str, port: int) -> None:
    import psycopg_pool
    from aiohttp import web

    async def main() -> None:
        pool = psycopg_pool.AsyncConnectionPool(database_url, min_size=10, max_size=20, open=False)
        await pool.open()
        async with pool.connection() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, body jsonb)")

        async def handler(request: web.Request) -> web.Response:
            body = await request.read()
            async with pool.connection() as conn:
                row = await (await conn.execute("INSERT INTO bench_bare (body) VALUES (%s) RETURNING id",
                                                (body.decode(),))).fetchone()
            return web.json_response({"message_id": row[0] if row else None}, status=202)

        app = web.Application()
        app.router.add_post("/api/v1/site/messages", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


async def paced(url: str, clients: int, seconds: float, interval: float) -> tuple[list[float], float]:
    """Open loop: each client sends one message every ``interval`` seconds (a chat visitor, not a flood)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def one_client(index: int) -> None:
            await asyncio.sleep(interval * index / clients)  # spread the starts
            end = time.perf_counter() + seconds
            n = 0
            while time.perf_counter() < end:
                started = time.perf_counter()
                payload = {"session_id": f"paced-{index}", "text": f"Здравствуйте, сколько стоит ИИ-юрист? {n}"}
                async with session.post(url + "/api/v1/site/messages", json=payload) as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                n += 1
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))

        started = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        return latencies, time.perf_counter() - started


async def load(url: str, clients: int, total: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one_client(index: int) -> None:
            for n in counter:
                payload = {"session_id": f"bench-{index}-{n % 7}", "text": f"Здравствуйте, сколько стоит ИИ-юрист? {n}"}
                started = time.perf_counter()
                async with session.post(url + "/api/v1/site/messages", json=payload) as response:
                    await response.read()
                    if response.status != 202:
                        raise RuntimeError(f"HTTP {response.status}")
                latencies.append((time.perf_counter() - started) * 1000)

        # warm-up
        for i in range(20):
            async with session.post(url + "/api/v1/site/messages", json={"session_id": f"warm-{i}", "text": "тест"}):
                pass
        started = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def report(name: str, latencies: list[float], elapsed: float) -> float:
    q = statistics.quantiles(latencies, n=100)
    rps = len(latencies) / elapsed
    print(f"{name:<10} n={len(latencies):5d}  p50={q[49]:6.1f} ms  p95={q[94]:6.1f} ms  p99={q[98]:6.1f} ms  "
          f"{rps:7.0f} req/s")
    return rps


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--url", default="")
    parser.add_argument("--interval", type=float, default=2.0, help="paced mode: seconds between a client's messages")
    parser.add_argument("--seconds", type=float, default=15.0, help="paced mode: duration")
    args = parser.parse_args()

    run_proc = None
    tmp = Path(tempfile.mkdtemp(prefix="voronka-bench-"))
    url = args.url
    data_dir = Path(os.environ.get("VORONKA_DATA_DIR", "./data"))
    if not url:
        port = free_port()
        data_dir = tmp / "data"
        env = {**os.environ, "VORONKA_DATA_DIR": str(data_dir), "VORONKA_PORT": str(port), "LOG_LEVEL": "WARNING",
               "RATE_LIMIT_PER_MINUTE": "100000000"}  # one load-generator IP: lift the per-IP limit
        run_proc = subprocess.Popen([sys.executable, "-m", "cli", "run"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert run_proc.stdout is not None
        for line in run_proc.stdout:
            if "http://" in line:
                break
        url = f"http://127.0.0.1:{port}"
    services = data_dir / "services.json"
    database_url = os.environ.get("DATABASE_URL") or json.loads(services.read_text())["database_url"]
    bare_port = free_port()
    bare = multiprocessing.Process(target=bare_server, args=(database_url, bare_port), daemon=True)
    bare.start()
    time.sleep(1.5)
    try:
        print(f"closed loop: {args.clients} concurrent clients sending back to back, {args.requests} requests")
        lat, elapsed = asyncio.run(load(url, args.clients, args.requests))
        ours = report("voronka", lat, elapsed)
        lat_b, elapsed_b = asyncio.run(load(f"http://127.0.0.1:{bare_port}", args.clients, args.requests))
        theirs = report("bare", lat_b, elapsed_b)
        print(f"throughput ratio voronka/bare: {ours / theirs:.0%}")
        print(f"paced: {args.clients} clients, one message every {args.interval:g} s each, {args.seconds:g} s")
        lat_p, elapsed_p = asyncio.run(paced(url, args.clients, args.seconds, args.interval))
        report("voronka", lat_p, elapsed_p)
        lat_bp, elapsed_bp = asyncio.run(paced(f"http://127.0.0.1:{bare_port}", args.clients, args.seconds,
                                               args.interval))
        report("bare", lat_bp, elapsed_bp)
    finally:
        bare.terminate()
        if run_proc is not None:
            run_proc.send_signal(signal.SIGTERM)
            run_proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
