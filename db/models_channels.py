"""Tables of the channels feature: Avito listings (item → product mapping), the managers' Telegram chat.

- ``avito_items``: one row per Avito listing we have seen; ``product`` is the editable mapping (``product_source``
  "manual" when an admin set it, "detected" when found by keywords in the title).
- ``manager_chat_messages``: every message the bot posted in the managers' chat, with the lead and conversation
  it is about, so a manager's reply to it reaches that client.
- ``manager_updates``: updates from the managers' chat (button presses, replies), persisted before they are
  acknowledged and processed once by a worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from db.models import utcnow


class AvitoItem(SQLModel, table=True):
    __tablename__ = "avito_items"
    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(unique=True)
    title: str = ""
    url: str | None = None
    product: str | None = None  # ai_manager | ai_lawyer | ai_analyst | None (unknown)
    product_source: str | None = None  # manual | detected
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)


class ManagerChatMessage(SQLModel, table=True):
    __tablename__ = "manager_chat_messages"
    __table_args__ = (sa.UniqueConstraint("chat_id", "telegram_message_id", name="uq_manager_chat_message"),)
    id: int | None = Field(default=None, primary_key=True)
    chat_id: str
    telegram_message_id: int = Field(sa_type=sa.BigInteger)
    lead_id: int | None = Field(default=None, foreign_key="leads.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversations.id")
    event: str = ""  # handoff | new_lead | client_message | ...
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)


class ManagerUpdate(SQLModel, table=True):
    __tablename__ = "manager_updates"
    id: int | None = Field(default=None, primary_key=True)
    update_id: str = Field(unique=True)  # Telegram update_id
    chat_id: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    processed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True), nullable=True)
