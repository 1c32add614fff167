"""Admin authentication: argon2id password hashes, JWT HS256 tokens (algorithm pinned on decode), and a brute-force
guard in Redis (after N failures within the window per user or per IP → 429 with Retry-After)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis
from sqlmodel import Session, select

from db.models import utcnow
from db.models_ops import AdminUser
from voronka.errors import RateLimited, Unauthorized, ValidationError
from voronka.settings import Settings

ISSUER = "voronka-admin"
ROLES = ("admin", "manager")
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")
MIN_PASSWORD_LENGTH = 10
FAIL_PREFIX = "voronka:admin:fail:"
LOCKED_MESSAGE = "Слишком много неудачных попыток входа. Попробуйте позже."

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users (equal timing); made on first use, not at import."""
    return _hasher.hash(secrets.token_hex(16))


def normalise_username(username: str) -> str:
    return username.strip().lower()


def validate_new_user(username: str, password: str) -> str:
    name = normalise_username(username)
    if not 3 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise ValidationError("Логин: 3–64 символа, латиница, цифры и . _ - @", field="username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов", field="password")
    return name


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, *, role: str = "admin") -> AdminUser:
    """Create an admin user, or set a new password (and role) for an existing one. The caller commits."""
    if role not in ROLES:
        raise ValidationError("Роль: admin или manager", field="role")
    name = validate_new_user(username, password)
    user = session.exec(select(AdminUser).where(AdminUser.username == name)).first()
    if user is None:
        user = AdminUser(username=name, password_hash=hash_password(password), role=role)
    else:
        user.password_hash, user.role, user.active = hash_password(password), role, True
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> AdminUser | None:
    """The active user with this password, else None (same work either way)."""
    name = normalise_username(username)
    user = session.exec(select(AdminUser).where(AdminUser.username == name)).first()
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    return user


# --- tokens ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claims:
    username: str
    role: str
    csrf: str
    expires_at: int


def issue_token(settings: Settings, user: AdminUser, *, now: float | None = None) -> tuple[str, int]:
    """(token, expires_in seconds)."""
    issued = int(now if now is not None else time.time())
    expires_in = settings.JWT_EXPIRE_MINUTES * 60
    payload = {"sub": user.username, "role": user.role, "iat": issued, "exp": issued + expires_in,
               "iss": ISSUER, "jti": uuid.uuid4().hex, "csrf": secrets.token_urlsafe(16)}
    token = jwt.encode(payload, settings.JWT_SECRET_KEY, algorithm=settings.JWT_ALGORITHM)
    return token, expires_in


def decode_token(settings: Settings, token: str) -> Claims:
    """Verify signature (HS256 only), expiry and issuer; raise ``Unauthorized`` otherwise."""
    try:
        payload: dict[str, Any] = jwt.decode(token, settings.JWT_SECRET_KEY, algorithms=[settings.JWT_ALGORITHM],
                                             issuer=ISSUER, options={"require": ["exp", "iat", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Сессия истекла, войдите снова", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("Нужна авторизация", code="unauthorized") from None
    sub, role = payload.get("sub"), payload.get("role")
    if not isinstance(sub, str) or role not in ROLES:
        raise Unauthorized("Нужна авторизация", code="unauthorized")
    return Claims(username=sub, role=str(role), csrf=str(payload.get("csrf") or ""), expires_at=int(payload["exp"]))


# --- brute force ----------------------------------------------------------------------------------------------
def _key(kind: str, value: str) -> str:
    return FAIL_PREFIX + kind + ":" + hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginGuard:
    """Failures are timestamps in a sorted set per user and per IP; old ones fall out of the window."""

    def __init__(self, redis: Redis, *, max_failures: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window = window_seconds

    def _keys(self, username: str, ip: str) -> list[str]:
        return [_key("user", normalise_username(username)), _key("ip", ip)]

    async def check(self, username: str, ip: str) -> None:
        """Raise ``RateLimited`` (with the seconds until one more attempt is allowed) when locked."""
        now = time.time()
        retry_after = 0.0
        for key in self._keys(username, ip):
            await self.redis.zremrangebyscore(key, "-inf", now - self.window)
            entries = await self.redis.zrange(key, 0, -1, withscores=True)
            if len(entries) >= self.max_failures:
                # unlocked when enough old failures leave the window
                oldest_needed = float(entries[len(entries) - self.max_failures][1])
                retry_after = max(retry_after, oldest_needed + self.window - now)
        if retry_after > 0:
            raise RateLimited(LOCKED_MESSAGE, retry_after=retry_after)

    async def failed(self, username: str, ip: str) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, ip):
                pipe.zadd(key, {uuid.uuid4().hex: now})
                pipe.expire(key, self.window + 60)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(_key("user", normalise_username(username)))


LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)
