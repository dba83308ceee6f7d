"""batch_execution (created_at, execution_id) index: the admin API's execution list order

``GET /executions`` pages newest first by ``(created_at, execution_id)`` with a keyset cursor.
Without an index on that order every page sorted the whole table (benchmark B4: about 0.5 s a page
at 1,000,000 executions on PostgreSQL); with it a page reads its rows from the index in order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.create_index(
        op.f("ix_batch_execution_created_at_execution_id"), "batch_execution",
        ["created_at", "execution_id"], unique=False, schema=_schema(),
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_batch_execution_created_at_execution_id"), table_name="batch_execution",
        schema=_schema(),
    )
