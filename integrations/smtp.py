"""Outgoing mail (contract: shared/contracts/smtp.md): ``Mailer`` sends, ``render_email`` builds the letters.

Letters are Jinja2 templates in ``templates/email/<event>.<audience>.txt`` with a ``subject`` and a ``body``
block; the HTML part is the same text in ``templates/email/_layout.html`` (escaped, paragraphs, links), so
each letter is written once. ``EMAIL_EVENTS`` lists the events, their audiences and required context keys.
Send from a worker only (never from a request handler).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

import aiosmtplib
import jinja2
from loguru import logger
from markupsafe import Markup, escape

from integrations.http import RetryPolicy, Sleep, call_with_retries
from voronka import paths
from voronka.errors import NotConfigured, PayloadTooLarge, UpstreamError, ValidationError
from voronka.settings import Settings
from voronka.vocabulary import channel_in_text

SERVICE = "smtp"
TEMPLATES_DIR = paths.TEMPLATES_DIR / "email"
Audience = Literal["manager", "client"]
Attachment = tuple[str, bytes, str]  # (filename, content, mime type such as "application/pdf")

# event → audience → context keys the template cannot do without
EMAIL_EVENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "new_lead": {"manager": ("client_name", "channel")},
    "booking_made": {"manager": ("client_name", "start"), "client": ("client_name", "start")},
    "booking_cancelled": {"manager": ("client_name", "start"), "client": ("client_name", "start")},
    "booking_reminder": {"manager": ("client_name", "start")},
    "payment_succeeded": {"manager": ("client_name", "amount"), "client": ("client_name", "amount")},
    "handoff": {"manager": ("client_name", "channel")},
    "job_failed": {"manager": ("job", "error")},
    "document_issued": {"manager": ("client_name", "document_title", "channel"),
                        "client": ("client_name", "document_title")},
}

MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)»]")


class RenderedEmail(NamedTuple):
    subject: str
    text: str
    html: str


# --- rendering ---------------------------------------------------------------------------------------------

def format_rub(value: Decimal | int | float | str) -> str:
    """15000 → «15 000 ₽», 15000.5 → «15 000,50 ₽» (narrow no-break spaces between thousands)."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    whole, cents = divmod(abs(amount), 1)
    digits = f"{int(whole):,}".replace(",", "\u202f")
    sign = "-" if amount < 0 else ""
    if cents:
        return f"{sign}{digits},{int(cents * 100):02d}\u00a0₽"
    return f"{sign}{digits}\u00a0₽"


def format_datetime(value: datetime, tz: str = "Europe/Moscow") -> str:
    """An aware datetime → «4 марта 2030, 12:00 (МСК)» in ``tz``."""
    if value.tzinfo is None:
        raise ValueError("datetimes in letters must be timezone-aware")
    local = value.astimezone(ZoneInfo(tz))
    label = "МСК" if tz == "Europe/Moscow" else tz
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M} ({label})"


def format_channel(value: str) -> str:
    return channel_in_text(value)


@lru_cache(maxsize=4)
def _environment(directory: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory), autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False, undefined=jinja2.Undefined)
    env.filters.update(rub=format_rub, dt=format_datetime, channel=format_channel)
    return env


def one_line(text: str) -> str:
    """Collapse ASCII whitespace and line breaks (keeps the no-break spaces inside amounts)."""
    return re.sub(r"[ \t\r\n\f\v]+", " ", text).strip()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _text_to_html(text: str) -> list[Markup]:
    """Paragraphs of escaped text with line breaks and clickable links."""
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append(Markup(linked.replace("\n", "<br>\n")))
    return paragraphs


def agency_context(settings: Settings) -> dict[str, str]:
    """The agency's name and contacts, for the letters' signature."""
    return {"agency_name": settings.AGENCY_NAME, "agency_phone": settings.AGENCY_PHONE,
            "agency_email": settings.AGENCY_EMAIL}


def render_email(event: str, audience: Audience = "manager", *, templates_dir: Path | None = None,
                 **ctx: Any) -> RenderedEmail:
    """``(subject, text, html)`` of the letter for ``event`` to ``audience`` (Russian).

    Raises ``ValueError`` for an unknown event/audience and ``ValidationError`` when a required context key
    (see ``EMAIL_EVENTS``) is missing or empty.
    """
    audiences = EMAIL_EVENTS.get(event)
    if audiences is None or audience not in audiences:
        raise ValueError(f"no e-mail template for event {event!r} and audience {audience!r}")
    missing = [key for key in audiences[audience] if ctx.get(key) in (None, "")]
    if missing:
        raise ValidationError(f"Для письма {event}/{audience} не хватает данных: {', '.join(missing)}",
                              field=missing[0])
    env = _environment(str(templates_dir or TEMPLATES_DIR))
    template = env.get_template(f"{event}.{audience}.txt")
    context = template.new_context(dict(ctx))
    subject = one_line("".join(template.blocks["subject"](context)))
    text = _tidy("".join(template.blocks["body"](context)))
    html_env = env.overlay(autoescape=True)
    html = html_env.get_template("_layout.html").render(
        subject=subject, paragraphs=_text_to_html(text), action_url=ctx.get("action_url"),
        action_label=ctx.get("action_label"), agency_name=ctx.get("agency_name"))
    return RenderedEmail(subject, text, html)


