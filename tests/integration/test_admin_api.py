"""The admin API on the real app (embedded Postgres/Redis): leads and conversations across channels, take over /
give back / write as manager (delivered by a real worker, seen by the site visitor), prices with validation and
history, template preview, knowledge base upload/delete/history, lists, document downloads, CSRF for cookie writes."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from sqlmodel import Session, select

from db.models import Booking, Client, Conversation, Document, Event, FailedJob, Lead, Message, Outbox, Payment, utcnow
from db.models_pricing import PriceChange
from tests.support.admin import PASSWORD, lead_of, make_user, site_say, token_for
from web import keys


async def auth(client, engine, role: str = "admin", username: str = "anna") -> dict[str, str]:  # type: ignore[no-untyped-def]
    make_user(engine, username, role=role)
    return {"Authorization": f"Bearer {await token_for(client, username)}"}


def add_telegram_conversation(engine, lead_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        conv = Conversation(lead_id=lead_id, channel="telegram", external_chat_id=f"tg-{lead_id}")
        session.add(conv)
        session.flush()
        assert conv.id is not None
        session.add(Message(conversation_id=conv.id, lead_id=lead_id, channel="telegram", direction="in",
                            role="client", text=text, external_id=f"tg-msg-{lead_id}"))
        session.commit()


async def test_leads_list_filters_and_detail_across_channels(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db)
    first = lead_of(clean_db, await site_say(client, "s-one", "Здравствуйте, нужен ИИ-юрист"))
    second = lead_of(clean_db, await site_say(client, "s-two", "Сколько стоит аналитик?"))
    add_telegram_conversation(clean_db, first, "Пишу из телеграма")
    with Session(clean_db) as session:
        lead = session.get(Lead, second)
        assert lead is not None
        lead.stage = "quoted"
        client_row = session.get(Client, lead.client_id)
        assert client_row is not None
        client_row.name = "Ольга Петрова"
        session.commit()

    response = await client.get("/api/v1/admin/leads", headers=headers)
    body = await response.json()
    assert response.status == 200 and body["total"] == 2
    assert {i["id"] for i in body["items"]} == {first, second}

    quoted = await (await client.get("/api/v1/admin/leads", params={"stage": "quoted"}, headers=headers)).json()
    assert [i["id"] for i in quoted["items"]] == [second]
    assert quoted["items"][0]["client_name"] == "Ольга Петрова"
    telegram = await (await client.get("/api/v1/admin/leads", params={"channel": "telegram"}, headers=headers)).json()
    assert [i["id"] for i in telegram["items"]] == [first]
    paged = await (await client.get("/api/v1/admin/leads", params={"per_page": "1", "page": "2"},
                                    headers=headers)).json()
    assert len(paged["items"]) == 1 and paged["pages"] == 2
    bad = await client.get("/api/v1/admin/leads", params={"stage": "nonsense"}, headers=headers)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "stage"

    detail = await (await client.get(f"/api/v1/admin/leads/{first}", headers=headers)).json()
    texts = [(m["channel"], m["role"], m["text"]) for m in detail["messages"]]
    assert ("site", "client", "Здравствуйте, нужен ИИ-юрист") in texts
    assert ("telegram", "client", "Пишу из телеграма") in texts
    assert {c["channel"] for c in detail["conversations"]} == {"site", "telegram"}
    missing = await client.get("/api/v1/admin/leads/999999", headers=headers)
    assert missing.status == 404


async def test_take_over_write_and_give_back_reach_the_site_visitor(client, clean_db, start_worker) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db, role="manager", username="manager1")
    lead_id = lead_of(clean_db, await site_say(client, "visitor-m", "Хочу поговорить с человеком"))

    response = await client.post(f"/api/v1/admin/leads/{lead_id}/take-over", headers=headers)
    assert response.status == 200 and (await response.json())["manager_hold"] is True
    with Session(clean_db) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.manager_hold
        assert session.exec(select(Event).where(Event.lead_id == lead_id, Event.kind == "takeover")).first()

    start_worker()
    body = {"text": "Здравствуйте! Меня зовут Анна, я менеджер. Чем помочь?", "client_message_id": "form-1"}
    response = await client.post(f"/api/v1/admin/leads/{lead_id}/messages", json=body, headers=headers)
    assert response.status == 201, await response.text()
    sent = await response.json()
    again = await client.post(f"/api/v1/admin/leads/{lead_id}/messages", json=body, headers=headers)
    assert again.status == 200 and (await again.json())["duplicate"] is True

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with Session(clean_db) as session:
            row = session.exec(select(Outbox).where(Outbox.message_id == sent["message_id"])).one()
            if row.status == "sent":
                break
        await asyncio.sleep(0.2)
    assert row.status == "sent" and row.channel == "site"

    visitor = await (await client.get("/api/v1/site/messages", params={"session_id": "visitor-m"})).json()
    manager = [m for m in visitor["messages"] if m["role"] == "manager"]
    assert [m["text"] for m in manager] == [body["text"]]
    # the bot stayed silent while the manager held the conversation
    assert not [m for m in visitor["messages"] if m["role"] == "assistant"]

    response = await client.post(f"/api/v1/admin/leads/{lead_id}/give-back", headers=headers)
    assert response.status == 200
    with Session(clean_db) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and not lead.manager_hold
    detail = await (await client.get(f"/api/v1/admin/leads/{lead_id}", headers=headers)).json()
    kinds = [e["kind"] for e in detail["events"]]
    assert "takeover" in kinds and "handback" in kinds and "manager_message" in kinds

    for bad in ({"text": ""}, {"text": "x" * 5000}, {"text": "ok", "conversation_id": "abc"}):
        response = await client.post(f"/api/v1/admin/leads/{lead_id}/messages", json=bad, headers=headers)
        assert response.status in (413, 422)


@pytest.fixture
def restore_prices(engine):  # type: ignore[no-untyped-def]
    """The price tables are seeded and survive ``clean_db``: put back what this test changes."""
    with engine.connect() as conn:
        rates = conn.execute(sa.text("SELECT id, base_price FROM price_rates")).all()
        coefficients = conn.execute(sa.text("SELECT id, value FROM price_coefficients")).all()
    yield
    with engine.begin() as conn:
        for row in rates:
            conn.execute(sa.text("UPDATE price_rates SET base_price = :v WHERE id = :id"), {"v": row.base_price,
                                                                                             "id": row.id})
        for row in coefficients:
            conn.execute(sa.text("UPDATE price_coefficients SET value = :v WHERE id = :id"), {"v": row.value,
                                                                                               "id": row.id})


async def test_prices_update_with_validation_and_history(client, clean_db, restore_prices) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db)
    prices = await (await client.get("/api/v1/admin/prices", headers=headers)).json()
    old = next(r for r in prices["rates"] if r["product"] == "ai_lawyer" and r["package"] == "start")
    response = await client.put("/api/v1/admin/prices/rates/ai_lawyer/start",
                                json={"base_price": "123456.50", "comment": "акция"}, headers=headers)
    assert response.status == 200
    new = next(r for r in (await response.json())["rates"] if r["product"] == "ai_lawyer" and r["package"] == "start")
    assert Decimal(new["base_price"]) == Decimal("123456.50") != Decimal(old["base_price"])
    quote = await client.post("/api/v1/quote", json={"product": "ai_lawyer", "users": 5})
    if quote.status == 200:  # the public quote API uses the new price at once (its cache was dropped)
        assert "123" in (await quote.text())

    for body, field in (({"base_price": "-5"}, "base_price"), ({"base_price": "abc"}, "base_price"),
                        ({"base_price": True}, "base_price")):
        response = await client.put("/api/v1/admin/prices/rates/ai_lawyer/start", json=body, headers=headers)
        assert response.status == 422 and (await response.json())["error"]["field"] == field
    response = await client.put("/api/v1/admin/prices/rates/ai_cook/start", json={"base_price": 10}, headers=headers)
    assert response.status == 422
    coefficient = next(c for c in prices["coefficients"] if c["param"] == "sla")
    response = await client.put(f"/api/v1/admin/prices/coefficients/sla/{coefficient['key']}", json={"value": "1.5"},
                                headers=headers)
    assert response.status == 200
    history = await (await client.get("/api/v1/admin/prices/history", headers=headers)).json()
    targets = [h["target"] for h in history["items"] if h["changed_by"] == "anna"]
    assert "ai_lawyer/start" in targets and f"sla/{coefficient['key']}" in targets
    with Session(clean_db) as session:
        change = session.exec(select(PriceChange).where(PriceChange.target == "ai_lawyer/start",
                                                        PriceChange.changed_by == "anna")).one()
        assert change.comment == "акция" and change.new_value == Decimal("123456.50")

    manager = await auth(client, clean_db, role="manager", username="mgr")
    response = await client.put("/api/v1/admin/prices/rates/ai_lawyer/start", json={"base_price": 1},
                                headers=manager)
    assert response.status == 403


async def test_template_preview_is_html_of_the_document(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db)
    listing = await (await client.get("/api/v1/admin/templates", headers=headers)).json()
    assert {t["kind"] for t in listing["items"]} == {"proposal", "contract", "invoice"}
    response = await client.get("/api/v1/admin/templates/proposal/preview",
                                params={"product": "ai_analyst", "package": "enterprise"}, headers=headers)
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert "Коммерческое предложение" in html and "ИИ-Аналитик" in html and "ООО «Пример»" in html
    assert (await client.get("/api/v1/admin/templates/letter/preview", headers=headers)).status == 404


async def test_knowledge_base_upload_history_delete(client, clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "faq.md").write_text("# Частые вопросы\n\nМы работаем с 10 до 19.\n", encoding="utf-8")
    client.app[keys.KNOWLEDGE_BASE].path = kb_dir
    headers = await auth(client, clean_db)

    response = await client.post("/api/v1/admin/kb/reingest", headers=headers)
    assert response.status == 200 and (await response.json())["added"] == 1

    form = FormData()
    form.add_field("file", "# Гарантия\n\nГарантия на внедрение — 12 месяцев.\n".encode(), filename="warranty.md",
                   content_type="text/markdown")
    response = await client.post("/api/v1/admin/kb/documents", data=form, headers=headers)
    assert response.status == 201, await response.text()
    uploaded = (await response.json())["document"]
    assert uploaded["title"] == "Гарантия" and (kb_dir / "warranty.md").exists()

    form = FormData()
    form.add_field("file", "# Гарантия\n\nГарантия — 24 месяца.\n".encode(), filename="warranty.md")
    response = await client.post("/api/v1/admin/kb/documents", data=form, headers=headers)
    assert response.status == 201
    history = await (await client.get(f"/api/v1/admin/kb/documents/{uploaded['id']}", headers=headers)).json()
    assert [h["version"] for h in history["history"]] == [2, 1]

    listing = await (await client.get("/api/v1/admin/kb/documents", headers=headers)).json()
    assert {d["title"] for d in listing["items"]} == {"Частые вопросы", "Гарантия"}

    response = await client.delete(f"/api/v1/admin/kb/documents/{uploaded['id']}", headers=headers)
    assert response.status == 200 and (await response.json())["retired"] == 1
    assert not (kb_dir / "warranty.md").exists()
    listing = await (await client.get("/api/v1/admin/kb/documents", headers=headers)).json()
    assert {d["title"] for d in listing["items"]} == {"Частые вопросы"}

    for name in ("../evil.md", "script.exe", ".hidden.md"):
        form = FormData()
        form.add_field("file", b"# x\n", filename=name)
        response = await client.post("/api/v1/admin/kb/documents", data=form, headers=headers)
        assert response.status == 422, name
    assert not (tmp_path / "evil.md").exists()


async def test_lists_integrations_and_failed_jobs_linked_to_leads(client, clean_db, settings) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db)
    lead_id = lead_of(clean_db, await site_say(client, "s-lists", "Привет"))
    with Session(clean_db) as session:
        session.add(Payment(lead_id=lead_id, package="start", amount=Decimal("150000.00"), idempotence_key="k1",
                            status="succeeded", paid_at=utcnow()))
        session.add(Booking(lead_id=lead_id, starts_at=utcnow(), ends_at=utcnow()))
        session.add(FailedJob(actor="integrate.action", queue="integrate", message_id="m-1", args=[1],
                              lead_id=lead_id, error="UpstreamError: amoCRM недоступен"))
        session.add(Event(lead_id=lead_id, kind="handoff", channel="site", data={"reason": "manager_request"}))
        session.add(Event(lead_id=None, kind="other", channel=None, data={}))
        session.commit()
    payments = await (await client.get("/api/v1/admin/payments", headers=headers)).json()
    assert payments["items"][0]["amount"] == "150000.00" and payments["items"][0]["lead_id"] == lead_id
    bookings = await (await client.get("/api/v1/admin/bookings", headers=headers)).json()
    assert bookings["total"] == 1
    failed = await (await client.get("/api/v1/admin/failed-jobs", headers=headers)).json()
    assert failed["items"][0]["lead_id"] == lead_id
    detail = await (await client.get(f"/api/v1/admin/leads/{lead_id}", headers=headers)).json()
    assert detail["failed_jobs"][0]["actor"] == "integrate.action"
    events = await (await client.get("/api/v1/admin/events", params={"lead_id": str(lead_id)}, headers=headers)).json()
    assert [e["kind"] for e in events["items"]] == ["handoff"]
    handoffs = await (await client.get("/api/v1/admin/events", params={"kind": "handoff"}, headers=headers)).json()
    assert handoffs["total"] == 1
    integrations = await (await client.get("/api/v1/admin/integrations", headers=headers)).json()
    by_key = {i["key"]: i for i in integrations["integrations"]}
    assert by_key["yookassa"]["configured"] is False and "encryption" in by_key
    assert settings.JWT_SECRET_KEY not in await (await client.get("/api/v1/admin/integrations",
                                                                  headers=headers)).text()
    logs = await (await client.get("/api/v1/admin/logs", headers=headers)).json()
    assert logs["items"] == [] and "LOG_FILE" in logs["note"]


async def test_documents_need_a_signed_link_or_admin_auth(client, clean_db, settings) -> None:  # type: ignore[no-untyped-def]
    headers = await auth(client, clean_db)
    lead_id = lead_of(clean_db, await site_say(client, "s-docs", "Пришлите КП"))
    path = settings.documents_dir / f"{lead_id}" / "KP-2026-0001-v1.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 test document")
    with Session(clean_db) as session:
        doc = Document(lead_id=lead_id, kind="proposal", number="КП-2026-0001", path=f"{lead_id}/KP-2026-0001-v1.pdf",
                       sha256="x", size=22)
        session.add(doc)
        session.commit()
        doc_id = doc.id
    assert (await client.get(f"/d/{doc_id}")).status == 403
    assert (await client.get(f"/api/v1/admin/documents/{doc_id}/file")).status == 401
    response = await client.get(f"/api/v1/admin/documents/{doc_id}/file", headers=headers)
    assert response.status == 200 and (await response.read()).startswith(b"%PDF")


async def test_cookie_writes_need_the_csrf_header(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    make_user(clean_db)
    token = await token_for(client)
    lead_id = lead_of(clean_db, await site_say(client, "s-csrf", "Привет"))
    cookies = {"voronka_admin": token}
    response = await client.get("/api/v1/admin/me", cookies=cookies)
    assert response.status == 200
    response = await client.post(f"/api/v1/admin/leads/{lead_id}/take-over", cookies=cookies)
    assert response.status == 403 and (await response.json())["error"]["code"] == "csrf"
    import jwt

    csrf = jwt.decode(token, options={"verify_signature": False})["csrf"]
    response = await client.post(f"/api/v1/admin/leads/{lead_id}/take-over", cookies=cookies,
                                 headers={"X-CSRF-Token": csrf})
    assert response.status == 200


async def test_search_finds_a_lead_by_phone_without_decrypting_everything(client, clean_db) -> None:  # type: ignore[no-untyped-def]
    from pipelines.leads import contact_hash

    headers = await auth(client, clean_db)
    lead_id = lead_of(clean_db, await site_say(client, "s-phone", "Мой телефон"))
    with Session(clean_db) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        row = session.get(Client, lead.client_id)
        assert row is not None
        row.phone, row.phone_hash = "+79161234567", contact_hash("phone", "+79161234567")
        session.commit()
    found: dict[str, Any] = await (await client.get("/api/v1/admin/leads", params={"q": "8 (916) 123-45-67"},
                                                    headers=headers)).json()
    assert [i["id"] for i in found["items"]] == [lead_id]
    with clean_db.connect() as conn:
        stored = conn.execute(sa.text("SELECT phone FROM clients WHERE id = (SELECT client_id FROM leads "
                                      "WHERE id = :id)"), {"id": lead_id}).scalar()
    assert stored.startswith("enc1:") and "9161234567" not in stored
    assert PASSWORD  # the shared helper is imported from the auth tests
