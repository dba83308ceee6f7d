"""How far the projection has read the orchestrator's event log, and how far behind it is.

``ProjectionCursorStore`` keeps one cursor per projection (the last storage id applied) and when
the oldest event not yet applied happened; ``ingestion_status`` reports each projection's lag
with the runs set aside because their projection raised (the admin API's ``/admin/ingestion``),
so a projection falling behind is visible.
"""

import dataclasses
import datetime as dt

import sqlalchemy as sa

from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import ProjectionCursor, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.projection_failures import ProjectionFailureService, SetAsideSummary


@retry_transient_methods
class ProjectionCursorStore:
    """Persists how far a projection has read the orchestrator's event log.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, name: str) -> str | None:
        """Return the stored cursor for ``name``, or None before the first batch."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ProjectionCursor, name)
            return None if row is None else row.cursor

    def set(self, name: str, cursor: str | None) -> None:
        """Store the cursor for ``name`` (None resets it: the next sync starts over)."""
        self._write(name, cursor=cursor)

    def record_backlog(self, name: str, oldest_pending_at: dt.datetime | None) -> None:
        """Record when the oldest event not yet applied happened (None: caught up).

        The admin API reports the ingestion lag from it, so a projection falling behind is visible.

        Also stamps ``updated_at``, so a reader sees when the projection last looked.
        """
        self._write(name, oldest_pending_at=oldest_pending_at)

    def ingestion_status(self, now: dt.datetime | None = None) -> list["IngestionStatus"]:
        """Every projection's position and lag, by name (the admin API's ``/admin/ingestion``),
        with the runs set aside because their projection raised.

        Args:
            now: the current UTC time (injectable); the clock's when omitted.
        """
        now = now or utcnow()
        set_aside = ProjectionFailureService(self._engine).summary(now)
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(sa.select(ProjectionCursor).order_by(ProjectionCursor.name))
            return [IngestionStatus.of(row, now, set_aside) for row in rows]

    def _write(self, name: str, **values: object) -> None:
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ProjectionCursor, name)
            if row is None:
                uow.session.add(ProjectionCursor(name=name, updated_at=utcnow(), **values))
            else:
                for key, value in {**values, "updated_at": utcnow()}.items():
                    setattr(row, key, value)
            try:
                uow.commit()
            except sa.exc.IntegrityError:
                # Another process created it first; write over it.
                uow.session.rollback()
                row = uow.session.get(ProjectionCursor, name)
                assert row is not None
                for key, value in {**values, "updated_at": utcnow()}.items():
                    setattr(row, key, value)
                uow.commit()


@dataclasses.dataclass(frozen=True)
class IngestionStatus:
    """How far one projection has read the orchestrator's events, so a growing backlog is visible.

    Attributes:
        name: the projection (``"dagster_run_status_changes"``).
        cursor: the last storage id applied (None before the first batch or after a reset).
        checked_at: when the projection last wrote (a batch or a backlog check), UTC.
        oldest_pending_at: when the oldest event not yet applied happened; None when caught up.
        lag_seconds: how long the oldest unrecorded run has waited, seconds: the larger of the
            age of ``oldest_pending_at`` and the time since the oldest set-aside run first
            failed (0 only when caught up and nothing is set aside).
        seconds_since_check: ``now - checked_at``: grows when the projection stopped running.
        set_aside: runs whose projection raised, set aside and retried with backoff.
        oldest_set_aside_run_id, oldest_set_aside_error_code, oldest_set_aside_at: the run set
            aside longest ago, its error code and its first failure (UTC); None when none is.
    """

    name: str
    cursor: str | None
    checked_at: dt.datetime
    oldest_pending_at: dt.datetime | None
    lag_seconds: float
    seconds_since_check: float
    set_aside: int = 0
    oldest_set_aside_run_id: str | None = None
    oldest_set_aside_error_code: str | None = None
    oldest_set_aside_at: dt.datetime | None = None

    @classmethod
    def of(
        cls, row: ProjectionCursor, now: dt.datetime, set_aside: SetAsideSummary | None = None
    ) -> "IngestionStatus":
        """Build the status of a cursor row as of ``now``, with the set-aside runs' summary."""
        pending = row.oldest_pending_at
        lag = max((now - pending).total_seconds(), 0.0) if pending else 0.0
        if set_aside is not None and set_aside.count:
            # A set-aside run is an event not yet applied, however far the cursor moved.
            lag = max(lag, set_aside.oldest_age_seconds or 0.0)
        return cls(
            name=row.name, cursor=row.cursor, checked_at=row.updated_at,
            oldest_pending_at=pending,
            lag_seconds=lag,
            seconds_since_check=max((now - row.updated_at).total_seconds(), 0.0),
            set_aside=set_aside.count if set_aside is not None else 0,
            oldest_set_aside_run_id=set_aside.oldest_run_id if set_aside is not None else None,
            oldest_set_aside_error_code=(
                set_aside.oldest_error_code if set_aside is not None else None
            ),
            oldest_set_aside_at=set_aside.oldest_failed_at if set_aside is not None else None,
        )
