"""Executions (one Dagster run each) and the append-only history of their status changes."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.status import ExecutionStatus, TriggerType
from opsrel_core.persistence.tables.base import BigId, Base, Json, UtcDateTime, in_list, utcnow

EXECUTION_STATUSES = tuple(s.value for s in ExecutionStatus)
# REEXECUTE and RETRY: migration 0010.
TRIGGER_TYPES = tuple(t.value for t in TriggerType)


class BatchExecution(Base):
    """One execution: one Dagster run of the code location (execution_id = run id).

    The primary key makes recording the same execution twice impossible.
    """

    __tablename__ = "batch_execution"
    __table_args__ = (
        sa.CheckConstraint(in_list("status", EXECUTION_STATUSES), name="status"),
        sa.CheckConstraint(in_list("trigger_type", TRIGGER_TYPES), name="trigger_type"),
        sa.CheckConstraint("steps_done >= 0 AND steps_done <= steps_total", name="progress"),
        sa.Index(None, "job_id", "started_at"),
        sa.Index(None, "status"),
        sa.Index(None, "partition_key"),
        sa.Index(None, "error_code"),
        sa.Index(None, "parent_execution_id"),
        sa.Index(None, "created_at", "execution_id"),  # the execution list's order (0007)
        sa.Index(None, "job_id", "partition_key", "created_at", "execution_id"),  # metrics (0015)
        sa.Index(None, "updated_at"),  # metrics: executions ended since the last scrape (0015)
    )
    execution_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    status: Mapped[str] = mapped_column(sa.String(10))
    trigger_type: Mapped[str] = mapped_column(sa.String(10))
    partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    partition_range_start: Mapped[str | None] = mapped_column(sa.String(100))
    partition_range_end: Mapped[str | None] = mapped_column(sa.String(100))
    backfill_id: Mapped[str | None] = mapped_column(sa.String(100))
    run_tags: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    parent_execution_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("batch_execution.execution_id")
    )
    replay_id: Mapped[int | None] = mapped_column(sa.ForeignKey("replay.replay_id"))
    operator_id: Mapped[str | None] = mapped_column(sa.String(100))
    steps_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    steps_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_written: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    error_code: Mapped[str | None] = mapped_column(sa.ForeignKey("error_code.code"))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    failed_asset_key: Mapped[str | None] = mapped_column(sa.String(200))
    failed_partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    stop_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ExecutionEvent(Base):
    """Append-only history of an execution's status changes and progress events.

    ``(execution_id, event_key)`` is unique: the same event applied twice is stored once.
    """

    __tablename__ = "execution_event"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "event_key"),
        sa.CheckConstraint(in_list("to_status", EXECUTION_STATUSES), name="to_status"),
    )
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    event_key: Mapped[str] = mapped_column(sa.String(200))
    from_status: Mapped[str | None] = mapped_column(sa.String(10))
    to_status: Mapped[str] = mapped_column(sa.String(10))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    detail: Mapped[dict[str, Any] | None] = mapped_column(Json)
