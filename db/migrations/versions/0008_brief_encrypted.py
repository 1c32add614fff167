"""briefs.data encrypted at rest (it carries the client's name, phone and e-mail)

Revision ID: 0008_brief_encrypted
Revises: 0007_ops
"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_brief_encrypted"
down_revision = "0007_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from db import crypto

    op.alter_column("briefs", "data", type_=sa.Text(), existing_type=postgresql.JSONB(), existing_nullable=False,
                    postgresql_using="data::text")
    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT id, data FROM briefs WHERE data NOT LIKE 'enc1:%'")).all():
        plain = json.dumps(json.loads(row.data), ensure_ascii=False, separators=(",", ":"))
        bind.execute(sa.text("UPDATE briefs SET data = :v WHERE id = :id"), {"v": crypto.encrypt(plain), "id": row.id})


def downgrade() -> None:
    from db import crypto

    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT id, data FROM briefs WHERE data LIKE 'enc1:%'")).all():
        bind.execute(sa.text("UPDATE briefs SET data = :v WHERE id = :id"), {"v": crypto.decrypt(row.data),
                                                                              "id": row.id})
    op.alter_column("briefs", "data", type_=postgresql.JSONB(), existing_type=sa.Text(), existing_nullable=False,
                    postgresql_using="data::jsonb")
