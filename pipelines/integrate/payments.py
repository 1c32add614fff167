"""YooKassa payments: our own expiring payment links, invoices that carry them, notifications, polling, success.

* A link is one ``payments`` row: a YooKassa payment for the package's price (or the PREPAYMENT_PERCENT share)
  created with an Idempotence-Key derived from the row's identity (lead, package, amount, attempt) and
  ``metadata.lead_id``. The client gets *our* URL ``/pay/<token>`` (token = row id + HMAC); it redirects to
  YooKassa's confirmation page for PAYMENT_LINK_TTL_HOURS, then shows «Ссылка устарела» and offers a new one.
* An invoice = the links for one (lead, package, amount): at most MAX_PAYMENT_ATTEMPTS links; after that a
  manager is called and the client is told politely.
* Nothing changes on a notification's word: ``check_payment`` reads ``GET /payments/{id}`` and applies that.
  Pending payments are polled on a schedule too. Success is applied once (row lock + status check).

Without YooKassa settings the invoice PDF is issued with bank requisites only and the managers are told.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from decimal import Decimal
from typing import Any

from loguru import logger
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Brief, Conversation, Document, Lead, Outbox, Payment, Stage
from db.models_deals import PaymentNotification
from integrations.smtp import format_rub
from integrations.yookassa import Payment as RemotePayment
from integrations.yookassa import YooKassaClient, YooKassaError
from pipelines.document.context import brief_hash, build_context
from pipelines.document.links import download_url
from pipelines.document.money import to_money
from pipelines.document.render import render_pdf
from pipelines.document.storage import issue_document
from pipelines.integrate import documents, nps
from pipelines.integrate.dealkit import (
    PRICED_BRIEF_KEYS,
    contact_context,
    latest_conversation,
    notify_managers,
    notify_not_configured,
    now_utc,
    package_name,
    package_price,
    queue_action,
    send_to_client,
)
from pipelines.integrate.emails import queue_both
from pipelines.leads import advance_stage, rates, record_event
from pipelines.price.engine import quote as compute_quote
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime
from voronka.errors import NotConfigured, UpstreamError, VoronkaError
from voronka.settings import Settings
from voronka.vocabulary import RECOMMENDED_PACKAGE

POLL_MAX_AGE = timedelta(days=8)  # YooKassa lets a pending payment live about a week
OPEN_STATUSES = ("pending", "expired")


# --- links ------------------------------------------------------------------------------------------------

def _sig(payment_id: int, key: bytes) -> str:
    digest = hmac.new(key, f"pay:{int(payment_id)}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def pay_token(payment_id: int, key: bytes) -> str:
    return f"{int(payment_id)}-{_sig(payment_id, key)}"


def verify_pay_token(token: str, key: bytes) -> int | None:
    """The payment row id of a genuine token, else None."""
    raw_id, _, sig = token.partition("-")
    if not raw_id.isdigit() or not sig or len(raw_id) > 18:
        return None
    return int(raw_id) if hmac.compare_digest(_sig(int(raw_id), key), sig) else None


def pay_url(settings: Settings, payment_id: int) -> str:
    return f"{settings.public_url}/pay/{pay_token(payment_id, settings.link_key)}"


def return_url(settings: Settings) -> str:
    return settings.YOOKASSA_RETURN_URL or f"{settings.public_url}/pay/done"


def idempotence_key(lead_id: int, package: str, amount: Decimal, attempt: int) -> str:
    """Derived from what the payment *is*, so a retried job (even after a crash) resends the same key."""
    return f"voronka-{lead_id}-{package}-{int(to_money(amount) * 100)}-{attempt}"[:64]


def link_valid(payment: Payment) -> bool:
    return (payment.status == "pending" and bool(payment.confirmation_url) and payment.expires_at is not None
            and payment.expires_at > now_utc())


def invoice_attempts(session: Session, lead_id: int, package: str, amount: Decimal) -> list[Payment]:
    return list(session.exec(select(Payment).where(Payment.lead_id == lead_id, Payment.package == package,
                                                   Payment.amount == to_money(amount))
                             .order_by(col(Payment.attempt))).all())


def _with_yookassa(deps: Runtime, body: Any) -> Any:
    async def go() -> Any:
        client = YooKassaClient.from_settings(deps.settings)
        try:
            return await body(client)
        finally:
            await client.close()

    return deps.bridge.run(go())


# --- invoice ------------------------------------------------------------------------------------------------

def issue_invoice(deps: Runtime, session: Session, lead: Lead, package: str,
                  payment: Payment | None) -> Document:
    """The invoice PDF for the package; it carries our payment link (QR + URL) when there is one."""
    assert lead.id is not None
    settings = deps.settings
    brief_row = session.exec(select(Brief).where(Brief.lead_id == lead.id)).one()
    brief = dict(brief_row.data)
    pricing_brief = {k: brief[k] for k in PRICED_BRIEF_KEYS if brief.get(k) is not None}
    result = compute_quote(pricing_brief, rates(session))
    link = pay_url(settings, payment.id) if payment is not None and payment.id is not None else None
    digest = brief_hash(pricing_brief | {"name": brief.get("name"), "company": brief.get("company"),
                                         "payment": payment.id if payment is not None else None}, package, "invoice")

    def render(number: str, version: int) -> bytes:
        context = build_context("invoice", brief=brief, quote=result, package=package, client_name=brief.get("name"),
                                company=brief.get("company"), number=number, version=version, settings=settings,
                                payment_url=link, issued_at=now_utc().date())
        return render_pdf("invoice", context, max_bytes=settings.max_pdf_bytes).data

    document, _created = issue_document(session, lead_id=lead.id, kind="invoice", brief_hash=digest,
                                        documents_dir=settings.documents_dir, render=render)
    return document


def _attachment(deps: Runtime, document: Document) -> dict[str, Any]:
    settings = deps.settings
    assert document.id is not None
    url = download_url(settings.public_url, document.id, settings.link_key, settings.LINK_TTL_HOURS)
    title = f"Счёт на оплату {document.number}" + (f" (версия {document.version})" if document.version > 1 else "")
    return {"kind": "pdf", "name": f"{title}.pdf", "url": url, "document_id": document.id}


def _link_reply(deps: Runtime, channel: str, payment: Payment, document: Document | None,
                intro: str) -> OutgoingReply:
    assert payment.id is not None
    settings = deps.settings
    text = (f"{intro}\nСсылка на оплату ({format_rub(payment.amount)}): {pay_url(settings, payment.id)}\n"
            f"Ссылка действует {settings.PAYMENT_LINK_TTL_HOURS} ч.")
    attachments = []
    if document is not None:
        attachment = _attachment(deps, document)
        if channel == "avito":
            text += f"\nСчёт: {attachment['url']}"
        else:
            text += " Счёт с этой же ссылкой — во вложении."
            attachments.append(attachment)
    return OutgoingReply(text=text, attachments=attachments)


# --- issuing a link -----------------------------------------------------------------------------------------

def _limit_reached(session: Session, lead: Lead, package: str, amount: Decimal, limit: int) -> list[OutgoingReply]:
    ctx = contact_context(session, lead)
    notify_managers(session, lead, key=f"notify:pay-limit:{lead.id}:{package}:{int(amount)}",
                    event="payment_attempts_exhausted", client_name=ctx["client_name"], phone=ctx["phone"],
                    email=ctx["email"], amount=str(amount), package=package,
                    summary=f"Клиент {ctx['client_name']} запросил {limit + 1}-ю ссылку на оплату пакета "
                            f"«{package_name(package)}» ({format_rub(amount)}). Помогите с оплатой вручную.")
    record_event(session, lead_id=lead.id, kind="payment_attempts_exhausted", channel=None,
                 data={"package": package, "amount": str(amount), "source": lead.source_tag})
    return [OutgoingReply(text=f"Ссылку на оплату этого счёта мы выдавали уже {limit} раза — больше выпустить "
                               "автоматически не получится. Я передал вопрос менеджеру: он свяжется с вами в рабочее "
                               "время и поможет с оплатой. Оплатить можно и по реквизитам из счёта.")]


def _without_yookassa(deps: Runtime, session: Session, lead: Lead, channel: str, package: str,
                      amount: Decimal, reason: str) -> list[OutgoingReply]:
    document = issue_invoice(deps, session, lead, package, None)
    attachment = _attachment(deps, document)
    text = (f"Счёт на оплату пакета «{package_name(package)}» ({format_rub(amount)}) готов: оплатить можно по "
            "реквизитам из счёта. Если удобнее картой — менеджер пришлёт ссылку.")
    if channel == "avito":
        return [OutgoingReply(text=text + f"\nСчёт: {attachment['url']}")]
    return [OutgoingReply(text=text, attachments=[attachment])]


def issue_link(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None, *,
               package: str, amount: Decimal | None = None, renew: bool = False) -> list[OutgoingReply]:
    """Give the client a working payment link for the package (a valid one again, or the next attempt)."""
    assert lead.id is not None
    settings = deps.settings
    channel = conversation.channel if conversation else lead.channel
    if amount is None:
        amount = to_money(package_price(session, lead, package) * settings.prepayment_share)
    amount = to_money(amount)
    attempts = invoice_attempts(session, lead.id, package, amount)
    if any(p.status == "succeeded" for p in attempts):
        return [OutgoingReply(text="Этот счёт уже оплачен — спасибо! Если нужна помощь, напишите.")]
    latest = attempts[-1] if attempts else None
    if latest is not None and link_valid(latest):
        document = session.get(Document, latest.invoice_document_id) if latest.invoice_document_id else None
        return [_link_reply(deps, channel, latest, document, "Ваша ссылка на оплату ещё действует.")]
    if latest is not None and latest.status == "pending":
        latest.status = "expired"
        session.add(latest)
    if not settings.yookassa_configured:
        notify_not_configured(session, lead, service="yookassa",
                              message="ЮKassa не настроена (YOOKASSA_SHOP_ID, YOOKASSA_SECRET_KEY): клиенты "
                                      "получают счёт с реквизитами без ссылки на оплату картой.")
        return _without_yookassa(deps, session, lead, channel, package, amount, "not configured")
    attempt = (latest.attempt + 1) if latest else 1
    if attempt > settings.MAX_PAYMENT_ATTEMPTS:
        return _limit_reached(session, lead, package, amount, settings.MAX_PAYMENT_ATTEMPTS)
    key = idempotence_key(lead.id, package, amount, attempt)
    ctx = contact_context(session, lead)
    description = f"{ctx['product'] or 'Услуги'}, пакет «{package_name(package)}»: заявка {lead.id}"
    metadata = {"lead_id": str(lead.id), "package": package, "attempt": str(attempt)}
    try:
        remote: RemotePayment = _with_yookassa(deps, lambda c: c.create_payment(
            amount, description, return_url(settings), metadata, key))
    except UpstreamError as exc:
        if exc.retryable:
            raise  # the action is retried with the same Idempotence-Key: still one payment
        hour = now_utc().strftime("%Y%m%d%H")
        notify_managers(session, lead, key=f"notify:yookassa-refused:{hour}", event="job_failed",
                        job="Создание платежа ЮKassa", error=exc.message,
                        summary="ЮKassa отказала в создании платежа: клиенту выдан счёт с реквизитами.",
                        hint="Проверьте YOOKASSA_SHOP_ID и YOOKASSA_SECRET_KEY в настройках.")
        return _without_yookassa(deps, session, lead, channel, package, amount, exc.message)
    payment = Payment(lead_id=lead.id, package=package, amount=amount, attempt=attempt, idempotence_key=key,
                      provider_id=remote.id, status="pending", confirmation_url=remote.confirmation_url,
                      expires_at=now_utc() + timedelta(hours=settings.PAYMENT_LINK_TTL_HOURS))
    session.add(payment)
    session.flush()
    document = issue_invoice(deps, session, lead, package, payment)
    payment.invoice_document_id = document.id
    session.add(payment)
    record_event(session, lead_id=lead.id, kind="payment_link_issued", channel=channel,
                 data={"payment_id": payment.id, "attempt": attempt, "amount": str(amount), "package": package,
                       "source": lead.source_tag})
    logger.bind(lead_id=lead.id).info("payment link {} issued (attempt {})", payment.id, attempt)
    intro = ("Новая ссылка на оплату готова." if renew or attempt > 1 else
             f"Счёт на оплату пакета «{package_name(package)}» готов.")
    return [_link_reply(deps, channel, payment, document, intro)]


def handle_payment(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                   data: dict[str, Any]) -> list[OutgoingReply]:
    """The "payment" action {"package"}."""
    package = str(data.get("package") or lead.chosen_package or RECOMMENDED_PACKAGE)
    return issue_link(deps, session, lead, conversation, package=package)


def handle_document(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                    data: dict[str, Any]) -> list[OutgoingReply]:
    """The "document" action: an invoice carries the payment link; other kinds go to the documents handler."""
    if str(data.get("kind") or "") != "invoice":
        return documents.handle_document(deps, session, lead, conversation, data)
    return handle_payment(deps, session, lead, conversation, data)


def handle_renew(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                 data: dict[str, Any]) -> list[OutgoingReply]:
    """The "payment_renew" action {"payment_id"}: a new link for the same invoice (same package and amount)."""
    payment = session.get(Payment, int(data.get("payment_id") or 0))
    if payment is None or payment.lead_id != lead.id:
        return [OutgoingReply(text="Не нашёл этот счёт. Напишите, какой пакет хотите оплатить, — пришлю ссылку.")]
    return issue_link(deps, session, lead, conversation, package=payment.package, amount=payment.amount, renew=True)


# --- checking payments ---------------------------------------------------------------------------------------

def _pending_for(session: Session, lead_id: int | None) -> list[tuple[int, str]]:
    if lead_id is None:
        return []
    rows = session.exec(select(Outbox.id, Outbox.kind).where(Outbox.status == "pending",
                                                             Outbox.lead_id == lead_id)).all()
    return [(int(i), str(k)) for i, k in rows if i is not None]


def check_payment(deps: Runtime, provider_id: str, notification_id: int | None = None) -> list[tuple[int, str]]:
    """Read the payment from YooKassa and apply what *it* says; returns outbox rows to dispatch."""
    with session_scope(deps.engine) as session:
        notification = session.get(PaymentNotification, notification_id) if notification_id else None
        if notification is not None and notification.processed_at is not None:
            return []
        known = session.exec(select(Payment.id).where(Payment.provider_id == provider_id)).first()
        if known is None:
            if notification is not None:
                notification.processed_at, notification.outcome = now_utc(), "unknown_payment"
                session.add(notification)
            logger.warning("YooKassa notification for a payment we did not create")
            return []
    try:
        remote: RemotePayment = _with_yookassa(deps, lambda c: c.get_payment(provider_id))
    except NotConfigured:
        logger.warning("YooKassa is not configured: payment {} cannot be checked", provider_id)
        return []
    with session_scope(deps.engine) as session:
        payment = session.exec(select(Payment).where(Payment.provider_id == provider_id).with_for_update()).one()
        lead = session.get(Lead, payment.lead_id)
        assert lead is not None
        outcome = apply_remote(deps, session, payment, lead, remote)
        if notification_id:
            notification = session.get(PaymentNotification, notification_id)
            if notification is not None and notification.processed_at is None:
                claimed = str(notification.event).removeprefix("payment.")
                if claimed != remote.status:
                    outcome = "contradicted"
                    logger.bind(lead_id=lead.id).warning(
                        "notification says {} but YooKassa says {}: notification ignored", claimed, remote.status)
                notification.processed_at, notification.outcome = now_utc(), outcome
                session.add(notification)
        session.flush()
        return _pending_for(session, lead.id)


def apply_remote(deps: Runtime, session: Session, payment: Payment, lead: Lead, remote: RemotePayment) -> str:
    """Bring our row in line with YooKassa's payment (already locked by the caller); returns what happened."""
    log = logger.bind(lead_id=lead.id, payment_id=payment.id)
    if remote.metadata.get("lead_id") != str(payment.lead_id):
        log.error("YooKassa payment metadata does not match our row: ignored")
        return "mismatch"
    if payment.status == "succeeded":
        return "unchanged"
    if remote.status == "succeeded" and remote.paid:
        if to_money(remote.amount) != to_money(payment.amount):
            notify_managers(session, lead, key=f"notify:pay-amount:{payment.id}", event="job_failed",
                            job="Проверка оплаты ЮKassa", error="сумма платежа не совпадает со счётом",
                            summary=f"Платёж {remote.id}: получено {format_rub(remote.amount)}, ожидалось "
                                    f"{format_rub(payment.amount)}. Проверьте вручную.")
            return "amount_mismatch"
        apply_success(deps, session, payment, lead)
        return "applied"
    if remote.status == "canceled" and payment.status in OPEN_STATUSES:
        was_pending = payment.status == "pending"
        payment.status = "canceled"
        session.add(payment)
        record_event(session, lead_id=lead.id, kind="payment_canceled", channel=None,
                     data={"payment_id": payment.id, "reason": remote.cancellation_reason, "source": lead.source_tag})
        if was_pending:
            _offer_new_link(deps, session, lead, payment, key=f"pay-canceled:{payment.id}",
                            text="Оплата по ссылке не прошла.")
        return "applied"
    return "unchanged"


