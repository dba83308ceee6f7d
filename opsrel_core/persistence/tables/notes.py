"""Operators' notes on the partitions of a job."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.persistence.tables.base import BigId, Base, UtcDateTime, utcnow

MAX_NOTE_LENGTH = 4000


class PartitionNote(Base):
    """An operator's note on a partition of a job (migration 0022); written with its audit
    record (``ADD_NOTE``), never changed."""

    __tablename__ = "partition_note"
    __table_args__ = (
        sa.CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),
        sa.CheckConstraint(f"length(body) <= {MAX_NOTE_LENGTH}", name="body_length"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
        sa.Index(None, "job_id", "partition_key", "created_at"),
    )
    note_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
