"""An in-memory ``ReplayRepository``: the same methods over a dict of rows, no database.

Rows are frozen ``ReplayRow`` values named as the ``replay`` table's columns, as the real
repository's ``sa.Row`` are; a write replaces the stored row, so a row read earlier keeps the
values it was read with. ``before_write`` runs just before a compare-and-set checks the status:
a test sets it to play another writer committing between a read and a write.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class ReplayRow:
    """One ``replay`` row."""

    replay_id: int
    request_key: str
    replay_type: str
    job_id: str
    partition_start: str | None
    partition_end: str | None
    backfill_id: str | None
    status: str
    reason: str
    operator_id: str
    requested_at: dt.datetime
    ended_at: dt.datetime | None
    partition_keys: list[str] | None


class FakeReplayRepository:
    """``opsrel_core.persistence.repositories.replays.ReplayRepository`` over a dict."""

    def __init__(self) -> None:
        self.rows: dict[int, ReplayRow] = {}
        self.serialized_jobs: list[str] = []
        self.before_write: Callable[["FakeReplayRepository"], None] | None = None

    def add(self, *, job_id: str = "job", status: str = "REQUESTED", operator_id: str = "ann",
            keys: tuple[str, ...] = ("2013-01-01",), **columns: Any) -> ReplayRow:
        """Store a new row (next id; defaults for the columns not given) and return it."""
        replay_id = max(self.rows, default=0) + 1
        values: dict[str, Any] = dict(
            replay_id=replay_id, request_key=f"key-{replay_id}", replay_type="RANGE",
            job_id=job_id, partition_start=keys[0], partition_end=keys[-1], backfill_id=None,
            status=status, reason="redo", operator_id=operator_id,
            requested_at=dt.datetime(2013, 1, 2, tzinfo=dt.timezone.utc), ended_at=None,
            partition_keys=list(keys))
        values.update(columns)
        row = ReplayRow(**values)
        self.rows[replay_id] = row
        return row

    def set(self, replay_id: int, **values: Any) -> None:
        """Change a stored row unconditionally (another writer's commit)."""
        self.rows[replay_id] = dataclasses.replace(self.rows[replay_id], **values)

    def get(self, replay_id: int) -> ReplayRow | None:
        return self.rows.get(replay_id)

    def by_request_key(self, stored_key: str) -> ReplayRow | None:
        return next((r for r in self.rows.values() if r.request_key == stored_key), None)

    def newest_first(self, *, job_id: str | None, status: str | None, limit: int,
                     before_replay_id: int | None) -> list[ReplayRow]:
        rows = [r for r in sorted(self.rows.values(), key=lambda r: -r.replay_id)
                if (job_id is None or r.job_id == job_id)
                and (status is None or r.status == status)
                and (before_replay_id is None or r.replay_id < before_replay_id)]
        return rows[:limit]

    def of_job_in(self, job_id: str, statuses: Iterable[str]) -> list[ReplayRow]:
        wanted = set(statuses)
        return [r for r in self.rows.values() if r.job_id == job_id and r.status in wanted]

    def compare_and_set(self, replay_id: int, current: str, values: Mapping[str, Any]) -> bool:
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None  # another writer commits once
            hook(self)
        row = self.rows.get(replay_id)
        if row is None or row.status != current:
            return False
        self.rows[replay_id] = dataclasses.replace(row, **values)
        return True

    def serialize_requests_of_job(self, job_id: str) -> None:
        self.serialized_jobs.append(job_id)

    def count_of_operator_in(self, operator_id: str, statuses: Iterable[str]) -> int:
        wanted = set(statuses)
        return sum(1 for r in self.rows.values()
                   if r.operator_id == operator_id and r.status in wanted)
