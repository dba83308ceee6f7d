"""The status change's transaction: decide from the row, compare-and-set, record the history.

Every move is decided from the row read in the same transaction as the write, and the write only
lands while the row still has the status (and the stop request) it was decided from; when another
writer moved it in between, the row is read and the move decided again. So a stop request that
lands first always turns a later end into a stop, and two writers never both move one execution.
"""

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain import execution_moves as moves
from opsrel_core.domain import stop as stop_rule
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.tables import BatchExecution, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution.views import ExecutionView, fresh_view, require

if TYPE_CHECKING:
    from opsrel_core.services.provenance import RunInputs
    from opsrel_core.services.provenance import LineageOutbox

Repository = Callable[[Session], ExecutionRepository]
Decide = Callable[[BatchExecution], moves.Move]

CAS_ATTEMPTS = 10
"""Re-reads allowed when other writers keep moving the row; beyond, the caller gets BAT-001."""


class ExecutionMover:
    """Applies decided moves to executions.

    Args:
        engine: engine of the ops database.
        repository: the execution SQL over a session.
        lineage: when given, each move records its OpenLineage run event in its transaction.
    """

    def __init__(self, engine: sa.Engine, repository: Repository,
                 lineage: "LineageOutbox | None" = None):
        self._engine = engine
        self._repository = repository
        self._lineage = lineage

    def move(
        self, execution_id: str, decide: Decide, at: dt.datetime, *,
        detail: dict[str, Any] | None = None, unchanged_since: dt.datetime | None = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> ExecutionView:
        """Decide the move from the current row and write it, with its ``status:<status>`` event.

        Args:
            decide: the move from the row, evaluated in the transaction of the write.
            at: when the event happened (UTC), the time of its history entry.
            detail: JSON detail of the status event.
            unchanged_since: the write also requires the row's ``updated_at`` to be this value
                (else it is re-read and decided again).
            lineage_inputs: the snapshots the run read, for its OpenLineage run event.

        Returns:
            The execution after the move (unchanged for a repeat).

        Raises:
            BatchExecutionException: BAT-002 unknown id; BAT-001 for a move the transition table
                forbids, or when other writers kept moving the row for ``CAS_ATTEMPTS`` reads.
        """
        for _attempt in range(CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                repo = self._repository(uow.session)
                row = require(repo, execution_id)
                move = decide(row)
                current = ExecutionStatus(row.status)
                if moves.is_repeat(execution_id, current, move.status):
                    # The same event again: a no-op, except that an end reported after the
                    # stop that already ended the execution is still kept as ignored (once).
                    if move.ignored is not None and _add_ignored(
                        repo, execution_id, current, at, move.ignored
                    ):
                        try:
                            uow.commit()
                        except sa.exc.IntegrityError:
                            uow.session.rollback()  # a concurrent writer recorded it first
                    return fresh_view(repo, execution_id)
                if not repo.compare_and_set(
                    execution_id, current, move.status, move.values, updated_at=utcnow(),
                    stop_requested=row.stop_requested_at is not None,
                    unchanged_since=unchanged_since, stop_requested_at=move.stop_requested_at,
                ):
                    continue  # someone moved it first: re-read and decide again
                repo.add_event(execution_id, f"{stop_rule.STATUS_EVENT_PREFIX}{move.status.value}",
                               current, move.status, at, detail)
                if move.ignored is not None:
                    repo.flush()  # the status event first: the history keeps its order
                    _add_ignored(repo, execution_id, move.status, at, move.ignored)
                if self._lineage is not None:
                    self._lineage.on_transition(uow.session, execution_id, move.status,
                                                lineage_inputs)
                uow.commit()
                return fresh_view(repo, execution_id)
        raise BatchExecutionException(
            error_codes.BAT_INVALID_TRANSITION,
            f"execution {execution_id} kept changing under concurrent writers; giving up after "
            f"{CAS_ATTEMPTS} attempts",
        )


def _add_ignored(
    repo: ExecutionRepository, execution_id: str, status: ExecutionStatus, at: dt.datetime,
    detail: dict[str, Any],
) -> bool:
    """Add the ``ignored:<status>`` event unless the history holds it; True when added.

    The event changes no status: from and to are the execution's (final) status.
    """
    key = stop_rule.ignored_event_key(ExecutionStatus(detail["observed_status"]))
    if repo.has_event(execution_id, key):
        return False
    repo.add_event(execution_id, key, status, status, at, detail)
    return True
