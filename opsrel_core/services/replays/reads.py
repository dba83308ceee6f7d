"""Reads about replays: one replay, a page of them, a replay's history, a version's origin, and
what a replay of a partition would meet (its parent, the runs in flight, a recent success).

Nothing here writes: each read opens its own unit of work and leaves it without a commit.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from opsrel_core.domain import partition_writers, request_identity
from opsrel_core.domain.replay_plan import parent_of
from opsrel_core.domain.replay_status import ReplayStatus
from opsrel_core.persistence.repositories.replays import ReplayRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.replays.errors import MAX_LIST_LIMIT, NOT_FOUND_CODE, error, not_found
from opsrel_core.services.replays.partition_runs import PartitionRuns
from opsrel_core.services.replays.views import (
    ReplayExecution, ReplayHistory, ReplayView, execution_view,
)
from opsrel_core.services.results import ResultVersionView


@retry_transient_methods
class ReplayReads:
    """The read use cases of ``ReplayService`` (which sets ``_engine``)."""

    _engine: sa.Engine

    def parent_execution_id(self, job_id: str, partition_key: str) -> str | None:
        """The execution a replay of this partition redoes (``replay_plan.parent_of``): the
        execution of its active result (the newest version among the job's assets), else the
        partition's latest execution (a failed run being redone).

        Returns:
            An execution id, or None when the partition has no execution yet.

        Raises:
            BatchExecutionException: ``INVALID_REQUEST_CODE`` for an unknown job.
        """
        with UnitOfWork(self._engine) as uow:
            runs = PartitionRuns(uow.session.connection())
            job = runs.job(job_id)
            active = runs.active_executions(job, [partition_key])
            latest = runs.latest_executions(job_id, [partition_key])
            return parent_of(active.get(partition_key), latest.get(partition_key))

    def busy_partitions(self, job_id: str, partition_keys: Sequence[str]) -> dict[str, list[str]]:
        """Per busy key of ``partition_keys``, what is in flight for it
        (``partition_writers.busy_keys``), e.g. ``{"2013-03-01": ["replay 4 (RUNNING)"]}``."""
        with UnitOfWork(self._engine) as uow:
            runs = PartitionRuns(uow.session.connection())
            busy = partition_writers.busy_keys(partition_keys,
                                               runs.in_flight(job_id, partition_keys))
        return {key: [w.describe() for w in writers] for key, writers in busy.items()}

    def succeeded_since(self, job_id: str, partition_key: str, since: dt.datetime) -> str | None:
        """A SUCCESS execution of the partition (its own or a range covering it) that started at
        or after ``since`` (UTC), or None: such a run already read every input as of ``since``."""
        with UnitOfWork(self._engine) as uow:
            runs = PartitionRuns(uow.session.connection())
            return runs.succeeded_since(job_id, partition_key, since)

    def get_replay(self, replay_id: int) -> ReplayView:
        """One replay. Raises ``BatchExecutionException`` (``NOT_FOUND_CODE``) when unknown."""
        with UnitOfWork(self._engine) as uow:
            row = ReplayRepository(uow.session.connection()).get(replay_id)
            if row is None:
                raise not_found(replay_id)
            return ReplayView.of(row)

    def find_replay(self, replay_id: int) -> ReplayView | None:
        """One replay, or None when unknown."""
        with UnitOfWork(self._engine) as uow:
            row = ReplayRepository(uow.session.connection()).get(replay_id)
            return None if row is None else ReplayView.of(row)

    def find_replay_by_request_key(self, operator_id: str, request_key: str) -> ReplayView | None:
        """The replay ``operator_id`` recorded under ``request_key``, or None."""
        with UnitOfWork(self._engine) as uow:
            row = ReplayRepository(uow.session.connection()).by_request_key(
                request_identity.scoped_key(operator_id, request_key))
            return None if row is None else ReplayView.of(row)

    def list_replays(
        self, job_id: str | None = None, status: ReplayStatus | str | None = None,
        limit: int = 100, before_replay_id: int | None = None,
    ) -> list[ReplayView]:
        """Replays newest first (by ``replay_id``), optionally of one job and one status.

        Args:
            limit: page size, 1..1000.
            before_replay_id: keyset cursor: only replays with a smaller id.

        Raises:
            ValueError: ``limit`` out of range or an unknown status.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        stored_status = None if status is None else ReplayStatus(status).value
        with UnitOfWork(self._engine) as uow:
            rows = ReplayRepository(uow.session.connection()).newest_first(
                job_id=job_id, status=stored_status, limit=limit,
                before_replay_id=before_replay_id)
            return [ReplayView.of(r) for r in rows]

    def replay_history(self, replay_id: int) -> ReplayHistory:
        """The replay, its executions (oldest first) and the versions each made.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        with UnitOfWork(self._engine) as uow:
            runs = PartitionRuns(uow.session.connection())
            row = runs.replays.get(replay_id)
            if row is None:
                raise not_found(replay_id)
            executions = runs.reads.children_of(replay_id)
            versions: dict[str, list[ResultVersionView]] = {e.execution_id: [] for e in executions}
            for v in runs.reads.versions_of(list(versions)):
                versions[v.execution_id].append(ResultVersionView.of(v))
            return ReplayHistory(ReplayView.of(row), tuple(
                ReplayExecution(execution_view(e), tuple(versions[e.execution_id]))
                for e in executions
            ))

    def origin_of_version(self, version_id: int) -> tuple[ExecutionView, ReplayView | None]:
        """The execution that made a result version, and its replay (None if not a replay).

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` when no such version exists.
        """
        with UnitOfWork(self._engine) as uow:
            runs = PartitionRuns(uow.session.connection())
            version = runs.reads.version(version_id)
            if version is None:
                raise error(NOT_FOUND_CODE, f"no result version {version_id}")
            execution = runs.reads.execution(version.execution_id)
            replay = None
            if execution.replay_id is not None:
                row = runs.replays.get(execution.replay_id)
                if row is None:
                    raise not_found(execution.replay_id)
                replay = ReplayView.of(row)
            return execution_view(execution), replay
