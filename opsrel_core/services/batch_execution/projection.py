"""Apply what the orchestrator observed about a run to the ops schema, idempotently.

The Dagster adapter (``opsrel_dagster.projection``) translates a Dagster run into a
``RunObservation`` (``batch_execution.observations``); ``ExecutionProjector.apply`` registers the
execution, records progress and drives it to the observed status through
``BatchExecutionService``, then lets a successful run's versions through the activation gate
(``ResultVersionService.activate_execution_versions``). Applying the same observation twice, or
an older one after a newer one, changes nothing.
"""

import dataclasses
import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution.observations import (
    ObservedFailure, ObservedStatus, RunObservation, terminal_of,
)
from opsrel_core.services.batch_execution.service import BatchExecutionService
from opsrel_core.services.batch_execution.views import ExecutionView
from opsrel_core.services.provenance import RunInputs
from opsrel_core.services.results import ResultVersionService

if TYPE_CHECKING:
    from opsrel_core.services.alerts import OpsAlertService
    from opsrel_core.services.quality import WarnPolicy
    from opsrel_core.services.provenance import LineageOutbox

log = logging.getLogger(__name__)


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
                    and terminal_of(obs.status) == ExecutionStatus.SUCCESS):
                # A stop is final: the worker's late SUCCESS goes into the history as ignored
                # (once; ``complete_execution`` decides), the execution stays STOPPED.
                try:
                    return svc.complete_execution(
                        execution_id, at=obs.ended_at, lineage_inputs=_inputs(obs))
                except BatchExecutionException as exc:
                    log.warning("projection conflict for %s: %s", execution_id, exc)
            if terminal_of(obs.status) not in (None, current.status):
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
        from opsrel_core.services.quality import evaluate_warn_policy
        from opsrel_core.services.quality import ValidationService

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
        started = started or (obs.started_at is not None and terminal_of(status) is not None)
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
            return ExecutionRepository(uow.session).has_error_code(code)


def _inputs(obs: RunObservation) -> RunInputs:
    return RunInputs(snapshots=dict(obs.snapshots))
