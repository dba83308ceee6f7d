"""An operator's stop: the audited request, where it stands, and what Dagster did with it.

``BatchExecutionService.request_stop`` records a stop the orchestrator reported (Dagster
CANCELING) and commits on its own; an operator's stop also needs its audit record in the same
transaction, which this service does with ``audit_change``. The run itself is then canceled in
Dagster by ``opsrel_replay_launch_sensor`` (``opsrel_dagster.sensors.stop_delivery``), which records what
Dagster did in the execution's history (``stop_delivery:<state>``). A stop is final
(``opsrel_core.domain.stop``): whatever the run reports afterwards, the execution ends STOPPED
and none of its results become active. A replay is stopped as a whole with ``stop_replay``.
"""

import dataclasses
import datetime as dt

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain import stop as stop_rule
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.domain.stop import StopDelivery
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchExecution, ExecutionEvent, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution

STOP_ACTION = "STOP_EXECUTION"


@dataclasses.dataclass(frozen=True)
class IgnoredEnd:
    """An end Dagster reported after the stop, overruled (kept in the history)."""

    observed_status: str
    occurred_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class StopStatus:
    """Where a stop of an execution stands.

    Attributes:
        requested_at: when the stop was recorded (UTC).
        status: the execution's status now (RUNNING until its run ends, then STOPPED).
        final_status: always STOPPED: the status the execution ends with.
        results_become_active: always False: none of a stopped execution's results do.
        delivery: what Dagster did with the stop so far (PENDING until the sensor delivered it).
        delivery_detail: the delivery in words (``NOT_TERMINATED``: Dagster could not terminate
            the worker).
        delivered_at: when the delivery was recorded (UTC), None while PENDING.
        ignored: the ends Dagster reported after the stop (for example SUCCESS), overruled.
        message: the whole stop in one sentence, for an operator.
    """

    execution_id: str
    requested_at: dt.datetime
    status: ExecutionStatus
    final_status: ExecutionStatus
    results_become_active: bool
    delivery: StopDelivery
    delivery_detail: str
    delivered_at: dt.datetime | None
    ignored: list[IgnoredEnd]
    message: str


@dataclasses.dataclass(frozen=True)
class StopRequest:
    """Outcome of a stop request: the execution, the audit record, whether it was new, and where
    the stop stands (final; delivered to Dagster or not yet)."""

    execution_id: str
    audit_id: int
    already_requested: bool
    stop: StopStatus


@dataclasses.dataclass(frozen=True)
class ReplayStopRequest:
    """Outcome of a replay's stop: its status now (STOPPING until every run ended) and the audit
    record of the stop."""

    replay_id: int
    status: str
    audit_id: int
    already_requested: bool
    message: str


