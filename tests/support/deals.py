"""Helpers for the deals tests: a lead with a brief, the worker's action loop run in-process, the local fakes
(YooKassa, amoCRM, Google Calendar with a real RSA service account, an aiosmtpd server) and their settings."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Brief, Client, Conversation, Lead, Message, Outbox
from pipelines.integrate.dispatch import run_action
from pipelines.runtime import Runtime
from tests.fakes.amocrm_fake import AmoCRMFake
from tests.fakes.gcal_fake import GoogleCalendarFake
from tests.fakes.yookassa_fake import YooKassaFake

GCAL_EMAIL = "voronka@voronka-test.iam.gserviceaccount.com"
CALENDAR_ID = "sales@voronka.ai"
AMO_TOKEN = "amo-test-token"
BRIEF = {"product": "ai_lawyer", "users": 40, "integrations": 0, "hosting": "cloud", "sla": "standard",
         "deadline": "standard", "name": "Анна", "phone": "+79161234567", "email": "anna@example.ru",
         "industry": "Юридическая фирма"}


def make_lead(engine: Engine, *, channel: str = "site", chat: str = "chat-1", brief: dict[str, Any] | None = None,
              package: str | None = "optimum") -> tuple[int, int]:
    """A qualified lead with its client, brief and conversation; returns (lead id, conversation id)."""
    data = dict(BRIEF if brief is None else brief)
    with Session(engine, expire_on_commit=False) as session:
        client = Client(name=data.get("name"), phone=data.get("phone"), email=data.get("email"))
        session.add(client)
        session.flush()
        assert client.id is not None
        lead = Lead(client_id=client.id, channel=channel, source_tag=f"{channel}-lead", product=data["product"],
                    stage="quoted", chosen_package=package)
        session.add(lead)
        session.flush()
        assert lead.id is not None
        session.add(Brief(lead_id=lead.id, data=data, version=2))
        conversation = Conversation(lead_id=lead.id, channel=channel, external_chat_id=chat)
        session.add(conversation)
        session.commit()
        assert conversation.id is not None
        return lead.id, conversation.id


def add_action(engine: Engine, lead_id: int, conversation_id: int | None, action: str, data: dict[str, Any],
               key: str) -> int:
    with Session(engine) as session:
        row = Outbox(key=key, lead_id=lead_id, conversation_id=conversation_id, channel="site", kind="action",
                     payload={"action": action, "data": data})
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def drain_actions(deps: Runtime, lead_id: int | None = None, *, rounds: int = 20) -> list[str]:
    """What the worker does: run every pending action row (and those they add) until none is left.

    Returns the action names run. A failing action is retried like the queue would (up to MAX_RETRIES)."""
    done: list[str] = []
    for _ in range(rounds):
        with Session(deps.engine) as session:
            query = select(Outbox).where(Outbox.kind == "action", Outbox.status == "pending")
            if lead_id is not None:
                query = query.where(Outbox.lead_id == lead_id)
            rows = session.exec(query.order_by(col(Outbox.id))).all()
        if not rows:
            return done
        for row in rows:
            assert row.id is not None
            try:
                run_action(deps, row.id)
            except Exception as exc:  # the queue would retry it: so does the next round
                logger.info("action {} failed, retried next round: {}", row.payload.get("action"), exc)
                done.append(f"failed:{row.payload.get('action')}")
            done.append(str(row.payload.get("action")))
    raise AssertionError(f"actions keep coming: {done[-10:]}")


def bot_messages(engine: Engine, conversation_id: int) -> list[Message]:
    with Session(engine) as session:
        return list(session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.direction == "out").order_by(col(Message.id))).all())


def outbox_rows(engine: Engine, kind: str, lead_id: int | None = None) -> list[Outbox]:
    with Session(engine) as session:
        query = select(Outbox).where(Outbox.kind == kind)
        if lead_id is not None:
            query = query.where(Outbox.lead_id == lead_id)
        return list(session.exec(query.order_by(col(Outbox.id))).all())


# --- SMTP ------------------------------------------------------------------------------------------------

@dataclass
class Mailbox:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[tuple[list[str], EmailMessage]]:
        found = []
        for rcpt, raw in self.messages:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append((rcpt, message))
        return found

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for _, m in self.parsed()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


# --- fakes ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def credentials_json(key: rsa.RSAPrivateKey, token_uri: str) -> str:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "client_email": GCAL_EMAIL, "private_key": pem,
                       "private_key_id": "kid-1", "token_uri": token_uri})


@dataclass
class Fakes:
    yookassa: YooKassaFake
    amo: AmoCRMFake
    gcal: GoogleCalendarFake
    credentials: str

    def env(self, smtp_port: int | None = None) -> dict[str, str]:
        """Settings (as environment values) pointing every integration at the fakes."""
        values = {
            "YOOKASSA_API_URL": self.yookassa.url, "YOOKASSA_SHOP_ID": self.yookassa.shop_id,
            "YOOKASSA_SECRET_KEY": self.yookassa.secret_key,
            "AMOCRM_BASE_URL": self.amo.url, "AMOCRM_ACCESS_TOKEN": AMO_TOKEN,
            "GOOGLE_CALENDAR_CREDENTIALS": self.credentials, "GOOGLE_API_URL": self.gcal.api_url,
            "GOOGLE_CALENDAR_ID": CALENDAR_ID,
            "BOOKING_WORK_DAYS": "1,2,3,4,5,6,7", "BOOKING_WORK_HOURS": "00:00-23:00", "BOOKING_MIN_NOTICE_HOURS": "2",
        }
        if smtp_port:
            values.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_STARTTLS": "false",
                           "SMTP_FROM": "robot@voronka.ai", "MANAGER_EMAILS": "boss@voronka.ai"})
        return values

    def settings_update(self, smtp_port: int | None = None) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.env(smtp_port))
        values["BOOKING_WORK_DAYS"] = values["BOOKING_WORK_DAYS"].split(",")
        values["BOOKING_MIN_NOTICE_HOURS"] = 2
        if smtp_port:
            values.update(SMTP_PORT=smtp_port, SMTP_STARTTLS=False, MANAGER_EMAILS=["boss@voronka.ai"])
        return values


@pytest.fixture
async def fakes(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[Fakes]:
    yookassa = YooKassaFake()
    amo = AmoCRMFake(token=AMO_TOKEN)
    gcal = GoogleCalendarFake(public_key=rsa_key.public_key(), client_email=GCAL_EMAIL, calendar_id=CALENDAR_ID)
    await asyncio.gather(yookassa.start(), amo.start(), gcal.start())
    try:
        yield Fakes(yookassa, amo, gcal, credentials_json(rsa_key, gcal.token_uri))
    finally:
        await asyncio.gather(yookassa.close(), amo.close(), gcal.close())
