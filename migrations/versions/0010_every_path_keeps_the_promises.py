"""Every path keeps the promises: attribution, explicit replay keys, set-aside runs

- ``batch_execution.trigger_type`` also takes ``REEXECUTE`` and ``RETRY``: a Dagster
  re-execution or automatic retry is its own execution, recorded as what it is.
- ``replay.partition_keys``: the exact keys a replay runs (its plan). A range or full request
  that lists partitions runs those and nothing in between; NULL on replays recorded before.
- ``result_version.inactive_reason``: why the activation gate left a version inactive (a
  blocking check did not run, a stop was requested, the run was not attributed).
- ``projection_failure``: a run whose projection raised, set aside and retried with backoff so
  that it never holds back the others.
- Error codes BAT-012 (a partition already has a run in flight) and SYS-004 (a run could not be
  recorded after repeated attempts).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_TRIGGERS = ("MANUAL", "BACKFILL", "SENSOR", "SCHEDULE", "CLI", "REPLAY")
NEW_TRIGGERS = (*OLD_TRIGGERS, "REEXECUTE", "RETRY")

# (code, title, user_message, operator_message, severity, retryable, auto_alert)
ERROR_CODES = [
    ("BAT-012", "Partition busy",
     "This partition is already being recomputed; the request was not started.",
     "Another run or replay of this job and partition is in flight (READY, RUNNING or a "
     "requested replay). Wait for it to end (`opsrel replay status ID --wait`, "
     "`opsrel executions show RUN_ID`) or stop it, then ask again. Nothing was recorded.",
     "WARNING", True, False),
    ("SYS-004", "Run could not be recorded",
     "A batch run could not be recorded in the operations database; its results are not in "
     "service yet.",
     "Projecting this Dagster run into the ops schema kept failing; it was set aside and is "
     "retried with backoff while every other run is recorded. See `opsrel sync` or "
     "`GET /admin/ingestion` (set_aside) for the run id and the error; fix the cause (for "
     "example a run record Dagster cannot read) and run `opsrel sync`.",
     "ERROR", True, True),
]


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _codes() -> sa.Table:
    return sa.Table(
        "error_code", sa.MetaData(schema=_schema()),
        sa.Column("code", sa.String), sa.Column("category", sa.String),
        sa.Column("title", sa.String), sa.Column("user_message", sa.Text),
        sa.Column("operator_message", sa.Text), sa.Column("severity", sa.String),
        sa.Column("retryable", sa.Boolean), sa.Column("auto_alert", sa.Boolean),
    )


def _set_triggers(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("batch_execution", schema=_schema()) as batch:
        batch.drop_constraint(op.f("ck_batch_execution_trigger_type"), type_="check")
        batch.create_check_constraint("trigger_type", _in("trigger_type", values))


def upgrade() -> None:
    schema = _schema()
    _set_triggers(NEW_TRIGGERS)
    op.add_column("replay", sa.Column("partition_keys", sa.JSON().with_variant(
        sa.dialects.postgresql.JSONB(), "postgresql"), nullable=True), schema=schema)
    op.add_column("result_version", sa.Column("inactive_reason", sa.Text(), nullable=True),
                  schema=schema)
    op.create_table(
        "projection_failure",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(20), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.CheckConstraint("attempts >= 1", name=op.f("ck_projection_failure_attempts_positive")),
        sa.ForeignKeyConstraint(["error_code"], [f"{schema + '.' if schema else ''}error_code.code"],
                                name=op.f("fk_projection_failure_error_code_error_code")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_projection_failure")),
        schema=schema,
    )
    op.create_index(op.f("ix_projection_failure_next_attempt_at"), "projection_failure",
                    ["next_attempt_at"], schema=schema)
    op.bulk_insert(_codes(), [
        {"code": c, "category": c.split("-")[0], "title": t, "user_message": u,
         "operator_message": o, "severity": s, "retryable": r, "auto_alert": a}
        for c, t, u, o, s, r, a in ERROR_CODES
    ])


def downgrade() -> None:
    schema = _schema()
    # Executions recorded as re-executions or retries keep their rows as MANUAL runs.
    execution = sa.table("batch_execution", sa.column("trigger_type", sa.String), schema=schema)
    op.execute(execution.update().where(execution.c.trigger_type.in_(["REEXECUTE", "RETRY"]))
               .values(trigger_type="MANUAL"))
    _set_triggers(OLD_TRIGGERS)
    op.drop_index(op.f("ix_projection_failure_next_attempt_at"), table_name="projection_failure",
                  schema=schema)
    op.drop_table("projection_failure", schema=schema)
    with op.batch_alter_table("result_version", schema=schema) as batch:
        batch.drop_column("inactive_reason")
    with op.batch_alter_table("replay", schema=schema) as batch:
        batch.drop_column("partition_keys")
    codes = _codes()
    op.execute(codes.delete().where(codes.c.code.in_([c[0] for c in ERROR_CODES])))
