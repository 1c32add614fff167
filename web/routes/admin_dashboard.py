"""The Dramatiq dashboard (``dramatiq-dashboard``, a WSGI app) mounted at ``/admin/dramatiq/`` behind admin auth.

A small WSGI adapter runs it in a thread with our broker's Redis client. The dashboard lists the broker's declared
queues; the web process declares none, so the adapter hands it a view of the broker whose queues are the ones found
in Redis (plus the known ones). Its own forms (delete / requeue a message) carry its own CSRF cookie; our auth
cookie is SameSite=Strict. When the package is not installed the route says so and the "Система" page shows our own
queue table instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from voronka.errors import Forbidden, Unauthorized
from web import keys
from web.admin.deps import COOKIE_NAME, authenticate_request, claims_of

PREFIX = "/admin/dramatiq"
_APP_KEY = "dramatiq_dashboard_app"
KNOWN_QUEUES = ("inbound", "delivery", "integrate", "maintenance")


def dashboard_available() -> bool:
    return importlib.util.find_spec("dramatiq_dashboard") is not None


class BrokerView:
    """What the dashboard reads from a broker: the Redis client, the namespace, the queue names, and enqueue."""

    def __init__(self, broker: Any) -> None:
        self._broker = broker
        self.client = broker.client
        self.namespace = broker.namespace

    @property
    def queues(self) -> set[str]:
        names = set(KNOWN_QUEUES)
        try:
            from workers.enqueue import QUEUES

            names.update(QUEUES.values())
        except ImportError:
            pass
        prefix = f"{self.namespace}:"
        for raw in self.client.scan_iter(match=f"{prefix}*.msgs", count=500):
            key = (raw.decode() if isinstance(raw, bytes) else str(raw))[len(prefix):]
            if key.startswith("__"):
                continue
            for suffix in (".DQ.msgs", ".XQ.msgs", ".msgs"):
                if key.endswith(suffix):
                    names.add(key[: -len(suffix)])
                    break
        return names

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        return self._broker.enqueue(message, delay=delay)


def _dashboard(app: web.Application) -> Any:
    wsgi = app[keys.EXTRAS].get(_APP_KEY)
    if wsgi is None:
        from dramatiq_dashboard import DashboardApp

        wsgi = DashboardApp(BrokerView(app[keys.BROKER]), PREFIX)
        app[keys.EXTRAS][_APP_KEY] = wsgi
    return wsgi


def call_wsgi(wsgi: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]],
                                                                                      bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = wsgi(environ, start_response)
    try:
        body = b"".join(result) if result is not None else b""
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in captured:
        return 404, [("Content-Type", "text/plain")], b"Not Found"
    return int(str(captured["status"]).split(" ", 1)[0]), list(captured["headers"]), body


async def handle(request: web.Request) -> web.StreamResponse:
    try:
        await authenticate_request(request)
    except (Unauthorized, Forbidden):
        redirect = web.HTTPFound("/admin/login?" + urlencode({"next": PREFIX + "/"}))
        redirect.del_cookie(COOKIE_NAME, path="/")
        raise redirect from None
    if claims_of(request).role != "admin":
        raise Forbidden("Нужны права администратора")
    if not dashboard_available():
        return web.Response(status=404, text="Пакет dramatiq-dashboard не установлен: очереди — на странице "
                                             "«Система» (/admin/ops).", content_type="text/plain")
    body = await request.read()
    path = request.path[len(PREFIX):] or "/"
    environ = {
        "REQUEST_METHOD": request.method, "SCRIPT_NAME": PREFIX, "PATH_INFO": path,
        "QUERY_STRING": request.query_string, "SERVER_NAME": request.host.split(":")[0],
        "SERVER_PORT": str(request.url.port or 80), "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": request.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": request.scheme,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            environ[key] = value
    status, headers, content = await asyncio.to_thread(call_wsgi, _dashboard(request.app), environ)
    response = web.Response(status=status, body=content)
    for name, value in headers:
        if name.lower() == "set-cookie":
            response.headers.add("Set-Cookie", value)
        else:
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def setup(app: web.Application) -> None:
    app.router.add_route("*", PREFIX, handle)
    app.router.add_route("*", PREFIX + "/{tail:.*}", handle)
