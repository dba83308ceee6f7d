"""The projection of Dagster's event log: where it stands and the runs it set aside."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.persistence.tables.base import Base, UtcDateTime, utcnow


class ProjectionCursor(Base):
    """Where a projection of Dagster's event log into the ops schema stands (a storage id).

    ``oldest_pending_at``: when the oldest event not yet applied happened, as seen at the last
    batch (NULL when caught up); the ingestion lag is measured from it (migration 0006).
    """

    __tablename__ = "projection_cursor"
    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    oldest_pending_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class ProjectionFailure(Base):
    """A run whose projection raised, set aside so that it never holds back the others
    (migration 0010). Retried from ``next_attempt_at`` with backoff; the row goes when the run
    is recorded. ``alerted``: the one SYS-004 alert after repeated attempts was raised.
    """

    __tablename__ = "projection_failure"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 1", name="attempts_positive"),
        sa.Index(None, "next_attempt_at"),
    )
    run_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    error_code: Mapped[str] = mapped_column(sa.ForeignKey("error_code.code"))
    error_message: Mapped[str] = mapped_column(sa.Text)
    first_failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    alerted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
