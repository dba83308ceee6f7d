"""An in-memory ``ExecutionRepository``: executions, their history and the error catalog kept in
dictionaries, with the same guards as the SQL (the compare-and-set on status, stop request and
``updated_at``; one event per key and execution).

``ExecutionStore`` holds the data across transactions; pass ``store.repository`` where the
service takes ``repository=``. Rows are snapshots (``SimpleNamespace``): a row read before a
write does not change, as a database row does not. Writes land at once (the fake has no
rollback); ``before_write`` runs just before each compare-and-set, so a test can land a
concurrent writer's change between the service's read and its write.
"""

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.persistence.tables import BatchExecution

_COLUMNS = tuple(c.name for c in BatchExecution.__table__.c)
_OPEN = (ExecutionStatus.READY.value, ExecutionStatus.RUNNING.value)


class ExecutionStore:
    """The fake database: what the fake repositories of every transaction read and write."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.error_codes: set[str] = set()
        self.before_write: Callable[[], None] | None = None
        self.writes = 0  # compare-and-set statements that changed a row
        self._ids = itertools.count(1)

    def repository(self, session: Any = None) -> "FakeExecutionRepository":
        """A repository over this store (``session`` is ignored)."""
        return FakeExecutionRepository(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeExecutionRepository:
    """``ExecutionRepository`` over an ``ExecutionStore``."""

    def __init__(self, store: ExecutionStore):
        self._store = store

    # -- reads -------------------------------------------------------------------------------

    def get(self, execution_id: str) -> SimpleNamespace | None:
        values = self._store.executions.get(execution_id)
        return None if values is None else SimpleNamespace(**values)

    def find(self, execution_id: str, *, for_update: bool = False,
             fresh: bool = False) -> SimpleNamespace | None:
        return self.get(execution_id)

    def history(self, execution_id: str) -> Sequence[SimpleNamespace]:
        return [SimpleNamespace(**e) for e in self._store.events
                if e["execution_id"] == execution_id]

    def has_event(self, execution_id: str, event_key: str) -> bool:
        return any(e["execution_id"] == execution_id and e["event_key"] == event_key
                   for e in self._store.events)

    def stop_requested_ids(self, limit: int) -> list[str]:
        rows = [r for r in self._store.executions.values()
                if r["stop_requested_at"] is not None and r["status"] in _OPEN]
        rows.sort(key=lambda r: r["stop_requested_at"])
        return [r["execution_id"] for r in rows][:limit]

    def open_ids(self, limit: int) -> list[str]:
        rows = [r for r in self._store.executions.values() if r["status"] in _OPEN]
        return [r["execution_id"] for r in sorted(rows, key=lambda r: r["created_at"])][:limit]

    def latest_id(self, job_id: str, partition_key: str) -> str | None:
        rows = [r for r in self._store.executions.values()
                if r["job_id"] == job_id and r["partition_key"] == partition_key]
        return max(rows, key=lambda r: r["created_at"])["execution_id"] if rows else None

    def has_error_code(self, code: str) -> bool:
        return code in self._store.error_codes

    # -- writes ------------------------------------------------------------------------------

    def new_execution(self, values: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(**{**dict.fromkeys(_COLUMNS), **values})

    def add(self, row: SimpleNamespace) -> None:
        if row.execution_id in self._store.executions:
            raise sa.exc.IntegrityError("INSERT batch_execution", {}, Exception("duplicate id"))
        self._store.executions[row.execution_id] = dict(vars(row))

    def add_event(
        self, execution_id: str, event_key: str, from_status: ExecutionStatus | None,
        to_status: ExecutionStatus, at: dt.datetime, detail: dict[str, Any] | None = None,
    ) -> None:
        if self.has_event(execution_id, event_key):
            raise sa.exc.IntegrityError("INSERT execution_event", {}, Exception("duplicate key"))
        self._store.events.append({
            "event_id": self._store.next_id(), "execution_id": execution_id,
            "event_key": event_key,
            "from_status": None if from_status is None else from_status.value,
            "to_status": to_status.value, "occurred_at": at, "detail": detail,
        })

    def flush(self) -> None:
        pass

    def compare_and_set(
        self, execution_id: str, current: ExecutionStatus, wanted: ExecutionStatus,
        values: dict[str, Any], *, updated_at: dt.datetime, stop_requested: bool,
        unchanged_since: dt.datetime | None = None, stop_requested_at: dt.datetime | None = None,
    ) -> bool:
        if self._store.before_write is not None:
            self._store.before_write()
        row = self._store.executions.get(execution_id)
        if (row is None or row["status"] != current.value
                or (unchanged_since is not None and row["updated_at"] != unchanged_since)
                or (not stop_requested and row["stop_requested_at"] is not None)):
            return False
        row.update(values, status=wanted.value, updated_at=updated_at)
        if stop_requested_at is not None and row["stop_requested_at"] is None:
            row["stop_requested_at"] = stop_requested_at
        self._store.writes += 1
        return True

    def set_progress(self, row: SimpleNamespace, steps_total: int, steps_done: int,
                     rows_written: int, updated_at: dt.datetime) -> None:
        self._set(row, steps_total=steps_total, steps_done=steps_done,
                  rows_written=rows_written, updated_at=updated_at)

    def set_stop_requested(self, row: SimpleNamespace, at: dt.datetime,
                           updated_at: dt.datetime) -> None:
        self._set(row, stop_requested_at=at, updated_at=updated_at)

    def _set(self, row: SimpleNamespace, **values: Any) -> None:
        vars(row).update(values)
        self._store.executions[row.execution_id].update(values)
