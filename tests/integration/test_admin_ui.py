"""Admin pages over HTTP: login cookie, redirects, CSRF on forms, error pages, security headers, the queue counts on
«Система» (the queue dashboard itself: test_admin_queues)."""

from __future__ import annotations

import re

import jwt
from sqlmodel import Session

from db.models import Lead
from tests.support.admin import PASSWORD, lead_of, login, make_user, site_say
from workers.enqueue import enqueue


async def test_pages_redirect_to_login_and_login_sets_the_cookie(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/admin/leads?stage=new", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/admin/login?next=")
    page = await client.get("/admin/login")
    html = await page.text()
    assert page.status == 200 and "Вход" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    make_user(clean_db)
    bad = await client.post("/admin/login", data={"username": "anna", "password": "wrong"}, allow_redirects=False)
    assert bad.status == 401 and "Неверный логин или пароль" in await bad.text()
    token = await login(client)
    leads = await client.get("/admin/leads", cookies={"voronka_admin": token})
    assert leads.status == 200 and "Лиды" in await leads.text()
    # an open redirect is not possible through ?next=
    response = await client.post("/admin/login", data={"username": "anna", "password": PASSWORD,
                                                       "next": "//evil.example/admin"}, allow_redirects=False)
    assert response.headers["Location"] == "/admin/leads"


async def test_login_page_is_locked_after_five_failures(client, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    for _ in range(5):
        await client.post("/admin/login", data={"username": "anna", "password": "wrong"})
    response = await client.post("/admin/login", data={"username": "anna", "password": PASSWORD},
                                 allow_redirects=False)
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert "Слишком много неудачных попыток" in await response.text()


async def test_forms_need_the_csrf_value_of_the_session(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    token = await login(client)
    cookies = {"voronka_admin": token}
    lead_id = lead_of(clean_db, await site_say(client, "ui-csrf", "Здравствуйте"))
    forged = await client.post(f"/admin/leads/{lead_id}/take-over", data={"csrf": "guess"}, cookies=cookies,
                               allow_redirects=False)
    assert forged.status == 403 and "Форма устарела" in await forged.text()
    page = await (await client.get(f"/admin/leads/{lead_id}", cookies=cookies)).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf and csrf.group(1) == jwt.decode(token, options={"verify_signature": False})["csrf"]
    done = await client.post(f"/admin/leads/{lead_id}/take-over", data={"csrf": csrf.group(1)}, cookies=cookies,
                             allow_redirects=False)
    assert done.status == 302 and done.headers["Location"].endswith("ok=taken")
    with Session(clean_db) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.manager_hold
    sent = await client.post(f"/admin/leads/{lead_id}/messages", cookies=cookies, allow_redirects=False,
                             data={"csrf": csrf.group(1), "text": "Добрый день!", "nonce": "n-1"})
    again = await client.post(f"/admin/leads/{lead_id}/messages", cookies=cookies, allow_redirects=False,
                              data={"csrf": csrf.group(1), "text": "Добрый день!", "nonce": "n-1"})
    assert sent.headers["Location"].endswith("ok=sent") and again.headers["Location"].endswith("ok=duplicate")
    missing = await client.get("/admin/leads/999999", cookies=cookies)
    assert missing.status == 404 and "Лид не найден" in await missing.text()


async def test_ops_page_lists_queue_depths(client, clean_db, broker, redis_client) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    token = await login(client)
    enqueue(broker, "maintenance.sweep")
    enqueue(broker, "maintenance.sweep")
    html = await (await client.get("/admin/ops", cookies={"voronka_admin": token})).text()
    row = re.search(r'data-count="maintenance:ready"><a href="/admin/ops/queues/maintenance\?state=ready">(\d+)<',
                    html)
    assert row and row.group(1) == "2"
