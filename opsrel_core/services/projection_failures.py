"""Runs whose projection failed, set aside so that they never hold back the others.

The projection records every orchestrator run in the ops schema. When recording one run raises
(its record cannot be read, or its write keeps failing), the run gets a ``projection_failure``
row with the error's catalog code and is retried with backoff (``opsrel_core.domain.set_aside``)
while the projection's cursor moves on for every other run. The row goes when the run is
recorded. After ``alert_after_attempts`` failed attempts one SYS-004 alert is raised for the run
(the row's ``alerted`` flag and the alert's dedupe key ``RUN_SET_ASIDE:<run_id>`` make it one).

``summary`` is what ``opsrel sync`` and ``GET /admin/ingestion`` report: how many runs are set
aside, the oldest, its error code.
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.set_aside import SetAsidePolicy, alert_due, clip_message, next_attempt_at
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import BatchExecution, ErrorCode, ProjectionFailure, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alerts import OpsAlertService

log = logging.getLogger(__name__)

EVENT_KIND = "RUN_SET_ASIDE"
DEFAULT_DUE_LIMIT = 50


def alert_key(run_id: str) -> str:
    """The dedupe key of a set-aside run's one alert."""
    return f"{EVENT_KIND}:{run_id}"


@dataclasses.dataclass(frozen=True)
class SetAsideView:
    """One set-aside run as stored (times UTC)."""

    run_id: str
    attempts: int
    error_code: str
    error_message: str
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    next_attempt_at: dt.datetime
    alerted: bool

    @classmethod
    def of(cls, row: ProjectionFailure) -> "SetAsideView":
        """Build the view of a ``projection_failure`` row."""
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class SetAsideSummary:
    """How many runs are set aside, and the oldest of them (by first failure).

    Attributes:
        count: set-aside runs (0: none; the other fields are then None).
        oldest_run_id, oldest_error_code: the run that first failed longest ago, and its code.
        oldest_failed_at: when it first failed (UTC).
        oldest_age_seconds: ``now - oldest_failed_at`` in seconds (>= 0).
    """

    count: int = 0
    oldest_run_id: str | None = None
    oldest_error_code: str | None = None
    oldest_failed_at: dt.datetime | None = None
    oldest_age_seconds: float | None = None


