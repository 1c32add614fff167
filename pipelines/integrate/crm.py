"""amoCRM sync: one amo lead (with its contact) per our lead, kept up to date on quote, booking and payment.

Actions: "crm_sync" {"event": "qualified"} (from the pipeline) and "crm_update" {"event": "quote" | "booking" |
"booking_cancelled" | "paid" | "note", ...}. Both are idempotent:

* creation happens only while ``lead.amo_lead_id`` is empty, under a row lock on the lead, and the amo id is
  stored in the same transaction as the call's result — a retry or a concurrent action updates instead;
* any update on a lead that has no amo id yet creates it first (so a lead missed while amoCRM was down or the
  token was revoked is created on its next event);
* the brief goes to the amo lead as a note through its own action, so a failing note never repeats the creation.

429 is backed off by the client (Retry-After) and the shared Redis limiter keeps all workers within 7 requests/s;
a longer wait is left to the queue (the action is retried). 401 is final: the managers are told (once an hour)
that the token must be renewed, and the action ends without retries.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from loguru import logger
from sqlmodel import Session, col, select

from db.models import Conversation, Lead, Quote
from integrations.amocrm import STATUS_SUCCESS, AmoCRMClient, AmoRateLimiter, AmoUnauthorized
from pipelines.integrate.dealkit import (
    brief_data,
    contact_context,
    notify_managers,
    notify_not_configured,
    now_utc,
    package_name,
    package_price,
    queue_action,
)
from pipelines.integrate.emails import queue_email
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime
from voronka.errors import NotConfigured, VoronkaError
from voronka.vocabulary import RECOMMENDED_PACKAGE, product_title

BRIEF_LABELS = {"product": "Продукт", "industry": "Отрасль", "users": "Пользователей", "goals": "Задачи",
                "integrations": "Интеграций", "hosting": "Размещение", "sla": "SLA", "deadline": "Срок",
                "company": "Компания", "name": "Имя", "phone": "Телефон", "email": "Email"}


def crm_url(deps: Runtime, amo_lead_id: int | None) -> str | None:
    s = deps.settings
    base = s.AMOCRM_BASE_URL or (f"https://{s.AMOCRM_DOMAIN}" if s.AMOCRM_DOMAIN else "")
    return f"{base.rstrip('/')}/leads/detail/{amo_lead_id}" if base and amo_lead_id else None


def quoted_price(session: Session, lead: Lead) -> Decimal:
    """The chosen package's price (Оптимум when none is chosen) for the current brief; 0 before a quote."""
    package = lead.chosen_package or RECOMMENDED_PACKAGE
    try:
        return package_price(session, lead, package)
    except (VoronkaError, ValueError):
        latest = session.exec(select(Quote).where(Quote.lead_id == lead.id).order_by(col(Quote.id).desc())).first()
        for item in (latest.data.get("packages", []) if latest else []):
            if isinstance(item, dict) and item.get("code") == package and item.get("price") is not None:
                return Decimal(str(item["price"]))
        return Decimal(0)


def brief_note(session: Session, lead: Lead) -> str:
    brief = brief_data(session, lead)
    lines = [f"Бриф из канала «{lead.channel}» (бот «Воронка»):"]
    for key, label in BRIEF_LABELS.items():
        value = brief.get(key)
        if value in (None, "", []):
            continue
        if key == "product":
            value = product_title(value, value)
        lines.append(f"{label}: {value}")
    if lead.chosen_package:
        lines.append(f"Выбранный пакет: {package_name(lead.chosen_package)}")
    return "\n".join(lines)


def _client(deps: Runtime) -> AmoCRMClient:
    """A client for one call; its limiter counts in Redis, shared by every worker (``deps.async_redis``)."""
    return AmoCRMClient.from_settings(deps.settings, limiter=AmoRateLimiter(deps.async_redis))


def _call(deps: Runtime, body: Any) -> Any:
    async def go() -> Any:
        client = _client(deps)
        try:
            return await body(client)
        finally:
            await client.close()

    return deps.bridge.run(go())


