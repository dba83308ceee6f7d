"""BatchExecutionService: the execution lifecycle.

READY -> RUNNING -> SUCCESS | FAILED | STOPPED (see ``opsrel_core.domain.status``). Every status
change is a compare-and-set on the current status inside one transaction, and is recorded once in
the append-only ``execution_event`` history. Applying the same event twice changes nothing and is
not an error; a move the transition table forbids (for example FAILED after SUCCESS) raises
``BatchExecutionException`` with code BAT-001 and leaves the row as it was.

A stop is final (``opsrel_core.domain.stop``): once a stop is recorded, a SUCCESS or a failure
reported afterwards ends the execution STOPPED, and the overruled end is kept in the history as
``ignored:<status>``. Events whose key does not start with ``status:`` annotate the history
(ignored ends, the stop's delivery); they never move the status.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain import stop as stop_rule
from opsrel_core.domain.status import ExecutionStatus, TriggerType, can_transition
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import BatchExecution, ErrorCode, ExecutionEvent, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change
from opsrel_core.persistence.retry import retry_transient_methods

if TYPE_CHECKING:
    from opsrel_core.services.openlineage_events import RunInputs
    from opsrel_core.services.openlineage_outbox import LineageOutbox

_CAS_ATTEMPTS = 10


@dataclasses.dataclass(frozen=True)
class ExecutionSpec:
    """What is known about an execution when it is first recorded.

    Attributes:
        execution_id: the Dagster run id.
        job_id: a ``batch_job.job_id`` of the catalog.
        trigger_type: how it was launched.
        partition_key: the single partition, or None for a range or an unpartitioned run.
        partition_range: ``(start, end)`` inclusive partition keys of a range run, else None.
        backfill_id: the Dagster backfill id, when launched by a backfill.
        run_tags: the Dagster run's tags.
        parent_execution_id: the execution this one replays, if any.
        replay_id: the replay this execution belongs to, if any.
        operator_id: who launched it, when known.
        steps_total: steps planned (0 when unknown).
    """

    execution_id: str
    job_id: str
    trigger_type: TriggerType = TriggerType.MANUAL
    partition_key: str | None = None
    partition_range: tuple[str, str] | None = None
    backfill_id: str | None = None
    run_tags: dict[str, str] = dataclasses.field(default_factory=dict)
    parent_execution_id: str | None = None
    replay_id: int | None = None
    operator_id: str | None = None
    steps_total: int = 0


@dataclasses.dataclass(frozen=True)
class ExecutionView:
    """An execution row as read back (times are UTC)."""

    execution_id: str
    job_id: str
    status: ExecutionStatus
    trigger_type: str
    partition_key: str | None
    partition_range_start: str | None
    partition_range_end: str | None
    backfill_id: str | None
    run_tags: dict[str, Any]
    parent_execution_id: str | None
    replay_id: int | None
    operator_id: str | None
    steps_total: int
    steps_done: int
    rows_written: int
    error_code: str | None
    error_message: str | None
    failed_asset_key: str | None
    failed_partition_key: str | None
    stop_requested_at: dt.datetime | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None

    @classmethod
    def of(cls, row: BatchExecution) -> "ExecutionView":
        """Build the view from an ORM row."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["status"] = ExecutionStatus(row.status)
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class _Move:
    """A decided status change: the status, the columns to set, and the detail of an end that a
    stop overruled (recorded as ``ignored:<status>``), if any."""

    status: ExecutionStatus
    values: dict[str, Any]
    ignored: dict[str, Any] | None = None


