"""A replay's moves after its request: launched, asked to stop, ended as its runs end.

Executions land in ``batch_execution`` with ``replay_id`` set, and the replay's status is
*derived* from them (``replay_status.derive_status``): never SUCCESS while a child runs or a
partition has no execution yet; a stop request holds STOPPING until every launched child ended,
then STOPPED. Every move is a compare-and-set on the status read, decided again when another
writer moved the replay first. Result versions are not touched here: a replayed version replaces
the active one only when its own execution succeeds (``ResultVersionService``), so a failed or
stopped replay leaves the earlier result active.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.replay_status import (
    ALLOWED_TRANSITIONS, ChildRun, ReplayStatus, derive_status,
)
from opsrel_core.persistence.repositories.replays import ReplayRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import Replay, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution
from opsrel_core.services.replays.errors import (
    CAS_ATTEMPTS, INVALID_REQUEST_CODE, STOP_ACTION, busy, error, not_found,
)
from opsrel_core.services.replays.partition_runs import PartitionRuns, child_run
from opsrel_core.services.replays.views import ReplayView

# Decides the columns to set from the replay row as read (empty: nothing to change).
Decide = Callable[[PartitionRuns, Any], dict[str, Any]]


@retry_transient_methods
class ReplayLifecycle:
    """The lifecycle use cases of ``ReplayService`` (which sets ``_engine``)."""

    _engine: sa.Engine

    def mark_launched(self, replay_id: int, *, backfill_id: str | None = None) -> ReplayView:
        """Record that the runs were launched: REQUESTED -> RUNNING; idempotent.

        Any other status is kept (a STOPPING replay stays STOPPING). ``backfill_id`` is stored
        when none is yet, on a replay that has not ended.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        return self._update(replay_id, lambda _runs, row: launched(row, backfill_id))

    def request_stop(self, replay_id: int, *, operator_id: str, reason: str) -> ReplayView:
        """Ask to stop a replay: REQUESTED or RUNNING -> STOPPING, audited in the same transaction.

        The adapter then cancels the runs; ``refresh_status`` ends it STOPPED once every child
        ended. A repeat on a STOPPING or ended replay changes nothing and writes no audit record
        (the record describes a change; there is none).

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank.
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        operator_id, reason = require_attribution(operator_id, reason)
        for _attempt in range(CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                # Read through the session: the audit record captures this object's state
                # before and after the move.
                row = uow.session.get(Replay, replay_id, populate_existing=True)
                if row is None:
                    raise not_found(replay_id)
                current = ReplayStatus(row.status)
                if ReplayStatus.STOPPING not in ALLOWED_TRANSITIONS[current]:
                    return ReplayView.of(row)
                with audit_change(
                    uow.session, operator_id=operator_id, reason=reason,
                    action_type=AuditActionType.BATCH_ACTION, action=STOP_ACTION, target=row,
                ):
                    moved = ReplayRepository(uow.session.connection()).compare_and_set(
                        replay_id, current.value, {"status": ReplayStatus.STOPPING.value})
                if not moved:
                    continue  # moved by someone else in between: decide again
                uow.commit()
                return ReplayView.of(row)
        raise busy(replay_id)

    def refresh_status(self, replay_id: int, expected_partitions: list[str]) -> ReplayView:
        """Derive the replay's status from its executions (``derive_status``) and store it.

        Sets ``ended_at`` on a terminal status; terminal statuses are final. Reads only: a
        transient database error raises (SYS-002 after retries), it never marks a replay FAILED.

        Args:
            replay_id: the replay.
            expected_partitions: every partition key the replay must produce.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` unknown replay; ``INVALID_REQUEST_CODE`` no keys.
        """
        expected = _keys(expected_partitions)

        def decide(runs: PartitionRuns, row: Any) -> dict[str, Any]:
            order = runs.order(row.job_id)
            children = [child_run(e, order) for e in runs.reads.children_of(replay_id)]
            return refreshed(row, children, expected)

        return self._update(replay_id, decide)

    def _update(self, replay_id: int, decide: Decide) -> ReplayView:
        """Compare-and-set the columns ``decide(runs, row)`` asks for; re-decide when raced."""
        for _attempt in range(CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                runs = PartitionRuns(uow.session.connection())
                moved = move(runs.replays, replay_id, lambda row: decide(runs, row))
                if moved is None:
                    continue
                row, changed = moved
                if changed:
                    uow.commit()
                    row = ReplayRepository(uow.session.connection()).get(replay_id)
                    if row is None:
                        raise not_found(replay_id)
                return ReplayView.of(row)
        raise busy(replay_id)


def move(replays: ReplayRepository, replay_id: int, decide: Callable[[Any], dict[str, Any]]
         ) -> tuple[Any, bool] | None:
    """One attempt at a status move in the caller's transaction (which commits a change).

    Args:
        replays: the repository of that transaction.
        decide: the columns to set, from the replay row as read (empty: nothing to change).

    Returns:
        ``(row as read, False)`` when ``decide`` asks for nothing; ``(row as read, True)`` when
        the columns were set; None when another writer moved the status between the read and
        the write (nothing was set: read and decide again in a new transaction).

    Raises:
        BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
    """
    row = replays.get(replay_id)
    if row is None:
        raise not_found(replay_id)
    values = decide(row)
    if not values:
        return row, False
    if not replays.compare_and_set(replay_id, row.status, values):
        return None
    return row, True


def launched(row: Any, backfill_id: str | None) -> dict[str, Any]:
    """The columns a launch sets on a ``replay`` row: RUNNING from REQUESTED (any other status
    stays), and ``backfill_id`` when none is stored yet and the replay has not ended."""
    values: dict[str, Any] = {}
    if row.status == ReplayStatus.REQUESTED.value:
        values["status"] = ReplayStatus.RUNNING.value
    if backfill_id and row.backfill_id is None and not ReplayStatus(row.status).is_terminal:
        values["backfill_id"] = backfill_id
    return values


def refreshed(row: Any, children: Sequence[ChildRun], expected: Sequence[str]
              ) -> dict[str, Any]:
    """The columns a status refresh sets on a ``replay`` row: the status ``derive_status``
    gives, with ``ended_at`` (now, UTC) when that status is terminal; nothing when unchanged."""
    wanted = derive_status(ReplayStatus(row.status), children, expected)
    if wanted.value == row.status:
        return {}
    ended = {"ended_at": utcnow()} if wanted.is_terminal else {}
    return {"status": wanted.value, **ended}


def _keys(partition_keys: Sequence[str]) -> list[str]:
    """Distinct partition keys in string order; refuses none and blank ones."""
    if not partition_keys or any(not isinstance(k, str) or not k.strip() for k in partition_keys):
        raise error(INVALID_REQUEST_CODE, f"partition keys must be non-blank and at least one, "
                    f"got {list(partition_keys or [])[:5]!r}")
    return sorted(set(partition_keys))
