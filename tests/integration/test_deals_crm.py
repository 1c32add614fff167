"""amoCRM sync against the amoCRM fake (7 requests/s, 429, 401) with the shared Redis limiter: one amo lead per lead,
tags by source, the brief in a note, price on quote, status 142 when paid."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlmodel import Session

from db.models import Lead
from pipelines.integrate.crm import quoted_price
from pipelines.integrate.dealkit import package_price
from pipelines.runtime import Runtime
from tests.fakes.amocrm_fake import AmoCRMFake
from tests.support.deal_fakes import Fakes
from tests.support.deals import BRIEF, add_action, drain_actions, make_lead, outbox_rows


def lead_row(deps: Runtime, lead_id: int) -> Lead:
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def sync(deps: Runtime, lead_id: int, event: str = "qualified", key: str | None = None,
               **data: object) -> None:
    action = "crm_sync" if event == "qualified" else "crm_update"
    add_action(deps.engine, lead_id, None, action, {"event": event, **data}, key or f"crm:{event}:{lead_id}")
    await asyncio.to_thread(drain_actions, deps, lead_id)


def only_lead(amo: AmoCRMFake) -> dict[str, object]:
    assert len(amo.leads) == 1, amo.leads
    return next(iter(amo.leads.values()))


async def test_qualified_lead_is_created_once_with_contact_tag_and_brief(deps: Runtime, fakes: Fakes) -> None:
    lead_id, _ = make_lead(deps.engine, channel="telegram")
    await sync(deps, lead_id)
    amo_lead = only_lead(fakes.amo)
    stored = lead_row(deps, lead_id)
    assert stored.amo_lead_id == amo_lead["id"]
    assert amo_lead["tags"] == ["telegram-lead"]
    with Session(deps.engine) as session:
        assert amo_lead["price"] == int(package_price(session, stored, "optimum"))
    [contact] = fakes.amo.contacts.values()
    assert contact["first_name"] == "Анна"
    values = {f["field_code"]: f["values"][0]["value"] for f in contact["custom_fields_values"]}
    assert values == {"PHONE": BRIEF["phone"], "EMAIL": BRIEF["email"]}
    [note] = fakes.amo.notes_of(stored.amo_lead_id or 0)
    assert "ИИ-Юрист" in note and "Юридическая фирма" in note and "Пользователей: 40" in note
    # the same event again (a retried job, another channel) never creates a second lead
    await sync(deps, lead_id, key="crm:qualified:again")
    only_lead(fakes.amo)
    assert len(fakes.amo.contacts) == 1
    # a new-lead letter for the managers is queued once
    letters = [r.payload["data"] for r in outbox_rows(deps.engine, "action", lead_id)
               if r.payload["action"] == "email"]
    assert [(x["event"], x["audience"]) for x in letters] == [("new_lead", "manager")]


async def test_quote_booking_and_payment_update_the_amo_lead(deps: Runtime, fakes: Fakes) -> None:
    lead_id, _ = make_lead(deps.engine, channel="site")
    await sync(deps, lead_id)
    amo_lead = only_lead(fakes.amo)
    assert amo_lead["tags"] == ["site-lead"]
    with Session(deps.engine) as session:  # the client chose Enterprise: the price follows
        lead = session.get(Lead, lead_id)
        assert lead is not None
        lead.chosen_package = "enterprise"
        session.add(lead)
        session.commit()
        enterprise = quoted_price(session, lead)
    await sync(deps, lead_id, "quote")
    assert amo_lead["price"] == int(enterprise)
    await sync(deps, lead_id, "booking", text="Консультация записана: 4 марта 2030, 12:00 (МСК)")
    assert any("Консультация записана" in n for n in fakes.amo.notes_of(lead_row(deps, lead_id).amo_lead_id or 0))
    await sync(deps, lead_id, "paid", price="150000.00", text="Оплата 150 000 ₽ получена")
    assert amo_lead["status_id"] == 142 and amo_lead["price"] == 150000
    only_lead(fakes.amo)


async def test_429_is_backed_off_and_the_lead_created_once(deps: Runtime, fakes: Fakes) -> None:
    lead_id, _ = make_lead(deps.engine)
    fakes.amo.fail_next(429, times=2, headers={"Retry-After": "1"})
    await sync(deps, lead_id)
    only_lead(fakes.amo)
    statuses = fakes.amo.statuses()
    assert statuses[:3] == [429, 429, 200]
    gap = fakes.amo.requests[2].at - fakes.amo.requests[1].at
    assert gap >= 0.9  # Retry-After honoured
    assert lead_row(deps, lead_id).amo_lead_id is not None


async def test_limiter_keeps_a_burst_under_seven_per_second(deps: Runtime, fakes: Fakes) -> None:
    leads = [make_lead(deps.engine, chat=f"c{i}")[0] for i in range(12)]
    for lead_id in leads:
        add_action(deps.engine, lead_id, None, "crm_sync", {"event": "qualified"}, f"crm:q:{lead_id}")
    await asyncio.gather(*(asyncio.to_thread(drain_actions, deps, lead_id) for lead_id in leads))
    assert 429 not in fakes.amo.statuses()
    assert len(fakes.amo.leads) == 12
    times = sorted(r.at for r in fakes.amo.requests)
    assert all(b - a >= 1.0 for a, b in zip(times, times[7:], strict=False))


async def test_401_notifies_the_managers_and_a_later_event_creates_the_lead(deps: Runtime,
                                                                            fakes: Fakes) -> None:
    lead_id, _ = make_lead(deps.engine)
    good_token = fakes.amo.token
    fakes.amo.token = "revoked"
    await sync(deps, lead_id)
    assert fakes.amo.leads == {} and lead_row(deps, lead_id).amo_lead_id is None
    assert len([r for r in fakes.amo.requests if r.status == 401]) == 1  # not retried
    [notice] = [r.payload for r in outbox_rows(deps.engine, "notify", lead_id) if r.payload["event"] == "job_failed"]
    assert "AMOCRM_ACCESS_TOKEN" in notice["hint"] and "401" in notice["summary"]
    fakes.amo.token = good_token  # a manager put a fresh token in; the next event heals the gap
    await sync(deps, lead_id, "paid", price="150000.00", text="Оплата получена")
    amo_lead = only_lead(fakes.amo)
    assert amo_lead["status_id"] == 142


async def test_without_amocrm_settings_the_managers_are_told_once_a_day(deps: Runtime, fakes: Fakes) -> None:
    deps.settings = deps.settings.model_copy(update={"AMOCRM_BASE_URL": "", "AMOCRM_ACCESS_TOKEN": ""})
    first, _ = make_lead(deps.engine, chat="a")
    second, _ = make_lead(deps.engine, chat="b")
    for lead_id in (first, second):
        await sync(deps, lead_id)
    assert fakes.amo.requests == []
    notices = [r.payload for r in outbox_rows(deps.engine, "notify")]
    assert [n["service"] for n in notices if n["service"] == "amocrm"] == ["amocrm"]


def test_price_before_any_quote_is_zero_not_an_error(deps: Runtime) -> None:
    lead_id, _ = make_lead(deps.engine, brief={"product": "ai_lawyer", "name": "Анна", "phone": "+79161234567"})
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert quoted_price(session, lead) == Decimal(0)
