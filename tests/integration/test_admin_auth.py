"""Admin authentication on the real app: argon2 users, JWT HS256 (algorithm pinned), 401 without a valid token,
brute force slowed per user and per IP (429 with Retry-After), production refuses a default secret."""

from __future__ import annotations

import time
import warnings

import jwt
import pytest
from sqlmodel import Session, select

from db.models_ops import AdminUser
from tests.support.admin import PASSWORD, make_user, token_for
from voronka.settings import Settings, SettingsError, load_settings
from web.admin.auth import create_user, hash_password, verify_password


async def test_token_flow_and_401s(client, settings: Settings, clean_db) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/admin/token", json={"username": "anna", "password": PASSWORD})
    assert response.status == 401
    make_user(clean_db)
    response = await client.post("/api/v1/admin/token", json={"username": "Anna", "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == settings.JWT_EXPIRE_MINUTES * 60
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"

    me = await client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and (await me.json())["username"] == "anna"

    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {token[:-3]}abc"}):
        response = await client.get("/api/v1/admin/leads", headers=headers)
        assert response.status == 401
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert (await response.json())["error"]["code"] in ("unauthorized", "token_expired")


async def test_algorithm_is_pinned_and_expiry_enforced(client, settings: Settings, clean_db) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    now = int(time.time())
    claims = {"sub": "anna", "role": "admin", "iat": now, "exp": now + 600, "iss": "voronka-admin", "csrf": "x"}
    forged_none = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with warnings.catch_warnings():  # HS512 with a 32-byte key: weak, and refused anyway (algorithm pinned)
        warnings.simplefilter("ignore")
        other_alg = jwt.encode(claims, settings.JWT_SECRET_KEY, algorithm="HS512")
    wrong_key = jwt.encode(claims, "another-secret-key-0123456789abcd", algorithm="HS256")
    expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, settings.JWT_SECRET_KEY, algorithm="HS256")
    good = jwt.encode(claims, settings.JWT_SECRET_KEY, algorithm="HS256")
    for token in (forged_none, other_alg, wrong_key, expired):
        response = await client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401, token
    response = await client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {good}"})
    assert response.status == 200


async def test_disabled_user_loses_access(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    token = await token_for(client)
    with Session(clean_db) as session:
        user = session.exec(select(AdminUser)).one()
        user.active = False
        session.commit()
    response = await client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401


async def test_five_failures_lock_the_user_with_retry_after(client, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    for _ in range(5):
        response = await client.post("/api/v1/admin/token", json={"username": "anna", "password": "wrong-password"})
        assert response.status == 401
    response = await client.post("/api/v1/admin/token", json={"username": "anna", "password": PASSWORD})
    assert response.status == 429
    retry_after = int(response.headers["Retry-After"])
    assert 800 < retry_after <= 15 * 60
    assert (await response.json())["error"]["code"] == "rate_limited"


async def test_failures_are_counted_per_ip_across_usernames(client, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db, "boris")
    for name in ("u1", "u2", "u3", "u4", "u5"):
        response = await client.post("/api/v1/admin/token", json={"username": name, "password": "wrong-password"})
        assert response.status == 401
    response = await client.post("/api/v1/admin/token", json={"username": "boris", "password": PASSWORD})
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0


async def test_failures_are_counted_per_user_across_ips(settings, services, broker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from web.app import create_app

    trusted = settings.model_copy(update={"TRUSTED_PROXIES": ["127.0.0.1/32"]})
    make_user(clean_db, "vera")
    app = create_app(trusted, database_url=services[0], redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as client:
        for i in range(5):
            response = await client.post("/api/v1/admin/token", json={"username": "vera", "password": "nope-nope"},
                                         headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
            assert response.status == 401
        response = await client.post("/api/v1/admin/token", json={"username": "vera", "password": PASSWORD},
                                     headers={"X-Forwarded-For": "198.51.100.7"})
        assert response.status == 429
        # another user from a fresh address is not affected
        make_user(clean_db, "gleb")
        response = await client.post("/api/v1/admin/token", json={"username": "gleb", "password": PASSWORD},
                                     headers={"X-Forwarded-For": "198.51.100.8"})
        assert response.status == 200


async def test_bad_token_requests_are_validated(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    for body in (b"not json", b"[]", b'{"username": 5, "password": "x"}', b'{"username": "a"}'):
        response = await client.post("/api/v1/admin/token", data=body, headers={"Content-Type": "application/json"})
        assert response.status == 422


def test_password_hashes_are_argon2_and_verify() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD) and not verify_password(hashed, PASSWORD + "!")


def test_weak_passwords_and_bad_names_are_refused(clean_db) -> None:  # type: ignore[no-untyped-def]
    from voronka.errors import ValidationError

    with Session(clean_db) as session:
        with pytest.raises(ValidationError):
            create_user(session, "anna", "short")
        with pytest.raises(ValidationError):
            create_user(session, "имя с пробелом", PASSWORD)


def test_production_refuses_default_or_missing_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    for value in ("change-me", ""):
        monkeypatch.setenv("JWT_SECRET_KEY", value)
        with pytest.raises(SettingsError, match="JWT_SECRET_KEY"):
            load_settings(_env_file=None)
    monkeypatch.setenv("JWT_SECRET_KEY", "a-long-production-secret-0123456789")
    assert load_settings(_env_file=None).is_production
