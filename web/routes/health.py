"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text

from web import keys
from web.jsonutil import json_response


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _check(coro_factory: Callable[[], Awaitable[None]], timeout: float = 2.0) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(coro_factory(), timeout)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def ready(request: web.Request) -> web.Response:
    app = request.app

    async def postgres() -> None:
        async with app[keys.DB].connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        await app[keys.REDIS].ping()

    async def broker() -> None:
        client = app[keys.BROKER].client  # type: ignore[attr-defined]
        await asyncio.get_running_loop().run_in_executor(None, client.ping)

    checks = {"postgres": await _check(postgres), "redis": await _check(redis), "broker": await _check(broker)}
    ok = all(c["ok"] for c in checks.values())
    return json_response({"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503)


def setup(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
