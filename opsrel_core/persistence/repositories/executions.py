"""The SQL of executions and their history, over the session of the caller's unit of work.

``ExecutionRepository`` reads and writes ``batch_execution`` and ``execution_event`` rows as ORM
objects: the audit record of a launch captures the execution row it adds, and the OpenLineage
outbox writes in the same session. It never commits: the caller's unit of work does. The status
change is a compare-and-set (``UPDATE ... WHERE status = <read status>``): it is what makes
concurrent writers safe, and the caller decides what to do when it refuses (``False``).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.persistence.tables import BatchExecution, ErrorCode, ExecutionEvent

_OPEN = [ExecutionStatus.READY.value, ExecutionStatus.RUNNING.value]


class ExecutionRepository:
    """Reads and writes executions and their events in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    # -- reads -------------------------------------------------------------------------------

    def get(self, execution_id: str) -> BatchExecution | None:
        """The execution row, or None (from the session's identity map when already loaded)."""
        return self._session.get(BatchExecution, execution_id)

    def find(self, execution_id: str, *, for_update: bool = False,
             fresh: bool = False) -> BatchExecution | None:
        """The execution row read from the database, or None.

        Args:
            for_update: lock the row until the transaction ends.
            fresh: forget what the session holds first, so the row shows the latest write.
        """
        if fresh:
            self._session.expire_all()
        stmt = sa.select(BatchExecution).where(BatchExecution.execution_id == execution_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self._session.scalars(stmt).one_or_none()

    def history(self, execution_id: str) -> Sequence[ExecutionEvent]:
        """The execution's events, oldest first."""
        return self._session.scalars(
            sa.select(ExecutionEvent)
            .where(ExecutionEvent.execution_id == execution_id)
            .order_by(ExecutionEvent.event_id)
        ).all()

    def has_event(self, execution_id: str, event_key: str) -> bool:
        """Whether the execution's history holds an event with this key."""
        return self._session.scalar(
            sa.select(ExecutionEvent.event_id).where(
                ExecutionEvent.execution_id == execution_id, ExecutionEvent.event_key == event_key
            )
        ) is not None

    def stop_requested_ids(self, limit: int) -> list[str]:
        """Ids of READY or RUNNING executions with a stop request, oldest request first."""
        return list(self._session.scalars(
            sa.select(BatchExecution.execution_id)
            .where(BatchExecution.stop_requested_at.is_not(None),
                   BatchExecution.status.in_(_OPEN))
            .order_by(BatchExecution.stop_requested_at)
            .limit(limit)
        ))

    def open_ids(self, limit: int) -> list[str]:
        """Ids of READY or RUNNING executions, oldest first."""
        return list(self._session.scalars(
            sa.select(BatchExecution.execution_id)
            .where(BatchExecution.status.in_(_OPEN))
            .order_by(BatchExecution.created_at)
            .limit(limit)
        ))

    def latest_id(self, job_id: str, partition_key: str) -> str | None:
        """The id of the job's most recently created execution of one partition, or None."""
        return self._session.scalar(
            sa.select(BatchExecution.execution_id)
            .where(BatchExecution.job_id == job_id, BatchExecution.partition_key == partition_key)
            .order_by(BatchExecution.created_at.desc())
            .limit(1)
        )

    def has_error_code(self, code: str) -> bool:
        """Whether ``code`` is in the error catalog."""
        return self._session.get(ErrorCode, code) is not None

    # -- writes ------------------------------------------------------------------------------

    def new_execution(self, values: dict[str, Any]) -> BatchExecution:
        """An execution row with these column values, not yet added (see ``add``)."""
        return BatchExecution(**values)

    def add(self, row: BatchExecution) -> None:
        """Add a new execution row; written at the next flush.

        Raises (at the flush):
            sqlalchemy.exc.IntegrityError: an execution with this id exists.
        """
        self._session.add(row)

    def add_event(
        self, execution_id: str, event_key: str, from_status: ExecutionStatus | None,
        to_status: ExecutionStatus, at: dt.datetime, detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an event to the execution's history.

        Raises (at the flush):
            sqlalchemy.exc.IntegrityError: the history already holds this key (a concurrent
                writer recorded it first).
        """
        self._session.add(ExecutionEvent(
            execution_id=execution_id, event_key=event_key,
            from_status=None if from_status is None else from_status.value,
            to_status=to_status.value, occurred_at=at, detail=detail,
        ))

    def flush(self) -> None:
        """Write what was added so far, in order (the history keeps the order of its events)."""
        self._session.flush()

    def compare_and_set(
        self, execution_id: str, current: ExecutionStatus, wanted: ExecutionStatus,
        values: dict[str, Any], *, updated_at: dt.datetime, stop_requested: bool,
        unchanged_since: dt.datetime | None = None, stop_requested_at: dt.datetime | None = None,
    ) -> bool:
        """Move the execution ``current -> wanted`` and set ``values``, if it was not moved since.

        Args:
            stop_requested: whether the row read had a stop request; without one, the write
                also requires that none landed since (it would change the decision).
            unchanged_since: also require ``updated_at`` to still equal this value.
            stop_requested_at: set as the stop request's time unless one is recorded.

        Returns:
            True when the row was written; False when another writer changed it first.
        """
        where = [BatchExecution.execution_id == execution_id,
                 BatchExecution.status == current.value]
        if unchanged_since is not None:
            where.append(BatchExecution.updated_at == unchanged_since)
        if not stop_requested:
            where.append(BatchExecution.stop_requested_at.is_(None))
        values = dict(values)
        if stop_requested_at is not None:
            values["stop_requested_at"] = sa.func.coalesce(
                BatchExecution.stop_requested_at, stop_requested_at)
        result = self._session.execute(
            sa.update(BatchExecution)
            .where(*where)
            .values(status=wanted.value, updated_at=updated_at, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def set_progress(self, row: BatchExecution, steps_total: int, steps_done: int,
                     rows_written: int, updated_at: dt.datetime) -> None:
        """Set the progress counts of a row read ``for_update``."""
        row.steps_total, row.steps_done, row.rows_written = steps_total, steps_done, rows_written
        row.updated_at = updated_at

    def set_stop_requested(self, row: BatchExecution, at: dt.datetime,
                           updated_at: dt.datetime) -> None:
        """Record a stop request on a row read ``for_update``."""
        row.stop_requested_at = at
        row.updated_at = updated_at
