"""channels: Avito item → product mapping, managers' Telegram chat messages and updates

Revision ID: 0005_channels
Revises: 0004_lead_listing
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_channels"
down_revision = "0004_lead_listing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "avito_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(), nullable=False, unique=True),
        sa.Column("title", sa.String(), nullable=False, server_default=""),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("product", sa.String(), nullable=True),
        sa.Column("product_source", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "manager_chat_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("leads.id"), nullable=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("event", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chat_id", "telegram_message_id", name="uq_manager_chat_message"),
    )
    op.create_index("ix_manager_chat_messages_lead_id", "manager_chat_messages", ["lead_id"])
    op.create_table(
        "manager_updates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("update_id", sa.String(), nullable=False, unique=True),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("manager_updates")
    op.drop_index("ix_manager_chat_messages_lead_id", table_name="manager_chat_messages")
    op.drop_table("manager_chat_messages")
    op.drop_table("avito_items")
