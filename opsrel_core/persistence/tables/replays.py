"""Replay requests: the full history, a range or a single partition of a job."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.replay_status import ReplayStatus, ReplayType
from opsrel_core.persistence.tables.base import BigId, Base, Json, UtcDateTime, in_list, utcnow

REPLAY_TYPES = tuple(t.value for t in ReplayType)
REPLAY_STATUSES = tuple(s.value for s in ReplayStatus)


class Replay(Base):
    """A replay request: full history, a range or a single partition."""

    __tablename__ = "replay"
    __table_args__ = (
        sa.CheckConstraint(in_list("replay_type", REPLAY_TYPES), name="replay_type"),
        sa.CheckConstraint(in_list("status", REPLAY_STATUSES), name="status"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
        sa.Index(None, "job_id", "requested_at"),
    )
    replay_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    replay_type: Mapped[str] = mapped_column(sa.String(10))
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    partition_start: Mapped[str | None] = mapped_column(sa.String(100))
    partition_end: Mapped[str | None] = mapped_column(sa.String(100))
    backfill_id: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str] = mapped_column(sa.Text)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # The exact keys the replay runs, in order (its plan, migration 0010); NULL on older rows,
    # which cover partition_start..partition_end.
    partition_keys: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