# --- sending ------------------------------------------------------------------------------------------------

def _address(value: str, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValidationError("Недопустимый адрес электронной почты", field=field)
    _, address = parseaddr(value)
    if not address or "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValidationError("Недопустимый адрес электронной почты", field=field)
    return value.strip()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(400 <= r.code < 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500
    return isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError))


class Mailer:
    """Sends letters through ``SMTP_HOST``: STARTTLS per ``SMTP_STARTTLS`` (implicit TLS on port 465), login
    when ``SMTP_USER`` is set, retries with backoff for connection problems and 4xx answers."""

    def __init__(self, settings: Settings, *, sleep: Sleep = asyncio.sleep, timeout: float = 30.0,
                 policy: RetryPolicy | None = None) -> None:
        self._settings = settings
        self._sleep = sleep
        self._timeout = timeout
        self._policy = policy or RetryPolicy(max_retries=settings.MAX_RETRIES, base_delay=2.0, max_delay=30.0)

    @property
    def configured(self) -> bool:
        return bool(self._settings.SMTP_HOST)

    @property
    def manager_emails(self) -> list[str]:
        return list(self._settings.MANAGER_EMAILS)

    def build_message(self, to: Sequence[str], subject: str, text: str, html: str | None = None,
                      attachments: Iterable[Attachment] = ()) -> EmailMessage:
        """A UTF-8 multipart letter; raises ``ValidationError`` / ``PayloadTooLarge`` for bad input."""
        recipients = [_address(address, "to") for address in to]
        if not recipients:
            raise ValidationError("Не указан ни один получатель письма", field="to")
        settings = self._settings
        sender = _address(settings.SMTP_FROM, "SMTP_FROM")
        message = EmailMessage()
        message["From"] = formataddr((settings.AGENCY_NAME, sender)) if settings.AGENCY_NAME else sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = one_line(subject)
        message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
        message.set_content(text, charset="utf-8")
        if html:
            message.add_alternative(html, subtype="html", charset="utf-8")
        limit = settings.max_pdf_bytes
        for filename, content, mime in attachments:
            if len(content) > limit:
                raise PayloadTooLarge(
                    f"Вложение «{filename}» больше {settings.MAX_PDF_SIZE_MB} МБ — письмо не отправлено",
                    field="attachments")
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(content, maintype=maintype or "application",
                                   subtype=subtype or "octet-stream", filename=filename)
        return message

    async def send(self, to: Sequence[str], subject: str, text: str, html: str | None = None,
                   attachments: Iterable[Attachment] = ()) -> str:
        """Send one letter; returns its Message-ID. Raises ``NotConfigured``, ``ValidationError``,
        ``PayloadTooLarge`` or ``UpstreamError(service="smtp", retryable=...)``."""
        settings = self._settings
        if not settings.SMTP_HOST:
            raise NotConfigured("Почта не настроена: задайте SMTP_HOST")
        message = self.build_message(to, subject, text, html, list(attachments))
        implicit_tls = settings.SMTP_PORT == 465

        async def attempt() -> None:
            try:
                errors, _ = await aiosmtplib.send(
                    message, hostname=settings.SMTP_HOST, port=settings.SMTP_PORT,
                    username=settings.SMTP_USER or None, password=settings.SMTP_PASSWORD or None,
                    use_tls=implicit_tls, start_tls=False if implicit_tls else settings.SMTP_STARTTLS,
                    timeout=self._timeout,
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                code = getattr(exc, "code", None)
                raise UpstreamError(f"Почтовый сервер не принял письмо: {type(exc).__name__} {code or ''}",
                                    service=SERVICE, retryable=_retryable(exc),
                                    status_code=code if isinstance(code, int) else None) from exc
            if errors:
                logger.warning("SMTP: {} of {} recipient(s) refused", len(errors), len(to))

        try:
            await call_with_retries(attempt, what="SMTP send", policy=self._policy, sleep=self._sleep)
        except UpstreamError as error:
            if not error.retryable:
                logger.warning("SMTP send rejected: {}", error.message)
            raise
        return str(message["Message-ID"])

    async def send_event(self, event: str, audience: Audience, to: Sequence[str],
                         attachments: Iterable[Attachment] = (), **ctx: Any) -> str:
        """Render ``event`` for ``audience`` (with the agency's contacts) and send it."""
        letter = render_email(event, audience, **{**agency_context(self._settings), **ctx})
        return await self.send(to, letter.subject, letter.text, letter.html, attachments)

    async def notify_managers(self, event: str, attachments: Iterable[Attachment] = (), **ctx: Any) -> str:
        if not self._settings.MANAGER_EMAILS:
            raise NotConfigured("Не заданы адреса менеджеров: MANAGER_EMAILS")
        return await self.send_event(event, "manager", self._settings.MANAGER_EMAILS, attachments, **ctx)

