"""In-memory ``ResultVersionRepository`` and ``SnapshotRepository``: versions and snapshots kept in
dictionaries, with the same guards as the database (one version per asset, partition and number,
one per asset, partition and execution, at most one active per asset partition, one snapshot per
id), each raising ``IntegrityError`` as the constraint would.

``ResultStore`` holds the data across transactions; pass ``store.repository`` (and
``store.executions.repository``) where a service takes ``repository=`` (``executions=``). The
executions are an ``ExecutionStore`` (``tests.support.fakes.executions``): the facts the gate
reads and the statuses ``earlier`` joins. Rows are snapshots (``SimpleNamespace``): a row read
before a write does not change, as a database row does not. Writes land at once (the fake has no
rollback); ``before_add`` and ``before_activate`` run just before a version is added or put in
service, so a test can land a concurrent writer's change between the service's read and write.
"""

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import ResultVersion, Snapshot
from tests.support.fakes.executions import ExecutionStore

_COLUMNS = tuple(c.name for c in ResultVersion.__table__.c)
_SNAPSHOT_COLUMNS = tuple(c.name for c in Snapshot.__table__.c)


def _conflict(what: str) -> sa.exc.IntegrityError:
    return sa.exc.IntegrityError(what, {}, Exception("unique constraint"))


class ResultStore:
    """The fake database: what the fake repositories of every transaction read and write."""

    def __init__(self, executions: ExecutionStore | None = None) -> None:
        self.executions = executions or ExecutionStore()
        self.versions: dict[int, dict[str, Any]] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.before_add: Callable[[dict[str, Any]], None] | None = None
        self.before_activate: Callable[[SimpleNamespace], None] | None = None
        self._ids = itertools.count(1)

    def repository(self, session: Any = None) -> "FakeResultVersionRepository":
        """A result-version repository over this store (``session`` is ignored)."""
        return FakeResultVersionRepository(self)

    def snapshot_repository(self, session: Any = None) -> "FakeSnapshotRepository":
        """A snapshot repository over this store (``session`` is ignored)."""
        return FakeSnapshotRepository(self)

    def insert(self, values: dict[str, Any]) -> SimpleNamespace:
        """Store a version as the table would (the guards of ``add``); for a concurrent writer."""
        for other in self.versions.values():
            same = (other["asset_key"], other["partition_key"]) == (values["asset_key"],
                                                                    values["partition_key"])
            if same and (other["version_number"] == values["version_number"]
                         or other["execution_id"] == values["execution_id"]):
                raise _conflict("INSERT result_version")
        row = {**dict.fromkeys(_COLUMNS), "is_active": False, **values,
               "version_id": next(self._ids)}
        self.versions[row["version_id"]] = row
        return SimpleNamespace(**row)


