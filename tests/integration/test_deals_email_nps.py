"""Letters of the deals events received by a real SMTP server (aiosmtpd), the NPS survey after the sale, and the
scheduler's deals jobs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from db.models import Conversation, Event, Lead, Payment
from db.models_deals import NpsAnswer
from pipelines.integrate.callbacks import callback_for_text, handle_callback
from pipelines.integrate.dealkit import now_utc
from pipelines.integrate.payments import check_payment
from pipelines.integrate.reminders import NPS_KINDS, send_due
from pipelines.runtime import Runtime
from tests.support.deal_fakes import Fakes, Mailbox
from tests.support.deals import add_action, bot_messages, drain_actions, make_lead, outbox_rows
from workers.periodic import periodic_jobs

pytestmark = pytest.mark.deals_smtp


async def paid_lead(deps: Runtime, fakes: Fakes, *, channel: str = "site") -> tuple[int, int, Payment]:
    lead_id, conversation_id = make_lead(deps.engine, channel=channel)
    add_action(deps.engine, lead_id, conversation_id, "payment", {"package": "optimum"}, "pay")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    with Session(deps.engine) as session:
        payment = session.exec(select(Payment).where(Payment.lead_id == lead_id)).one()
    fakes.yookassa.succeed(payment.provider_id or "")
    await asyncio.to_thread(check_payment, deps, payment.provider_id or "")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    with Session(deps.engine) as session:
        payment = session.exec(select(Payment).where(Payment.lead_id == lead_id)).one()
    return lead_id, conversation_id, payment


async def test_payment_letters_reach_manager_and_client_with_the_invoice(deps: Runtime, fakes: Fakes,
                                                                         mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    await paid_lead(deps, fakes)
    letters = {tuple(rcpt): message for rcpt, message in box.parsed()}
    manager = letters[("boss@voronka.ai",)]
    client = letters[("anna@example.ru",)]
    assert str(manager["Subject"]).startswith("Оплата получена:") and "Анна" in str(manager["Subject"])
    body = client.get_body(("plain",))
    assert body is not None and "Здравствуйте, Анна!" in body.get_content()
    assert "Мы получили оплату" in body.get_content()
    [pdf] = list(client.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF")
    assert (pdf.get_filename() or "").startswith("СЧ-")
    assert len(box.messages) == 2  # a retried action does not send them again
    await asyncio.to_thread(drain_actions, deps)
    assert len(box.messages) == 2


async def test_booking_letters_and_smtp_not_configured(deps: Runtime, fakes: Fakes,
                                                       mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    lead_id, conversation_id = make_lead(deps.engine)
    add_action(deps.engine, lead_id, conversation_id, "booking", {}, "offer")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    slot = bot_messages(deps.engine, conversation_id)[-1].payload["buttons"][0]["callback"].split(":", 1)[1]
    add_action(deps.engine, lead_id, conversation_id, "booking_confirm", {"start": slot}, "pick")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    subjects = sorted(box.subjects())
    assert len(subjects) == 2
    assert subjects[0].startswith("Вы записаны на консультацию") or subjects[1].startswith("Вы записаны")
    assert any(s.startswith("Запись на консультацию: Анна") for s in subjects)
    # without SMTP the letters are dropped and the managers told (through the notify sender) once a day
    deps.settings = deps.settings.model_copy(update={"SMTP_HOST": ""})
    other, other_conversation = make_lead(deps.engine, chat="b")
    add_action(deps.engine, other, other_conversation, "booking_confirm", {"start": slot}, "pick-b")
    add_action(deps.engine, other, None, "crm_sync", {"event": "qualified"}, "crm-b")
    await asyncio.to_thread(drain_actions, deps, other)
    assert len(box.messages) == 2
    smtp_notices = [r for r in outbox_rows(deps.engine, "notify") if r.payload.get("service") == "smtp"]
    assert len(smtp_notices) == 1 and "SMTP_HOST" in smtp_notices[0].payload["summary"]


async def test_nps_survey_after_payment_and_answers(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id, payment = await paid_lead(deps, fakes)
    before = len(bot_messages(deps.engine, conversation_id))
    await asyncio.to_thread(send_due, deps, NPS_KINDS)  # not yet: NPS_DELAY_DAYS after the payment
    assert len(bot_messages(deps.engine, conversation_id)) == before
    later = (payment.paid_at or now_utc()) + timedelta(days=deps.settings.NPS_DELAY_DAYS, minutes=1)
    await asyncio.to_thread(send_due, deps, NPS_KINDS, now=later)
    await asyncio.to_thread(send_due, deps, NPS_KINDS, now=later)
    [survey] = bot_messages(deps.engine, conversation_id)[before:]
    assert "от 0 до 10" in survey.text
    assert [b["callback"] for b in survey.payload["buttons"]] == [f"nps:{n}" for n in range(11)]
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        conversation = session.get(Conversation, conversation_id)
        assert lead is not None and conversation is not None
        low = handle_callback(deps, session, lead, conversation, "nps:4")
        session.commit()
        again = handle_callback(deps, session, lead, conversation, "nps:10")
        session.commit()
    assert low and "менеджер свяжется" in low[0].text
    assert again and "уже учтена" in again[0].text
    with Session(deps.engine) as session:
        assert [a.score for a in session.exec(select(NpsAnswer)).all()] == [4]
        events = session.exec(select(Event).where(Event.kind == "nps_answer")).all()
        assert [e.data["score"] for e in events] == [4] and events[0].data["source"] == "site-lead"
    task = [r.payload for r in outbox_rows(deps.engine, "notify", lead_id) if r.payload["event"] == "nps_low"]
    assert len(task) == 1 and task[0]["score"] == 4


async def test_avito_answers_the_survey_with_a_number(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id, payment = await paid_lead(deps, fakes, channel="avito")
    later = (payment.paid_at or now_utc()) + timedelta(days=deps.settings.NPS_DELAY_DAYS, minutes=1)
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        conversation = session.get(Conversation, conversation_id)
        assert lead is not None and conversation is not None
        assert callback_for_text(session, lead, conversation, "9") is None  # no survey yet: a number is a number
    await asyncio.to_thread(send_due, deps, NPS_KINDS, now=later)
    survey = bot_messages(deps.engine, conversation_id)[-1]
    assert survey.payload["buttons"] == [] and "цифрой от 0 до 10" in survey.text
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        conversation = session.get(Conversation, conversation_id)
        assert lead is not None and conversation is not None
        assert callback_for_text(session, lead, conversation, "9") == "nps:9"
        replies = handle_callback(deps, session, lead, conversation, "nps:9")
        session.commit()
        assert replies and "Спасибо" in replies[0].text
        assert callback_for_text(session, lead, conversation, "9") is None  # answered


def test_deals_jobs_only_enqueue_their_actors(settings) -> None:
    jobs = {job.job_id: (job.actor_name, job.queue, job.seconds) for job in periodic_jobs(settings)}
    assert jobs["deals-payment-poll"] == ("deals.poll_payments", "deals", settings.PAYMENT_POLL_SECONDS)
    assert {jobs[j][0] for j in ("deals-link-expiry", "deals-booking-reminders", "deals-nps-surveys")} == {
        "deals.expire_links", "deals.send_reminders", "deals.send_nps"}


async def test_a_proposal_is_mailed_to_client_and_manager_as_a_pdf(deps: Runtime, fakes: Fakes,
                                                                   mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    lead_id, conversation_id = make_lead(deps.engine)
    add_action(deps.engine, lead_id, conversation_id, "document", {"kind": "proposal", "package": "optimum"}, "kp")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    letters = {tuple(rcpt): message for rcpt, message in box.parsed()}
    client, manager = letters[("anna@example.ru",)], letters[("boss@voronka.ai",)]
    assert "Коммерческое предложение" in str(client["Subject"])
    assert "Анна" in str(manager["Subject"])
    for letter in (client, manager):
        [pdf] = list(letter.iter_attachments())
        assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF")
    await asyncio.to_thread(drain_actions, deps)  # a retried action mails nothing twice
    assert len(box.messages) == 2
