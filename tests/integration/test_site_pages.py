"""The agency's site: the landing renders the knowledge base's own text, pages are self-contained (strict CSP, no
third-party URLs), the lead form stores a site lead or names the wrong field, CORS answers only listed origins."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text

from pipelines.site_content import load_doc

KB = Path(__file__).resolve().parents[2] / "knowledge_base"


def kb_doc(path: str):  # type: ignore[no-untyped-def]
    return load_doc(KB / path)


def unescape(html: str) -> str:
    return (html.replace("&#34;", '"').replace("&#39;", "'").replace("&quot;", '"').replace("&lt;", "<")
            .replace("&gt;", ">").replace("&amp;", "&").replace("&nbsp;", "\u00a0"))


# --- landing --------------------------------------------------------------------------------------------------


async def test_landing_shows_services_cases_and_faq_from_the_knowledge_base(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = unescape(await response.text())
    for name in ("ИИ-Менеджер", "ИИ-Юрист", "ИИ-Аналитик"):
        assert name in html
    # each service shows what it does, in the KB's own words
    for code in ("ai_manager", "ai_lawyer", "ai_analyst"):
        first_does = kb_doc(f"services/{code}.md").section("Что делает").items[0]  # type: ignore[union-attr]
        assert first_does in html, code
    # every case's title and its first result line
    for path in sorted((KB / "cases").glob("*.md")):
        doc = kb_doc(f"cases/{path.name}")
        client_name = doc.title.removeprefix("Кейс:").strip().split(" — ")[0]
        assert client_name[1:] in html, path.name
        assert doc.section("Результат").lines[0] in html, path.name  # type: ignore[union-attr]
    # FAQ questions with their answers
    pilot = kb_doc("faq/pilot.md")
    assert pilot.sections[0].heading in html and pilot.sections[0].items[0] in html
    security = kb_doc("faq/security_152fz.md")
    assert all(s.heading in html for s in security.sections)


async def test_landing_contains_the_calculator_form_widget_and_contacts(client, settings) -> None:  # type: ignore[no-untyped-def]
    html = unescape(await (await client.get("/")).text())
    assert "data-calculator" in html and 'name="users"' in html
    assert "data-lead-form" in html and 'name="consent"' in html
    assert re.search(r'<script src="/static/widget\.js"[^>]*data-api=', html)
    assert settings.AGENCY_PHONE in html and settings.AGENCY_EMAIL in html


async def test_pages_load_nothing_from_other_hosts_and_carry_a_strict_csp(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/widget-demo", "/privacy"):
        response = await client.get(path)
        assert response.status == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = await response.text()
        own = f"http://{client.host}:{client.port}"
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert (url.startswith(("/", "#", "mailto:", "tel:", own, "https://t.me/"))), (path, url)
        assert "<style" not in html and " style=" not in html and "onclick" not in html  # CSP would block them
    css = await (await client.get("/static/site.css")).text()
    assert "url(http" not in css and "@import" not in css


async def test_static_files_are_served(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/static/site.css", "/static/site.js", "/static/widget.js", "/static/fonts/inter-cyrillic.woff2",
                 "/static/img/logo.svg"):
        response = await client.get(path)
        assert response.status == 200, path
        assert len(await response.read()) > 100, path


async def test_widget_demo_embeds_the_widget_by_script_tag(client) -> None:  # type: ignore[no-untyped-def]
    html = await (await client.get("/widget-demo")).text()
    own = f"http://{client.host}:{client.port}"
    assert f'<script src="{own}/static/widget.js" data-api="{own}"' in html


async def test_widget_config_names_the_telegram_bot_only_when_configured(client, settings, services, broker) -> None:  # type: ignore[no-untyped-def]
    body = await (await client.get("/api/v1/site/widget-config")).json()
    assert body == {"telegram_bot": None, "max_message_length": settings.MAX_MESSAGE_LENGTH}

    from aiohttp.test_utils import TestClient, TestServer

    from web.app import create_app

    configured = settings.model_copy(update={"TELEGRAM_BOT_USERNAME": "@voronka_bot"})
    app = create_app(configured, database_url=services[0], redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as other:
        body = await (await other.get("/api/v1/site/widget-config")).json()
        assert body["telegram_bot"] == "voronka_bot"
        html = await (await other.get("/")).text()
        assert "https://t.me/voronka_bot" in html


# --- the lead form --------------------------------------------------------------------------------------------


def count(engine, sql: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


async def test_valid_form_becomes_a_site_lead_with_the_contact(client, engine) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/leads", json={
        "session_id": "form-visitor-1", "name": "Анна Петрова", "phone": "8 (915) 123-45-67",
        "email": " Anna.Petrova@Example.RU ", "company": "Мебель Плюс", "product": "ai_manager",
        "comment": "1 800 обращений в месяц с Avito", "consent": True})
    assert response.status == 202
    body = await response.json()
    assert "Спасибо" in body["message"] and isinstance(body["message_id"], int)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT m.kind, m.channel, m.payload, m.text, l.source_tag, l.channel AS lead_channel, c.external_chat_id "
            "FROM messages m JOIN leads l ON l.id = m.lead_id JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.id = :id"), {"id": body["message_id"]}).one()
    assert row.kind == "form" and row.channel == "site" and row.lead_channel == "site"
    assert row.source_tag == "site-lead"
    assert row.external_chat_id == "form-visitor-1"
    assert row.payload["phone"] == "+79151234567"
    assert row.payload["email"] == "Anna.Petrova@example.ru"
    assert row.payload["name"] == "Анна Петрова" and row.payload["company"] == "Мебель Плюс"
    assert row.payload["product"] == "ai_manager" and row.payload["consent"] is True
    from db.crypto import decrypt, is_encrypted

    assert is_encrypted(row.text)  # the message text is personal data: encrypted at rest
    assert "+79151234567" in decrypt(row.text) and "ИИ-Менеджер" in decrypt(row.text)


async def test_form_and_chat_of_one_session_share_one_lead(client, engine) -> None:  # type: ignore[no-untyped-def]
    chat = await client.post("/api/v1/site/messages", json={"session_id": "shared-1", "text": "Здравствуйте"})
    assert chat.status == 202
    form = await client.post("/api/v1/site/leads", json={
        "session_id": "shared-1", "name": "Олег", "email": "oleg@example.ru", "consent": True})
    assert form.status == 202
    assert count(engine, "SELECT count(DISTINCT lead_id) FROM messages") == 1
    assert count(engine, "SELECT count(*) FROM leads") == 1


async def test_repeated_submission_is_stored_once(client, engine) -> None:  # type: ignore[no-untyped-def]
    payload = {"session_id": "twice-1", "name": "Ирина", "phone": "+7 916 000 11 22", "consent": True,
               "client_message_id": "f-abc"}
    first = await (await client.post("/api/v1/site/leads", json=payload)).json()
    second = await (await client.post("/api/v1/site/leads", json=payload)).json()
    assert first["message_id"] == second["message_id"]
    assert count(engine, "SELECT count(*) FROM messages WHERE kind = 'form'") == 1


async def test_invalid_forms_name_the_field_and_store_nothing(client, engine) -> None:  # type: ignore[no-untyped-def]
    good = {"session_id": "bad-1", "name": "Анна", "phone": "+7 915 123-45-67", "consent": True}
    cases = [
        ({**good, "name": "  "}, "name"),
        ({**good, "phone": "", "email": ""}, "phone"),
        ({k: v for k, v in good.items() if k != "phone"}, "phone"),
        ({**good, "phone": "12345"}, "phone"),
        ({**good, "phone": "+1 202 555 0143"}, "phone"),
        ({**good, "phone": "", "email": "anna@"}, "email"),
        ({**good, "email": "not an email"}, "email"),
        ({**good, "consent": False}, "consent"),
        ({k: v for k, v in good.items() if k != "consent"}, "consent"),
        ({**good, "consent": "yes"}, "consent"),
        ({**good, "product": "robot"}, "product"),
        ({**good, "comment": "я" * 2001}, "comment"),
        ({**good, "session_id": "bad session!"}, "session_id"),
        ({**good, "name": 42}, "name"),
    ]
    for payload, field in cases:
        response = await client.post("/api/v1/site/leads", json=payload)
        assert response.status == 422, payload
        error = (await response.json())["error"]
        assert error["field"] == field, (payload, error)
        assert re.search(r"[а-яё]", error["message"], re.I), error
    response = await client.post("/api/v1/site/leads", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert count(engine, "SELECT count(*) FROM messages") == 0
    assert count(engine, "SELECT count(*) FROM leads") == 0


async def test_form_is_handed_to_the_worker_queue(client, redis_client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/leads", json={
        "session_id": "queued-1", "name": "Пётр", "email": "petr@example.ru", "consent": True})
    assert response.status == 202
    message_id = (await response.json())["message_id"]
    queued = [raw for key in redis_client.keys("voronka:*inbound*") if redis_client.type(key) == b"hash"
              for raw in redis_client.hvals(key)]
    assert any(f"[{message_id}]".encode() in raw or f"[{message_id},".encode() in raw for raw in queued)


# --- CORS -----------------------------------------------------------------------------------------------------

PARTNER = "https://partner.example"


async def cors_client(settings, services, broker):  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from web.app import create_app

    configured = settings.model_copy(update={"CORS_ORIGINS": [PARTNER, "https://shop.example:8443"]})
    app = create_app(configured, database_url=services[0], redis_url=services[1], broker=broker)
    return TestClient(TestServer(app))


async def test_listed_origin_gets_cors_headers_and_a_foreign_one_does_not(settings, services, broker, clean_db,  # type: ignore[no-untyped-def]
                                                                         redis_client) -> None:
    async with await cors_client(settings, services, broker) as http:
        brief = {"product": "ai_lawyer", "users": 5}
        allowed = await http.post("/api/v1/quote", json=brief, headers={"Origin": PARTNER})
        assert allowed.status == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "Origin" in allowed.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in allowed.headers

        port = await http.get("/api/v1/site/messages", params={"session_id": "c1"},
                              headers={"Origin": "https://shop.example:8443"})
        assert port.headers["Access-Control-Allow-Origin"] == "https://shop.example:8443"

        for foreign in ("https://evil.example", "https://partner.example.evil.example", "http://partner.example",
                        "https://shop.example", "null"):
            response = await http.post("/api/v1/quote", json=brief, headers={"Origin": foreign})
            assert response.status == 200  # answered, but the browser will not let the foreign page read it
            assert "Access-Control-Allow-Origin" not in response.headers, foreign

        # errors reach an allowed origin with the headers, so the widget can show the Russian message
        invalid = await http.post("/api/v1/site/leads", json={"name": "x"}, headers={"Origin": PARTNER})
        assert invalid.status == 422 and invalid.headers["Access-Control-Allow-Origin"] == PARTNER

        # our own origin is always allowed
        own = f"http://{http.host}:{http.port}"
        same = await http.post("/api/v1/quote", json=brief, headers={"Origin": own})
        assert same.headers["Access-Control-Allow-Origin"] == own


async def test_preflight_only_for_listed_origins(settings, services, broker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    async with await cors_client(settings, services, broker) as http:
        asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        for path in ("/api/v1/site/messages", "/api/v1/quote", "/api/v1/site/leads"):
            ok = await http.options(path, headers={"Origin": PARTNER, **asked})
            assert ok.status == 204, path
            assert ok.headers["Access-Control-Allow-Origin"] == PARTNER
            assert "POST" in ok.headers["Access-Control-Allow-Methods"]
            assert "content-type" in ok.headers["Access-Control-Allow-Headers"].lower()
            assert int(ok.headers["Access-Control-Max-Age"]) > 0

            refused = await http.options(path, headers={"Origin": "https://evil.example", **asked})
            assert refused.status == 403
            assert not any(h.startswith("Access-Control-Allow") for h in refused.headers), path

        odd_header = await http.options("/api/v1/quote", headers={
            "Origin": PARTNER, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-admin"})
        assert "Access-Control-Allow-Origin" not in odd_header.headers
        # nothing of the kind outside the public API
        page = await http.get("/", headers={"Origin": PARTNER})
        assert "Access-Control-Allow-Origin" not in page.headers
