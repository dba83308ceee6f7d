"""Late partitions: one alert per partition past its job's deadline, ended by its version.

A job of the catalog may declare a partition deadline (``batch_job.deadline_seconds`` /
``deadline_timezone``; the rule is ``opsrel_core.domain.deadlines``). ``LatePartitionService.check``
is what the late-partition sensor runs (and ``opsrel alerts late``):

- every partition the rule finds overdue (deadline passed, within the look-back, inside the job's
  partition bounds) that has no active result version of the job raises one alert, kind
  ``PARTITION_LATE``, code BAT-015, through ``OpsAlertService.send_alert`` (outbox, silences).
  One per partition, ever: a partition that already has an alert of its key (live or resolved,
  also resolved by hand) raises nothing more, so a check every five minutes alerts once.
- a live late alert whose partition now has an active version is resolved by that version's
  execution, with its recovery notice (``alert_resolution.resolve_recovered_alerts``, the same
  function the activation transaction calls; that call normally resolves it first).

"Has an active version" means: some asset of the job has an active result version of the
partition written by an execution of the job.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.domain.deadlines import (
    DEFAULT_LOOKBACK_DAYS, PartitionDeadline, deadline_of, overdue_partitions,
)
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import (
    Alert, BatchExecution, BatchJob, ErrorCode, ResultVersion, utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alert_resolution import resolve_recovered_alerts
from opsrel_core.services.alerts import AlertView, OpsAlertService

PARTITION_LATE = "PARTITION_LATE"


def late_dedupe_key(job_id: str, partition_key: str) -> str:
    """The dedupe key of a late partition's alert (the default key of its kind and code)."""
    return f"{PARTITION_LATE}:{error_codes.BAT_PARTITION_LATE}:{job_id}:{partition_key}"


@dataclasses.dataclass(frozen=True)
class JobLateness:
    """One job's state at a check: its deadline and the partitions late at that time."""

    job_id: str
    deadline: str  # ``PartitionDeadline.describe()``
    late: tuple[str, ...]


@dataclasses.dataclass
class LateCheckReport:
    """What one check did: the alerts it raised, the ids it resolved, each job's late partitions."""

    raised: list[AlertView] = dataclasses.field(default_factory=list)
    resolved: list[int] = dataclasses.field(default_factory=list)
    jobs: list[JobLateness] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """One line for a sensor tick or the CLI."""
        if not self.jobs:
            return "no job declares a partition deadline"
        parts = [f"{j.job_id} (due {j.deadline}): {len(j.late)} late"
                 + (f" [{', '.join(j.late)}]" if j.late else "") for j in self.jobs]
        return (f"{'; '.join(parts)}; raised {len(self.raised)}, resolved "
                f"{len(self.resolved)}")


@retry_transient_methods
class LatePartitionService:
    """Checks the declared partition deadlines.

    Args:
        engine: engine of the ops database.
        settings: alert settings (channels) for the alerts raised.
        clock: current UTC time; injectable so tests move time.
        lookback_days: deadlines that passed longer ago are not checked (``domain.deadlines``).
    """

    def __init__(self, engine: sa.Engine, settings: AlertSettings,
                 clock: Callable[[], dt.datetime] = utcnow,
                 lookback_days: int = DEFAULT_LOOKBACK_DAYS):
        self._engine = engine
        self._clock = clock
        self._alerts = OpsAlertService(engine, settings, clock=clock)
        self._lookback_days = lookback_days

    def check(self) -> LateCheckReport:
        """Raise the alerts of newly late partitions and resolve those whose version arrived.

        Idempotent: a repeated check at any later time raises nothing for a partition already
        alerted, and resolves nothing twice.

        Returns:
            The report (alerts raised, alert ids resolved, each job's late partitions at now).

        Raises:
            ValueError: a job's stored deadline is invalid (its timezone unknown).
            SystemException: SYS-002 when the ops database stays unreachable.
        """
        now = self._clock()
        report = LateCheckReport()
        with UnitOfWork(self._engine) as uow:
            jobs = uow.session.scalars(
                sa.select(BatchJob).where(BatchJob.is_active.is_(True),
                                          BatchJob.deadline_seconds.is_not(None))
                .order_by(BatchJob.job_id)
            ).all()
            declared = [(j.job_id, PartitionDeadline.of(j.deadline_seconds, j.deadline_timezone),
                         PartitionSet(j.partitions, j.partition_start, j.partition_end))
                        for j in jobs]
            code = uow.session.get_one(ErrorCode, error_codes.BAT_PARTITION_LATE)
            severity, title = code.severity, code.title
        for job_id, deadline, partition_set in declared:
            assert deadline is not None
            report.resolved += self._resolve_arrived(job_id, now)
            overdue = overdue_partitions(now, deadline, partition_set, self._lookback_days)
            late = [k for k in overdue if k not in self._active_partitions(job_id, overdue)]
            report.jobs.append(JobLateness(job_id, deadline.describe(), tuple(late)))
            for key in self._not_yet_alerted(job_id, late):
                due = deadline_of(key, deadline)
                report.raised.append(self._alerts.send_alert(
                    PARTITION_LATE, severity=severity,
                    title=f"{title} in {job_id} [{key}]",
                    message=(f"Partition {key} of {job_id} has no active result version; it was "
                             f"due at {due.isoformat()} ({deadline.describe()})."),
                    error_code=error_codes.BAT_PARTITION_LATE, job_id=job_id, partition_key=key,
                    dedupe_key=late_dedupe_key(job_id, key), at=now,
                ))
        return report

    def _active_partitions(self, job_id: str, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        rv, be = ResultVersion, BatchExecution
        with UnitOfWork(self._engine) as uow:
            return set(uow.session.scalars(
                sa.select(rv.partition_key).distinct()
                .join(be, be.execution_id == rv.execution_id)
                .where(be.job_id == job_id, rv.is_active.is_(True), rv.partition_key.in_(keys))
            ))

    def _not_yet_alerted(self, job_id: str, keys: list[str]) -> list[str]:
        if not keys:
            return []
        wanted = {late_dedupe_key(job_id, k): k for k in keys}
        with UnitOfWork(self._engine) as uow:
            seen = set(uow.session.scalars(
                sa.select(Alert.dedupe_key).where(Alert.dedupe_key.in_(sorted(wanted)))
            ))
        return [k for key, k in wanted.items() if key not in seen]

    def _resolve_arrived(self, job_id: str, now: dt.datetime) -> list[int]:
        # Normally done by the activation transaction; this catches a version activated while
        # the alert was being raised, or before this kind resolved at activation.
        rv, be = ResultVersion, BatchExecution
        resolved: list[int] = []
        with UnitOfWork(self._engine) as uow:
            s = uow.session
            arrived = s.execute(
                sa.select(Alert.partition_key, sa.func.max(rv.execution_id))
                .join(rv, sa.and_(rv.partition_key == Alert.partition_key, rv.is_active.is_(True)))
                .join(be, sa.and_(be.execution_id == rv.execution_id, be.job_id == job_id))
                .where(Alert.job_id == job_id, Alert.event_kind == PARTITION_LATE,
                       Alert.status.in_(lifecycle.LIVE_STATUSES))
                .group_by(Alert.partition_key)
            ).all()
            for partition_key, execution_id in arrived:
                execution = s.get_one(BatchExecution, execution_id)
                resolved += resolve_recovered_alerts(s, execution, {partition_key}, at=now)
            uow.commit()
        return resolved