def _create(deps: Runtime, session: Session, lead: Lead) -> int:
    ctx = contact_context(session, lead)
    title = f"{ctx['product'] or 'Заявка'}: {ctx['client_name']}"
    price = quoted_price(session, lead)
    settings = deps.settings
    result = _call(deps, lambda c: c.create_lead_complex(
        title, price, [lead.source_tag], {"name": ctx["client_name"], "phone": ctx["phone"], "email": ctx["email"]},
        settings.AMOCRM_PIPELINE_ID or None, settings.AMOCRM_STATUS_ID or None))
    amo_id = int(result["id"])
    lead.amo_lead_id = amo_id  # stored in the same transaction as the creation's result
    session.add(lead)
    session.flush()
    queue_action(session, lead, key=f"crm:note:brief:{lead.id}", action="crm_update",
                 data={"event": "note", "text": brief_note(session, lead)})
    logger.bind(lead_id=lead.id).info("amoCRM lead {} created for our lead", amo_id)
    return amo_id


def _unauthorized(session: Session, lead: Lead, exc: AmoUnauthorized) -> list[OutgoingReply]:
    hour = now_utc().strftime("%Y%m%d%H")
    notify_managers(session, lead, key=f"notify:amocrm-401:{hour}", event="job_failed", job="Синхронизация с amoCRM",
                    error=exc.message, summary="amoCRM отклонил токен доступа (401): сделки не создаются.",
                    hint="Выпустите новый долгосрочный токен в amoCRM и задайте AMOCRM_ACCESS_TOKEN.")
    logger.bind(lead_id=lead.id).error("amoCRM rejected the token (401)")
    return []


def handle_crm(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
               data: dict[str, Any]) -> list[OutgoingReply]:
    """Both "crm_sync" and "crm_update"; never replies to the client."""
    event = str(data.get("event") or "qualified")
    if event == "qualified":
        _new_lead_email(deps, session, lead)
    if not deps.settings.amocrm_configured:
        notify_not_configured(session, lead, service="amocrm",
                              message="amoCRM не настроен (AMOCRM_DOMAIN/AMOCRM_BASE_URL и AMOCRM_ACCESS_TOKEN): "
                                      "сделки в CRM не создаются, лиды видны только в «Воронке».")
        return []
    session.refresh(lead, with_for_update=True)  # one creation per lead even with concurrent actions
    try:
        if lead.amo_lead_id is None:
            _create(deps, session, lead)  # carries the current price already
            if event not in ("qualified", "quote"):
                # Anything else is a separate action: a failure there must not roll the creation back.
                digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
                queue_action(session, lead, key=f"crm:after-create:{lead.id}:{digest}", action="crm_update",
                             data=data)
            return []
        amo_id = lead.amo_lead_id
        if event in ("qualified", "quote"):
            _call(deps, lambda c: c.update_lead(amo_id, price=quoted_price(session, lead)))
        elif event == "paid":
            amount = data.get("price")
            price = Decimal(str(amount)) if amount is not None else quoted_price(session, lead)
            _call(deps, lambda c: c.update_lead(amo_id, price=price, status_id=STATUS_SUCCESS))
            _call(deps, lambda c: c.add_note(amo_id, str(data.get("text") or "Оплата получена")))
        elif event in ("booking", "booking_cancelled", "note") and data.get("text"):
            _call(deps, lambda c: c.add_note(amo_id, str(data["text"])))
    except AmoUnauthorized as exc:
        return _unauthorized(session, lead, exc)
    except NotConfigured as exc:
        notify_not_configured(session, lead, service="amocrm", message=exc.message)
    return []


def _new_lead_email(deps: Runtime, session: Session, lead: Lead) -> None:
    """The manager's «new lead» letter once the lead is qualified (Avito leads get theirs from the channel)."""
    if lead.channel == "avito":
        return
    ctx = contact_context(session, lead)
    price = quoted_price(session, lead)
    queue_email(session, lead, key=f"email:new_lead:{lead.id}", event="new_lead", audience="manager",
                ctx={**ctx, "channel": lead.channel, "price": str(price) if price else None,
                     "summary": brief_note(session, lead).split("\n", 1)[-1].replace("\n", "; ")})
