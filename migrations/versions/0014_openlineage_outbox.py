"""lineage_event and lineage_event_attempt: the outbox of OpenLineage run events

Each execution's OpenLineage run events (START, then COMPLETE, FAIL or ABORT) are written in the
transaction that records what they report, and sent by the lineage dispatcher to the configured
endpoint with retries; every attempt is kept. Nothing is written while no endpoint is configured.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    op.create_table(
        "lineage_event",
        sa.Column("event_id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(10), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event_type IN ('START', 'COMPLETE', 'FAIL', 'ABORT')",
                           name=op.f("ck_lineage_event_event_type")),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'RETRY', 'FAILED')",
                           name=op.f("ck_lineage_event_status")),
        sa.ForeignKeyConstraint(["execution_id"], [prefix + "batch_execution.execution_id"],
                                name=op.f("fk_lineage_event_execution_id_batch_execution")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_lineage_event")),
        sa.UniqueConstraint("execution_id", "event_type",
                            name=op.f("uq_lineage_event_execution_id_event_type")),
        schema=schema,
    )
    op.create_index(op.f("ix_lineage_event_status_next_attempt_at"), "lineage_event",
                    ["status", "next_attempt_at"], unique=False, schema=schema)
    op.create_table(
        "lineage_event_attempt",
        sa.Column("attempt_id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", _BIG_ID, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], [prefix + "lineage_event.event_id"],
                                name=op.f("fk_lineage_event_attempt_event_id_lineage_event")),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_lineage_event_attempt")),
        schema=schema,
    )
    op.create_index(op.f("ix_lineage_event_attempt_event_id"), "lineage_event_attempt",
                    ["event_id"], unique=False, schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index(op.f("ix_lineage_event_attempt_event_id"), table_name="lineage_event_attempt",
                  schema=schema)
    op.drop_table("lineage_event_attempt", schema=schema)
    op.drop_index(op.f("ix_lineage_event_status_next_attempt_at"), table_name="lineage_event",
                  schema=schema)
    op.drop_table("lineage_event", schema=schema)
