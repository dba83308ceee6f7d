"""Late partitions: a job's partition deadline in the catalog, error code BAT-015

- ``batch_job.deadline_seconds`` / ``deadline_timezone``: the partition of day D must have an
  active result version ``deadline_seconds`` after the partition ends (local midnight after D) in
  ``deadline_timezone`` (IANA name); NULL seconds: the job declares no deadline. ``flights_daily``
  gets 6 hours in America/New_York (the example's airports): day D by D+1 06:00 New York time.
- ``BAT-015`` (partition late): raised once per overdue partition by the late-partition check,
  resolved when a version of the partition becomes active.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# (job_id, seconds after the partition ends, timezone)
DEADLINES = [("flights_daily", 6 * 3600, "America/New_York")]

# (code, title, user_message, operator_message, severity, retryable, auto_alert, operator_action)
ERROR_CODES = [
    ("BAT-015", "Partition late",
     "A partition has no active result past its deadline.",
     "The partition has no active result version although its deadline (declared with the job) "
     "has passed: its input never arrived, or its run did not start or did not succeed. The alert "
     "resolves by itself when a version of the partition becomes active.",
     "WARNING", False, True,
     "Check whether the partition's input arrived (the landing folder) and whether a run of the "
     "partition is failed or still queued (`opsrel executions list`); deliver the input or run "
     "the day (`opsrel replay single DAY --reason \"...\"`)."),
]


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _error_code_table() -> sa.Table:
    return sa.Table(
        "error_code", sa.MetaData(schema=_schema()),
        sa.Column("code", sa.String), sa.Column("category", sa.String),
        sa.Column("title", sa.String), sa.Column("user_message", sa.Text),
        sa.Column("operator_message", sa.Text), sa.Column("severity", sa.String),
        sa.Column("retryable", sa.Boolean), sa.Column("auto_alert", sa.Boolean),
        sa.Column("operator_action", sa.Text),
    )


def upgrade() -> None:
    schema = _schema()
    op.add_column("batch_job", sa.Column("deadline_seconds", sa.Integer(), nullable=True),
                  schema=schema)
    op.add_column("batch_job", sa.Column("deadline_timezone", sa.String(64), nullable=True),
                  schema=schema)
    batch_job = sa.table("batch_job", sa.column("job_id", sa.String),
                         sa.column("deadline_seconds", sa.Integer),
                         sa.column("deadline_timezone", sa.String), schema=schema)
    for job_id, seconds, timezone in DEADLINES:
        op.execute(batch_job.update().where(batch_job.c.job_id == job_id)
                   .values(deadline_seconds=seconds, deadline_timezone=timezone))
    op.bulk_insert(_error_code_table(), [
        {"code": c, "category": c.split("-")[0], "title": t, "user_message": u,
         "operator_message": o, "severity": s, "retryable": r, "auto_alert": a,
         "operator_action": action}
        for c, t, u, o, s, r, a, action in ERROR_CODES
    ])


def downgrade() -> None:
    table = _error_code_table()
    op.execute(table.delete().where(table.c.code.in_([c[0] for c in ERROR_CODES])))
    with op.batch_alter_table("batch_job", schema=_schema()) as batch:
        batch.drop_column("deadline_timezone")
        batch.drop_column("deadline_seconds")
