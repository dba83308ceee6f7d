"""The batch-job catalog comes from the domains' declarations: the seeded ``flights_daily`` row goes

Migration 0002 seeded the example's job (``flights_daily``) and 0008 and 0019 gave it its bounds
and its deadline. The application registers every job it declares (``opsrel db upgrade`` after
migrating, ``opsrel run`` and the replay commands before they run, the code location at load:
``opsrel_dagster.registration.register_jobs``), so a core migration no longer names a job of a
domain: a database where the job has never been used loses the seeded row, and the next
registration writes the job as its declaration says.

A database with history keeps the row untouched: any row that names the job (an execution, a
replay, a registered partition key, a note, by foreign key; a report, an alert or a silence, by
name) keeps it. The downgrade puts the row back as 0002, 0008 and 0019 left it, unless the job
is in the catalog.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

JOB_ID = "flights_daily"
# The row as 0002 (name, description, assets, partitions), 0008 (bounds) and 0019 (deadline)
# left it; a literal copy, as every data migration keeps its own.
SEEDED = {
    "name": "NYC flights daily pipeline",
    "description": "SOURCE raw_flights -> SNAPSHOT flights_snapshot -> TRANSFORM clean_flights -> "
                   "AGGREGATION carrier_daily_stats -> RESULTS ontime_performance, "
                   "delay_explanation, delay_simulation; daily partitions 2013-01-01..2013-12-31.",
    "asset_selection": ["raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
                        "ontime_performance", "delay_explanation", "delay_simulation"],
    "partitions": "daily",
    "partition_start": "2013-01-01",
    "partition_end": "2013-12-31",
    "deadline_seconds": 6 * 3600,
    "deadline_timezone": "America/New_York",
}
# Every table whose rows name a job: by foreign key to batch_job, then by name alone.
REFERENCING_TABLES = ("batch_execution", "replay", "batch_job_partition", "partition_note",
                      "dq_report", "alert", "alert_silence")


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    unused = " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {prefix}{table} r WHERE r.job_id = '{JOB_ID}')"
        for table in REFERENCING_TABLES)
    op.execute(sa.text(f"DELETE FROM {prefix}batch_job WHERE job_id = '{JOB_ID}' AND {unused}"))


def downgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    batch_job = sa.table(
        "batch_job", sa.column("job_id", sa.String), sa.column("name", sa.String),
        sa.column("description", sa.Text), sa.column("asset_selection", sa.Text),
        sa.column("partitions", sa.String), sa.column("is_active", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("partition_start", sa.String), sa.column("partition_end", sa.String),
        sa.column("deadline_seconds", sa.Integer), sa.column("deadline_timezone", sa.String),
        schema=schema)
    # A JSON literal renders in offline mode (`opsrel db sql`) as a cast string.
    selection: sa.ColumnElement = sa.literal(json.dumps(SEEDED["asset_selection"]), sa.Text)
    if schema:
        selection = sa.cast(selection, postgresql.JSONB)
    row = sa.select(
        sa.literal(JOB_ID), sa.literal(SEEDED["name"]), sa.literal(SEEDED["description"]),
        selection, sa.literal(SEEDED["partitions"]), sa.true(), sa.func.current_timestamp(),
        sa.literal(SEEDED["partition_start"]), sa.literal(SEEDED["partition_end"]),
        sa.literal(SEEDED["deadline_seconds"]), sa.literal(SEEDED["deadline_timezone"]),
    ).where(sa.text(f"NOT EXISTS (SELECT 1 FROM {prefix}batch_job WHERE job_id = '{JOB_ID}')"))
    op.execute(batch_job.insert().from_select(
        ["job_id", "name", "description", "asset_selection", "partitions", "is_active",
         "created_at", "partition_start", "partition_end", "deadline_seconds",
         "deadline_timezone"], row))
