"""lead listing product: the product preselected from the Avito listing a chat is about

Revision ID: 0004_lead_listing
Revises: 0003_pricing
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_lead_listing"
down_revision = "0003_pricing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("listing_product", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("leads", "listing_product")
