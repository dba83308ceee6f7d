"""ExecutionReads: one execution, its history, and the ids of executions in a given state."""

from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution.moving import Repository
from opsrel_core.services.batch_execution.views import ExecutionView, fresh_view


@retry_transient_methods
class ExecutionReads:
    """Reads executions; each call is one short transaction.

    Args:
        engine: engine of the ops database.
        repository: the execution SQL over a session (``ExecutionRepository``).
    """

    def __init__(self, engine: sa.Engine, *, repository: Repository = ExecutionRepository):
        self._engine = engine
        self._repository = repository

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
