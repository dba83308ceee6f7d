"""Apply what the orchestrator observed about a run to the ops schema, idempotently.

The Dagster adapter (``opsrel_dagster.projection``) translates a Dagster run into a
``RunObservation``; ``ExecutionProjector.apply`` registers the execution, records progress and
drives it to the observed status through ``BatchExecutionService``. Applying the same
observation twice, or an older one after a newer one, changes nothing.
"""

import dataclasses
import datetime as dt
import enum
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.attribution import Attribution
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import ErrorCode, ProjectionCursor, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec, ExecutionView
from opsrel_core.services.provenance import RunInputs
from opsrel_core.services.projection_failures import ProjectionFailureService, SetAsideSummary
from opsrel_core.services.result_versions import CheckEvidence, ResultVersionService

if TYPE_CHECKING:
    from opsrel_core.services.alerts import OpsAlertService
    from opsrel_core.services.dq_alert_policy import WarnPolicy
    from opsrel_core.services.provenance import LineageOutbox
from opsrel_core.persistence.retry import retry_transient_methods

log = logging.getLogger(__name__)


class ObservedStatus(str, enum.Enum):
    """A run's status as the orchestrator reports it, already mapped to opsrel's vocabulary.

    CANCELING is kept apart from RUNNING: it records that a stop was requested.
    """

    READY = "READY"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


@dataclasses.dataclass(frozen=True)
class ObservedFailure:
    """Why a run failed: a catalog code, the operator message, where it failed."""

    error_code: str
    error_message: str
    asset_key: str | None = None
    partition_key: str | None = None


@dataclasses.dataclass(frozen=True)
class RunObservation:
    """Everything the projection needs about one run, at one moment.

    Attributes:
        spec: identity and launch context of the execution.
        status: the observed status.
        created_at, started_at, ended_at: UTC times from the orchestrator (None when unknown).
        steps_total: steps planned; steps_done: steps finished successfully.
        rows_written: rows materialized so far, summed over assets.
        failure: set when ``status`` is FAILED.
        stop_requested_at: when a stop was requested (Dagster CANCELING), even if the run then
            ended otherwise.
        attribution: who and why the run is (``opsrel_core.domain.attribution``); its audit
            record, when one is due, is written with the execution row.
        evidence: the checks the activation gate weighs when the execution ended SUCCESS.
        will_retry: the orchestrator will retry a failed run: its failure raises no alert (the
            retry's own outcome decides).
        snapshots: ``{partition_key: snapshot_id}`` of the input snapshots the run's
            materializations name (the inputs of its OpenLineage end event).
    """

    spec: ExecutionSpec
    status: ObservedStatus
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    steps_total: int = 0
    steps_done: int = 0
    rows_written: int = 0
    failure: ObservedFailure | None = None
    stop_requested_at: dt.datetime | None = None
    attribution: Attribution | None = None
    evidence: CheckEvidence | None = None
    will_retry: bool = False
    snapshots: Mapping[str, str] = dataclasses.field(default_factory=dict)


