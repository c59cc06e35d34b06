"""Who was answered: the issuer on issued cards and feedback; identical feedback stored once.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before this revision keep NULL: they were issued or received without a recorded
    # issuer, and NULL keys never collide in a unique index.
    with op.batch_alter_table("issued_cards") as batch:
        batch.add_column(sa.Column("issuer", sa.String(512)))
    with op.batch_alter_table("feedback_items") as batch:
        batch.add_column(sa.Column("issuer", sa.String(512)))
        batch.add_column(sa.Column("dedup_key", sa.String(64)))
        batch.create_index("ux_feedback_items_dedup_key", ["dedup_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feedback_items") as batch:
        batch.drop_index("ux_feedback_items_dedup_key")
        batch.drop_column("dedup_key")
        batch.drop_column("issuer")
    with op.batch_alter_table("issued_cards") as batch:
        batch.drop_column("issuer")
