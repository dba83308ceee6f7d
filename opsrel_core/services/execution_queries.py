"""The one listing of executions: what the admin API and the CLI both list.

Executions are listed newest first by ``(created_at, execution_id)`` with an opaque keyset cursor
(URL-safe base64 of JSON): rows added while a client pages sort before its cursor, so the pages
it fetches have no gap and no duplicate. A partition filter matches a single-partition run by its
key and a range run by its range, so a day lists every run that covered it.
"""

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.instants import to_utc
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.persistence.tables import BatchExecution, UtcDateTime
from opsrel_core.services.batch_execution import ExecutionView

MAX_LIMIT = 1000


def encode_cursor(payload: dict[str, Any]) -> str:
    """Opaque cursor of a JSON payload."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Payload of a cursor. Raises ``ValueError`` for a cursor that was not issued here."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise ValueError("invalid cursor") from None
    if not isinstance(payload, dict):
        raise ValueError("invalid cursor")
    return payload


@dataclasses.dataclass(frozen=True)
class ExecutionFilter:
    """Filters of the execution list (all optional, combined with AND).

    Attributes:
        partition_from, partition_to: inclusive partition keys; an execution matches when its
            partition, or any day of its range, lies within (one day: both the same key).
        since, until: ``created_at`` from ``since`` (inclusive) to ``until`` (exclusive).
    """

    job_id: str | None = None
    status: str | None = None
    partition_from: str | None = None
    partition_to: str | None = None
    error_code: str | None = None
    operator_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def of_partition(cls, partition_key: str, **filters: Any) -> "ExecutionFilter":
        """The executions that covered one partition (its own runs and the ranges over it)."""
        return cls(partition_from=partition_key, partition_to=partition_key, **filters)


class ExecutionQueries:
    """Read-only listing of executions over the ops tables.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def list_executions(
        self, filters: ExecutionFilter, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[ExecutionView], str | None]:
        """One page of executions, newest first, and the cursor of the next page (None at end).

        Args:
            filters: what to list.
            limit: page size, 1..1000.
            cursor: the ``next`` cursor of the previous page, or None for the first page.

        Raises:
            ValueError: a bad cursor or ``limit`` outside 1..1000.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        e = BatchExecution
        # Plain rows, not ORM objects: a page is read-only, and loading 100 entities into a
        # session cost several times the query itself (benchmark B4).
        stmt = (sa.select(*BatchExecution.__table__.columns)
                .order_by(e.created_at.desc(), e.execution_id.desc()).limit(limit + 1))
        for column, value in ((e.job_id, filters.job_id), (e.status, filters.status),
                              (e.error_code, filters.error_code),
                              (e.operator_id, filters.operator_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        # A partition filter matches a single-partition run by its key and a range run by its range.
        first = sa.func.coalesce(e.partition_key, e.partition_range_start)
        last = sa.func.coalesce(e.partition_key, e.partition_range_end)
        if filters.partition_from is not None:
            stmt = stmt.where(last >= filters.partition_from)
        if filters.partition_to is not None:
            stmt = stmt.where(first <= filters.partition_to)
        if filters.since is not None:
            stmt = stmt.where(e.created_at >= to_utc(filters.since))
        if filters.until is not None:
            stmt = stmt.where(e.created_at < to_utc(filters.until))
        if cursor is not None:
            at, key = _execution_cursor(cursor)
            # A row-value comparison, so that the database seeks the (created_at, execution_id)
            # index to the cursor instead of scanning every newer row (benchmark B4).
            stmt = stmt.where(sa.tuple_(e.created_at, e.execution_id)
                              < sa.tuple_(sa.literal(at, UtcDateTime()), sa.literal(key)))
        # One statement: read in autocommit, without a BEGIN and ROLLBACK round trip around it.
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(stmt).all()
        views = [_view(r) for r in rows[:limit]]
        following = None
        if len(rows) > limit:
            last_row = views[-1]
            following = encode_cursor({"c": to_utc(last_row.created_at).isoformat(),
                                       "i": last_row.execution_id})
        return views, following


def _execution_cursor(cursor: str) -> tuple[dt.datetime, str]:
    payload = decode_cursor(cursor)
    try:
        return to_utc(dt.datetime.fromisoformat(payload["c"])), str(payload["i"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("invalid cursor") from None


_VIEW_FIELDS = tuple(f.name for f in dataclasses.fields(ExecutionView))
_VIEW_TIMES = ("created_at", "started_at", "ended_at", "stop_requested_at")


def _view(row: sa.Row) -> ExecutionView:
    # Built in one pass from the row (UTC times, the status as its enum): a page builds 100.
    values = {name: getattr(row, name) for name in _VIEW_FIELDS}
    values["status"] = ExecutionStatus(values["status"])
    for name in _VIEW_TIMES:
        if values[name] is not None:
            values[name] = to_utc(values[name])
    return ExecutionView(**values)
