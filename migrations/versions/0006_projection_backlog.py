"""projection_cursor.oldest_pending_at: the ingestion backlog's age

The projection records, after each batch, when the oldest orchestrator event it has not yet
applied happened (NULL when it is caught up); the admin API reports the lag from it, so a
projection falling behind is visible instead of silent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.add_column(
        "projection_cursor",
        sa.Column("oldest_pending_at", sa.DateTime(timezone=True), nullable=True),
        schema=_schema(),
    )


def downgrade() -> None:
    with op.batch_alter_table("projection_cursor", schema=_schema()) as batch:
        batch.drop_column("oldest_pending_at")
