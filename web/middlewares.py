"""Web middlewares: one place mapping our errors to ``{"error": {"code", "message", "field"}}`` JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from loguru import logger

from voronka.errors import RateLimited, VoronkaError
from web.jsonutil import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "field": field}}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VoronkaError as exc:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return json_response(exc.as_dict(), status=exc.status, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status, "http_error")
        message = {404: "Не найдено", 405: "Метод не поддерживается",
                   413: "Слишком большой запрос"}.get(exc.status, exc.reason)
        return json_response(error_body(code, message), status=exc.status)
    except Exception:
        logger.exception("unhandled error on {} {}", request.method, request.path)
        return json_response(error_body("internal_error", "Внутренняя ошибка. Мы уже разбираемся."), status=500)


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.content_type == "text/html":
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response
