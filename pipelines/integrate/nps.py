"""The NPS survey after the sale: scheduled after a payment (NPS_DELAY_DAYS) and after a consultation
(NPS_AFTER_CONSULTATION_HOURS after it ends), sent on the client's channel with 0–10 buttons (callbacks
``nps:<n>``; on Avito the client answers with a bare number). Answers are stored once per survey; 0–6 opens a task
for the managers (a "notify" row), every answer is a funnel event ``nps_answer``.
"""

from __future__ import annotations

from datetime import timedelta

from loguru import logger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Booking, Conversation, Lead, Payment
from db.models_deals import NpsAnswer, Reminder
from pipelines.integrate.dealkit import contact_context, latest_conversation, notify_managers, now_utc, send_to_client
from pipelines.integrate.reminder_schedule import NPS_KINDS, schedule
from pipelines.leads import record_event
from pipelines.reply import OutgoingReply
from voronka.settings import Settings

QUESTION = {
    "nps_payment": "Спасибо, что выбрали нас! Оцените, пожалуйста, от 0 до 10: насколько вероятно, что вы "
                   "порекомендуете нас коллегам?",
    "nps_booking": "Спасибо за время на консультации! Оцените, пожалуйста, от 0 до 10: насколько вероятно, что вы "
                   "порекомендуете нас коллегам?",
}
AVITO_HINT = " Ответьте одной цифрой от 0 до 10."
ANSWER_WINDOW = timedelta(days=14)  # a bare number on Avito counts as an answer this long after the survey
LOW_SCORE = 6


def schedule_after_payment(session: Session, settings: Settings, payment: Payment) -> None:
    assert payment.id is not None
    paid = payment.paid_at or now_utc()
    schedule(session, lead_id=payment.lead_id, kind="nps_payment", ref_id=payment.id,
             due_at=paid + timedelta(days=settings.NPS_DELAY_DAYS))


def schedule_after_consultation(session: Session, settings: Settings, booking: Booking) -> None:
    assert booking.id is not None
    schedule(session, lead_id=booking.lead_id, kind="nps_booking", ref_id=booking.id,
             due_at=booking.ends_at + timedelta(hours=settings.NPS_AFTER_CONSULTATION_HOURS))


def survey_reply(kind: str, channel: str) -> OutgoingReply:
    text = QUESTION.get(kind, QUESTION["nps_payment"])
    if channel == "avito":
        return OutgoingReply(text=text + AVITO_HINT)
    return OutgoingReply(text=text, buttons=[{"text": str(n), "callback": f"nps:{n}"} for n in range(11)])


def send_survey(session: Session, reminder: Reminder, lead: Lead) -> list[int]:
    """Called by ``reminders.send_due``; a consultation survey is skipped when the booking was cancelled."""
    if reminder.kind == "nps_booking":
        booking = session.get(Booking, reminder.ref_id)
        if booking is None or booking.status != "confirmed":
            reminder.status = "skipped"
            return []
    conversation = latest_conversation(session, lead.id or 0)
    if conversation is None or lead.blocked:
        reminder.status = "skipped"
        return []
    return send_to_client(session, lead, key=f"nps:{reminder.id}", conversation=conversation,
                          replies=[survey_reply(reminder.kind, conversation.channel)])


def open_survey(session: Session, lead_id: int) -> Reminder | None:
    """The latest survey sent to the lead (answered or not)."""
    return session.exec(select(Reminder).where(Reminder.lead_id == lead_id, col(Reminder.kind).in_(NPS_KINDS),
                                               Reminder.status == "sent")
                        .order_by(col(Reminder.sent_at).desc(), col(Reminder.id).desc())).first()


def awaiting_answer(session: Session, lead_id: int) -> bool:
    """A survey was sent recently and is not answered yet (a bare number is then read as the score)."""
    survey = open_survey(session, lead_id)
    if survey is None or survey.sent_at is None or now_utc() - survey.sent_at > ANSWER_WINDOW:
        return False
    return session.exec(select(NpsAnswer.id).where(NpsAnswer.survey_id == survey.id)).first() is None


def answer(session: Session, lead: Lead, conversation: Conversation | None, score: int) -> list[OutgoingReply]:
    assert lead.id is not None
    if not 0 <= score <= 10:
        return [OutgoingReply(text="Оценка — число от 0 до 10. Попробуйте, пожалуйста, ещё раз.")]
    survey = open_survey(session, lead.id)
    if survey is None or survey.id is None:
        return [OutgoingReply(text="Спасибо! Если захотите что-то рассказать о работе с нами — просто напишите.")]
    try:
        with session.begin_nested():
            session.add(NpsAnswer(lead_id=lead.id, survey_id=survey.id, score=score,
                                  channel=conversation.channel if conversation else None))
            session.flush()
    except IntegrityError:
        return [OutgoingReply(text="Спасибо, ваша оценка уже учтена!")]
    channel = conversation.channel if conversation else lead.channel
    record_event(session, lead_id=lead.id, kind="nps_answer", channel=channel,
                 data={"score": score, "survey": survey.kind, "source": lead.source_tag})
    logger.bind(lead_id=lead.id).info("NPS answer {}", score)
    if score <= LOW_SCORE:
        ctx = contact_context(session, lead)
        notify_managers(session, lead, key=f"notify:nps-low:{survey.id}", event="nps_low", score=score,
                        channel=channel, client_name=ctx["client_name"], phone=ctx["phone"], email=ctx["email"],
                        summary=f"Клиент {ctx['client_name']} поставил оценку {score} из 10. Нужно связаться и "
                                "разобраться, что пошло не так.")
        return [OutgoingReply(text="Спасибо за честную оценку. Жаль, что не всё было хорошо: менеджер свяжется с "
                                   "вами, чтобы разобраться и всё исправить.")]
    if score <= 8:
        return [OutgoingReply(text="Спасибо за оценку! Если подскажете, что нам улучшить, — просто напишите.")]
    return [OutgoingReply(text="Спасибо! Очень рады, что вам понравилось.")]
