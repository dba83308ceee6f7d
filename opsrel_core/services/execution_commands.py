"""Audited execution commands: an operator's stop request with its audit record (C1-T04).

``BatchExecutionService.request_stop`` records a stop the orchestrator reported (Dagster
CANCELING) and commits on its own; an operator's stop also needs its audit record in the same
transaction, which this service does with ``audit_change``. The run itself is then canceled in
Dagster by ``opsrel_replay_launch_sensor``, which cancels runs whose execution has a stop request.
"""

import dataclasses

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchExecution, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution

STOP_ACTION = "STOP_EXECUTION"


@dataclasses.dataclass(frozen=True)
class StopRequest:
    """Outcome of a stop request: the execution, the audit record, and whether it was new."""

    execution_id: str
    audit_id: int
    already_requested: bool


class ExecutionCommands:
    """Audited commands on executions.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def request_stop(self, execution_id: str, *, operator_id: str, reason: str) -> StopRequest:
        """Ask to stop a live execution, with its audit record, in one transaction.

        A repeated request changes nothing and returns the first request's audit record.

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
                    return StopRequest(execution_id, earlier, True)
            with audit_change(
                uow.session, operator_id=operator_id, reason=reason,
                action_type=AuditActionType.BATCH_ACTION, action=STOP_ACTION, target=row,
            ) as pending:
                now = utcnow()
                if row.stop_requested_at is None:
                    row.stop_requested_at = now
                row.updated_at = now
            uow.commit()
            assert pending.audit_id is not None
            return StopRequest(execution_id, pending.audit_id, False)