def apply_success(deps: Runtime, session: Session, payment: Payment, lead: Lead) -> None:
    """Paid: thank the client, mark the invoice paid, stage → paid, CRM 142, e-mails, NPS later. Once."""
    assert payment.id is not None and lead.id is not None
    settings = deps.settings
    payment.status, payment.paid_at = "succeeded", now_utc()
    session.add(payment)
    conversation = latest_conversation(session, lead.id)
    channel = conversation.channel if conversation else lead.channel
    advance_stage(session, lead, Stage.PAID, channel=channel)
    record_event(session, lead_id=lead.id, kind="payment_succeeded", channel=channel,
                 data={"payment_id": payment.id, "provider_id": payment.provider_id, "amount": str(payment.amount),
                       "package": payment.package, "source": lead.source_tag})
    send_to_client(session, lead, key=f"paid:{payment.id}", conversation=conversation, replies=[OutgoingReply(
        text=f"Оплата {format_rub(payment.amount)} получена — спасибо! Менеджер свяжется с вами в течение рабочего "
             "дня, чтобы договориться о старте работ.")])
    try:
        full_price = package_price(session, lead, payment.package)
    except (VoronkaError, ValueError):  # the brief no longer prices: the deal is what was paid for
        full_price = payment.amount / settings.prepayment_share
    queue_action(session, lead, key=f"crm:paid:{payment.id}", action="crm_update",
                 data={"event": "paid", "price": str(to_money(full_price)),
                       "text": f"Оплата {format_rub(payment.amount)} получена (ЮKassa {payment.provider_id})"})
    document = session.get(Document, payment.invoice_document_id) if payment.invoice_document_id else None
    ctx = {**contact_context(session, lead), "amount": str(payment.amount), "payment_id": payment.provider_id,
           "invoice_number": document.number if document else None, "documents": bool(document)}
    queue_both(session, lead, key=f"email:payment_succeeded:{payment.id}", event="payment_succeeded", ctx=ctx,
               documents=[document.id] if document and document.id else [])
    nps.schedule_after_payment(session, settings, payment)
    logger.bind(lead_id=lead.id).info("payment {} succeeded", payment.id)