class ExecutionProjector:
    """Applies run observations through ``BatchExecutionService``.

    Args:
        engine: engine of the ops database.
        alerts: when given, a FAILED execution whose code has ``auto_alert`` raises its alert
            (idempotent per execution) right after the failure is recorded.
        warn_policy: with ``alerts``, the accumulated-warnings policy evaluated once when an
            execution ends (the transition to its terminal status happens once).
        lineage: when given (OpenLineage is configured), each start, end and activation records
            its OpenLineage run event in its own transaction.
    """

    def __init__(
        self,
        engine: sa.Engine,
        alerts: "OpsAlertService | None" = None,
        warn_policy: "WarnPolicy | None" = None,
        lineage: "LineageOutbox | None" = None,
    ):
        self._engine = engine
        self.executions = BatchExecutionService(engine, lineage)
        self.versions = ResultVersionService(engine, lineage)
        self.alerts = alerts
        self.warn_policy = warn_policy

    def apply(self, obs: RunObservation) -> ExecutionView:
        """Bring the execution of ``obs`` up to date; safe to call any number of times.

        A conflict with a terminal status already recorded (for example a late FAILED for an
        execution the ops schema holds as SUCCESS) is logged and left as recorded: the first
        terminal decision stands, so a stale or duplicated report never rewrites how a run ended.

        Returns:
            The execution as stored after the call.
        """
        svc = self.executions
        execution_id = obs.spec.execution_id
        who = obs.attribution
        current = svc.register_execution(
            obs.spec, at=obs.created_at,
            audit_reason=who.audit_reason if who else None,
            audit_action=(who.audit_action if who else None) or "MANUAL_RUN",
            audit_operator_id=who.audit_operator_id if who else None,
        )
        if current.status.is_terminal:
            if current.status == ExecutionStatus.SUCCESS:
                # Idempotent catch-up through the one activation gate.
                self.versions.activate_execution_versions(
                    execution_id, obs.evidence, _inputs(obs))
            self._alert(current, obs)  # idempotent catch-up after a crash between the two writes
            if (current.status == ExecutionStatus.STOPPED
                    and _terminal_of(obs.status) == ExecutionStatus.SUCCESS):
                # A stop is final: the worker's late SUCCESS goes into the history as ignored
                # (once; ``complete_execution`` decides), the execution stays STOPPED.
                try:
                    return svc.complete_execution(
                        execution_id, at=obs.ended_at, lineage_inputs=_inputs(obs))
                except BatchExecutionException as exc:
                    log.warning("projection conflict for %s: %s", execution_id, exc)
            if _terminal_of(obs.status) not in (None, current.status):
                log.warning(
                    "execution %s is %s in the ops schema; ignoring observed %s",
                    execution_id, current.status.value, obs.status.value,
                )
            return current
        if obs.steps_total or obs.steps_done or obs.rows_written:
            svc.update_progress(
                execution_id,
                steps_done=min(obs.steps_done, max(obs.steps_total, obs.steps_done)),
                steps_total=max(obs.steps_total, obs.steps_done),
                rows_written=obs.rows_written,
            )
        try:
            view = self._drive(obs)
        except BatchExecutionException as exc:
            log.warning("projection conflict for %s: %s", execution_id, exc)
            view = svc.get_execution(execution_id)
        if view.status.is_terminal and not current.status.is_terminal:
            self._warn_policy(view)
        if view.status == ExecutionStatus.SUCCESS:
            # A successful run's results take the place of the active ones, each
            # version as the activation gate admits it.
            self.versions.activate_execution_versions(execution_id, obs.evidence, _inputs(obs))
        self._alert(view, obs)
        return view

    def _warn_policy(self, view: ExecutionView) -> None:
        if self.alerts is None or self.warn_policy is None:
            return
        from opsrel_core.services.dq_alert_policy import evaluate_warn_policy
        from opsrel_core.services.validation import ValidationService

        try:
            evaluate_warn_policy(
                ValidationService(self._engine), self.alerts, view.execution_id, view.job_id,
                self.warn_policy,
            )
        except Exception:  # noqa: BLE001 - a warning alert never undoes the recorded end
            log.exception("could not evaluate the warning policy for %s", view.execution_id)

    def _alert(self, view: ExecutionView, obs: RunObservation) -> None:
        if self.alerts is None or view.status != ExecutionStatus.FAILED:
            return
        if obs.will_retry:
            # The orchestrator retries this run: its retry is the outcome that counts, and an
            # alert now would stay open after a successful retry.
            return
        try:
            self.alerts.raise_for_failed_execution(view)
        except Exception:  # noqa: BLE001 - an alert never undoes or blocks the recorded failure
            log.exception("could not raise the alert for failed execution %s", view.execution_id)

    def _drive(self, obs: RunObservation) -> ExecutionView:
        svc = self.executions
        execution_id = obs.spec.execution_id
        status = obs.status
        view = svc.get_execution(execution_id)
        started = status in (ObservedStatus.RUNNING, ObservedStatus.CANCELING, ObservedStatus.SUCCESS)
        # A run that failed or was stopped after it started passes through RUNNING, so that
        # its start time and history are kept; one that never started ends from READY.
        started = started or (obs.started_at is not None and _terminal_of(status) is not None)
        if started:
            if view.status == ExecutionStatus.READY:
                view = svc.start_execution(execution_id, at=obs.started_at)
        if obs.stop_requested_at is not None and not view.status.is_terminal:
            view = svc.request_stop(execution_id, at=obs.stop_requested_at)
        if status == ObservedStatus.CANCELING:
            view = svc.request_stop(execution_id, at=obs.ended_at or obs.started_at)
        elif status == ObservedStatus.SUCCESS:
            view = svc.complete_execution(
                execution_id, at=obs.ended_at, lineage_inputs=_inputs(obs))
        elif status == ObservedStatus.FAILED:
            failure = obs.failure or ObservedFailure(
                error_codes.SYS_UNEXPECTED, "run failed without a reported cause"
            )
            if not self._known_code(failure.error_code):
                failure = dataclasses.replace(
                    failure,
                    error_code=error_codes.SYS_UNEXPECTED,
                    error_message=f"unknown error code {failure.error_code!r}: "
                    f"{failure.error_message}",
                )
            view = svc.fail_execution(
                execution_id,
                failure.error_code,
                error_message=failure.error_message,
                failed_asset_key=failure.asset_key,
                failed_partition_key=failure.partition_key,
                at=obs.ended_at,
                lineage_inputs=_inputs(obs),
            )
        elif status == ObservedStatus.STOPPED:
            view = svc.stop_execution(execution_id, at=obs.ended_at, lineage_inputs=_inputs(obs))
        return view


    def _known_code(self, code: str) -> bool:
        with UnitOfWork(self._engine) as uow:
            return uow.session.get(ErrorCode, code) is not None


def _inputs(obs: RunObservation) -> RunInputs:
    return RunInputs(snapshots=dict(obs.snapshots))


def _terminal_of(status: ObservedStatus) -> ExecutionStatus | None:
    if status in (ObservedStatus.SUCCESS, ObservedStatus.FAILED, ObservedStatus.STOPPED):
        return ExecutionStatus(status.value)
    return None


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
