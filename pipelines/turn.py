"""The decision for one client message: understand → retrieve → dialog (price inside) → persist → actions → replies.

Everything here runs inside the conversation's transaction (``pipelines.conversation.handle_inbound``). Slow side
effects (documents, bookings, payments, CRM, manager notifications) are not done here: they become outbox rows of
kind ``action`` / ``notify`` that their own actors perform once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from sqlmodel import Session, col, select

from db.models import Brief, Conversation, Lead, Message, Quote, utcnow
from pipelines import leads as lead_ops
from pipelines.commands import parse_command
from pipelines.dialog.engine import decide, expecting_slot
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Decision, DialogInput
from pipelines.integrate.callbacks import callback_for_text, handle_callback
from pipelines.integrate.deals import note_decision
from pipelines.llm_reply import ReplyInput, refine_decision
from pipelines.llm_usage import TaggedLLM, UsageTag
from pipelines.memory import load_history
from pipelines.reply import OutgoingReply, add_outbox
from pipelines.retrieve import retrieve
from pipelines.runtime import Runtime
from pipelines.understand.llm_refine import understand
from pipelines.understand.offline import understand_offline
from pipelines.understand.types import Understanding
from voronka.vocabulary import NO_PRODUCT, Product

CLARIFY_EVENT = "clarify"  # the dialog asked what the client meant (the intent's confidence was too low)

MEDIA_KINDS = ("voice", "image", "file", "video")


@dataclass
class TurnResult:
    replies: list[OutgoingReply]
    notes: dict[str, Any] = field(default_factory=dict)


def media_reply(message: Message) -> OutgoingReply:
    what = {"voice": "голосовые сообщения", "image": "изображения", "file": "файлы", "video": "видео"}.get(
        message.kind, "вложения")
    return OutgoingReply(text=f"Спасибо! К сожалению, я пока не могу разобрать {what}. Напишите, пожалуйста, "
                              "ваш вопрос текстом — отвечу сразу. Если удобнее голосом, менеджер послушает и "
                              "перезвонит.")


def button_label(session: Session, conversation_id: int, callback: str) -> str | None:
    """The text of the button that carried ``callback`` in the last assistant messages of the conversation."""
    recent = session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                Message.direction == "out")
                          .order_by(col(Message.id).desc()).limit(5)).all()
    for row in recent:
        for button in (row.payload or {}).get("buttons", []):
            if button.get("callback") == callback:
                return str(button.get("text") or "") or None
    return None


def understand_text(deps: Runtime, text: str, *, product: str | None, expecting: str | None,
                    usage: UsageTag | None = None) -> Understanding:
    if deps.llm is None:
        return understand_offline(text, current_product=product, expecting=expecting)
    timeout = min(5.0, float(deps.settings.LLM_TIMEOUT_SECONDS))
    llm = TaggedLLM(deps.llm, usage.for_purpose("understand")) if usage is not None else deps.llm
    try:  # on the process's one event loop (voronka.asyncbridge: asyncio.run per call breaks the SDK clients)
        return deps.bridge.run(understand(text, llm=llm, current_product=product, expecting=expecting,
                                          timeout=timeout), timeout=timeout + 1.0)
    except TimeoutError:
        logger.warning("understand: LLM loop overran {}s, offline result kept", timeout)
        return understand_offline(text, current_product=product, expecting=expecting)


def _session_expired(state: DialogState, settings_ttl_days: int) -> bool:
    return state.last_seen is not None and utcnow() - state.last_seen > timedelta(days=settings_ttl_days)


def decide_turn(deps: Runtime, session: Session, *, lead: Lead, conversation: Conversation,
                message: Message) -> TurnResult:
    settings = deps.settings
    assert lead.id is not None and conversation.id is not None and message.id is not None
    log = logger.bind(lead_id=lead.id, channel=conversation.channel, chat_id=conversation.id)
    if message.kind in MEDIA_KINDS:
        return TurnResult(replies=[media_reply(message)])

    brief_row = lead_ops.brief_for(session, lead.id)
    state = DialogState.load(conversation.state)
    if _session_expired(state, settings.SESSION_TTL_DAYS):
        state = DialogState(product=state.product)
    if lead.listing_product and not state.product:
        state.product = Product(lead.listing_product)
    if state.handoff and not lead.manager_hold:  # a manager gave the conversation back
        state.handoff = False
        state.negative_streak = state.miss_streak = 0

    text: str | None = None
    callback: str | None = None
    if message.kind == "callback":
        callback = str((message.payload or {}).get("callback") or message.text)
        if not message.text:  # show the pressed button's label in the history (site, admin)
            message.text = button_label(session, conversation.id, callback) or ""
    elif message.kind == "form":
        # the form's contacts go to the brief and the client card (hashes for one-client matching, CRM qualification)
        lead_ops.save_brief(session, lead, brief_row, lead_ops.merge_form(brief_row.data, message.payload or {}))
        # the contacts now live in the (encrypted) brief and client card, not in the message's plain JSON
        message.payload = lead_ops.scrub_contacts(message.payload or {})
        text = str((message.payload or {}).get("comment") or "").strip() or "Здравствуйте"
    else:
        text = message.text.strip()

    # deals' buttons (slots, payment links, NPS) go first
    deal_callback = callback or callback_for_text(session, lead, conversation, text)
    deal_replies = handle_callback(deps, session, lead, conversation, deal_callback,
                                   message=message) if deal_callback else None
    if deal_replies is not None:
        seen = DialogState.load(conversation.state)  # re-read: the callback's action may have written it
        seen.last_seen = utcnow()
        conversation.state = seen.dump()
        return TurnResult(replies=deal_replies, notes={"intent": "deals_callback"})

    expecting = expecting_slot(state)
    product = brief_row.data.get("product") or state.product
    usage = UsageTag(lead.id, channel=conversation.channel, buffer=[]) if deps.llm is not None else None
    command = parse_command(text)
    if command is not None:  # a command or a deep link is never a slot answer: the dialog answers the command
        understanding = Understanding(product=command.product or product or NO_PRODUCT)
        if command.name == "start" and command.payload:
            lead_ops.record_event(session, lead_id=lead.id, kind="deep_link", channel=conversation.channel,
                                  data={"payload": command.payload[:64], "source": command.source,
                                        "product": command.product})
    else:
        understanding = (understand_text(deps, text, product=product, expecting=expecting, usage=usage) if text
                         else Understanding())
    knowledge = retrieve(deps, session, understanding, text or "")
    rates = lead_ops.rates(session)  # read once per turn: the dialog and the LLM reply use the same price list
    history = load_history(deps, session, lead_id=lead.id, before_id=message.id,
                           limit=settings.MAX_CONTEXT_MESSAGES)
    decision = decide(DialogInput(
        channel=conversation.channel, text=text, callback=callback, understanding=understanding, state=state,
        brief=dict(brief_row.data), history=history, knowledge=knowledge, rates=rates,
        quotes_done=lead.quotes_done, max_quote_recalculations=settings.MAX_QUOTE_RECALCULATIONS,
        now=datetime.now(UTC), working_hours=settings.WORKING_HOURS, clarify_below=settings.NLU_CLARIFY_BELOW))
    if deps.llm is not None:  # the LLM rewrites a knowledge answer; the turn's LLM usage becomes events
        decision = refine_decision(deps, session, decision, ReplyInput(
            channel=conversation.channel, text=text or "", understanding=understanding, knowledge=knowledge,
            history=history, rates=rates, lead_id=lead.id), usage)
    log.info("turn: intent={} product={} emotion={} replies={} actions={}", understanding.intent,
             understanding.product, understanding.emotion, len(decision.replies),
             [a.kind for a in decision.actions])
    note_decision(session, lead=lead, conversation=conversation, message=message, decision=decision)
    apply_decision(session, lead=lead, conversation=conversation, message=message, brief_row=brief_row,
                   decision=decision, last_seen=utcnow())
    return TurnResult(replies=[OutgoingReply(text=r.text, buttons=[{"text": b.text, "callback": b.callback}
                                                                    for b in r.buttons],
                                             attachments=list(r.attachments))
                               for r in decision.replies],
                      notes={"intent": understanding.intent})


def apply_decision(session: Session, *, lead: Lead, conversation: Conversation, message: Message, brief_row: Brief,
                   decision: Decision, last_seen: datetime) -> None:
    """Persist what the dialog decided: state, brief, quote, stage, handoff, and the actions as outbox rows."""
    assert lead.id is not None and message.id is not None
    state = decision.state.model_copy(deep=True)
    state.last_seen = last_seen
    conversation.state = state.dump()
    session.add(conversation)
    if decision.brief_changed or decision.brief != brief_row.data:
        lead_ops.save_brief(session, lead, brief_row, decision.brief)
    if decision.quote is not None:
        session.add(Quote(lead_id=lead.id, brief_version=brief_row.version, data=decision.quote.as_cli_dict()))
        lead.quotes_done += 1
    package = decision.state.package
    if package and package != lead.chosen_package:
        lead.chosen_package = package
    if decision.stage:
        lead_ops.advance_stage(session, lead, decision.stage, channel=conversation.channel)
    if decision.clarified:  # counted by pipelines/analytics.clarifications
        lead_ops.record_event(session, lead_id=lead.id, kind=CLARIFY_EVENT, channel=conversation.channel, data={})
    if decision.handoff:
        lead_ops.hand_off(session, lead, conversation, reason=str(decision.handoff.get("reason")),
                          summary=str(decision.handoff.get("summary", "")), message_id=message.id)
    for index, action in enumerate(decision.actions):
        if action.kind == "handoff":
            continue  # done above
        if action.kind == "quote":
            continue  # stored above
        kind = "document" if action.kind == "document" else "action"  # documents have their own queue
        add_outbox(session, key=f"action:{message.id}:{index}", kind=kind, lead_id=lead.id,
                   conversation_id=conversation.id, channel=conversation.channel,
                   payload={"action": action.kind, "data": action.data})
    session.flush()
    lead_ops.sync_crm_when_qualified(session, lead, channel=conversation.channel)
    lead.updated_at = utcnow()
    session.add(lead)
