"""CORS for the public API the widget calls from other sites: the site chat, the quote and the lead form.

Only origins listed in ``CORS_ORIGINS`` (exact match of scheme://host[:port]) and our own origin get CORS headers;
any other origin gets none (a preflight from it is refused with 403), so the browser blocks the call. No cookies
are involved: the widget identifies itself with a session id in the body, so credentials are never allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from web import keys
from web.jsonutil import json_response
from web.middlewares import error_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CORS_PATHS = ("/api/v1/site/", "/api/v1/quote")
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = frozenset({"content-type", "accept", "accept-language", "content-language"})
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"
MAX_AGE_SECONDS = "600"


def is_cors_path(path: str) -> bool:
    return path.startswith(CORS_PATHS)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped; None when it is not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return None
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origin(request: web.Request) -> str | None:
    """The request's Origin when it may read our answer, else None."""
    origin = request.headers.get("Origin")
    if not origin:
        return None
    normalised = origin_of(origin)
    if normalised is None:
        return None
    settings = request.app[keys.SETTINGS]
    allowed = {origin_of(o) for o in settings.CORS_ORIGINS}
    allowed.add(origin_of(settings.public_url))
    allowed.add(origin_of(f"{request.scheme}://{request.host}"))  # same-origin requests that still send Origin
    return origin if normalised in allowed else None


def _add_headers(response: web.StreamResponse, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    _vary(response)


def _vary(response: web.StreamResponse) -> None:
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        response.headers["Vary"] = vary + ", Origin"


def preflight(request: web.Request) -> web.Response:
    origin = allowed_origin(request)
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    asked = {h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
             if h.strip()}
    if origin is None or method not in ("GET", "POST") or not asked <= ALLOWED_HEADERS:
        response = json_response(error_body("cors_forbidden", "Запрос с этого сайта не разрешён"), status=403)
        _vary(response)
        return response
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ", ".join(sorted(asked)) if asked else "Content-Type"
    response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
    _vary(response)
    return response


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_cors_path(request.path):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return preflight(request)
    origin = allowed_origin(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's own 404/405 etc.: still readable by an allowed origin
        if origin is not None:
            _add_headers(exc, origin)
        raise
    if origin is not None and not response.prepared:
        _add_headers(response, origin)
    elif not response.prepared:
        _vary(response)
    return response
