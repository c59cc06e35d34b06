"""The schema as the service first created it: issued cards, feedback, seen JWT ids.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column("rule_code", sa.String(128)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feedback_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text),
        sa.Column("override_system", sa.String(512)),
        sa.Column("override_code", sa.String(128)),
        sa.Column("user_comment", sa.Text),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_items_card_uuid", "feedback_items", ["card_uuid"])
    op.create_table(
        "seen_tokens",
        sa.Column("iss", sa.String(512), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_seen_tokens_expires_at", "seen_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("seen_tokens")
    op.drop_table("feedback_items")
    op.drop_table("issued_cards")
