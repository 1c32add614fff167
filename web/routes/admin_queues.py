"""The Dramatiq queue dashboard under «Система» (admins only): a queue's messages by state, one message with its
body, retries and traceback, requeue and delete (POST forms with the session's CSRF value), and the counts as JSON
for the page's auto-refresh. Everything is read from and written to Redis by ``pipelines.admin.queues``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from pipelines.admin import queues as queues_admin
from pipelines.admin.paging import PageRequest
from voronka.errors import NotFound, VoronkaError
from web import keys
from web.admin.deps import admin_only, audit, claims_of, in_session
from web.admin.pages import format_dt, redirect_back, render, ui_auth
from web.jsonutil import json_response
from workers.enqueue import QUEUES

DEFAULT_NAMESPACE = "voronka"
EMPTY = {"ready": "В очереди пусто.", "delayed": "Отложенных задач нет.",
         "in_progress": "Сейчас ничего не выполняется.", "dead": "Мёртвых задач нет."}
STATE_PILLS = {"ready": "pill-ok", "delayed": "pill-warn", "in_progress": "pill-muted", "dead": "pill-danger"}


def ts(seconds: Any) -> str:
    """Epoch seconds → Moscow time with seconds."""
    if not isinstance(seconds, (int, float)):
        return "—"
    return format_dt(datetime.fromtimestamp(seconds, UTC), "%d.%m.%Y %H:%M:%S")


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def args_text(message: dict[str, Any]) -> str:
    parts = [json.dumps(a, ensure_ascii=False, default=str) for a in message.get("args") or []]
    parts += [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in (message.get("kwargs") or {}).items()]
    text = ", ".join(parts)
    return text if len(text) <= 120 else text[:119] + "…"


def _helpers() -> dict[str, Any]:
    return {"queue_url": queue_url, "message_url": message_url, "ts": ts, "pretty": pretty, "args_text": args_text,
            "STATE_LABELS": queues_admin.STATE_LABELS, "STATE_PILLS": STATE_PILLS, "EMPTY": EMPTY, "active": "ops"}


def namespace(app: web.Application) -> str:
    broker = app.get(keys.BROKER)
    return str(getattr(broker, "namespace", None) or DEFAULT_NAMESPACE)


def queue_url(queue: str, state: str | None = None, **params: Any) -> str:
    query = {"state": state, **params} if state else params
    return f"/admin/ops/queues/{quote(queue, safe='')}" + ("?" + urlencode(query) if query else "")


def message_url(queue: str, redis_id: str) -> str:
    return f"/admin/ops/queues/{quote(queue, safe='')}/messages/{quote(redis_id, safe='')}"


async def queue_counts(request: web.Request) -> list[dict[str, Any]]:
    return await queues_admin.counts(request.app[keys.REDIS], namespace(request.app), known=QUEUES.values())


@ui_auth
async def counts_json(request: web.Request) -> web.Response:
    try:
        rows, error = await queue_counts(request), None
    except Exception as exc:  # Redis down: the page says so and keeps polling
        rows, error = [], type(exc).__name__
    response = json_response({"queues": rows, "redis_error": error,
                              "admin": claims_of(request).role == "admin"})
    response.headers["Cache-Control"] = "no-store"
    return response


@ui_auth
async def queue_page(request: web.Request) -> web.Response:
    admin_only(claims_of(request))
    queue = queues_admin.check_queue(request.match_info["queue"])
    state = request.query.get("state") or "ready"
    queues_admin.check_state(state)
    page = PageRequest.parse(request.query, default_per_page=50)
    result = await queues_admin.list_messages(request.app[keys.REDIS], namespace(request.app), queue, state, page)
    counts = next((row for row in await queue_counts(request) if row["queue"] == queue),
                  {"queue": queue, "ready": 0, "delayed": 0, "in_progress": 0, "dead": 0})
    return render(request, "queue.html", queue=queue, state=state, result=result, counts=counts,
                  STATES=queues_admin.STATES, page_url=lambda n: queue_url(queue, state, page=n), **_helpers())


@ui_auth
async def message_page(request: web.Request) -> web.Response:
    admin_only(claims_of(request))
    queue = queues_admin.check_queue(request.match_info["queue"])
    message = await queues_admin.get_message(request.app[keys.REDIS], namespace(request.app), queue,
                                             request.match_info["id"])
    return render(request, "queue_message.html", queue=queue, m=message, **_helpers())


async def _change(request: web.Request, action: str) -> web.StreamResponse:
    claims = claims_of(request)
    admin_only(claims)
    queue = queues_admin.check_queue(request.match_info["queue"])
    redis_id = request.match_info["id"]
    fn = queues_admin.requeue if action == "requeue" else queues_admin.delete
    try:
        done = await fn(request.app[keys.REDIS], namespace(request.app), queue, redis_id)
    except NotFound as exc:  # processed, moved or deleted meanwhile: back to the queue
        raise web.HTTPFound(queue_url(queue, error=exc.message)) from None
    except VoronkaError as exc:  # a worker holds it: the message page says why
        raise redirect_back(message_url(queue, redis_id), error=exc.message) from None

    def record(session: Any) -> None:
        audit(session, claims, f"queue_{action}", f"{queue}:{redis_id}", state=done["from"])

    await in_session(request, record, commit=True)
    raise web.HTTPFound(queue_url(queue, done["from"], ok="requeued" if action == "requeue" else "message_deleted"))


@ui_auth
async def requeue_message(request: web.Request) -> web.StreamResponse:
    return await _change(request, "requeue")


@ui_auth
async def delete_message(request: web.Request) -> web.StreamResponse:
    return await _change(request, "delete")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin/ops/queues.json", counts_json)
    r.add_get("/admin/ops/queues/{queue}", queue_page)
    r.add_get("/admin/ops/queues/{queue}/messages/{id}", message_page)
    r.add_post("/admin/ops/queues/{queue}/messages/{id}/requeue", requeue_message)
    r.add_post("/admin/ops/queues/{queue}/messages/{id}/delete", delete_message)
