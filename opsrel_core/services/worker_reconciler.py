"""Fail executions whose worker is gone: SYS-003 after a timeout.

A run worker killed hard (SIGKILL, OOM killer, a node lost) writes no terminal event, so its
execution would stay READY or RUNNING for ever. ``WorkerLossReconciler`` looks at every open
execution and its last sign of life: the latest of the row's own times (created, started, last
change) and what the orchestrator adapter reports (the newest event in the run's log). When
that sign is older than the timeout, the execution is failed with SYS-003 through
``BatchExecutionService.fail_execution`` as a compare-and-set on the row exactly as it was read:
a worker that started, reported progress or ended in between wins, and a late event from a
worker declared lost cannot revive the row (terminal statuses are final).

Timeouts (seconds, from the environment through ``WorkerTimeouts.from_env``):

- ``OPSREL_WORKER_TIMEOUT_SECONDS`` (default 1800): a RUNNING execution whose run logged nothing
  for this long is lost. It must exceed the longest step that logs nothing.
- ``OPSREL_START_TIMEOUT_SECONDS`` (default 600): a READY execution that was launched but not
  queued (a run waiting in Dagster's run queue is waiting on purpose) and has not started.

The Dagster adapter calls ``reconcile`` from the projection (sensor tick and ``opsrel sync``).
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa

from opsrel_core.config.worker import (  # noqa: F401  (re-exported)
    DEFAULT_START_TIMEOUT_SECONDS, DEFAULT_WORKER_TIMEOUT_SECONDS, WorkerTimeouts,
)
from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.retry import retry_transient
from opsrel_core.persistence.tables import BatchExecution, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionView
from opsrel_core.services.provenance import LineageOutbox

log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class Liveness:
    """What the orchestrator knows about a run's worker.

    Attributes:
        last_seen_at: UTC time of the newest event the run wrote, None when unknown.
        queued: the run waits in the orchestrator's queue on purpose (no start timeout).
        finished: the orchestrator already holds a terminal status for the run (the projection
            records it; the reconciler leaves it alone).
    """

    last_seen_at: dt.datetime | None = None
    queued: bool = False
    finished: bool = False


LivenessProbe = Callable[[str], "Liveness | None"]


class WorkerLossReconciler:
    """Fails open executions that showed no sign of life within their timeout (SYS-003).

    Args:
        engine: engine of the ops database.
        timeouts: the timeouts; ``WorkerTimeouts.from_env()`` when omitted.
        alerts: when given, each execution failed here raises its SYS-003 alert (idempotent
            per execution, so exactly one).
        lineage: when given (OpenLineage is configured), each execution ended here records its
            OpenLineage end event with the failure.
    """

    def __init__(
        self,
        engine: sa.Engine,
        timeouts: WorkerTimeouts | None = None,
        alerts: OpsAlertService | None = None,
        lineage: "LineageOutbox | None" = None,
    ):
        self._engine = engine
        self.timeouts = timeouts or WorkerTimeouts.from_env()
        self.executions = BatchExecutionService(engine, lineage)
        self.alerts = alerts

    def reconcile(
        self, probe: LivenessProbe, *, now: dt.datetime | None = None, limit: int = 500
    ) -> list[ExecutionView]:
        """Fail every open execution whose last sign of life is older than its timeout.

        Args:
            probe: returns the orchestrator's ``Liveness`` for an execution id (None: unknown).
            now: the reference time (UTC); now when omitted.
            limit: open executions looked at per call, oldest first.

        Returns:
            The executions this call moved to a terminal status (FAILED with SYS-003, or
            STOPPED when a stop had been requested), in the order they were handled.
        """
        now = now or utcnow()
        ended = []
        for row in self._open_rows(limit):
            liveness = probe(row.execution_id) or Liveness()
            if liveness.finished:
                continue
            status = ExecutionStatus(row.status)
            if status == ExecutionStatus.READY and liveness.queued:
                continue
            signs = [t for t in (row.created_at, row.started_at, row.updated_at, liveness.last_seen_at) if t]
            last_seen = max(signs)
            timeout = (
                self.timeouts.worker_timeout_seconds
                if status == ExecutionStatus.RUNNING
                else self.timeouts.start_timeout_seconds
            )
            silent = (now - last_seen).total_seconds()
            if silent <= timeout:
                continue
            what = "logged nothing" if status == ExecutionStatus.RUNNING else "did not start"
            message = (
                f"the run's worker {what} for {silent:.0f} s (timeout {timeout:.0f} s, last sign of "
                f"life {last_seen.isoformat()}): it was killed or crashed without a terminal event"
            )
            try:
                view = self.executions.fail_execution(
                    row.execution_id,
                    error_codes.SYS_WORKER_LOST,
                    error_message=message,
                    at=now,
                    if_unchanged_since=row.updated_at,
                )
            except BatchExecutionException as exc:
                log.warning("worker-loss reconciler: %s", exc)  # it ended meanwhile: it wins
                continue
            if view.status not in (ExecutionStatus.FAILED, ExecutionStatus.STOPPED) or view.ended_at != now:
                continue  # it changed since it was read (a sign of life, or another ending)
            ended.append(view)
            log.error("execution %s failed with SYS-003: %s", row.execution_id, message)
            if self.alerts is not None:
                try:
                    self.alerts.raise_for_failed_execution(view)
                except Exception:  # noqa: BLE001 - the recorded failure stands; retried by catch-up
                    log.exception("could not raise the alert for %s", row.execution_id)
        return ended

    @retry_transient
    def _open_rows(self, limit: int) -> list[BatchExecution]:
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(
                sa.select(BatchExecution)
                .where(
                    BatchExecution.status.in_(
                        [ExecutionStatus.READY.value, ExecutionStatus.RUNNING.value]
                    )
                )
                .order_by(BatchExecution.created_at)
                .limit(limit)
            ).all()
            uow.session.expunge_all()
            return list(rows)
