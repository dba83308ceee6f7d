"""error code BAT-011: an alert or API token id that does not exist

The CLI and the admin API say "unknown id" with a catalog code everywhere: executions BAT-002,
replays and result versions BAT-010, and now alerts and API tokens BAT-011.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("BAT-011", "Record not found",
     "The requested alert or API token does not exist.",
     "No alert or API token has this id. List them with `opsrel alerts list` or "
     "`opsrel tokens list` (`GET /admin/alerts`).",
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
