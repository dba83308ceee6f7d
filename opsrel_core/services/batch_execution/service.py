"""BatchExecutionService: record executions, move them through their lifecycle, read them."""

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain import execution_moves as moves
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import BatchExecution, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution.moving import ExecutionMover, Repository
from opsrel_core.services.batch_execution.registering import register
from opsrel_core.services.batch_execution.views import (
    ExecutionSpec, ExecutionView, fresh_view, require,
)

if TYPE_CHECKING:
    from opsrel_core.services.provenance import RunInputs
    from opsrel_core.services.provenance import LineageOutbox


@retry_transient_methods
class BatchExecutionService:
    """Records and moves executions through their lifecycle.

    Args:
        engine: engine of the ops database.
        lineage: when given (OpenLineage is configured), each start and end records its
            OpenLineage run event in the same transaction as the status change.
        repository: the execution SQL over a session (``ExecutionRepository``); injectable so
            the fast tests keep executions in an in-memory fake.
    """

    def __init__(self, engine: sa.Engine, lineage: "LineageOutbox | None" = None, *,
                 repository: Repository = ExecutionRepository):
        self._engine = engine
        self._repository = repository
        self._mover = ExecutionMover(engine, repository, lineage)

    # -- reads -------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionView:
        """Return one execution.

        Raises:
            BatchExecutionException: BAT-002 when no execution has this id.
        """
        with UnitOfWork(self._engine) as uow:
            return fresh_view(self._repository(uow.session), execution_id)

    def find_execution(self, execution_id: str) -> ExecutionView | None:
        """Return one execution, or None when it is not recorded."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).get(execution_id)
            return None if row is None else ExecutionView.of(row)

    def get_history(self, execution_id: str) -> list[dict[str, Any]]:
        """Return the execution's status history, oldest first.

        Returns:
            Dicts with ``event_key``, ``from_status``, ``to_status``, ``occurred_at`` (UTC),
            ``detail``.
        """
        with UnitOfWork(self._engine) as uow:
            return [
                {
                    "event_key": r.event_key,
                    "from_status": r.from_status,
                    "to_status": r.to_status,
                    "occurred_at": r.occurred_at,
                    "detail": r.detail,
                }
                for r in self._repository(uow.session).history(execution_id)
            ]

    def list_stop_requested_ids(self, limit: int = 200) -> list[str]:
        """Ids of READY or RUNNING executions with a stop request, oldest request first."""
        with UnitOfWork(self._engine) as uow:
            return self._repository(uow.session).stop_requested_ids(limit)

    def latest_execution_id(self, job_id: str, partition_key: str) -> str | None:
        """The most recently created execution of a job for one partition, or None."""
        with UnitOfWork(self._engine) as uow:
            return self._repository(uow.session).latest_id(job_id, partition_key)

    def list_open_execution_ids(self, limit: int = 500) -> list[str]:
        """Ids of executions still READY or RUNNING, oldest first, at most ``limit``."""
        with UnitOfWork(self._engine) as uow:
            return self._repository(uow.session).open_ids(limit)

    # -- lifecycle ---------------------------------------------------------------------------

    def register_execution(
        self, spec: ExecutionSpec, *, at: dt.datetime | None = None,
        audit_reason: str | None = None, audit_action: str = "MANUAL_RUN",
        audit_operator_id: str | None = None,
    ) -> ExecutionView:
        """Record a new execution in READY; an already-recorded id is returned unchanged.

        The primary key on ``execution_id`` makes a second row impossible, also when two
        processes register the same run at once.

        Args:
            spec: the execution's identity and launch context.
            at: when it was created (UTC); now when omitted.
            audit_reason: for a run that gets an audit record (a manual run, a re-execution, a
                retry: ``opsrel_core.domain.attribution``): its reason; the record (BATCH_ACTION
                ``audit_action`` by ``audit_operator_id``, default ``spec.operator_id``) is
                written in the same transaction as the execution row, so both land or neither.
            audit_action: ``MANUAL_RUN``, ``REEXECUTE_RUN`` or ``RETRY_RUN``.
            audit_operator_id: who the record names (the orchestrator for a retry).

        Returns:
            The stored execution (the earlier one when the id was already recorded).
        """
        return register(
            self._engine, self._repository, spec, at=at or utcnow(), audit_reason=audit_reason,
            audit_action=audit_action, audit_operator_id=audit_operator_id,
        )

    def start_execution(self, execution_id: str, *, at: dt.datetime | None = None) -> ExecutionView:
        """Move READY -> RUNNING and set ``started_at``.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 when the execution already
                ended (a repeated start of a RUNNING execution is a no-op).
        """
        at = at or utcnow()
        move = moves.Move(ExecutionStatus.RUNNING, {"started_at": at})
        return self._mover.move(execution_id, lambda row: move, at)

    def update_progress(
        self,
        execution_id: str,
        *,
        steps_done: int,
        steps_total: int | None = None,
        rows_written: int | None = None,
    ) -> ExecutionView:
        """Record progress of a READY or RUNNING execution.

        Progress only moves forward: a late, lower figure is ignored, and so is progress
        reported after the execution ended (the final figures are set by the projection with the
        terminal event).

        Args:
            steps_done: steps finished so far (>= 0).
            steps_total: steps planned, when known.
            rows_written: rows materialized so far, summed over assets.

        Raises:
            BatchExecutionException: BAT-002 unknown id.
            ValueError: a negative count, or steps_done above steps_total.
        """
        moves.check_progress_counts(steps_done, rows_written)
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            row = require(repo, execution_id, for_update=True)
            if ExecutionStatus(row.status).is_terminal:
                return ExecutionView.of(row)
            recorded = moves.Progress(row.steps_total, row.steps_done, row.rows_written)
            new = moves.advance(recorded, steps_done=steps_done, steps_total=steps_total,
                                rows_written=rows_written)
            if new != recorded:
                # Only a real change touches the row: a repeated report is a no-op.
                repo.set_progress(row, new.steps_total, new.steps_done, new.rows_written, utcnow())
                uow.commit()
            return ExecutionView.of(row)

    def complete_execution(
        self, execution_id: str, *, at: dt.datetime | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Record that the run succeeded: RUNNING -> SUCCESS and set ``ended_at``.

        When a stop was recorded first (an operator's request or the orchestrator's CANCELING),
        the execution ends STOPPED (BAT-004) instead, and the SUCCESS is kept in its history as
        ``ignored:SUCCESS``: a stop is final, so none of its results become active. Decided in
        the same transaction as the write. The same SUCCESS reported again changes nothing.

        Args:
            lineage_inputs: the snapshots the run read, for its OpenLineage ABORT event when a
                stop ends it.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 from READY without a stop, or
                from FAILED (a repeated SUCCESS is a no-op).
        """
        at = at or utcnow()
        return self._mover.move(
            execution_id, lambda row: moves.success(row.stop_requested_at, at), at,
            lineage_inputs=lineage_inputs,
        )

    def fail_execution(
        self,
        execution_id: str,
        error_code: str,
        *,
        error_message: str | None = None,
        failed_asset_key: str | None = None,
        failed_partition_key: str | None = None,
        at: dt.datetime | None = None,
        if_unchanged_since: dt.datetime | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Move READY or RUNNING -> FAILED with a catalog error code.

        When a stop was requested before the failure, the execution ends STOPPED instead: a
        failure caused by the stop is not a failure (no failure alert, no automatic retry); the
        error is kept in ``error_message`` for the operator and the failure in the history as
        ``ignored:FAILED``.

        Args:
            error_code: a code of the ``error_code`` catalog, e.g. ``"INP-001"``.
            error_message: the operator message (never shown to users).
            failed_asset_key: the failing asset, e.g. ``"raw_flights"``.
            failed_partition_key: the failing partition.
            if_unchanged_since: compare-and-set for a caller that decided from a row it read
                (the worker-loss reconciler): fail only while the row's ``updated_at`` still
                equals this value; otherwise nothing changes and the row is returned as it is.
            lineage_inputs: the snapshots the run read, for its OpenLineage FAIL event.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 from a terminal status other
                than an identical FAILED; BAT-001 too when ``error_code`` is not in the catalog.
        """
        at = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            if not self._repository(uow.session).has_error_code(error_code):
                raise BatchExecutionException(
                    error_codes.BAT_INVALID_TRANSITION,
                    f"cannot fail execution {execution_id} with unknown error code {error_code!r}",
                )

        def decide(row: BatchExecution) -> moves.Move:
            # Decided in the same transaction as the write: a stop request that lands first
            # turns the failure into a stop.
            if if_unchanged_since is not None and row.updated_at != if_unchanged_since:
                # It moved since the caller read it: stay, which is a no-op.
                return moves.Move(ExecutionStatus(row.status), {})
            return moves.failure(
                row.stop_requested_at, at, error_code=error_code, error_message=error_message,
                failed_asset_key=failed_asset_key, failed_partition_key=failed_partition_key,
            )

        return self._mover.move(
            execution_id, decide, at, detail={"error_code": error_code},
            unchanged_since=if_unchanged_since, lineage_inputs=lineage_inputs,
        )

    def stop_execution(
        self, execution_id: str, *, at: dt.datetime | None = None, error_message: str | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Move READY or RUNNING -> STOPPED (an operator's stop; Dagster's CANCELED).

        The stop request's time is set too when none was recorded (a stop implies one).
        ``lineage_inputs``: the snapshots the run read, for its OpenLineage ABORT event.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 from SUCCESS or FAILED (a
                repeated STOPPED is a no-op).
        """
        at = at or utcnow()
        move = moves.stop(at, error_message)
        return self._mover.move(execution_id, lambda row: move, at,
                                lineage_inputs=lineage_inputs)

    def request_stop(self, execution_id: str, *, at: dt.datetime | None = None) -> ExecutionView:
        """Mark that a stop was requested (Dagster CANCELING); a later failure then ends STOPPED.

        A request on an execution that already ended changes nothing.

        Raises:
            BatchExecutionException: BAT-002 unknown id.
        """
        at = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            row = require(repo, execution_id, for_update=True)
            if not ExecutionStatus(row.status).is_terminal and row.stop_requested_at is None:
                repo.set_stop_requested(row, at, utcnow())
                uow.commit()
            return ExecutionView.of(row)

