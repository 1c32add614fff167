"""The admin in a real browser (Debian's Chromium through Playwright) on the real app with a real worker: a manager
logs in, opens a lead, takes the conversation over, writes a message — and the site visitor sees it as «manager».
Every page renders without script or CSP errors; the analytics charts are drawn locally. Screenshots go to
$VORONKA_SCREENSHOTS or a temp folder."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Client, Conversation, Event, Lead, Message, Payment, utcnow
from tests.support.admin import PASSWORD, make_user
from tests.support.browser import new_page, screenshot_dir, wait_until

pytestmark = pytest.mark.browser


def seed(engine: Any) -> None:
    """A few other leads so the list, the analytics and the payments look like a working day."""
    now = utcnow()
    people = [("Ольга Смирнова", "avito", "ai_manager", "booked"), ("Дмитрий Козлов", "telegram", "ai_analyst", "paid"),
              ("Екатерина Волкова", "site", "ai_lawyer", "quoted"), (None, "avito", "none", "new")]
    with Session(engine) as session:
        for i, (name, channel, product, stage) in enumerate(people):
            client = Client(name=name)
            session.add(client)
            session.flush()
            assert client.id is not None
            lead = Lead(client_id=client.id, channel=channel, source_tag=f"{channel}-lead", product=product,
                        stage=stage, created_at=now, updated_at=now)
            session.add(lead)
            session.flush()
            assert lead.id is not None
            conv = Conversation(lead_id=lead.id, channel=channel, external_chat_id=f"seed-{i}")
            session.add(conv)
            session.flush()
            assert conv.id is not None
            session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel=channel, direction="in",
                                role="client", text="Здравствуйте! Сколько стоит внедрение?", external_id=f"seed-{i}"))
            session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel=channel, direction="out",
                                role="assistant", text="Здравствуйте! Расскажите, пожалуйста, о задаче."))
            for step in ("qualified", "brief_done", "quoted", "booked", "paid"):
                session.add(Event(lead_id=lead.id, kind="stage_changed", channel=channel, data={"to": step}))
                if step == stage:
                    break
            if stage == "paid":
                session.add(Payment(lead_id=lead.id, package="optimum", amount=Decimal("420000.00"),
                                    status="succeeded", idempotence_key=f"seed-pay-{i}", paid_at=now))
                add_nps(session, lead.id, channel, (10, 9, 9, 7, 4))
        session.commit()


def add_nps(session: Session, lead_id: int, channel: str, scores: tuple[int, ...]) -> None:
    """NPS answers where the deals feature stores them (its table when present, else events)."""
    try:
        from db.models_deals import NpsAnswer, Reminder
    except ImportError:
        for score in scores:
            session.add(Event(lead_id=lead_id, kind="nps_answer", channel=channel, data={"score": score}))
        return
    for ref, score in enumerate(scores, start=1):
        survey = Reminder(lead_id=lead_id, kind="nps_payment", ref_id=ref, due_at=utcnow(), status="sent")
        session.add(survey)
        session.flush()
        assert survey.id is not None
        session.add(NpsAnswer(lead_id=lead_id, survey_id=survey.id, score=score, channel=channel))
        session.add(Event(lead_id=lead_id, kind="nps_answer", channel=channel, data={"score": score}))


async def visitor_messages(client: Any, session_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/site/messages", params={"session_id": session_id})
    return list((await response.json())["messages"])


async def test_manager_takes_over_and_the_visitor_sees_the_message(browser, client, clean_db, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    make_user(clean_db, "manager", role="manager")
    seed(clean_db)
    response = await client.post("/api/v1/site/messages", json={"session_id": "browser-visitor",
                                                                "text": "Здравствуйте! Нужен ИИ-юрист"})
    assert response.status == 202
    deadline = time.monotonic() + 30
    while not [m for m in await visitor_messages(client, "browser-visitor") if m["role"] == "assistant"]:
        assert time.monotonic() < deadline, "the bot never answered the visitor"
        await asyncio.sleep(0.3)
    base = str(client.make_url("")).rstrip("/")
    shots = screenshot_dir()
    page = await new_page(browser)

    await page.goto(f"{base}/admin")
    assert "/admin/login" in page.url
    await page.fill("input[name=username]", "manager")
    await page.fill("input[name=password]", "not-the-password")
    await page.click("button[type=submit]")
    assert "Неверный логин или пароль" in await page.inner_text(".login-card")
    await page.screenshot(path=str(shots / "admin-login.png"))
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin/leads")
    cookies = await page.context.cookies()
    session_cookie = next(c for c in cookies if c["name"] == "voronka_admin")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
    rows = await page.locator("tbody tr.row-link").count()
    assert rows == 5
    await page.screenshot(path=str(shots / "admin-leads.png"), full_page=True)

    await page.select_option("select[name=channel]", "avito")
    await page.click(".filters button[type=submit]")
    await page.wait_for_url("**channel=avito**")
    assert await page.locator("tbody tr.row-link").count() == 2

    with Session(clean_db) as session:
        visitor_lead = session.exec(select(Conversation).where(
            Conversation.external_chat_id == "browser-visitor")).one().lead_id
    await page.goto(f"{base}/admin/leads?channel=site")
    assert await page.locator("tbody tr.row-link").count() == 2
    await page.locator(f"tbody tr[data-href='/admin/leads/{visitor_lead}'] td.excerpt").click()
    await page.wait_for_url("**/admin/leads/*")
    chat = page.locator("#messages")
    assert "Здравствуйте! Нужен ИИ-юрист" in await chat.inner_text()
    assert await page.locator(".msg-assistant").count() >= 1
    assert "Отвечает бот" in await page.inner_text("#hold-status")

    await page.click("#take-over")
    await page.wait_for_selector("#give-back")
    assert "Ведёт менеджер" in await page.inner_text("#hold-status")
    text = "Здравствуйте! Я Анна, менеджер. Подключилась к разговору — чем помочь?"
    await page.fill("#composer-text", text)
    await page.click("#send")
    await page.wait_for_selector(".flash-ok")
    assert "Сообщение отправлено" in await page.inner_text(".flash-ok")
    assert text in await page.locator(".msg-manager").last.inner_text()
    await page.screenshot(path=str(shots / "admin-lead.png"), full_page=True)

    deadline = time.monotonic() + 15
    while True:
        seen = [m for m in await visitor_messages(client, "browser-visitor") if m["role"] == "manager"]
        if seen or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [m["text"] for m in seen] == [text]

    await page.goto(f"{base}/admin/analytics")
    await wait_until(page, "() => document.querySelector('#chart-funnel svg') !== null")
    assert await page.locator("#chart-funnel svg rect.bar").count() == 6
    assert (await page.inner_text("#kpi-leads")).strip() == "5"
    await page.screenshot(path=str(shots / "admin-analytics.png"), full_page=True)

    for path, marker in (("/admin/payments", "Оплаты"), ("/admin/kb", "База знаний"), ("/admin/prices", "Цены"),
                         ("/admin/templates", "Шаблоны"), ("/admin/ops", "Очереди")):
        await page.goto(f"{base}{path}")
        assert marker in await page.inner_text("main")
        await page.screenshot(path=str(shots / f"admin-{path.rsplit('/', 1)[-1]}.png"), full_page=True)
    assert page.errors == []

    await page.click("text=Выйти")
    await page.wait_for_url("**/admin/login")
    await page.goto(f"{base}/admin/leads")
    assert "/admin/login" in page.url
