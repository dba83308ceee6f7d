"""The catalogs: batch jobs with every partition key in order, and the error codes.

The application registers its jobs (``services.batch_jobs.BatchJobCatalog.register``, from the
domains' declarations); the data migrations load the error-code catalog.
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain import error_codes
from opsrel_core.persistence.tables.base import SEVERITIES, Base, Json, UtcDateTime, in_list, utcnow

ERROR_CATEGORIES = error_codes.CATEGORIES


class BatchJob(Base):
    """A batch job of the catalog: a named selection of assets run per partition."""

    __tablename__ = "batch_job"
    job_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    asset_selection: Mapped[list[str]] = mapped_column(Json)
    partitions: Mapped[str] = mapped_column(sa.String(50))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The partition set's inclusive bounds (migration 0008); NULL: unbounded on that side.
    partition_start: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    partition_end: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    # The partition deadline (migration 0019, ``domain.deadlines``): day D must have an active
    # version this many seconds after it ends, on the clock of this IANA timezone; NULL: none.
    deadline_seconds: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    deadline_timezone: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class BatchJobPartition(Base):
    """One partition key of a job, at its place in the job's order (migration 0023); written
    by ``BatchJobCatalog.register`` from the application's partitions definition."""

    __tablename__ = "batch_job_partition"
    __table_args__ = (sa.UniqueConstraint("job_id", "partition_key"),)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    partition_key: Mapped[str] = mapped_column(sa.String(100))


class ErrorCode(Base):
    """One entry of the error-code catalog."""

    __tablename__ = "error_code"
    __table_args__ = (
        sa.CheckConstraint(in_list("category", ERROR_CATEGORIES), name="category"),
        sa.CheckConstraint(in_list("severity", SEVERITIES), name="severity"),
        sa.Index(None, "category"),
    )
    code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(200))
    user_message: Mapped[str] = mapped_column(sa.Text)
    operator_message: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(10))
    retryable: Mapped[bool] = mapped_column(sa.Boolean)
    auto_alert: Mapped[bool] = mapped_column(sa.Boolean)
    # What an operator does first for this code, shown in alert messages (migration 0017).
    operator_action: Mapped[str] = mapped_column(sa.Text, server_default="")
