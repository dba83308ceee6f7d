"""Notes on a partition: ``partition_note`` (an operator's note on a job's partition, audited)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

MAX_NOTE_LENGTH = 4000


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "partition_note",
        sa.Column("note_id", big_id, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(100), nullable=False),
        sa.Column("partition_key", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], [f"{schema + '.' if schema else ''}batch_job.job_id"],
                                name=op.f("fk_partition_note_job_id_batch_job")),
        sa.CheckConstraint("length(trim(body)) > 0", name=op.f("ck_partition_note_body_not_blank")),
        sa.CheckConstraint(f"length(body) <= {MAX_NOTE_LENGTH}",
                           name=op.f("ck_partition_note_body_length")),
        sa.CheckConstraint("length(trim(operator_id)) > 0",
                           name=op.f("ck_partition_note_operator_not_blank")),
        sa.PrimaryKeyConstraint("note_id", name=op.f("pk_partition_note")),
        schema=schema,
    )
    op.create_index(op.f("ix_partition_note_job_id_partition_key_created_at"), "partition_note",
                    ["job_id", "partition_key", "created_at"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index(op.f("ix_partition_note_job_id_partition_key_created_at"), "partition_note",
                  schema=schema)
    op.drop_table("partition_note", schema=schema)
