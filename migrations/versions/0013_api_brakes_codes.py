"""error codes BAT-013 (an alert acknowledged by another operator) and BAT-014 (an operator's
limit of pending replays reached)

The admin API and the CLI answer a second acknowledgement by another operator with a conflict
naming who acknowledged, and refuse a replay beyond an operator's limit of pending replays, each
with a catalog code.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("BAT-013", "Alert already acknowledged",
     "Another operator has already acknowledged this alert.",
     "The alert was acknowledged by another operator first (the message names who and when); "
     "nothing was recorded. Talk to them, or see `opsrel alerts list` / `GET /admin/alerts`.",
     "INFO", False, False),
    ("BAT-014", "Too many pending replays",
     "You have too many replays pending; the request was not started.",
     "The operator already has as many replays pending or running (REQUESTED, RUNNING or "
     "STOPPING) as OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR allows. Wait for them to end "
     "(`opsrel replay list --status RUNNING`, `opsrel replay status ID --wait`) or stop one, "
     "then ask again. Nothing was recorded.",
     "WARNING", True, False),
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