@retry_transient_methods
class BatchExecutionService:
    """Records and moves executions through their lifecycle.

    Args:
        engine: engine of the ops database.
        lineage: when given (OpenLineage is configured), each start and end records its
            OpenLineage run event in the same transaction as the status change.
    """

    def __init__(self, engine: sa.Engine, lineage: "LineageOutbox | None" = None):
        self._engine = engine
        self._lineage = lineage

    # -- reads -------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionView:
        """Return one execution.

        Raises:
            BatchExecutionException: BAT-002 when no execution has this id.
        """
        with UnitOfWork(self._engine) as uow:
            return self._view(uow, execution_id)

    def find_execution(self, execution_id: str) -> ExecutionView | None:
        """Return one execution, or None when it is not recorded."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(BatchExecution, execution_id)
            return None if row is None else ExecutionView.of(row)

    def get_history(self, execution_id: str) -> list[dict[str, Any]]:
        """Return the execution's status history, oldest first.

        Returns:
            Dicts with ``event_key``, ``from_status``, ``to_status``, ``occurred_at`` (UTC),
            ``detail``.
        """
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(
                sa.select(ExecutionEvent)
                .where(ExecutionEvent.execution_id == execution_id)
                .order_by(ExecutionEvent.event_id)
            ).all()
            return [
                {
                    "event_key": r.event_key,
                    "from_status": r.from_status,
                    "to_status": r.to_status,
                    "occurred_at": r.occurred_at,
                    "detail": r.detail,
                }
                for r in rows
            ]

    def list_stop_requested_ids(self, limit: int = 200) -> list[str]:
        """Ids of READY or RUNNING executions with a stop request, oldest request first."""
        with UnitOfWork(self._engine) as uow:
            return list(
                uow.session.scalars(
                    sa.select(BatchExecution.execution_id)
                    .where(
                        BatchExecution.stop_requested_at.is_not(None),
                        BatchExecution.status.in_(
                            [ExecutionStatus.READY.value, ExecutionStatus.RUNNING.value]
                        ),
                    )
                    .order_by(BatchExecution.stop_requested_at)
                    .limit(limit)
                )
            )

    def latest_execution_id(self, job_id: str, partition_key: str) -> str | None:
        """The most recently created execution of a job for one partition, or None."""
        with UnitOfWork(self._engine) as uow:
            return uow.session.scalar(
                sa.select(BatchExecution.execution_id)
                .where(
                    BatchExecution.job_id == job_id,
                    BatchExecution.partition_key == partition_key,
                )
                .order_by(BatchExecution.created_at.desc())
                .limit(1)
            )

    def list_open_execution_ids(self, limit: int = 500) -> list[str]:
        """Ids of executions still READY or RUNNING, oldest first, at most ``limit``."""
        with UnitOfWork(self._engine) as uow:
            return list(
                uow.session.scalars(
                    sa.select(BatchExecution.execution_id)
                    .where(
                        BatchExecution.status.in_(
                            [ExecutionStatus.READY.value, ExecutionStatus.RUNNING.value]
                        )
                    )
                    .order_by(BatchExecution.created_at)
                    .limit(limit)
                )
            )

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
        at = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(BatchExecution, spec.execution_id)
            if row is not None:
                return ExecutionView.of(row)
            start, end = spec.partition_range or (None, None)
            row = BatchExecution(
                execution_id=spec.execution_id,
                job_id=spec.job_id,
                status=ExecutionStatus.READY.value,
                trigger_type=TriggerType(spec.trigger_type).value,
                partition_key=spec.partition_key,
                partition_range_start=start,
                partition_range_end=end,
                backfill_id=spec.backfill_id,
                run_tags=dict(spec.run_tags),
                parent_execution_id=spec.parent_execution_id,
                replay_id=spec.replay_id,
                operator_id=spec.operator_id,
                steps_total=spec.steps_total,
                steps_done=0,
                rows_written=0,
                created_at=at,
                updated_at=at,
            )
            try:
                if audit_reason is not None:
                    with audit_change(
                        uow.session,
                        operator_id=audit_operator_id or spec.operator_id,
                        reason=audit_reason,
                        action_type="BATCH_ACTION",
                        action=audit_action,
                        target=row,
                        at=at,
                    ):
                        uow.session.add(row)
                else:
                    uow.session.add(row)
                uow.session.add(
                    ExecutionEvent(
                        execution_id=spec.execution_id,
                        event_key="status:READY",
                        from_status=None,
                        to_status=ExecutionStatus.READY.value,
                        occurred_at=at,
                    )
                )
                uow.commit()
            except sa.exc.IntegrityError:
                uow.session.rollback()
                existing = uow.session.get(BatchExecution, spec.execution_id)
                if existing is None:
                    raise
                return ExecutionView.of(existing)
            return self._view(uow, spec.execution_id)

    def start_execution(self, execution_id: str, *, at: dt.datetime | None = None) -> ExecutionView:
        """Move READY -> RUNNING and set ``started_at``.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 when the execution already
                ended (a repeated start of a RUNNING execution is a no-op).
        """
        at = at or utcnow()
        return self._transition(execution_id, ExecutionStatus.RUNNING, at, {"started_at": at})

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
        if steps_done < 0 or (rows_written is not None and rows_written < 0):
            raise ValueError("progress counts must be >= 0")
        with UnitOfWork(self._engine) as uow:
            row = self._row(uow, execution_id, for_update=True)
            if ExecutionStatus(row.status).is_terminal:
                return ExecutionView.of(row)
            total = max(row.steps_total, steps_total or 0)
            if steps_done > total:
                raise ValueError(f"steps_done {steps_done} exceeds steps_total {total}")
            new_done = max(row.steps_done, steps_done)
            new_rows = row.rows_written if rows_written is None else max(row.rows_written, rows_written)
            if (total, new_done, new_rows) != (row.steps_total, row.steps_done, row.rows_written):
                # Only a real change touches the row: a repeated report is a no-op.
                row.steps_total, row.steps_done, row.rows_written = total, new_done, new_rows
                row.updated_at = utcnow()
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

        def decide(row: BatchExecution) -> "_Move":
            end = stop_rule.end_after(ExecutionStatus.SUCCESS, row.stop_requested_at)
            if end.ignored is None:
                return _Move(end.status, {"ended_at": at})
            return _Move(
                end.status,
                {"ended_at": at, "error_code": error_codes.BAT_RUN_CANCELED},
                ignored=stop_rule.ignored_event_detail(end.ignored, row.stop_requested_at),
            )

        return self._transition(execution_id, decide, at, lineage_inputs=lineage_inputs)

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
            if uow.session.get(ErrorCode, error_code) is None:
                raise BatchExecutionException(
                    error_codes.BAT_INVALID_TRANSITION,
                    f"cannot fail execution {execution_id} with unknown error code {error_code!r}",
                )

        def decide(row: BatchExecution) -> "_Move":
            # Decided in the same transaction as the write: a stop request that lands first
            # turns the failure into a stop.
            if if_unchanged_since is not None and row.updated_at != if_unchanged_since:
                return _Move(ExecutionStatus(row.status), {})  # it moved since the caller read it
            end = stop_rule.end_after(ExecutionStatus.FAILED, row.stop_requested_at)
            values = {
                "ended_at": at,
                "error_code": error_code if end.ignored is None else error_codes.BAT_RUN_CANCELED,
                "error_message": error_message,
                "failed_asset_key": failed_asset_key,
                "failed_partition_key": failed_partition_key,
            }
            if end.ignored is None:
                return _Move(end.status, values)
            return _Move(end.status, values, ignored=stop_rule.ignored_event_detail(
                end.ignored, row.stop_requested_at, error_code=error_code))

        guard = None if if_unchanged_since is None else [BatchExecution.updated_at == if_unchanged_since]
        return self._transition(
            execution_id, decide, at, detail={"error_code": error_code}, guard=guard,
            lineage_inputs=lineage_inputs,
        )

    def stop_execution(
        self, execution_id: str, *, at: dt.datetime | None = None, error_message: str | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Move READY or RUNNING -> STOPPED (an operator's stop; Dagster's CANCELED).

        ``lineage_inputs``: the snapshots the run read, for its OpenLineage ABORT event.

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 from SUCCESS or FAILED (a
                repeated STOPPED is a no-op).
        """
        at = at or utcnow()
        values: dict[str, Any] = {
            "ended_at": at,
            "error_code": error_codes.BAT_RUN_CANCELED,
            # A stop implies a stop request; keep the earlier request time when there was one.
            "stop_requested_at": sa.func.coalesce(BatchExecution.stop_requested_at, at),
        }
        if error_message:
            values["error_message"] = error_message
        return self._transition(execution_id, ExecutionStatus.STOPPED, at, values,
                                lineage_inputs=lineage_inputs)

    def request_stop(self, execution_id: str, *, at: dt.datetime | None = None) -> ExecutionView:
        """Mark that a stop was requested (Dagster CANCELING); a later failure then ends STOPPED.

        A request on an execution that already ended changes nothing.

        Raises:
            BatchExecutionException: BAT-002 unknown id.
        """
        at = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            row = self._row(uow, execution_id, for_update=True)
            if not ExecutionStatus(row.status).is_terminal and row.stop_requested_at is None:
                row.stop_requested_at = at
                row.updated_at = utcnow()
                uow.commit()
            return ExecutionView.of(row)

    # -- internals ---------------------------------------------------------------------------

    def _transition(
        self,
        execution_id: str,
        target: "ExecutionStatus | Callable[[BatchExecution], _Move]",
        at: dt.datetime,
        values: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
        guard: list[Any] | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Compare-and-set the status; retried when another writer moved the row in between.

        ``target`` is a status (with ``values`` to set) or a function deciding the move from
        the current row, evaluated in the same transaction as the write. ``guard``: extra
        conditions the row must still meet at the write (else it is re-read and decided again).
        A move with ``ignored`` also records the overruled end (``ignored:<status>``), once.
        With an OpenLineage outbox, the move's run event is recorded in the same transaction.
        """
        for _attempt in range(_CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                row = self._row(uow, execution_id)
                if callable(target):
                    move = target(row)
                else:
                    move = _Move(target, dict(values or {}))
                wanted, wanted_values = move.status, move.values
                current = ExecutionStatus(row.status)
                if current == wanted:
                    # The same event again: a no-op, except that an end reported after the
                    # stop that already ended the execution is still kept as ignored (once).
                    if move.ignored is not None and self._add_ignored(
                        uow, execution_id, current, at, move.ignored
                    ):
                        try:
                            uow.commit()
                        except sa.exc.IntegrityError:
                            uow.session.rollback()  # a concurrent writer recorded it first
                    return self._view(uow, execution_id)
                if not can_transition(current, wanted):
                    raise BatchExecutionException(
                        error_codes.BAT_INVALID_TRANSITION,
                        f"execution {execution_id} cannot move from {current.value} "
                        f"to {wanted.value}",
                        {"execution_id": execution_id, "from": current.value, "to": wanted.value},
                    )
                where = [
                    BatchExecution.execution_id == execution_id,
                    BatchExecution.status == current.value,
                    *(guard or []),
                ]
                if row.stop_requested_at is None:
                    where.append(BatchExecution.stop_requested_at.is_(None))
                result = uow.session.execute(
                    sa.update(BatchExecution)
                    .where(*where)
                    .values(status=wanted.value, updated_at=utcnow(), **wanted_values)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    continue  # someone moved it first: re-read and decide again
                uow.session.add(
                    ExecutionEvent(
                        execution_id=execution_id,
                        event_key=f"{stop_rule.STATUS_EVENT_PREFIX}{wanted.value}",
                        from_status=current.value,
                        to_status=wanted.value,
                        occurred_at=at,
                        detail=detail,
                    )
                )
                if move.ignored is not None:
                    uow.session.flush()  # the status event first: the history keeps its order
                    self._add_ignored(uow, execution_id, wanted, at, move.ignored)
                if self._lineage is not None:
                    self._lineage.on_transition(uow.session, execution_id, wanted, lineage_inputs)
                uow.commit()
                return self._view(uow, execution_id)
        raise BatchExecutionException(
            error_codes.BAT_INVALID_TRANSITION,
            f"execution {execution_id} kept changing under concurrent writers; giving up after "
            f"{_CAS_ATTEMPTS} attempts",
        )

    @staticmethod
    def _add_ignored(
        uow: UnitOfWork, execution_id: str, status: ExecutionStatus, at: dt.datetime,
        detail: dict[str, Any],
    ) -> bool:
        """Add the ``ignored:<status>`` event unless the history holds it; True when added.

        The event changes no status: from and to are the execution's (final) status.
        """
        key = stop_rule.ignored_event_key(ExecutionStatus(detail["observed_status"]))
        exists = uow.session.scalar(
            sa.select(ExecutionEvent.event_id).where(
                ExecutionEvent.execution_id == execution_id, ExecutionEvent.event_key == key
            )
        )
        if exists is not None:
            return False
        uow.session.add(
            ExecutionEvent(
                execution_id=execution_id, event_key=key, from_status=status.value,
                to_status=status.value, occurred_at=at, detail=detail,
            )
        )
        return True

    @staticmethod
    def _row(uow: UnitOfWork, execution_id: str, for_update: bool = False) -> BatchExecution:
        stmt = sa.select(BatchExecution).where(BatchExecution.execution_id == execution_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = uow.session.scalars(stmt).one_or_none()
        if row is None:
            raise BatchExecutionException(
                error_codes.BAT_EXECUTION_NOT_FOUND,
                f"no execution with id {execution_id!r}",
                {"execution_id": execution_id},
            )
        return row

    def _view(self, uow: UnitOfWork, execution_id: str) -> ExecutionView:
        uow.session.expire_all()
        return ExecutionView.of(self._row(uow, execution_id))
