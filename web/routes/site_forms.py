"""POST /api/v1/site/leads — the site's brief/contact form.

Body (JSON): ``{"session_id", "name", "phone", "email", "company", "product", "comment", "consent"
[, "client_message_id"]}``. At least one of phone/e-mail; the 152-ФЗ consent must be given. The phone is normalised
to +7XXXXXXXXXX, the e-mail by email-validator. The form is stored as an inbound site message (kind "form", the
fields in its payload) of the visitor's site session — the same session the chat widget uses, so the form and the
chat share one lead (tagged ``site-lead`` by the inbox) — and queued like a chat message. 202 with a thank-you;
422 naming the first wrong field, nothing stored.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

import phonenumbers
from aiohttp import web
from email_validator import EmailNotValidError, validate_email

from db.models import utcnow
from pipelines.channels.site import accept_site_event, form_inbound
from voronka.errors import ValidationError
from voronka.vocabulary import PRODUCTS, product_title, product_titles_listed
from web import keys
from web.jsonutil import json_response
from web.routes.site_chat import CLIENT_ID_RE, read_json, validate_session_id

MAX_NAME = 100
MAX_COMPANY = 200
MAX_COMMENT = 2000
THANK_YOU = ("Спасибо! Заявка получена. Менеджер свяжется с вами в рабочее время (пн–пт 10:00–19:00 МСК). "
             "Если удобнее, продолжите разговор в чате на сайте — ассистент на связи круглосуточно.")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class LeadForm:
    session_id: str
    name: str
    phone: str | None  # +7XXXXXXXXXX
    email: str | None  # normalised
    company: str
    product: str | None  # ai_manager | ai_lawyer | ai_analyst
    comment: str
    client_message_id: str | None

    def summary(self) -> str:
        """The form as one Russian message, the way a visitor would have typed it into the chat."""
        parts = [f"Имя: {self.name}"]
        if self.phone:
            parts.append(f"телефон: {self.phone}")
        if self.email:
            parts.append(f"e-mail: {self.email}")
        if self.company:
            parts.append(f"компания: {self.company}")
        if self.product:
            parts.append(f"продукт: {product_title(self.product)}")
        text = "Заявка с сайта. " + ", ".join(parts) + "."
        if self.comment:
            text += f" Комментарий: {self.comment}"
        return text

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("session_id")
        data.pop("client_message_id")
        return {**data, "consent": True, "consent_at": utcnow().isoformat(), "source": "site_form"}


def _text(body: dict[str, Any], field: str, *, max_length: int, label: str, required: bool = False) -> str:
    value = body.get(field)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{label}: ожидается строка", field=field)
    value = _CONTROL.sub("", value).strip()
    if required and not value:
        raise ValidationError(f"Укажите {label.lower()}", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{label}: не больше {max_length} символов", field=field)
    return value


def normalise_phone(raw: str) -> str:
    """+7XXXXXXXXXX from «8 (915) 123-45-67», «+7 915 1234567», «9151234567»; ValidationError otherwise."""
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException:
        raise ValidationError("Проверьте номер телефона: например, +7 915 123-45-67", field="phone") from None
    if number.country_code != 7 or not phonenumbers.is_valid_number(number):
        raise ValidationError("Проверьте номер телефона: нужен российский номер, например +7 915 123-45-67",
                              field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError("Проверьте e-mail: например, name@company.ru", field="email") from None


def parse_lead_form(body: dict[str, Any]) -> LeadForm:
    """Validate the form; the first wrong field raises ``ValidationError(field=...)``."""
    raw_session = body.get("session_id")
    session_id = validate_session_id(raw_session) if raw_session not in (None, "") else (
        "form-" + secrets.token_urlsafe(16))
    name = _text(body, "name", max_length=MAX_NAME, label="Имя", required=True)
    phone_raw = _text(body, "phone", max_length=40, label="Телефон")
    email_raw = _text(body, "email", max_length=254, label="E-mail")
    if not phone_raw and not email_raw:
        raise ValidationError("Укажите телефон или e-mail, чтобы мы могли ответить", field="phone")
    phone = normalise_phone(phone_raw) if phone_raw else None
    email = normalise_email(email_raw) if email_raw else None
    company = _text(body, "company", max_length=MAX_COMPANY, label="Компания")
    product_raw = body.get("product") or None
    if product_raw is not None and product_raw not in PRODUCTS:
        raise ValidationError(f"Выберите продукт: {product_titles_listed()}", field="product")
    comment = _text(body, "comment", max_length=MAX_COMMENT, label="Комментарий")
    if body.get("consent") is not True:
        raise ValidationError("Нужно согласие на обработку персональных данных", field="consent")
    client_message_id = body.get("client_message_id")
    if client_message_id is not None and (not isinstance(client_message_id, str)
                                          or not CLIENT_ID_RE.match(client_message_id)):
        raise ValidationError("client_message_id: 1–64 символа", field="client_message_id")
    return LeadForm(session_id=session_id, name=name, phone=phone, email=email, company=company,
                    product=product_raw, comment=comment, client_message_id=client_message_id)


async def post_lead(request: web.Request) -> web.Response:
    body = await read_json(request, max_bytes=32 * 1024)
    form = parse_lead_form(body)
    recorded = await accept_site_event(request.app[keys.DB], request.app[keys.ENQUEUER],
                                       form_inbound(form.session_id, form.client_message_id, form.summary(),
                                                    form.payload()))
    return json_response({"message_id": recorded.message_id, "session_id": form.session_id, "message": THANK_YOU},
                         status=202)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/site/leads", post_lead)
