"""Avito webhooks under load: acknowledgement latency and time until the reply reaches Avito.

    python benchmarks/webhooks.py [--senders 100] [--rounds 3]

Starts a local Avito fake (in its own thread) and ``voronka run`` in a temporary data dir with AVITO_* settings
pointing at the fake. Each of ``--senders`` concurrent senders is one Avito chat (half of them about a lawyer
listing): it posts a client's message to our webhook, then waits until our reply arrives at the fake, ``--rounds``
times. The first round is a burst (every chat starts at once: new leads, listing look-ups, the token). Prints the
acknowledgement p50/p99 and webhook → reply-at-Avito p50/p95. Targets: ack p99 ≤ 50 ms, reply p95 ≤ 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.avito_fake import AvitoFake

SECRET = "bench-webhook-secret-0123456789abcdef"
MESSAGES = ("Здравствуйте, актуально?", "Сколько стоит ИИ-юрист?", "Нас примерно 20 человек")
LAWYER_ITEM = {"id": 4242, "title": "ИИ-Юрист: проверка договоров за минуты", "url": "https://www.avito.ru/4242"}


class TimedAvitoFake(AvitoFake):
    """The Avito fake that notes when each of our messages arrived (per chat) and wakes the waiting sender."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, list[float]] = {}
        self.on_arrival: Any = None  # called (in the fake's thread) with the chat id

    def _store_out(self, chat_id: str, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        self.arrivals.setdefault(chat_id, []).append(time.perf_counter())
        if self.on_arrival is not None:
            self.on_arrival(chat_id)
        return super()._store_out(chat_id, msg_type, content)


class FakeThread(threading.Thread):
    def __init__(self, fake: TimedAvitoFake) -> None:
        super().__init__(daemon=True)
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.fake.start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(chat_id: str, text: str, n: int, item_id: int | None, author_id: int) -> dict[str, Any]:
    value: dict[str, Any] = {"id": f"{chat_id}-m{n}", "chat_id": chat_id, "user_id": 100500, "author_id": author_id,
                             "created": int(time.time()), "type": "text", "chat_type": "u2i",
                             "content": {"text": text}}
    if item_id is not None:
        value["item_id"] = item_id
    return {"id": f"evt-{chat_id}-{n}", "version": "v3.0.0", "timestamp": int(time.time()),
            "payload": {"type": "message", "value": value}}


async def sender(session: aiohttp.ClientSession, url: str, fake: TimedAvitoFake, chat_id: str, rounds: int,
                 item_id: int | None, acks: list[tuple[int, float]], replies: list[tuple[int, float]], timeout: float,
                 start: asyncio.Event, arrived_event: asyncio.Event) -> int:
    await start.wait()
    missing = 0
    for n in range(rounds):
        before = len(fake.arrivals.get(chat_id, []))
        arrived_event.clear()
        started = time.perf_counter()
        author_id = 10_000 + zlib.crc32(chat_id.encode()) % 10**8  # every chat is another Avito user
        body = event(chat_id, MESSAGES[n % len(MESSAGES)], n, item_id, author_id)
        async with session.post(url, json=body) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"webhook answered HTTP {response.status}")
        acks.append((n, (time.perf_counter() - started) * 1000))
        deadline = started + timeout
        while len(fake.arrivals.get(chat_id, [])) <= before and time.perf_counter() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived_event.wait(), max(0.01, deadline - time.perf_counter()))
            arrived_event.clear()
        arrived = fake.arrivals.get(chat_id, [])
        if len(arrived) > before:
            replies.append((n, arrived[before] - started))
        else:
            missing += 1
        await asyncio.sleep(0.3)  # the rest of the turn's replies; then the client writes again
    return missing


async def run_load(url: str, fake: TimedAvitoFake, senders: int, rounds: int, prefix: str,
                   timeout: float) -> tuple[list[tuple[int, float]], list[tuple[int, float]], int, float]:
    acks: list[tuple[int, float]] = []
    replies: list[tuple[int, float]] = []
    start = asyncio.Event()
    loop = asyncio.get_running_loop()
    events = {f"{prefix}-{i}": asyncio.Event() for i in range(senders)}

    def on_arrival(chat_id: str) -> None:  # in the fake's thread
        event_ = events.get(chat_id)
        if event_ is not None:
            loop.call_soon_threadsafe(event_.set)

    fake.on_arrival = on_arrival
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders + 10)) as session:
        tasks = [asyncio.create_task(sender(session, url, fake, f"{prefix}-{i}", rounds,
                                            LAWYER_ITEM["id"] if i % 2 == 0 else None, acks, replies, timeout,
                                            start, events[f"{prefix}-{i}"]))
                 for i in range(senders)]
        await asyncio.sleep(0.2)
        began = time.perf_counter()
        start.set()
        missing = sum(await asyncio.gather(*tasks))
    fake.on_arrival = None
    return acks, replies, missing, time.perf_counter() - began


def quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reply-timeout", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="VORONKA_WORKER_PROCESSES for voronka run")
    args = parser.parse_args()

    fake = TimedAvitoFake()
    thread = FakeThread(fake)
    thread.start()
    thread.ready.wait(10)
    warm = 40  # as many as the web process's database pool holds: the burst below is not a cold start
    for prefix, count in (("warm", warm), ("bench", args.senders)):
        for i in range(count):
            fake.add_chat(f"{prefix}-{i}", item=LAWYER_ITEM if i % 2 == 0 else None)

    tmp = Path(tempfile.mkdtemp(prefix="voronka-webhooks-"))
    port = free_port()
    env = {**os.environ, "VORONKA_DATA_DIR": str(tmp / "data"), "VORONKA_PORT": str(port), "LOG_LEVEL": "WARNING",
           "LLM_PROVIDER": "offline", "AVITO_API_URL": fake.base_url, "AVITO_CLIENT_ID": fake.client_id,
           "AVITO_CLIENT_SECRET": fake.client_secret, "AVITO_USER_ID": str(fake.user_id),
           "AVITO_WEBHOOK_SECRET": SECRET, "VORONKA_PUBLIC_URL": "https://voronka.example",
           "TELEGRAM_BOT_TOKEN": "", "MANAGER_TELEGRAM_CHAT_ID": "", "SMTP_HOST": "",
           "VORONKA_WORKER_PROCESSES": str(args.workers)}
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    run_proc = subprocess.Popen([sys.executable, "-m", "cli", "run"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}/api/v1/webhooks/avito/messages/{SECRET}"
    try:
        assert run_proc.stdout is not None
        for line in run_proc.stdout:
            if "http://" in line:
                break
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(2.0)  # workers and the scheduler finish starting
        print(f"warm-up: {warm} concurrent chats × 2 messages (worker imports, the OAuth token, connection pools)")
        asyncio.run(run_load(url, fake, warm, 2, "warm", args.reply_timeout))
        print(f"load: {args.senders} concurrent Avito chats × {args.rounds} messages "
              "(round 1 is a burst of new leads)")
        timed_acks, timed_replies, missing, elapsed = asyncio.run(
            run_load(url, fake, args.senders, args.rounds, "bench", args.reply_timeout))
        acks, replies = [v for _, v in timed_acks], [v for _, v in timed_replies]
        ack_p50, ack_p99 = quantile(acks, 50), quantile(acks, 99)
        rep_p50, rep_p95 = quantile(replies, 50), quantile(replies, 95)
        print(f"ack (webhook → 200)         n={len(acks):4d}  p50={ack_p50:7.1f} ms  p99={ack_p99:7.1f} ms  "
              f"max={max(acks):7.1f} ms   target p99 ≤ 50 ms: {'OK' if ack_p99 <= 50 else 'MISSED'}")
        print(f"reply (webhook → at Avito)  n={len(replies):4d}  p50={rep_p50:7.2f} s   p95={rep_p95:7.2f} s   "
              f"max={max(replies):7.2f} s    target p95 ≤ 3 s: {'OK' if rep_p95 <= 3 else 'MISSED'}")
        for label, wanted in (("round 1 (new leads, burst)", {0}), ("rounds 2+ (known chats)",
                                                                   set(range(1, args.rounds)))):
            a = [v for n, v in timed_acks if n in wanted]
            r = [v for n, v in timed_replies if n in wanted]
            if a and r:
                print(f"  {label:<27} ack p50={quantile(a, 50):6.1f} ms p99={quantile(a, 99):6.1f} ms   "
                      f"reply p50={quantile(r, 50):5.2f} s p95={quantile(r, 95):5.2f} s")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
              f"{args.workers} worker process(es)")
        print(f"replies missing after {args.reply_timeout:g} s: {missing}; wall time {elapsed:.1f} s; "
              f"token requests: {fake.token_calls}; chat look-ups: {len(fake.calls_to('/messenger/v2/'))}; "
              f"sent: {len(fake.calls_to('/messages'))}; marked read: {len(fake.read_chats)}")
    finally:
        run_proc.send_signal(signal.SIGTERM)
        try:
            run_proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run_proc.kill()
        thread.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
