"""The real Mailer against a real in-process SMTP server (aiosmtpd); the Russian letters from templates."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from integrations.smtp import EMAIL_EVENTS, Mailer, render_email
from voronka.errors import NotConfigured, PayloadTooLarge, UpstreamError, ValidationError
from voronka.settings import Settings

USER, PASSWORD = "mailer", "s3cret"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
START = datetime(2030, 3, 4, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # scripted answers to the next DATA commands

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                      or envelope.content, login))
        return "250 Message accepted for delivery"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def handler(smtp_server: tuple[Handler, int]) -> Handler:
    smtp_server[0].messages.clear()
    smtp_server[0].data_replies.clear()
    return smtp_server[0]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False,
                              "SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD, "SMTP_FROM": "robot@voronka.ai",
                              "MANAGER_EMAILS": ["boss@voronka.ai", "sales@voronka.ai"]}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_russian_letter_with_pdf_arrives_intact(smtp_server: tuple[Handler, int], handler: Handler) -> None:
    mailer = Mailer(make_settings(smtp_server[1]), sleep=SleepRecorder())
    letter = render_email("payment_succeeded", "client", client_name="Анна Сергеевна", amount=Decimal("15000"),
                          invoice_number="СЧ-2030-0017", product="ИИ-Юрист", agency_name="ООО «Воронка ИИ»")
    await mailer.send(["anna@example.ru", "Олег <oleg@example.ru>"], letter.subject, letter.text, letter.html,
                      [("Счёт СЧ-2030-0017.pdf", PDF, "application/pdf")])
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received.login == USER
    assert received.mail_from == "robot@voronka.ai"
    assert sorted(received.rcpt_tos) == ["anna@example.ru", "oleg@example.ru"]
    assert b"=?utf-8?" in received.raw.split(b"\r\n\r\n", 1)[0].lower()  # headers are RFC 2047-encoded
    message = received.message
    assert message["Subject"] == "Оплата 15\u202f000\u00a0₽ получена — спасибо!"
    assert "ООО «Воронка ИИ»" in message["From"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Здравствуйте, Анна Сергеевна!" in text.get_content()
    assert "по счёту № СЧ-2030-0017 за «ИИ-Юрист»" in text.get_content()
    assert "Здравствуйте, Анна Сергеевна!" in html.get_content()
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("Счёт СЧ-2030-0017.pdf", "application/pdf")]
    assert attachments[0].get_content() == PDF


async def test_manager_notification_goes_to_all_managers(smtp_server: tuple[Handler, int],
                                                         handler: Handler) -> None:
    mailer = Mailer(make_settings(smtp_server[1]))
    await mailer.notify_managers("handoff", client_name="Ирина", channel="telegram",
                                 last_message="Хочу поговорить с человеком <b>срочно</b>")
    received = handler.messages[0]
    assert sorted(received.rcpt_tos) == ["boss@voronka.ai", "sales@voronka.ai"]
    message = received.message
    assert message["Subject"] == "Клиенту нужен менеджер: Ирина (Telegram)"
    html = message.get_body(("html",))
    assert html is not None
    assert "&lt;b&gt;срочно&lt;/b&gt;" in html.get_content()  # the client's text is escaped in HTML


async def test_oversize_attachment_refused_before_sending(smtp_server: tuple[Handler, int],
                                                          handler: Handler) -> None:
    mailer = Mailer(make_settings(smtp_server[1], MAX_PDF_SIZE_MB=1))
    big = b"%PDF" + b"0" * (1024 * 1024)
    with pytest.raises(PayloadTooLarge) as info:
        await mailer.send(["anna@example.ru"], "Договор", "Во вложении договор.", None,
                          [("Договор.pdf", big, "application/pdf")])
    assert "1 МБ" in info.value.message
    assert handler.messages == []
    await mailer.send(["anna@example.ru"], "Договор", "Во вложении договор.", None,
                      [("Договор.pdf", big[: 1024 * 1024], "application/pdf")])
    assert len(handler.messages) == 1


async def test_temporary_refusal_is_retried(smtp_server: tuple[Handler, int], handler: Handler) -> None:
    sleeper = SleepRecorder()
    mailer = Mailer(make_settings(smtp_server[1]), sleep=sleeper)
    handler.data_replies.extend(["451 4.3.0 Try again later", "421 4.3.2 Busy"])
    await mailer.send(["anna@example.ru"], "Напоминание", "Завтра консультация.")
    assert len(handler.messages) == 1
    assert len(sleeper.calls) == 2


async def test_permanent_refusal_and_bad_login_are_final(smtp_server: tuple[Handler, int],
                                                         handler: Handler) -> None:
    sleeper = SleepRecorder()
    handler.data_replies.append("554 5.7.1 Message rejected")
    with pytest.raises(UpstreamError) as info:
        await Mailer(make_settings(smtp_server[1]), sleep=sleeper).send(["a@example.ru"], "Тема", "Текст")
    assert info.value.retryable is False and info.value.status_code == 554
    with pytest.raises(UpstreamError) as info:
        await Mailer(make_settings(smtp_server[1], SMTP_PASSWORD="wrong"), sleep=sleeper).send(
            ["a@example.ru"], "Тема", "Текст")
    assert info.value.retryable is False and info.value.status_code == 535
    assert sleeper.calls == [] and handler.messages == []


async def test_unreachable_server_retried_then_retryable_error() -> None:
    sleeper = SleepRecorder()
    mailer = Mailer(make_settings(free_port()), sleep=sleeper)
    with pytest.raises(UpstreamError) as info:
        await mailer.send(["a@example.ru"], "Тема", "Текст")
    assert info.value.retryable is True
    assert len(sleeper.calls) == 3


async def test_input_checks() -> None:
    mailer = Mailer(make_settings(1))
    with pytest.raises(ValidationError):
        await mailer.send([], "Тема", "Текст")
    with pytest.raises(ValidationError):
        await mailer.send(["victim@example.ru\r\nBcc: all@example.ru"], "Тема", "Текст")
    with pytest.raises(NotConfigured):
        await Mailer(make_settings(1, SMTP_HOST="")).send(["a@example.ru"], "Тема", "Текст")


# --- templates ------------------------------------------------------------------------------------------------

FULL_CONTEXT: dict[str, Any] = {
    "client_name": "Анна", "channel": "avito", "product": "ИИ-Аналитик", "phone": "+7 916 123-45-67",
    "email": "anna@example.ru", "start": START, "amount": Decimal("45000.50"), "job": "crm.create_lead",
    "error": "amoCRM 401: Unauthorized", "attempts": 4, "document_title": "Коммерческое предложение КП-2026-0001",
}


@pytest.mark.parametrize(("event", "audience"), [(e, a) for e, auds in EMAIL_EVENTS.items() for a in auds])
def test_every_letter_renders_in_russian(event: str, audience: str) -> None:
    letter = render_email(event, audience, **FULL_CONTEXT)  # type: ignore[arg-type]
    assert letter.subject and "\n" not in letter.subject
    assert any("а" <= ch <= "я" for ch in letter.subject.lower())
    assert letter.text and "{{" not in letter.text and "None" not in letter.text
    assert "<html" in letter.html
    if audience == "client":
        assert letter.text.startswith("Здравствуйте, Анна!")
    if "start" in EMAIL_EVENTS[event][audience]:
        assert "4 марта 2030, 12:00 (МСК)" in letter.subject


def test_letters_show_what_the_reader_needs() -> None:
    lead = render_email("new_lead", client_name="Анна", channel="avito", product="ИИ-Юрист",
                        phone="+7 916 123-45-67", crm_url="https://agency.amocrm.ru/leads/detail/31000001")
    assert lead.subject == "Новый лид: Анна — ИИ-Юрист (Авито)"
    assert "Телефон: +7 916 123-45-67" in lead.text and "Email" not in lead.text
    assert '<a href="https://agency.amocrm.ru/leads/detail/31000001">' in lead.html
    paid = render_email("payment_succeeded", "manager", client_name="Анна", amount=Decimal("45000.50"))
    assert paid.subject == "Оплата получена: 45\u202f000,50\u00a0₽ — Анна"
    failed = render_email("job_failed", job="payments.poll", error="ЮKassa 500", attempts=4)
    assert "после 4 попыток" in failed.text and "ЮKassa 500" in failed.text
    utc_start = START.astimezone(ZoneInfo("UTC"))
    reminder = render_email("booking_reminder", client_name="Анна", start=utc_start)
    assert "12:00 (МСК)" in reminder.subject  # shown in Moscow time whatever the input zone


def test_missing_required_data_or_unknown_event() -> None:
    with pytest.raises(ValidationError) as info:
        render_email("booking_made", "client", client_name="Анна")
    assert info.value.field == "start"
    with pytest.raises(ValueError):
        render_email("handoff", "client", client_name="Анна", channel="site")
    with pytest.raises(ValueError):
        render_email("no_such_event", client_name="Анна")