def _offer_new_link(deps: Runtime, session: Session, lead: Lead, payment: Payment, *, key: str,
                    text: str) -> None:
    assert payment.id is not None
    attempts = invoice_attempts(session, lead.id or 0, payment.package, payment.amount)
    if any(p.status == "succeeded" for p in attempts):
        return
    conversation = latest_conversation(session, lead.id or 0)
    channel = conversation.channel if conversation else lead.channel
    if payment.attempt >= deps.settings.MAX_PAYMENT_ATTEMPTS:
        ctx = contact_context(session, lead)
        notify_managers(session, lead, key=f"notify:pay-limit:{lead.id}:{payment.package}:{int(payment.amount)}",
                        event="payment_attempts_exhausted", client_name=ctx["client_name"], phone=ctx["phone"],
                        email=ctx["email"], amount=str(payment.amount), package=payment.package,
                        summary=f"Клиент {ctx['client_name']} не оплатил пакет «{package_name(payment.package)}» "
                                f"({format_rub(payment.amount)}) по последней, {payment.attempt}-й ссылке. "
                                "Свяжитесь с клиентом и помогите с оплатой.")
        replies = [OutgoingReply(text=f"{text} Менеджер свяжется с вами в рабочее время и поможет с оплатой.")]
    elif channel == "avito":
        replies = [OutgoingReply(text=f"{text} Если оплата ещё актуальна — напишите «новая ссылка», пришлю другую.")]
    else:
        replies = [OutgoingReply(text=f"{text} Если оплата ещё актуальна — нажмите «Новая ссылка».",
                                 buttons=[{"text": "Новая ссылка", "callback": f"pay_new:{payment.id}"}])]
    send_to_client(session, lead, key=key, conversation=conversation, replies=replies)


