"""Operations tables: admin users (argon2 password hashes) and the admin audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from db.models import utcnow


class AdminUser(SQLModel, table=True):
    __tablename__ = "admin_users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)  # stored lower-case
    password_hash: str  # argon2id
    role: str = Field(default="admin", max_length=16)  # admin | manager
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    last_login_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True), nullable=True)


class AdminAudit(SQLModel, table=True):
    """Who did what in the admin: logins, take-overs, messages, price and knowledge-base edits."""

    __tablename__ = "admin_audit"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    action: str = Field(max_length=48)
    target: str = Field(default="", max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False,
                                 index=True)
