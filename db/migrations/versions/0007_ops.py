"""ops: admin users and audit; personal data encrypted at rest (clients.name/phone/email, messages.text)

The personal-data columns become TEXT and every existing plaintext value is encrypted with the current key ring
(ENCRYPTION_KEYS, or the development key derived from JWT_SECRET_KEY). Downgrade decrypts them back.

Revision ID: 0007_ops
Revises: 0006_deals
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_ops"
down_revision = "0006_deals"
branch_labels = None
depends_on = None

ENCRYPTED = (("clients", ("name", "phone", "email")), ("messages", ("text",)))
BATCH = 1000


def _convert(encrypting: bool) -> None:
    from db import crypto

    ring = crypto.keyring()
    bind = op.get_bind()
    for table, columns in ENCRYPTED:
        for column in columns:
            last_id = 0
            while True:
                condition = (f"{column} IS NOT NULL AND {column} {'NOT ' if encrypting else ''}LIKE 'enc1:%'")
                rows = bind.execute(sa.text(
                    f"SELECT id, {column} AS value FROM {table} WHERE id > :last AND {condition} "
                    f"ORDER BY id LIMIT {BATCH}"), {"last": last_id}).all()
                if not rows:
                    break
                for row in rows:
                    value = ring.encrypt(row.value) if encrypting else ring.decrypt(row.value)
                    bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                                 {"v": value, "id": row.id})
                last_id = rows[-1].id


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admin_audit_username", "admin_audit", ["username"])
    op.create_index("ix_admin_audit_created_at", "admin_audit", ["created_at"])
    for table, columns in ENCRYPTED:
        for column in columns:
            op.alter_column(table, column, type_=sa.Text(), existing_nullable=(table == "clients"))
    _convert(encrypting=True)


def downgrade() -> None:
    _convert(encrypting=False)
    for table, columns in ENCRYPTED:
        for column in columns:
            op.alter_column(table, column, type_=sa.String(), existing_nullable=(table == "clients"))
    op.drop_index("ix_admin_audit_created_at", table_name="admin_audit")
    op.drop_index("ix_admin_audit_username", table_name="admin_audit")
    op.drop_table("admin_audit")
    op.drop_table("admin_users")
