"""batch_job.partition_start / partition_end: the job's partition set, known to the core

A replay (CLI, admin API, preview) must name partitions of the job's partition set (without
the bounds the API accepted ``2013-13-45``). The core never imports Dagster, so the set is
recorded with the job: ``partitions`` says how keys look (``daily``: ISO dates) and the new
inclusive bounds say where the set starts and ends (NULL: unbounded). ``flights_daily`` gets
2013-01-01..2013-12-31, the ``DailyPartitionsDefinition`` of the code location (a Dagster test
keeps the two equal).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (job_id, first partition, last partition), inclusive.
BOUNDS = [("flights_daily", "2013-01-01", "2013-12-31")]


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    for name in ("partition_start", "partition_end"):
        op.add_column("batch_job", sa.Column(name, sa.String(100), nullable=True),
                      schema=_schema())
    # Typed columns: offline mode (`opsrel db sql`) renders the values as literals.
    batch_job = sa.table("batch_job", sa.column("job_id", sa.String),
                         sa.column("partition_start", sa.String),
                         sa.column("partition_end", sa.String), schema=_schema())
    for job_id, first, last in BOUNDS:
        op.execute(batch_job.update().where(batch_job.c.job_id == job_id)
                   .values(partition_start=first, partition_end=last))


def downgrade() -> None:
    with op.batch_alter_table("batch_job", schema=_schema()) as batch:
        batch.drop_column("partition_end")
        batch.drop_column("partition_start")
