"""An in-memory ``AuditRepository``: audit records kept in a list, append-only as the table is.

``AuditStore`` holds the records across transactions; pass ``store.repository`` where
``AuditLogService`` or ``audit_change`` takes ``repository=``. Rows are snapshots
(``SimpleNamespace`` with every column of ``audit_log``): a row read before a write does not
change, as a database row does not.
"""

import datetime as dt
import itertools
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog

_COLUMNS = tuple(c.name for c in AuditLog.__table__.c)


class AuditStore:
    """The fake database: the records every fake repository reads and appends to."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def repository(self, conn: sa.Connection | None = None) -> "FakeAuditRepository":
        """A repository over this store (``conn`` is ignored)."""
        return FakeAuditRepository(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeAuditRepository:
    """``AuditRepository`` over an ``AuditStore`` (the same methods, see its docstrings)."""

    def __init__(self, store: AuditStore):
        self._s = store

    def insert(self, values: dict[str, Any]) -> Any:
        record = {**dict.fromkeys(_COLUMNS), **values, "audit_id": self._s.next_id()}
        self._s.records.append(record)
        return SimpleNamespace(**record)

    def newest_id(self, target_type: str, target_id: str, action: str) -> int | None:
        ids = [r["audit_id"] for r in self._s.records if (r["target_type"], r["target_id"],
                                                          r["action"]) == (target_type, target_id, action)]
        return max(ids, default=None)

    def newest_first(
        self,
        *,
        limit: int,
        operator_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        action_type: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before_audit_id: int | None = None,
    ) -> list[Any]:
        equal = {"operator_id": operator_id, "target_type": target_type, "target_id": target_id,
                 "action_type": action_type}
        found = [
            r for r in self._s.records
            if all(value is None or r[name] == value for name, value in equal.items())
            and (since is None or r["occurred_at"] >= since)
            and (until is None or r["occurred_at"] < until)
            and (before_audit_id is None or r["audit_id"] < before_audit_id)
        ]
        found.sort(key=lambda r: r["audit_id"], reverse=True)
        return [SimpleNamespace(**r) for r in found[:limit]]
