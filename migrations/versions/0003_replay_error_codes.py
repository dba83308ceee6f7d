"""error codes for result versions, replay and audit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("BAT-006", "No upstream version",
     "The batch could not find the data it depends on.",
     "An input asset partition has no active result version and was not materialized in the same "
     "run. Materialize the upstream asset for the partition (or the whole chain) first.",
     "ERROR", False, True),
    ("BAT-007", "Replay reason required",
     "This result already exists; re-running it needs a recorded reason.",
     "The partition already has an active result. Re-run it as a replay (`opsrel replay` or the "
     "admin API), or add the launch tags opsrel/operator and opsrel/reason in the Dagster UI.",
     "WARNING", False, False),
    ("BAT-008", "Operator and reason required",
     "The action was refused because it was not attributed.",
     "A manual action needs a non-blank operator id and reason; nothing was changed.",
     "WARNING", False, False),
]


def _table() -> sa.Table:
    schema = "ops" if op.get_context().dialect.name == "postgresql" else None
    return sa.Table(
        "error_code", sa.MetaData(schema=schema),
        sa.Column("code", sa.String), sa.Column("category", sa.String),
        sa.Column("title", sa.String), sa.Column("user_message", sa.Text),
        sa.Column("operator_message", sa.Text), sa.Column("severity", sa.String),
        sa.Column("retryable", sa.Boolean), sa.Column("auto_alert", sa.Boolean),
    )


def upgrade() -> None:
    op.bulk_insert(_table(), [
        {"code": c, "category": c.split("-")[0], "title": t, "user_message": u,
         "operator_message": o, "severity": s, "retryable": r, "auto_alert": a}
        for c, t, u, o, s, r, a in ERROR_CODES
    ])


def downgrade() -> None:
    table = _table()
    op.execute(table.delete().where(table.c.code.in_([c[0] for c in ERROR_CODES])))