class FakeResultVersionRepository:
    """``ResultVersionRepository`` over a ``ResultStore`` (the same methods, see its docstrings)."""

    def __init__(self, store: ResultStore):
        self._s = store

    # -- reads -------------------------------------------------------------------------------

    def _where(self, **equal: Any) -> list[SimpleNamespace]:
        return [SimpleNamespace(**r) for r in self._s.versions.values()
                if all(r[name] == value for name, value in equal.items())]

    def get(self, version_id: int) -> SimpleNamespace | None:
        row = self._s.versions.get(version_id)
        return None if row is None else SimpleNamespace(**row)

    def of_execution(self, asset_key: str, partition_key: str,
                     execution_id: str) -> SimpleNamespace | None:
        found = self._where(asset_key=asset_key, partition_key=partition_key,
                            execution_id=execution_id)
        return found[0] if found else None

    def all_of_execution(self, execution_id: str) -> list[SimpleNamespace]:
        return sorted(self._where(execution_id=execution_id),
                      key=lambda r: (r.asset_key, r.partition_key))

    def highest_number(self, asset_key: str, partition_key: str) -> int | None:
        numbers = [r.version_number
                   for r in self._where(asset_key=asset_key, partition_key=partition_key)]
        return max(numbers, default=None)

    def active(self, asset_key: str, partition_key: str, *,
               lock: bool = False) -> SimpleNamespace | None:
        found = self._where(asset_key=asset_key, partition_key=partition_key, is_active=True)
        return found[0] if found else None

    def active_numbers(self, asset_key: str,
                       partition_keys: Sequence[str]) -> dict[str, int | None]:
        found = {r.partition_key: r.version_number
                 for r in self._where(asset_key=asset_key, is_active=True)}
        return {key: found.get(key) for key in partition_keys}

    def first_active(self, asset_keys: Sequence[str],
                     partition_keys: Sequence[str]) -> SimpleNamespace | None:
        found = sorted((r for r in self._where(is_active=True)
                        if r.asset_key in asset_keys and r.partition_key in partition_keys),
                       key=lambda r: (r.asset_key, r.partition_key))
        return found[0] if found else None

    def history(self, asset_key: str, partition_key: str) -> list[SimpleNamespace]:
        return sorted(self._where(asset_key=asset_key, partition_key=partition_key),
                      key=lambda r: r.version_number, reverse=True)

    def by_number(self, asset_key: str, partition_key: str, version_number: int, *,
                  lock: bool = False) -> SimpleNamespace | None:
        found = self._where(asset_key=asset_key, partition_key=partition_key,
                            version_number=version_number)
        return found[0] if found else None

    def earlier(self, asset_key: str, partition_key: str,
                below: int) -> list[tuple[SimpleNamespace, str]]:
        executions = self._s.executions.executions
        return [(r, executions[r.execution_id]["status"])
                for r in self.history(asset_key, partition_key)
                if r.version_number < below and r.execution_id in executions]

    def assets_of_execution(self, execution_id: str) -> int:
        return len({r.asset_key for r in self._where(execution_id=execution_id)})

    # -- writes ------------------------------------------------------------------------------

    def add(self, values: dict[str, Any]) -> SimpleNamespace:
        if self._s.before_add is not None:
            self._s.before_add(values)
        return self._s.insert(values)

    def flush(self) -> None:
        pass

    def put_in_service(self, row: SimpleNamespace, *, clear_reason: bool = True) -> None:
        if self._s.before_activate is not None:
            self._s.before_activate(row)
        active = self.active(row.asset_key, row.partition_key)
        if active is not None and active.version_id != row.version_id:
            raise _conflict("UPDATE result_version (one active per asset partition)")
        values: dict[str, Any] = dict(is_active=True, deactivated_at=None,
                                      deactivated_by_execution_id=None)
        if clear_reason:
            values["inactive_reason"] = None
        self._set(row, **values)

    def take_out_of_service(self, row: SimpleNamespace, at: dt.datetime,
                            by_execution_id: str | None) -> None:
        self._set(row, is_active=False, deactivated_at=at,
                  deactivated_by_execution_id=by_execution_id)

    def set_reason(self, row: SimpleNamespace, reason: str | None) -> None:
        self._set(row, inactive_reason=reason)

    def _set(self, row: SimpleNamespace, **values: Any) -> None:
        vars(row).update(values)
        self._s.versions[row.version_id].update(values)


class FakeSnapshotRepository:
    """``SnapshotRepository`` over a ``ResultStore``'s snapshots."""

    def __init__(self, store: ResultStore):
        self._s = store

    def get(self, snapshot_id: str) -> SimpleNamespace | None:
        row = self._s.snapshots.get(snapshot_id)
        return None if row is None else SimpleNamespace(**row)

    def find(self, snapshot_ids: Sequence[str]) -> list[SimpleNamespace]:
        return [SimpleNamespace(**self._s.snapshots[i]) for i in snapshot_ids
                if i in self._s.snapshots]

    def add(self, values: dict[str, Any]) -> None:
        if values["snapshot_id"] in self._s.snapshots:
            raise _conflict("INSERT snapshot")
        self._s.snapshots[values["snapshot_id"]] = {**dict.fromkeys(_SNAPSHOT_COLUMNS), **values}