def poll_payments(deps: Runtime) -> list[tuple[int, str]]:
    """Re-read open payments from YooKassa (a lost notification changes nothing)."""
    with session_scope(deps.engine) as session:
        ids = session.exec(select(Payment.provider_id).where(
            col(Payment.status).in_(OPEN_STATUSES), col(Payment.provider_id).is_not(None),
            Payment.created_at > now_utc() - POLL_MAX_AGE).order_by(col(Payment.id))).all()
    rows: list[tuple[int, str]] = []
    for provider_id in ids:
        try:
            rows += check_payment(deps, str(provider_id))
        except (YooKassaError, UpstreamError) as exc:
            logger.warning("polling payment failed ({}): will try on the next round", exc.message)
    return rows


def expire_links(deps: Runtime) -> list[tuple[int, str]]:
    """Links past PAYMENT_LINK_TTL_HOURS become void; the client is offered a new one (or a manager)."""
    written: list[tuple[int, str]] = []
    with session_scope(deps.engine) as session:
        due = session.exec(select(Payment).where(Payment.status == "pending", col(Payment.expires_at) <= now_utc())
                           .with_for_update(skip_locked=True)).all()
        for payment in due:
            lead = session.get(Lead, payment.lead_id)
            payment.status = "expired"
            session.add(payment)
            if lead is None:
                continue
            _offer_new_link(deps, session, lead, payment, key=f"pay-expired:{payment.id}",
                            text="Срок действия ссылки на оплату истёк.")
            session.flush()
            written += _pending_for(session, lead.id)
    return written
