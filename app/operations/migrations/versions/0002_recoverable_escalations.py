"""Escalations remember whether their alert was queued; alerts can be queued once only.

``escalations.alerted_at`` (indexed) marks an escalation whose "created" alert was queued;
those still NULL after a crash are finished by the recovery (booked or flagged, then alerted).
Every escalation that exists when this runs was alerted in its time, so it gets its creation
time. ``alert_deliveries.dedupe_key`` (UNIQUE) lets a recovered alert be queued again without
going out twice.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("alerted_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_escalations_alerted_at", ["alerted_at"], unique=False)
    op.execute("UPDATE escalations SET alerted_at = created_at")
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint("uq_alert_deliveries_dedupe_key", ["dedupe_key"])


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_constraint("uq_alert_deliveries_dedupe_key", type_="unique")
        batch.drop_column("dedupe_key")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_alerted_at")
        batch.drop_column("alerted_at")
