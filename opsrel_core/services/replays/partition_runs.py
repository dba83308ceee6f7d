"""A job's runs as a replay sees them: which runs cover a key, which one is a key's parent,
what is in flight for it.

One ``PartitionRuns`` per transaction: it reads through that transaction's connection and keeps
each job's partition set (its registered key order) for the rest of it, so a range run's keys
are decided by the order the job registered, never by date arithmetic.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import partition_writers
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.domain.replay_status import IN_FLIGHT_STATUSES, ChildRun
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.persistence.repositories.replay_runs import ReplayRunReads
from opsrel_core.persistence.repositories.replays import ReplayRepository
from opsrel_core.services.batch_jobs import partition_set_of
from opsrel_core.services.replays.errors import INVALID_REQUEST_CODE, error
from opsrel_core.services.replays.views import aware


class PartitionRuns:
    """The runs of jobs' partitions, read in one transaction.

    Args:
        connection: the connection of an open unit of work.
    """

    def __init__(self, connection: sa.Connection):
        self.reads = ReplayRunReads(connection)
        self.replays = ReplayRepository(connection)
        self._orders: dict[str, PartitionSet | None] = {}

    def job(self, job_id: str) -> sa.Row[Any]:
        """The job's catalog row. Raises ``INVALID_REQUEST_CODE`` for a job not in the catalog."""
        job = self.reads.job(job_id)
        if job is None:
            raise error(INVALID_REQUEST_CODE, f"no batch job {job_id!r}", {"job_id": job_id})
        return job

    def partition_set(self, job: sa.Row[Any]) -> PartitionSet:
        """The partition set of a catalog row with its registered keys."""
        return partition_set_of(self.reads.connection, job)

    def order(self, job_id: str) -> PartitionSet | None:
        """The job's partition set, read once per transaction; None for a job not in the
        catalog."""
        if job_id not in self._orders:
            job = self.reads.job(job_id)
            self._orders[job_id] = None if job is None else self.partition_set(job)
        return self._orders[job_id]

    def covering(self, job_id: str, keys: Sequence[str]) -> list[sa.Row[Any]]:
        """The job's executions of any of ``keys`` (their own partition, or a range covering one:
        ``child_run(row, order).covers`` says which keys it covers)."""
        if not keys:
            return []
        rows = self.reads.executions_of_keys(job_id, keys)
        order = self.order(job_id)
        # Key order is string order there, so the database can narrow the range runs.
        narrow = (min(keys), max(keys)) if order is None or order.sorts_as_text else None
        rows.extend(self.reads.range_executions(job_id, narrow))
        return rows

    def active_executions(self, job: Any, keys: Sequence[str]) -> dict[str, str]:
        """Per key, the execution of the newest active result version of the job's assets."""
        found: dict[str, tuple[Any, int, str]] = {}
        for execution_id, key, created, version_id in self.reads.active_versions(
                list(job.asset_selection), keys):
            if key not in found or (created, version_id) > found[key][:2]:
                found[key] = (created, version_id, execution_id)
        return {key: value[2] for key, value in found.items()}

    def latest_executions(self, job_id: str, keys: Sequence[str]) -> dict[str, str]:
        """Per key, the job's most recently created execution of that partition."""
        latest: dict[str, Any] = {}
        order = self.order(job_id)
        for row in self.covering(job_id, keys):
            child = child_run(row, order)
            for key in ([row.partition_key] if row.partition_key is not None else keys):
                if child.covers(key) and (key not in latest or (aware(row.created_at), row.execution_id)
                                          > (aware(latest[key].created_at), latest[key].execution_id)):
                    latest[key] = row
        return {key: row.execution_id for key, row in latest.items()}

    def succeeded_since(self, job_id: str, partition_key: str, since: dt.datetime) -> str | None:
        """A SUCCESS execution of the partition (its own or a range covering it) that started
        at or after ``since`` (UTC), or None."""
        order = self.order(job_id)
        for execution in self.covering(job_id, [partition_key]):
            started = aware(execution.started_at)
            if (execution.status == ExecutionStatus.SUCCESS.value and started is not None
                    and started >= since and child_run(execution, order).covers(partition_key)):
                return execution.execution_id
        return None

    def in_flight(self, job_id: str, keys: Sequence[str]) -> list[partition_writers.InFlight]:
        """Executions READY/RUNNING and replays REQUESTED/RUNNING/STOPPING of the job that may
        write one of ``keys``."""
        order = self.order(job_id)
        found = [
            partition_writers.InFlight(
                "execution", row.execution_id, row.status,
                partitions=(row.partition_key,) if row.partition_key is not None else (
                    None if order is None or row.partition_range_start is None
                    else order.span(row.partition_range_start, row.partition_range_end)),
                range_start=row.partition_range_start, range_end=row.partition_range_end)
            for row in self.covering(job_id, keys)
            if row.status in partition_writers.EXECUTION_IN_FLIGHT
        ]
        for row in self.replays.of_job_in(job_id, [s.value for s in IN_FLIGHT_STATUSES]):
            found.append(partition_writers.InFlight(
                "replay", str(row.replay_id), row.status,
                partitions=None if row.partition_keys is None else tuple(row.partition_keys),
                range_start=row.partition_start, range_end=row.partition_end))
        return found


def child_run(row: Any, order: PartitionSet | None) -> ChildRun:
    """A ``batch_execution`` row as status derivation sees it; a range run's keys in ``order``
    (the job's partition set) when its ends are keys of it."""
    span = (None if order is None or row.partition_key is not None
            or row.partition_range_start is None
            else order.span(row.partition_range_start, row.partition_range_end))
    return ChildRun(row.partition_key, row.partition_range_start, row.partition_range_end,
                    ExecutionStatus(row.status), None if span is None else frozenset(span))
