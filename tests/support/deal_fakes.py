"""The deals' local fakes together (YooKassa, amoCRM, Google Calendar with a real RSA service account) and an
aiosmtpd mailbox, with the settings pointing our integrations at them. Started by the fixtures in
tests/fixtures/deals.py."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.amocrm_fake import AmoCRMFake
from tests.fakes.gcal_fake import GoogleCalendarFake
from tests.fakes.yookassa_fake import YooKassaFake

GCAL_EMAIL = "voronka@voronka-test.iam.gserviceaccount.com"
CALENDAR_ID = "sales@voronka.ai"
AMO_TOKEN = "amo-test-token"


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


# --- fakes ---------------------------------------------------------------------------------------------------

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
