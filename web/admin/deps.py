"""Request helpers of the admin: who is asking (Bearer token or the UI cookie), CSRF, and a sync DB session in a
thread for the repository functions (pricing, knowledge base, leads) that are synchronous."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from sqlmodel import Session

from db.models_ops import AdminAudit
from voronka.errors import Forbidden, Unauthorized
from web import keys
from web.admin.auth import Claims, decode_token
from web.jsonutil import json_response

COOKIE_NAME = "voronka_admin"
CSRF_HEADER = "X-CSRF-Token"
CLAIMS_KEY = web.RequestKey("admin_claims", Claims)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def in_session(request: web.Request, fn: Callable[..., T], *args: Any, commit: bool = False,
                     **kwargs: Any) -> T:
    """Run ``fn(session, *args, **kwargs)`` in a worker thread with a fresh session (committed if asked)."""
    engine = request.app[keys.SYNC_DB]

    def work() -> T:
        with Session(engine, expire_on_commit=False) as session:
            result = fn(session, *args, **kwargs)
            if commit:
                session.commit()
            return result

    return await asyncio.to_thread(work)


def audit(session: Session, claims: Claims, action: str, target: str = "", **data: Any) -> None:
    session.add(AdminAudit(username=claims.username, action=action, target=target[:200], data=data))


def token_from(request: web.Request) -> tuple[str | None, bool]:
    """(token, from_cookie)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None, False
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie or None), bool(cookie)


async def authenticate_request(request: web.Request) -> Claims:
    token, from_cookie = token_from(request)
    if not token:
        raise Unauthorized("Нужна авторизация")
    claims = decode_token(request.app[keys.SETTINGS], token)
    async with request.app[keys.DB].connect() as conn:
        row = (await conn.execute(sa.text("SELECT active, role FROM admin_users WHERE username = :u"),
                                  {"u": claims.username})).first()
    if row is None or not row.active:
        raise Unauthorized("Пользователь отключён", code="user_disabled")
    cookie_write = from_cookie and request.method not in SAFE_METHODS and request.path.startswith("/api/")
    if cookie_write and (not claims.csrf or request.headers.get(CSRF_HEADER) != claims.csrf):
        raise Forbidden("Нет CSRF-токена", code="csrf")
    request[CLAIMS_KEY] = Claims(claims.username, str(row.role), claims.csrf, claims.expires_at)
    return request[CLAIMS_KEY]


def claims_of(request: web.Request) -> Claims:
    return request[CLAIMS_KEY]


def api_auth(handler: Handler) -> Handler:
    """JSON API: 401 with ``WWW-Authenticate: Bearer`` without a valid token."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            await authenticate_request(request)
        except Unauthorized as exc:
            return json_response(exc.as_dict(), status=401, headers={"WWW-Authenticate": 'Bearer realm="admin"'})
        return await handler(request)

    return wrapper


def admin_only(claims: Claims) -> None:
    if claims.role != "admin":
        raise Forbidden("Нужны права администратора")
