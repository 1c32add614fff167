"""Core SQLModel tables: clients, leads, conversations, messages (the inbox), briefs, quotes, documents,
payments, bookings, events (audit trail), outbox, failed jobs.

Conventions: ids are bigint identities; times are timezone-aware UTC; free-form data is JSONB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from db.crypto import EncryptedJSON, EncryptedText
from voronka.vocabulary import NO_PRODUCT
from voronka.vocabulary import Channel as Channel  # the values of the channel columns, re-exported
from voronka.vocabulary import Stage as Stage  # the values of leads.stage, re-exported


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False, default: bool = True) -> Any:
    return Field(
        default_factory=utcnow if default else None,
        sa_type=sa.DateTime(timezone=True),
        nullable=nullable,
    )


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_type=JSONB, nullable=False)


class Client(SQLModel, table=True):
    __tablename__ = "clients"
    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, sa_type=EncryptedText)  # personal data: AES-256-GCM at rest
    phone: str | None = Field(default=None, sa_type=EncryptedText)
    email: str | None = Field(default=None, sa_type=EncryptedText)
    phone_hash: str | None = Field(default=None, index=True)
    email_hash: str | None = Field(default=None, index=True)
    created_at: datetime = _ts()


class ClientIdentity(SQLModel, table=True):
    """One client's identity on one channel (Avito user id, Telegram user id, site session id)."""

    __tablename__ = "client_identities"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="clients.id", index=True)
    channel: str
    external_id: str
    created_at: datetime = _ts()


class Lead(SQLModel, table=True):
    __tablename__ = "leads"
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="clients.id", index=True)
    channel: str  # the channel the lead came from
    source_tag: str  # avito-lead | telegram-lead | site-lead
    product: str = NO_PRODUCT
    stage: str = Field(default=Stage.NEW, index=True)
    chosen_package: str | None = None
    manager_hold: bool = False  # a manager holds the conversation: the bot is silent on every channel
    handoff_reason: str | None = None
    blocked: bool = False  # the client blocked the bot (Telegram 403)
    quotes_done: int = 0
    amo_lead_id: int | None = None
    listing_id: str | None = None
    listing_product: str | None = None  # product preselected from the Avito listing the chat is about
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (sa.UniqueConstraint("channel", "external_chat_id", name="uq_conversation_channel_chat"),)
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    channel: str
    external_chat_id: str  # Avito chat id, Telegram chat id, site session id
    state: dict[str, Any] = _json()  # dialog state (what was asked last, counters)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Message(SQLModel, table=True):
    """Every message in and out. Inbound rows are the inbox: ``processed_at`` is set when the pipeline finished."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_message_channel_external"),
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        sa.Index("ix_messages_unprocessed", "created_at", postgresql_where=sa.text(
            "direction = 'in' AND processed_at IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    lead_id: int = Field(foreign_key="leads.id", index=True)
    channel: str
    external_id: str | None = None  # provider's message id / client_message_id; unique per channel
    direction: str  # in | out
    role: str  # client | assistant | manager | system
    kind: str = "text"  # text | callback | voice | image | file | command
    text: str = Field(default="", sa_type=EncryptedText)  # encrypted at rest (db/crypto.py)
    payload: dict[str, Any] = _json()  # buttons, attachments, callback data, media urls
    created_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True, default=False)
    attempts: int = 0


class Brief(SQLModel, table=True):
    __tablename__ = "briefs"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", unique=True)
    # the brief holds the client's name, phone and e-mail: encrypted at rest like the other personal data
    data: dict[str, Any] = Field(default_factory=dict, sa_type=EncryptedJSON, nullable=False)
    version: int = 1
    updated_at: datetime = _ts()


class Quote(SQLModel, table=True):
    __tablename__ = "quotes"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    brief_version: int
    data: dict[str, Any] = _json()  # the packages as the pricing engine computed them
    created_at: datetime = _ts()


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (sa.UniqueConstraint("number", "version", name="uq_document_number_version"),)
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int | None = Field(default=None, foreign_key="leads.id", index=True)
    kind: str  # proposal | contract | invoice
    number: str  # КП-2026-0001
    version: int = 1
    brief_hash: str = ""
    path: str
    sha256: str
    size: int
    created_at: datetime = _ts()


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    invoice_document_id: int | None = Field(default=None, foreign_key="documents.id")
    package: str
    amount: Decimal = Field(sa_type=sa.Numeric(14, 2))
    attempt: int = 1
    idempotence_key: str = Field(unique=True)
    provider_id: str | None = Field(default=None, index=True)
    status: str = "new"  # new | pending | succeeded | canceled | expired
    confirmation_url: str | None = None
    expires_at: datetime | None = _ts(nullable=True, default=False)
    created_at: datetime = _ts()
    paid_at: datetime | None = _ts(nullable=True, default=False)


class Booking(SQLModel, table=True):
    __tablename__ = "bookings"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    starts_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    status: str = "confirmed"  # confirmed | cancelled
    calendar_event_id: str | None = None
    created_at: datetime = _ts()


class Event(SQLModel, table=True):
    """Audit trail and funnel analytics: stage changes, handoffs, payments, with time and source."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int | None = Field(default=None, foreign_key="leads.id", index=True)
    kind: str = Field(index=True)  # stage_changed | handoff | handback | payment | ...
    channel: str | None = None
    data: dict[str, Any] = _json()
    created_at: datetime = _ts()


class Outbox(SQLModel, table=True):
    """A side effect to perform exactly once. ``key`` is unique: writing the same effect twice is a no-op."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    lead_id: int | None = Field(default=None, foreign_key="leads.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversations.id")
    message_id: int | None = Field(default=None, foreign_key="messages.id")  # the outgoing message row, if any
    channel: str | None = None
    kind: str  # message | document | email | crm | ...
    payload: dict[str, Any] = _json()
    status: str = Field(default="pending", index=True)  # pending | sent | failed
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True, default=False)


class FailedJob(SQLModel, table=True):
    """Dead letters: a job that failed for good, linked to its lead."""

    __tablename__ = "failed_jobs"
    id: int | None = Field(default=None, primary_key=True)
    actor: str
    queue: str
    message_id: str  # the broker message id
    args: list[Any] = _json(list)
    lead_id: int | None = Field(default=None, index=True)
    error: str
    created_at: datetime = _ts()
