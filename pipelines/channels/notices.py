"""What managers read: a "notify" outbox row → a message for the managers' Telegram chat and an e-mail.

Every notice about a lead names the lead, the channel, the client's contacts and a link to the conversation, and
carries the buttons «Взять диалог» / «Вернуть боту». A manager replies to it (or to a forwarded client message)
to write to the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from db.models import Client, Conversation, Lead, Message, Outbox
from db.models_channels import AvitoItem
from pipelines.channels.avito import chat_url
from pipelines.dialog import texts
from pipelines.leads import brief_for
from voronka.vocabulary import channel_in_text, product_title

TAKE = "mgr:take:{lead_id}"
BACK = "mgr:back:{lead_id}"
QUOTE_LIMIT = 1500
EMAIL_EVENTS = ("handoff", "new_lead", "job_failed")
REPLY_HINT = "Ответьте на это сообщение (Reply) — ответ уйдёт клиенту в его канал."


@dataclass
class Notice:
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    email_event: str | None = None
    email_context: dict[str, Any] = field(default_factory=dict)


def manager_buttons(lead_id: int) -> list[list[tuple[str, str]]]:
    return [[("Взять диалог", TAKE.format(lead_id=lead_id)), ("Вернуть боту", BACK.format(lead_id=lead_id))]]


def conversation_link(conversation: Conversation | None, public_url: str) -> str | None:
    if conversation is None:
        return None
    if conversation.channel == "avito":
        return chat_url(conversation.external_chat_id)
    if conversation.channel == "telegram":
        return f"tg://user?id={conversation.external_chat_id}"
    return None


def _quote(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT].rstrip() + "…"


def _lead_context(session: Session, lead: Lead) -> dict[str, Any]:
    client = session.get(Client, lead.client_id)
    brief = brief_for(session, lead.id).data if lead.id is not None else {}
    name = (client.name if client else None) or brief.get("name") or f"Клиент лида #{lead.id}"
    product = brief.get("product") or lead.product
    return {"client_name": name, "phone": (client.phone if client else None) or brief.get("phone"),
            "email": (client.email if client else None) or brief.get("email"),
            "product": product_title(product)}


def _last_client_text(session: Session, lead_id: int) -> str:
    row = session.exec(select(Message).where(Message.lead_id == lead_id, Message.direction == "in")
                       .order_by(col(Message.id).desc()).limit(1)).first()
    return row.text if row is not None else ""


def build_notice(session: Session, outbox: Outbox, conversation: Conversation | None, public_url: str) -> Notice:
    payload = outbox.payload or {}
    event = str(payload.get("event") or "notice")
    lead = session.get(Lead, outbox.lead_id) if outbox.lead_id else None
    channel = conversation.channel if conversation is not None else (outbox.channel or (lead.channel if lead else ""))
    channel_name = channel_in_text(channel, channel or "—")
    link = conversation_link(conversation, public_url)
    ctx = _lead_context(session, lead) if lead is not None else {}
    head_lead = f"лид #{lead.id}, {channel_name}" if lead is not None else channel_name
    lines: list[str] = []
    email_event: str | None = None
    email_ctx: dict[str, Any] = {}

    if event == "handoff":
        lines.append(f"🔔 Нужен менеджер — {head_lead}")
        summary = str(payload.get("summary") or "").strip()
        reason = str(payload.get("reason") or "")
        lines.append(summary or f"Причина: {texts.HANDOFF_REASONS.get(reason, reason)}.")
        lines.append("Бот в этом диалоге молчит, пока менеджер не вернёт его кнопкой «Вернуть боту».")
        email_event = "handoff"
        email_ctx = {**ctx, "channel": channel, "reason": texts.HANDOFF_REASONS.get(reason, reason),
                     "last_message": _quote(_last_client_text(session, lead.id)) if lead and lead.id else None,
                     "conversation_url": link}
    elif event == "new_lead":
        tag = payload.get("tag") or (lead.source_tag if lead else "")
        lines.append(f"🆕 Новый лид — {head_lead}" + (f" (тег {tag})" if tag else ""))
        listing = payload.get("listing_title")
        if not listing and lead is not None and lead.listing_id:
            item = session.exec(select(AvitoItem).where(AvitoItem.item_id == lead.listing_id)).first()
            listing = item.title if item is not None and item.title else None
        if listing:
            lines.append(f"Объявление: {listing}")
        if ctx.get("product"):
            lines.append(f"Продукт: {ctx['product']}")
        first = str(payload.get("text") or "")
        if first:
            lines.append(f"Первое сообщение: «{_quote(first)}»")
        email_event = "new_lead"
        email_ctx = {**ctx, "channel": channel, "summary": _quote(first) if first else None,
                     "conversation_url": link}
    elif event == "client_message":
        lines.append(f"💬 Сообщение клиента — {head_lead} (диалог у менеджера)")
        lines.append(f"«{_quote(str(payload.get('text') or ''))}»" if payload.get("text") else
                     f"[{payload.get('kind') or 'вложение'}]")
        if payload.get("media_url"):
            lines.append(f"Файл: {payload['media_url']}")
    elif event == "job_failed":
        lines.append(f"⚠️ Сбой фоновой задачи — {head_lead}")
        job = str(payload.get("action") or payload.get("job") or "задача")
        error = str(payload.get("error") or payload.get("reason") or "неизвестная ошибка")
        lines.append(f"Задача: {job}\nОшибка: {_quote(error)}")
        email_event = "job_failed"
        email_ctx = {"job": job, "error": _quote(error),
                     "object_id": f"лид #{lead.id}" if lead is not None else None}
    elif event == "delivery_failed":
        lines.append(f"⚠️ Сообщение клиенту не доставлено — {head_lead}")
        if payload.get("text"):
            lines.append(f"Текст: «{_quote(str(payload['text']))}»")
        lines.append(f"Ошибка: {payload.get('error') or 'неизвестная'}. Свяжитесь с клиентом сами.")
        email_event = "job_failed"
        email_ctx = {"job": f"доставка сообщения ({channel_name})", "error": str(payload.get("error") or "—"),
                     "object_id": f"лид #{lead.id}" if lead is not None else None,
                     "hint": "Свяжитесь с клиентом напрямую."}
    elif event == "blocked":
        lines.append(f"⛔ Клиент заблокировал бота — {head_lead}. Сообщения в этот чат больше не отправляются.")
    elif event == "hint":
        return Notice(text=str(payload.get("text") or ""))
    elif event == "manager_action":
        who = payload.get("by") or "Менеджер"
        action = "взял(а) диалог — бот молчит" if payload.get("action") == "take" else \
            "вернул(а) диалог боту — бот снова отвечает"
        lines.append(f"{who} {action} ({head_lead}).")
        return Notice(text="\n".join(lines))
    else:
        lines.append(f"ℹ️ {payload.get('text') or event} — {head_lead}")

    if ctx and event != "client_message" and not (event == "handoff" and payload.get("summary")):
        contacts = ", ".join(str(ctx[k]) for k in ("client_name", "phone", "email") if ctx.get(k))
        lines.append(f"Клиент: {contacts}")
    if link:
        lines.append(("Чат на Авито: " if channel == "avito" else "Открыть чат: ") + link)
    if lead is not None and lead.id is not None:
        lines.append(REPLY_HINT)
    buttons = manager_buttons(lead.id) if lead is not None and lead.id is not None else []
    return Notice(text="\n".join(lines), buttons=buttons, email_event=email_event, email_context=email_ctx)
