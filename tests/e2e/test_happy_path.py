"""The whole sale offline, through the site chat API with a real worker process and the local fakes:
brief → quote → Оптимум → КП PDF → a consultation slot → a payment link → a YooKassa notification from an allowed
address → paid in our database and in amoCRM, letters received by a real SMTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import Session, select

from db.models import Booking, Event, Lead, Payment
from tests.support.deal_fakes import Fakes, Mailbox
from tests.support.site import Visitor, joined

PUBLIC_URL = "https://voronka.example"
YOOKASSA_NET = "185.71.76.10"
pytestmark = pytest.mark.settings(TRUSTED_PROXIES=["127.0.0.1/32"], VORONKA_PUBLIC_URL=PUBLIC_URL)


ANSWERS = (("сфер", "Юридическая фирма"), ("задач", "Проверка договоров"), ("интеграц", "Интеграций нет"),
           ("систем", "Интеграций нет"), ("поддержк", "Стандарт"), ("SLA", "Стандарт"), ("запуст", "Стандарт"),
           ("срок", "Стандарт"), ("размест", "В облаке"), ("сотрудник", "40"), ("телефон", "Анна, +79161234567, "
           "anna@example.ru"), ("email", "Анна, +79161234567, anna@example.ru"))


def answer_to(question: str) -> str:
    """A client's answer to the assistant's last question (by what it asks about)."""
    last = question.strip().splitlines()[-1] if question.strip() else ""
    for needle, answer in ANSWERS:
        if needle.lower() in last.lower():
            return answer
    return "дальше"


async def wait_for(visitor: Visitor, predicate: Callable[[dict[str, Any]], bool], *,
                   seen: list[dict[str, Any]] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The first assistant message that satisfies ``predicate``: among ``seen``, else one still to come."""
    for message in seen or []:
        if predicate(message):
            return message
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await visitor.client.get("/api/v1/site/messages", params={
            "session_id": visitor.session_id, "after": str(visitor.last_id), "wait": "3"})
        for message in (await response.json())["messages"]:
            visitor.last_id = max(visitor.last_id, message["id"])
            if message["role"] == "assistant" and predicate(message):
                return message
    raise AssertionError("the expected message never came")


def buttons(replies: list[dict[str, Any]]) -> dict[str, str]:
    return {b["callback"]: b["text"] for r in replies for b in r["buttons"]}


async def test_site_client_from_brief_to_paid(client: TestClient[Any, Any], start_worker, fakes: Fakes,
                                              mailbox: tuple[Mailbox, int], engine) -> None:
    box, smtp_port = mailbox
    start_worker(**fakes.env(smtp_port), VORONKA_PUBLIC_URL=PUBLIC_URL)
    visitor = Visitor(client, "happy-path")
    await visitor.say("Здравствуйте")
    text = joined(await visitor.say("Нужен ИИ-юрист на 40 юристов, в облаке, стандартный срок"))
    replies: list[dict[str, Any]] = []
    for _ in range(9):
        if "Оптимум" in text and "Enterprise" in text:
            break
        replies = await visitor.say(answer_to(text))  # answer whatever the assistant asked, as a client would
        text = joined(replies)
    assert "Старт" in text and "Оптимум" in text and "Enterprise" in text, text
    assert "doc:proposal" in buttons(replies) and "book" in buttons(replies)

    # the client chooses Оптимум and takes the КП
    assert "Оптимум" in joined(await visitor.say(callback="package:optimum"))
    seen = await visitor.say(callback="doc:proposal", timeout=60)
    proposal = await wait_for(visitor, lambda m: bool(m["attachments"]), seen=seen)
    [pdf] = proposal["attachments"]
    response = await client.get("/" + pdf["url"].split("/", 3)[3])
    assert response.status == 200 and (await response.read()).startswith(b"%PDF")

    # a consultation: five free slots, the first one booked
    seen = await visitor.say(callback="book", timeout=60)
    slots = await wait_for(visitor, lambda m: any(b["callback"].startswith("slot_pick:") for b in m["buttons"]),
                           seen=seen)
    first_slot = next(b["callback"] for b in slots["buttons"] if b["callback"].startswith("slot_pick:"))
    assert len([b for b in slots["buttons"] if b["callback"].startswith("slot_pick:")]) == 5
    seen = await visitor.say(callback=first_slot, timeout=60)
    booked = await wait_for(visitor, lambda m: "Вы записаны" in m["text"], seen=seen)
    assert any(b["callback"].startswith("booking:cancel:") for b in booked["buttons"])

    # the payment link, then YooKassa notifies us through our proxy
    seen = await visitor.say(callback="pay:optimum", timeout=60)
    link_message = await wait_for(visitor, lambda m: "/pay/" in m["text"], seen=seen)
    link = next(w for w in link_message["text"].split() if w.startswith(PUBLIC_URL + "/pay/"))
    assert link_message["attachments"] and link_message["attachments"][0]["name"].startswith("Счёт")
    response = await client.get(link.removeprefix(PUBLIC_URL), allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("https://yoomoney.ru/checkout/")
    [provider_id] = list(fakes.yookassa.payments)
    fakes.yookassa.succeed(provider_id)
    notification = fakes.yookassa.notification(provider_id, "payment.succeeded")
    response = await client.post("/api/v1/webhooks/yookassa", json=notification,
                                 headers={"X-Forwarded-For": YOOKASSA_NET})
    assert response.status == 200
    thanks = await wait_for(visitor, lambda m: "получена" in m["text"])
    assert "спасибо" in thanks["text"].lower()

    # paid in our database ...
    with Session(engine) as session:
        payment = session.exec(select(Payment)).one()
        assert payment.status == "succeeded" and payment.provider_id == provider_id
        lead = session.get(Lead, payment.lead_id)
        assert lead is not None and lead.stage == "paid" and lead.chosen_package == "optimum"
        assert lead.amo_lead_id is not None
        assert session.exec(select(Booking)).one().status == "confirmed"
        kinds = {e.kind for e in session.exec(select(Event).where(Event.lead_id == lead.id)).all()}
        assert {"booking_made", "payment_succeeded", "stage_changed"} <= kinds
    # ... and in amoCRM (one lead, tagged by source, status 142) ...
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and fakes.amo.leads.get(lead.amo_lead_id, {}).get("status_id") != 142:
        await asyncio.sleep(0.2)
    assert len(fakes.amo.leads) == 1
    amo_lead = fakes.amo.leads[lead.amo_lead_id]
    assert amo_lead["status_id"] == 142 and amo_lead["tags"] == ["site-lead"]
    assert any("Консультация записана" in n for n in fakes.amo.notes_of(lead.amo_lead_id))
    # ... and the letters arrived
    wanted = {"Новый лид", "Запись на консультацию", "Вы записаны на консультацию", "Оплата получена",
              "получена — спасибо", "Коммерческое предложение"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(any(w in s for s in box.subjects()) for w in wanted):
        await asyncio.sleep(0.2)
    subjects = box.subjects()
    assert all(any(w in s for s in subjects) for w in wanted), subjects
    client_letters = [m for rcpt, m in box.parsed() if rcpt == ["anna@example.ru"]]
    assert len(client_letters) == 3  # the КП, the booking, the payment — each once