@retry_transient_methods
class ProjectionFailureService:
    """Sets runs aside, says which are due, clears them, summarises them and raises the alert.

    Args:
        engine: engine of the ops database.
        alerts: raises the SYS-004 alert; None: no alert (the flag stays unset, so the alert is
            raised by the first failure after alerts are configured).
        policy: backoff and alert threshold.
        clock: current UTC time, used when a method is given no ``now``; injectable for tests.
    """

    def __init__(
        self,
        engine: sa.Engine,
        alerts: OpsAlertService | None = None,
        policy: SetAsidePolicy = SetAsidePolicy(),
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self._engine = engine
        self._alerts = alerts
        self.policy = policy
        self.clock = clock

    def set_aside(
        self, run_id: str, error_code: str, message: str, now: dt.datetime | None = None
    ) -> SetAsideView:
        """Record one failed attempt at projecting ``run_id``: insert its row or bump it.

        Args:
            run_id: the orchestrator's run id (1..64 characters).
            error_code: the failure's catalog code; a code outside the catalog is stored as
                SYS-001 with the given code named in the message.
            message: what failed (stored stripped, cut to 2,000 characters).
            now: when the attempt failed (UTC); the clock's now when omitted.

        Returns:
            The row after this attempt: ``attempts`` counts failed attempts, ``next_attempt_at``
            is ``now + min(base * 2**(attempts - 1), cap)``, ``alerted`` tells whether the
            run's SYS-004 alert exists (raised here once ``attempts`` reaches the threshold).

        Raises:
            ValueError: a blank or over-long run id.
        """
        if not run_id or not run_id.strip() or len(run_id) > 64:
            raise ValueError(f"run_id must be 1..64 characters, got {run_id!r}")
        now = now or self.clock()
        for _ in range(2):
            with UnitOfWork(self._engine) as uow:
                session = uow.session
                if session.get(ErrorCode, error_code) is None:
                    message = f"[{error_code}] {message}"
                    error_code = error_codes.SYS_UNEXPECTED
                row = session.get(ProjectionFailure, run_id, with_for_update=True)
                if row is None:
                    row = ProjectionFailure(run_id=run_id, attempts=1, first_failed_at=now,
                                            alerted=False)
                    session.add(row)
                else:
                    row.attempts += 1
                row.error_code = error_code
                row.error_message = clip_message(message)
                row.last_failed_at = now
                row.next_attempt_at = next_attempt_at(row.attempts, now, self.policy)
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # another projection set it aside first: bump that row
                view = SetAsideView.of(row)
            break
        else:  # pragma: no cover - two inserts lost in a row cannot happen: the row exists
            raise RuntimeError(f"could not set aside run {run_id!r}")
        if alert_due(view.attempts, view.alerted, self.policy) and self._alerts is not None:
            try:
                view = self._alert(view, now)
            except Exception:  # noqa: BLE001 - the flag stays unset: the next failure alerts
                log.exception("could not raise the SYS-004 alert for set-aside run %s", run_id)
        return view

    def due(self, now: dt.datetime | None = None, limit: int = DEFAULT_DUE_LIMIT) -> list[str]:
        """Run ids whose next attempt is due at ``now``, the longest waiting first (at most
        ``limit``)."""
        now = now or self.clock()
        with UnitOfWork(self._engine) as uow:
            return list(uow.session.scalars(
                sa.select(ProjectionFailure.run_id)
                .where(ProjectionFailure.next_attempt_at <= now)
                .order_by(ProjectionFailure.next_attempt_at, ProjectionFailure.run_id)
                .limit(limit)
            ))

    def run_ids(self) -> set[str]:
        """Every set-aside run id."""
        with UnitOfWork(self._engine) as uow:
            return set(uow.session.scalars(sa.select(ProjectionFailure.run_id)))

    def get(self, run_id: str) -> SetAsideView | None:
        """The set-aside row of ``run_id``, or None when the run is not set aside."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ProjectionFailure, run_id)
            return None if row is None else SetAsideView.of(row)

    def cleared(self, run_id: str) -> bool:
        """The run was recorded: forget its failures. Returns whether it was set aside."""
        with UnitOfWork(self._engine) as uow:
            deleted = uow.session.execute(
                sa.delete(ProjectionFailure).where(ProjectionFailure.run_id == run_id)
            ).rowcount
            uow.commit()
        return bool(deleted)

    def summary(self, now: dt.datetime | None = None) -> SetAsideSummary:
        """How many runs are set aside and which first failed longest ago, as of ``now``."""
        now = now or self.clock()
        with UnitOfWork(self._engine) as uow:
            count = uow.session.scalar(sa.select(sa.func.count()).select_from(ProjectionFailure))
            if not count:
                return SetAsideSummary()
            oldest = uow.session.scalars(
                sa.select(ProjectionFailure)
                .order_by(ProjectionFailure.first_failed_at, ProjectionFailure.run_id).limit(1)
            ).one()
            return SetAsideSummary(
                count=count, oldest_run_id=oldest.run_id, oldest_error_code=oldest.error_code,
                oldest_failed_at=oldest.first_failed_at,
                oldest_age_seconds=max((now - oldest.first_failed_at).total_seconds(), 0.0),
            )

    def _alert(self, view: SetAsideView, now: dt.datetime) -> SetAsideView:
        # Sent before the flag is set: a crash in between sends again, and the open alert of
        # the same dedupe key absorbs the repeat, so the alert is never lost and stays one.
        assert self._alerts is not None
        with UnitOfWork(self._engine) as uow:
            execution = uow.session.get(BatchExecution, view.run_id)
            job_id = execution.job_id if execution is not None else None
            partition = execution.partition_key if execution is not None else None
        self._alerts.send_alert(
            EVENT_KIND, severity="ERROR", error_code=error_codes.SYS_RUN_SET_ASIDE,
            title=f"Run {view.run_id} could not be recorded after {view.attempts} attempts",
            message=(
                f"Projecting Dagster run {view.run_id} into the ops schema failed "
                f"{view.attempts} times since {view.first_failed_at.isoformat()}; it is set "
                f"aside and retried with backoff (next attempt "
                f"{view.next_attempt_at.isoformat()}) while every other run is recorded.\n\n"
                f"Error: [{view.error_code}] {view.error_message}"
            ),
            job_id=job_id, execution_id=view.run_id if execution is not None else None,
            partition_key=partition, dedupe_key=alert_key(view.run_id), at=now,
        )
        with UnitOfWork(self._engine) as uow:
            uow.session.execute(
                sa.update(ProjectionFailure)
                .where(ProjectionFailure.run_id == view.run_id)
                .values(alerted=True)
            )
            uow.commit()
        return dataclasses.replace(view, alerted=True)
