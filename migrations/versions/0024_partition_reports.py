"""Partition reports: a data-quality report is keyed by job and partition key

- ``dq_report.job_id`` / ``partition_key``: the job and the partition (as the job's partitions
  definition spells it, e.g. ``2013-11-03-01:00-0500`` for an hourly job) a report is about.
- ``report_type`` gains PARTITION: the report of a partition whose key is not a day of a daily
  job (hourly, monthly, static keys); a DAILY report is the partition report of a daily job and
  now carries its job and key too.
- The subject CHECK names what each type needs; the UNIQUE constraint on (report_type,
  report_date, replay_id) becomes (report_type, job_id, partition_key, replay_id), so two jobs
  can each have a report of one key.

Existing DAILY reports get ``partition_key`` = their day and ``job_id`` = the job of the
executions their items' results come from, else the catalog's job when it holds exactly one;
otherwise ``job_id`` stays NULL (the report is still found by its day).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

OLD_TYPES = ("DAILY", "REPLAY")
NEW_TYPES = (*OLD_TYPES, "PARTITION")
OLD_SUBJECT = ("(report_type = 'DAILY' AND report_date IS NOT NULL) OR "
               "(report_type = 'REPLAY' AND replay_id IS NOT NULL)")
NEW_SUBJECT = ("(report_type = 'DAILY' AND report_date IS NOT NULL) OR "
               "(report_type = 'PARTITION' AND job_id IS NOT NULL AND partition_key IS NOT NULL) "
               "OR (report_type = 'REPLAY' AND replay_id IS NOT NULL)")
OLD_UNIQUE = ("report_type", "report_date", "replay_id")
NEW_UNIQUE = ("report_type", "job_id", "partition_key", "replay_id")


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _uq(columns: tuple[str, ...]) -> str:
    return "uq_dq_report_" + "_".join(columns)


def _constraints(types: tuple[str, ...], subject: str, old_unique: tuple[str, ...],
                 new_unique: tuple[str, ...]) -> None:
    with op.batch_alter_table("dq_report", schema=_schema()) as batch:
        batch.drop_constraint(op.f(_uq(old_unique)), type_="unique")
        batch.drop_constraint(op.f("ck_dq_report_report_type"), type_="check")
        batch.drop_constraint(op.f("ck_dq_report_subject"), type_="check")
        batch.create_check_constraint("report_type", _in("report_type", types))
        batch.create_check_constraint("subject", subject)
        batch.create_unique_constraint(op.f(_uq(new_unique)), list(new_unique))


def upgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    op.add_column("dq_report", sa.Column("job_id", sa.String(100), nullable=True), schema=schema)
    op.add_column("dq_report", sa.Column("partition_key", sa.String(100), nullable=True),
                  schema=schema)
    day_text = ("to_char(report_date, 'YYYY-MM-DD')" if schema
                else "CAST(report_date AS TEXT)")  # SQLite stores a Date as its ISO text
    op.execute(sa.text(f"UPDATE {prefix}dq_report SET partition_key = {day_text} "
                       "WHERE report_type = 'DAILY'"))
    # The job whose executions produced the report's results; a report with no items (a day
    # without results) takes the catalog's job when the catalog holds only one.
    op.execute(sa.text(
        f"UPDATE {prefix}dq_report SET job_id = (SELECT MIN(e.job_id) FROM {prefix}dq_report_item i "
        f"JOIN {prefix}validation_result r ON r.result_id = i.result_id "
        f"JOIN {prefix}batch_execution e ON e.execution_id = r.execution_id "
        f"WHERE i.report_id = dq_report.report_id) WHERE report_type = 'DAILY'"))
    op.execute(sa.text(
        f"UPDATE {prefix}dq_report SET job_id = (SELECT MIN(job_id) FROM {prefix}batch_job) "
        f"WHERE report_type = 'DAILY' AND job_id IS NULL "
        f"AND (SELECT COUNT(*) FROM {prefix}batch_job) = 1"))
    _constraints(NEW_TYPES, NEW_SUBJECT, OLD_UNIQUE, NEW_UNIQUE)
    op.create_index(op.f("ix_dq_report_job_id_partition_key"), "dq_report",
                    ["job_id", "partition_key"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    # Partition reports have no place in the older schema, nor a second job's report of a day
    # (the older UNIQUE constraint keys a daily report by its day alone): the oldest one stays.
    gone = (f"report_type = 'PARTITION' OR (report_type = 'DAILY' AND EXISTS (SELECT 1 FROM "
            f"{prefix}dq_report o WHERE o.report_type = 'DAILY' AND o.report_date = "
            "dq_report.report_date AND o.report_id < dq_report.report_id))")
    op.execute(sa.text(f"DELETE FROM {prefix}dq_report_item WHERE report_id IN "
                       f"(SELECT report_id FROM {prefix}dq_report WHERE {gone})"))
    op.execute(sa.text(f"DELETE FROM {prefix}dq_report WHERE {gone}"))
    op.drop_index(op.f("ix_dq_report_job_id_partition_key"), "dq_report", schema=schema)
    _constraints(OLD_TYPES, OLD_SUBJECT, NEW_UNIQUE, OLD_UNIQUE)
    with op.batch_alter_table("dq_report", schema=schema) as batch:
        batch.drop_column("partition_key")
        batch.drop_column("job_id")
