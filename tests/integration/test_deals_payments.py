"""Payments against the YooKassa fake: links, invoices, notifications (address check, GET confirmation),
polling, link expiry and re-issue, the attempts limit, YooKassa failures — with the real web app and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlmodel import Session, col, select

from db.models import Document, Event, Lead, Payment
from db.models_deals import PaymentNotification, Reminder
from pipelines.integrate import payments
from pipelines.integrate.dealkit import package_price
from pipelines.integrate.payments import check_payment, expire_links, poll_payments
from pipelines.runtime import Runtime
from tests.support.deal_fakes import Fakes
from tests.support.deals import add_action, bot_messages, drain_actions, make_lead, outbox_rows

YOOKASSA_NET = "185.71.76.10"
pytestmark = pytest.mark.settings(TRUSTED_PROXIES=["127.0.0.1/32"], VORONKA_PUBLIC_URL="https://voronka.example")


@pytest.fixture
async def web(deps: Runtime, services, broker) -> AsyncIterator[TestClient[Any, Any]]:
    from web.app import create_app

    app = create_app(deps.settings, database_url=services[0], redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as client:
        yield client


def _payments(deps: Runtime, lead_id: int) -> list[Payment]:
    with Session(deps.engine) as session:
        return list(session.exec(select(Payment).where(Payment.lead_id == lead_id).order_by(col(Payment.id))).all())


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def _pay(deps: Runtime, lead_id: int, conversation_id: int, key: str = "pay-1") -> None:
    add_action(deps.engine, lead_id, conversation_id, "payment", {"package": "optimum"}, key)
    await asyncio.to_thread(drain_actions, deps, lead_id)


async def test_payment_link_invoice_and_confirmed_notification(deps: Runtime, fakes: Fakes,
                                                               web: TestClient[Any, Any]) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    await _pay(deps, lead_id, conversation_id)
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        price = package_price(session, lead, "optimum")
    [payment] = _payments(deps, lead_id)
    assert payment.status == "pending" and payment.amount == price and payment.attempt == 1
    # one YooKassa payment, with our Idempotence-Key and the lead in its metadata
    created = [r for r in fakes.yookassa.requests if r.method == "POST"]
    assert len(created) == 1 and created[0].headers["Idempotence-Key"] == payment.idempotence_key
    remote = fakes.yookassa.payments[payment.provider_id or ""]
    assert remote["metadata"]["lead_id"] == str(lead_id)
    assert Decimal(remote["amount"]["value"]) == price
    # the client gets our link and the invoice PDF that carries it
    [reply] = [m for m in bot_messages(deps.engine, conversation_id) if "/pay/" in m.text]
    link = next(w for w in reply.text.split() if "/pay/" in w)
    assert link.startswith("https://voronka.example/pay/")
    [attachment] = reply.payload["attachments"]
    with Session(deps.engine) as session:
        document = session.get(Document, attachment["document_id"])
        assert document is not None and document.kind == "invoice"
    assert payment.invoice_document_id == document.id
    # our link redirects to YooKassa while valid
    response = await web.get(_path(link), allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == remote["confirmation"]["confirmation_url"]
    # the client pays; YooKassa notifies us through our proxy
    fakes.yookassa.succeed(payment.provider_id or "")
    body = fakes.yookassa.notification(payment.provider_id or "", "payment.succeeded")
    response = await web.post("/api/v1/webhooks/yookassa", json=body, headers={"X-Forwarded-For": YOOKASSA_NET})
    assert response.status == 200
    again = await web.post("/api/v1/webhooks/yookassa", json=body, headers={"X-Forwarded-For": YOOKASSA_NET})
    assert again.status == 200  # a redelivery is accepted and stored once
    with Session(deps.engine) as session:
        [notification] = session.exec(select(PaymentNotification)).all()
        assert notification.processed_at is None  # nothing changed in the request handler
    assert _payments(deps, lead_id)[0].status == "pending"
    await asyncio.to_thread(check_payment, deps, payment.provider_id or "", notification.id)
    await asyncio.to_thread(check_payment, deps, payment.provider_id or "", notification.id)  # a duplicate job
    [paid] = _payments(deps, lead_id)
    assert paid.status == "succeeded" and paid.paid_at is not None
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.stage == "paid"
        kinds = [e.kind for e in session.exec(select(Event).where(Event.lead_id == lead_id)).all()]
        assert kinds.count("payment_succeeded") == 1
        survey = session.exec(select(Reminder).where(Reminder.kind == "nps_payment")).one()
        assert survey.due_at - (paid.paid_at or survey.due_at) == timedelta(days=deps.settings.NPS_DELAY_DAYS)
    thanks = [m.text for m in bot_messages(deps.engine, conversation_id) if "получена" in m.text]
    assert len(thanks) == 1 and "спасибо" in thanks[0].lower()
    actions = [r.payload for r in outbox_rows(deps.engine, "action", lead_id) if r.status == "pending"]
    assert {"event": "paid"}.items() <= actions[0]["data"].items() or any(
        a["action"] == "crm_update" and a["data"]["event"] == "paid" for a in actions)
    assert {(a["data"]["event"], a["data"]["audience"]) for a in actions if a["action"] == "email"} == {
        ("payment_succeeded", "manager"), ("payment_succeeded", "client")}
    # the paid link now says so instead of redirecting
    response = await web.get(_path(link), allow_redirects=False)
    assert response.status == 200 and "оплачен" in await response.text()


async def test_notifications_from_foreign_addresses_are_refused(deps: Runtime, fakes: Fakes,
                                                                web: TestClient[Any, Any]) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    await _pay(deps, lead_id, conversation_id)
    [payment] = _payments(deps, lead_id)
    fakes.yookassa.succeed(payment.provider_id or "")
    body = fakes.yookassa.notification(payment.provider_id or "", "payment.succeeded")
    for headers in ({"X-Forwarded-For": "8.8.8.8"}, {"X-Forwarded-For": f"{YOOKASSA_NET}, 8.8.8.8"}, {}):
        response = await web.post("/api/v1/webhooks/yookassa", json=body, headers=headers)
        assert response.status == 403, headers
    with Session(deps.engine) as session:
        assert session.exec(select(PaymentNotification)).all() == []
    assert _payments(deps, lead_id)[0].status == "pending"


async def test_forwarded_for_is_not_believed_from_an_untrusted_peer(deps: Runtime, fakes: Fakes, services,
                                                                    broker) -> None:
    from web.app import create_app

    strict = deps.settings.model_copy(update={"TRUSTED_PROXIES": []})
    app = create_app(strict, database_url=services[0], redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as client:
        body = {"type": "notification", "event": "payment.succeeded", "object": {"id": "x-1", "status": "succeeded"}}
        response = await client.post("/api/v1/webhooks/yookassa", json=body,
                                     headers={"X-Forwarded-For": YOOKASSA_NET})
        assert response.status == 403


async def test_a_notification_the_get_contradicts_is_ignored(deps: Runtime, fakes: Fakes,
                                                             web: TestClient[Any, Any]) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    await _pay(deps, lead_id, conversation_id)
    [payment] = _payments(deps, lead_id)
    forged = fakes.yookassa.notification(payment.provider_id or "", "payment.succeeded")
    forged["object"].update(status="succeeded", paid=True)  # YooKassa itself still says "pending"
    response = await web.post("/api/v1/webhooks/yookassa", json=forged, headers={"X-Forwarded-For": YOOKASSA_NET})
    assert response.status == 200
    with Session(deps.engine) as session:
        notification = session.exec(select(PaymentNotification)).one()
    await asyncio.to_thread(check_payment, deps, payment.provider_id or "", notification.id)
    assert _payments(deps, lead_id)[0].status == "pending"
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.stage != "paid"
        stored = session.get(PaymentNotification, notification.id)
        assert stored is not None and stored.outcome == "contradicted"
    assert not [m for m in bot_messages(deps.engine, conversation_id) if "получена" in m.text]


async def test_lost_notification_polling_finds_the_payment(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    await _pay(deps, lead_id, conversation_id)
    [payment] = _payments(deps, lead_id)
    await asyncio.to_thread(poll_payments, deps)
    assert _payments(deps, lead_id)[0].status == "pending"
    fakes.yookassa.succeed(payment.provider_id or "")
    await asyncio.to_thread(poll_payments, deps)
    await asyncio.to_thread(poll_payments, deps)
    assert _payments(deps, lead_id)[0].status == "succeeded"
    assert len([m for m in bot_messages(deps.engine, conversation_id) if "получена" in m.text]) == 1


async def test_yookassa_500_then_success_makes_one_payment(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    # the first answer is lost after YooKassa created the payment, then every retry of the job fails too
    fakes.yookassa.fail_next(500, times=deps.settings.MAX_RETRIES + 1, after_processing=True)
    await _pay(deps, lead_id, conversation_id)
    assert len(fakes.yookassa.payments) == 1
    posts = [r for r in fakes.yookassa.requests if r.method == "POST"]
    assert len(posts) > deps.settings.MAX_RETRIES + 1 and len({r.headers["Idempotence-Key"] for r in posts}) == 1
    [payment] = _payments(deps, lead_id)
    assert payment.provider_id in fakes.yookassa.payments and payment.status == "pending"
    assert len([m for m in bot_messages(deps.engine, conversation_id) if "/pay/" in m.text]) == 1


async def _expire(deps: Runtime, lead_id: int) -> None:
    with deps.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET expires_at = now() - interval '1 minute' "
                          "WHERE lead_id = :lead AND status = 'pending'"), {"lead": lead_id})
    await asyncio.to_thread(expire_links, deps)


async def test_expired_link_is_reissued_and_a_fourth_is_refused(deps: Runtime, fakes: Fakes,
                                                                web: TestClient[Any, Any]) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    await _pay(deps, lead_id, conversation_id)
    [first] = _payments(deps, lead_id)
    first_link = f"/pay/{payments.pay_token(first.id or 0, deps.settings.link_key)}"
    await _expire(deps, lead_id)
    assert _payments(deps, lead_id)[0].status == "expired"
    notice = bot_messages(deps.engine, conversation_id)[-1]
    assert "истёк" in notice.text and notice.payload["buttons"] == [
        {"text": "Новая ссылка", "callback": f"pay_new:{first.id}"}]
    await asyncio.to_thread(expire_links, deps)  # a second run changes nothing
    assert bot_messages(deps.engine, conversation_id)[-1].id == notice.id
    # the old link says it is out of date and offers a new one
    response = await web.get(first_link, allow_redirects=False)
    page = await response.text()
    assert response.status == 410 and "Ссылка устарела" in page and "Получить новую ссылку" in page
    response = await web.post(first_link + "/renew", allow_redirects=False)
    assert response.status == 200 and "придёт в чат" in await response.text()
    await asyncio.to_thread(drain_actions, deps, lead_id)
    second = _payments(deps, lead_id)[-1]
    assert second.attempt == 2 and second.status == "pending"
    assert f"/pay/{payments.pay_token(second.id or 0, deps.settings.link_key)}" in bot_messages(
        deps.engine, conversation_id)[-1].text
    response = await web.get(first_link, allow_redirects=False)
    assert response.status == 410 and "Перейти к оплате" in await response.text()
    # the third link via the chat button, then the fourth is refused and a manager is called
    await _expire(deps, lead_id)
    add_action(deps.engine, lead_id, conversation_id, "payment_renew", {"payment_id": second.id}, "renew-2")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    third = _payments(deps, lead_id)[-1]
    assert third.attempt == 3
    await _expire(deps, lead_id)
    assert "Менеджер свяжется" in bot_messages(deps.engine, conversation_id)[-1].text
    add_action(deps.engine, lead_id, conversation_id, "payment_renew", {"payment_id": third.id}, "renew-3")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    assert len(_payments(deps, lead_id)) == 3 and len(fakes.yookassa.payments) == 3
    assert "уже 3 раза" in bot_messages(deps.engine, conversation_id)[-1].text
    notices = [r.payload for r in outbox_rows(deps.engine, "notify", lead_id)]
    assert any(n["event"] == "payment_attempts_exhausted" for n in notices)
    response = await web.get(first_link, allow_redirects=False)
    assert response.status == 410 and "менеджер" in await response.text()


async def test_without_yookassa_the_invoice_has_requisites_only(deps: Runtime, fakes: Fakes) -> None:
    deps.settings = deps.settings.model_copy(update={"YOOKASSA_SHOP_ID": "", "YOOKASSA_SECRET_KEY": ""})
    lead_id, conversation_id = make_lead(deps.engine)
    add_action(deps.engine, lead_id, conversation_id, "document", {"kind": "invoice", "package": "optimum"}, "inv")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    [reply] = bot_messages(deps.engine, conversation_id)
    assert "реквизитам" in reply.text and "/pay/" not in reply.text and reply.payload["attachments"]
    assert fakes.yookassa.requests == [] and _payments(deps, lead_id) == []
    notices = [r.payload for r in outbox_rows(deps.engine, "notify")]
    assert [n["service"] for n in notices if n["event"] == "not_configured"] == ["yookassa"]


async def test_invoice_document_action_carries_the_payment_link(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    add_action(deps.engine, lead_id, conversation_id, "document", {"kind": "invoice", "package": "optimum"}, "inv")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    [payment] = _payments(deps, lead_id)
    [reply] = bot_messages(deps.engine, conversation_id)
    assert "/pay/" in reply.text and reply.payload["attachments"][0]["document_id"] == payment.invoice_document_id
    from pypdf import PdfReader

    with Session(deps.engine) as session:
        document = session.get(Document, payment.invoice_document_id)
        assert document is not None
    from pipelines.document.storage import absolute_path

    reader = PdfReader(str(absolute_path(deps.settings.documents_dir, document)))
    content = "".join(page.extract_text() or "" for page in reader.pages).replace("\n", "")
    assert payments.pay_token(payment.id or 0, deps.settings.link_key) in content
