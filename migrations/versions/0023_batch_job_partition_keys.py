"""Every partition key of a job, in its order: ``batch_job_partition``

The application registers each job's keys as its partitions definition lists them
(``BatchJobCatalog.register``), so the core checks and expands keys of any kind (hourly with a
repeated or a skipped hour, monthly, static) without knowing how they are made. A job without
rows keeps the daily rules (``domain/partitions.py``).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "batch_job_partition",
        sa.Column("job_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("partition_key", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], [f"{schema + '.' if schema else ''}batch_job.job_id"],
                                name=op.f("fk_batch_job_partition_job_id_batch_job")),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_batch_job_partition")),
        sa.UniqueConstraint("job_id", "partition_key",
                            name=op.f("uq_batch_job_partition_job_id_partition_key")),
        schema=schema,
    )


def downgrade() -> None:
    op.drop_table("batch_job_partition", schema=_schema())
