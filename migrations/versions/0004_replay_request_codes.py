"""error codes for replay requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("BAT-009", "Replay request invalid",
     "The replay request was refused.",
     "The replay names an unknown job, an empty or reversed range, or partitions outside it. "
     "Nothing was recorded or launched; correct the request and send it again.",
     "WARNING", False, False),
    ("BAT-010", "Replay not found",
     "The requested replay does not exist.",
     "No replay (or result version) has this id. Check the id in `GET /admin/batch/executions` "
     "or the replay list.",
     "INFO", False, False),
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
