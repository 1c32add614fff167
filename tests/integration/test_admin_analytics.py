"""Analytics over real rows: the funnel by channel and product with conversion rates, reply time p50/p95,
automation rate, NPS, revenue by source — and the same numbers through GET /api/v1/admin/analytics."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from db.models import Client, Conversation, Event, Lead, Message, Payment, utcnow
from pipelines import analytics
from tests.support.admin import make_user, token_for

STAGE_PATH = ("qualified", "brief_done", "quoted", "booked", "paid")


def add_lead(session: Session, *, channel: str, product: str, reached: str, manager: bool = False,
             handoff: bool = False, reply_seconds: list[float] | None = None) -> Lead:
    now = utcnow()
    client = Client()
    session.add(client)
    session.flush()
    assert client.id is not None
    lead = Lead(client_id=client.id, channel=channel, source_tag=f"{channel}-lead", product=product, stage=reached,
                created_at=now - timedelta(days=1))
    session.add(lead)
    session.flush()
    previous = "new"
    for stage in STAGE_PATH[: STAGE_PATH.index(reached) + 1] if reached in STAGE_PATH else ():
        session.add(Event(lead_id=lead.id, kind="stage_changed", channel=channel, data={"from": previous, "to": stage}))
        previous = stage
    if handoff:
        session.add(Event(lead_id=lead.id, kind="handoff", channel=channel, data={"reason": "x"}))
    conv = Conversation(lead_id=lead.id, channel=channel, external_chat_id=f"{channel}-{lead.id}")
    session.add(conv)
    session.flush()
    assert conv.id is not None and lead.id is not None
    start = now - timedelta(hours=2)
    for i, seconds in enumerate(reply_seconds or []):
        asked = start + timedelta(minutes=10 * i)
        session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel=channel, direction="in", role="client",
                            text=f"вопрос {i}", created_at=asked))
        session.flush()
        session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel=channel, direction="out",
                            role="assistant", text=f"ответ {i}", created_at=asked + timedelta(seconds=seconds)))
        session.flush()
    if manager:
        session.add(Message(conversation_id=conv.id, lead_id=lead.id, channel=channel, direction="out",
                            role="manager", text="Здравствуйте, я менеджер", created_at=now))
    return lead


@pytest.fixture
def dataset(clean_db):  # type: ignore[no-untyped-def]
    with Session(clean_db) as session:
        add_lead(session, channel="site", product="ai_lawyer", reached="new", reply_seconds=[1.0, 2.0])
        add_lead(session, channel="site", product="ai_lawyer", reached="qualified", reply_seconds=[3.0])
        add_lead(session, channel="site", product="ai_manager", reached="quoted", reply_seconds=[4.0])
        booked = add_lead(session, channel="avito", product="ai_lawyer", reached="booked", reply_seconds=[5.0])
        paid = add_lead(session, channel="telegram", product="ai_analyst", reached="paid", reply_seconds=[100.0])
        paid_with_manager = add_lead(session, channel="avito", product="ai_analyst", reached="paid", manager=True)
        add_lead(session, channel="telegram", product="none", reached="booked", handoff=True)
        for lead, amount in ((paid, "300000.00"), (paid_with_manager, "150000.50")):
            assert lead.id is not None
            session.add(Payment(lead_id=lead.id, package="start", amount=Decimal(amount), status="succeeded",
                                idempotence_key=f"p-{lead.id}", paid_at=utcnow()))
        assert booked.id is not None
        session.add(Payment(lead_id=booked.id, package="start", amount=Decimal("99.00"), status="canceled",
                            idempotence_key="p-cancel"))
        for score in (10, 9, 9, 8, 3):
            session.add(Event(lead_id=paid.id, kind="nps_answer", channel="telegram", data={"score": score}))
        session.commit()
    return clean_db


def test_funnel_counts_and_conversions(dataset) -> None:  # type: ignore[no-untyped-def]
    with Session(dataset) as session:
        result = analytics.funnel(session, analytics.Period.last_days(30))
    counts = {s["stage"]: s["count"] for s in result["stages"]}
    assert counts == {"contact": 7, "qualified": 6, "brief_done": 5, "quoted": 5, "booked": 4, "paid": 2}
    stages = {s["stage"]: s for s in result["stages"]}
    assert stages["paid"]["conversion_from_previous"] == 0.5
    assert stages["booked"]["conversion_from_start"] == round(4 / 7, 4)
    assert stages["contact"]["conversion_from_previous"] is None
    site = {s["stage"]: s["count"] for s in result["by_channel"]["site"]["stages"]}
    assert site == {"contact": 3, "qualified": 2, "brief_done": 1, "quoted": 1, "booked": 0, "paid": 0}
    analyst = {s["stage"]: s["count"] for s in result["by_product"]["ai_analyst"]["stages"]}
    assert analyst["paid"] == 2 and analyst["contact"] == 2
    assert result["by_product"]["none"]["label"] == "Не выбран"


def test_a_lost_lead_keeps_the_stages_it_reached(clean_db) -> None:  # type: ignore[no-untyped-def]
    with Session(clean_db) as session:
        lead = add_lead(session, channel="site", product="ai_lawyer", reached="quoted")
        lead.stage = "lost"
        session.add(lead)
        session.commit()
        result = analytics.funnel(session, analytics.Period.last_days(30))
    assert {s["stage"]: s["count"] for s in result["stages"]}["quoted"] == 1


def test_reply_time_percentiles(dataset) -> None:  # type: ignore[no-untyped-def]
    with Session(dataset) as session:
        result = analytics.reply_times(session, analytics.Period.last_days(30))
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 100.0]
    assert result["count"] == 6
    assert result["p50"] == pytest.approx(analytics.percentile(values, 0.5), abs=0.01) == pytest.approx(3.5, abs=0.01)
    assert result["p95"] == pytest.approx(76.25, abs=0.05)
    assert result["by_channel"]["telegram"]["count"] == 1


def test_automation_rate_counts_only_conversations_without_a_manager(dataset) -> None:  # type: ignore[no-untyped-def]
    with Session(dataset) as session:
        result = analytics.automation(session, analytics.Period.last_days(30))
    # booked/paid: avito booked (bot), telegram paid (bot), avito paid (manager wrote), telegram booked (handoff)
    assert result == {"total": 4, "automated": 2, "with_manager": 2, "rate": 0.5}


def test_nps_from_events_and_revenue(dataset, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(analytics, "_table_exists", lambda session, name: False)  # a schema without nps_answers
    with Session(dataset) as session:
        nps = analytics.nps(session, analytics.Period.last_days(30))
        revenue = analytics.revenue(session, analytics.Period.last_days(30))
    assert nps["source"] == "events"
    assert nps["responses"] == 5 and nps["score"] == 40.0  # (3 promoters − 1 detractor) / 5
    assert nps["distribution"][9] == 2 and nps["distribution"][3] == 1
    assert revenue["total"] == "450000.50" and revenue["payments"] == 2
    assert {r["channel"]: r["amount"] for r in revenue["by_source"]} == {"telegram": "300000.00",
                                                                        "avito": "150000.50"}


def test_nps_table_of_the_deals_feature_is_used_when_present(dataset) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with Session(dataset) as session:
        from db.models_deals import NpsAnswer, Reminder

        lead_id = session.execute(sa.text("SELECT min(id) FROM leads")).scalar()
        for ref, score in ((1, 10), (2, 6)):
            reminder = Reminder(lead_id=lead_id, kind="nps_payment", ref_id=ref, due_at=utcnow())
            session.add(reminder)
            session.flush()
            assert reminder.id is not None
            session.add(NpsAnswer(lead_id=lead_id, survey_id=reminder.id, score=score, channel="site"))
        session.commit()
        nps = analytics.nps(session, analytics.Period.last_days(30))
    # the table wins over the events fixture (5 event answers are ignored): one promoter, one detractor
    assert nps["source"] == "nps_answers" and nps["responses"] == 2 and nps["score"] == 0.0


async def test_analytics_api(client, dataset) -> None:  # type: ignore[no-untyped-def]
    make_user(dataset)
    headers = {"Authorization": f"Bearer {await token_for(client)}"}
    response = await client.get("/api/v1/admin/analytics", params={"days": "30"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["funnel"]["stages"][0]["count"] == 7 and body["revenue"]["total"] == "450000.50"
    assert body["automation"]["rate"] == 0.5 and body["reply_time"]["count"] == 6
    old = await (await client.get("/api/v1/admin/analytics", params={"from": "2001-01-01", "to": "2001-12-31"},
                                  headers=headers)).json()
    assert old["funnel"]["stages"][0]["count"] == 0 and old["automation"]["rate"] is None
    for params in ({"days": "0"}, {"from": "2020-13-01"}, {"from": "2024-02-01", "to": "2024-01-01"}):
        assert (await client.get("/api/v1/admin/analytics", params=params, headers=headers)).status == 422
    assert (await client.get("/api/v1/admin/analytics")).status == 401
