"""deals: YooKassa notifications, reminders/NPS surveys, NPS answers, one confirmed booking per start time

Revision ID: 0006_deals
Revises: 0005_channels
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_deals"
down_revision = "0005_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("remote_ip", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "event", name="uq_payment_notification_event"),
    )
    op.create_table(
        "deal_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref_id", name="uq_deal_reminder_kind_ref"),
    )
    op.create_index("ix_deal_reminders_lead_id", "deal_reminders", ["lead_id"], unique=False)
    op.create_index("ix_deal_reminders_due", "deal_reminders", ["due_at"], unique=False,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "nps_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["survey_id"], ["deal_reminders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lead_id", "survey_id", name="uq_nps_answer_survey"),
    )
    op.create_index("ix_nps_answers_lead_id", "nps_answers", ["lead_id"], unique=False)
    op.create_index("uq_bookings_confirmed_start", "bookings", ["starts_at"], unique=True,
                    postgresql_where=sa.text("status = 'confirmed'"))


def downgrade() -> None:
    op.drop_index("uq_bookings_confirmed_start", table_name="bookings")
    op.drop_index("ix_nps_answers_lead_id", table_name="nps_answers")
    op.drop_table("nps_answers")
    op.drop_index("ix_deal_reminders_due", table_name="deal_reminders")
    op.drop_index("ix_deal_reminders_lead_id", table_name="deal_reminders")
    op.drop_table("deal_reminders")
    op.drop_table("payment_notifications")