class ExecutionCommands:
    """Audited stop commands on executions and replays.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def request_stop(self, execution_id: str, *, operator_id: str, reason: str) -> StopRequest:
        """Ask to stop a live execution, with its audit record, in one transaction.

        The audit record's states carry ``stop_requested`` and ``final_status`` beside the
        columns: before the request ``false``/null, after it ``true``/``"STOPPED"``. A repeated
        request changes nothing and returns the first request's audit record.

        Raises:
            BatchExecutionException: BAT-008 no operator or reason; BAT-002 unknown id; BAT-001
                the execution already ended.
        """
        operator_id, reason = require_attribution(operator_id, reason)
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalars(
                sa.select(BatchExecution).where(BatchExecution.execution_id == execution_id)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise BatchExecutionException(
                    error_codes.BAT_EXECUTION_NOT_FOUND, f"no execution with id {execution_id!r}",
                    {"execution_id": execution_id})
            if ExecutionStatus(row.status).is_terminal:
                raise BatchExecutionException(
                    error_codes.BAT_INVALID_TRANSITION,
                    f"execution {execution_id} already ended ({row.status}); nothing to stop",
                    {"execution_id": execution_id, "from": row.status, "to": "STOPPED"})
            if row.stop_requested_at is not None:
                earlier = uow.session.scalar(
                    sa.select(AuditLog.audit_id)
                    .where(AuditLog.target_type == "batch_execution",
                           AuditLog.target_id == execution_id, AuditLog.action == STOP_ACTION)
                    .order_by(AuditLog.audit_id).limit(1))
                if earlier is not None:
                    return StopRequest(execution_id, earlier, True, _stop_status(uow, row))
            with audit_change(
                uow.session, operator_id=operator_id, reason=reason,
                action_type=AuditActionType.BATCH_ACTION, action=STOP_ACTION, target=row,
                derived=stop_rule.audit_marker,
            ) as pending:
                now = utcnow()
                if row.stop_requested_at is None:
                    row.stop_requested_at = now
                row.updated_at = now
            uow.commit()
            assert pending.audit_id is not None
            return StopRequest(execution_id, pending.audit_id, False, _stop_status(uow, row))

    def stop_status(self, execution_id: str) -> StopStatus | None:
        """Where the stop of an execution stands, or None when no stop was recorded.

        Raises:
            BatchExecutionException: BAT-002 unknown id.
        """
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(BatchExecution, execution_id)
            if row is None:
                raise BatchExecutionException(
                    error_codes.BAT_EXECUTION_NOT_FOUND, f"no execution with id {execution_id!r}",
                    {"execution_id": execution_id})
            return None if row.stop_requested_at is None else _stop_status(uow, row)

    def record_stop_delivery(
        self, execution_id: str, delivery: StopDelivery, *, detail: str | None = None,
        at: dt.datetime | None = None,
    ) -> bool:
        """Record in the execution's history what Dagster did when asked to stop its run.

        The first delivery recorded stands (the sensor asks Dagster once); the event changes no
        status (from and to are the execution's status at the time).

        Args:
            delivery: any state but PENDING.
            detail: what Dagster said, in words (kept in the event's ``detail.message``).

        Returns:
            True when recorded; False when a delivery was already recorded or the execution is
            not (yet) in the ops schema.

        Raises:
            ValueError: ``delivery`` is PENDING (that is the absence of a record).
        """
        if delivery is StopDelivery.PENDING:
            raise ValueError("PENDING is not a delivery; it is what no record means")
        at = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(BatchExecution, execution_id, with_for_update=True)
            if row is None or _delivery_event(uow, execution_id) is not None:
                return False
            uow.session.add(ExecutionEvent(
                execution_id=execution_id, event_key=stop_rule.delivery_event_key(delivery),
                from_status=row.status, to_status=row.status, occurred_at=at,
                detail={"delivery": delivery.value,
                        "message": detail or stop_rule.DELIVERY_MESSAGES[delivery]},
            ))
            try:
                uow.commit()
            except sa.exc.IntegrityError:
                return False  # another sensor process recorded it first
            return True

    def stop_replay(self, replay_id: int, *, operator_id: str, reason: str) -> ReplayStopRequest:
        """Stop a replay as a whole: no further run is launched and its runs in flight are
        canceled (``ReplayService.request_stop``, audited in the same transaction).

        A repeat on a replay being stopped or stopped returns the first stop's audit record.

        Raises:
            BatchExecutionException: BAT-008 no operator or reason; BAT-010 unknown replay;
                BAT-001 the replay already ended otherwise (SUCCESS or FAILED): nothing to stop.
        """
        from opsrel_core.services.replays import STOP_ACTION as REPLAY_STOP_ACTION
        from opsrel_core.services.replays import ReplayService

        operator_id, reason = require_attribution(operator_id, reason)
        replays = ReplayService(self._engine)
        before = replays.get_replay(replay_id)
        view = replays.request_stop(replay_id, operator_id=operator_id, reason=reason)
        with UnitOfWork(self._engine) as uow:
            audit_id = uow.session.scalar(
                sa.select(AuditLog.audit_id)
                .where(AuditLog.target_type == "replay", AuditLog.target_id == str(replay_id),
                       AuditLog.action == REPLAY_STOP_ACTION)
                .order_by(AuditLog.audit_id).limit(1))
        if audit_id is None:
            raise BatchExecutionException(
                error_codes.BAT_INVALID_TRANSITION,
                f"replay {replay_id} already ended ({view.status.value}); nothing to stop",
                {"replay_id": replay_id, "from": view.status.value, "to": "STOPPED"})
        already = before.status.value in ("STOPPING", "STOPPED")
        message = (f"replay {replay_id} {view.status.value}: no further run is launched; its runs "
                   f"in flight are canceled and end STOPPED, none of their results become active")
        return ReplayStopRequest(replay_id, view.status.value, audit_id, already, message)


def _delivery_event(uow: UnitOfWork, execution_id: str) -> ExecutionEvent | None:
    return uow.session.scalars(
        sa.select(ExecutionEvent)
        .where(ExecutionEvent.execution_id == execution_id,
               ExecutionEvent.event_key.like(f"{stop_rule.DELIVERY_EVENT_PREFIX}%"))
        .order_by(ExecutionEvent.event_id).limit(1)
    ).one_or_none()


def _stop_status(uow: UnitOfWork, row: BatchExecution) -> StopStatus:
    assert row.stop_requested_at is not None
    delivered = _delivery_event(uow, row.execution_id)
    detail = None
    if delivered is not None:
        delivery = stop_rule.delivery_of_event_key(delivered.event_key)
        detail = (delivered.detail or {}).get("message")
    elif ExecutionStatus(row.status).is_terminal:
        delivery, detail = StopDelivery.RUN_FINISHED, "the run ended before the stop was delivered"
    else:
        delivery = StopDelivery.PENDING
    assert delivery is not None
    ignored = [
        IgnoredEnd(e.event_key[len(stop_rule.IGNORED_EVENT_PREFIX):], e.occurred_at)
        for e in uow.session.scalars(
            sa.select(ExecutionEvent)
            .where(ExecutionEvent.execution_id == row.execution_id,
                   ExecutionEvent.event_key.like(f"{stop_rule.IGNORED_EVENT_PREFIX}%"))
            .order_by(ExecutionEvent.event_id))
    ]
    detail = detail or stop_rule.DELIVERY_MESSAGES[delivery]
    message = f"{stop_rule.STOP_IS_FINAL}; delivery: {detail}"
    if ignored:
        message += "; ignored: " + ", ".join(f"{i.observed_status} reported by Dagster"
                                              for i in ignored)
    return StopStatus(
        execution_id=row.execution_id, requested_at=row.stop_requested_at,
        status=ExecutionStatus(row.status), final_status=stop_rule.FINAL_STATUS,
        results_become_active=False, delivery=delivery, delivery_detail=detail,
        delivered_at=None if delivered is None else delivered.occurred_at, ignored=ignored,
        message=message,
    )
