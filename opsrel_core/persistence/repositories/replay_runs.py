"""The SQL a replay reads about runs: a job's executions of some keys, a replay's children, and
the result versions they made.

Reads only, through the connection of the caller's unit of work. Rows come back as ``sa.Row``
of ``batch_execution``, ``result_version`` or ``batch_job`` (attributes named as the columns).
Which keys a range run covers is not decided here: only the caller knows the job's key order.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import BatchExecution, BatchJob, ResultVersion

_EXECUTION = BatchExecution.__table__
_VERSION = ResultVersion.__table__
_JOB = BatchJob.__table__
_CHUNK = 500  # keys per IN (...) list: far below SQLite's bound-parameter limit


def chunks(keys: Sequence[str]) -> list[list[str]]:
    """``keys`` in lists of at most 500, each small enough for one ``IN (...)``."""
    keys = list(keys)
    return [keys[i:i + _CHUNK] for i in range(0, len(keys), _CHUNK)]


class ReplayRunReads:
    """Reads of executions and result versions over one transaction's connection.

    Args:
        connection: the connection of an open unit of work (``uow.session.connection()``).
    """

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def job(self, job_id: str) -> sa.Row[Any] | None:
        """The job's catalog row (``batch_job``), or None."""
        return self.connection.execute(
            sa.select(_JOB).where(_JOB.c.job_id == job_id)).one_or_none()

    def execution(self, execution_id: str) -> sa.Row[Any]:
        """One execution; it exists (a foreign key points at it). Raises ``NoResultFound``."""
        return self.connection.execute(
            sa.select(_EXECUTION).where(_EXECUTION.c.execution_id == execution_id)).one()

    def version(self, version_id: int) -> sa.Row[Any] | None:
        """One result version, or None."""
        return self.connection.execute(
            sa.select(_VERSION).where(_VERSION.c.version_id == version_id)).one_or_none()

    def children_of(self, replay_id: int) -> list[sa.Row[Any]]:
        """The replay's executions, oldest first (creation time, then execution id)."""
        return list(self.connection.execute(
            sa.select(_EXECUTION)
            .where(_EXECUTION.c.replay_id == replay_id)
            .order_by(_EXECUTION.c.created_at, _EXECUTION.c.execution_id)))

    def versions_of(self, execution_ids: Sequence[str]) -> list[sa.Row[Any]]:
        """The result versions the executions made, by asset key, then partition key."""
        return list(self.connection.execute(
            sa.select(_VERSION)
            .where(_VERSION.c.execution_id.in_(list(execution_ids)))
            .order_by(_VERSION.c.asset_key, _VERSION.c.partition_key)))

    def active_versions(self, asset_keys: Sequence[str], keys: Sequence[str]
                        ) -> list[sa.Row[Any]]:
        """The active result versions of ``asset_keys`` for ``keys``: rows of
        ``(execution_id, partition_key, created_at, version_id)``."""
        rows: list[sa.Row[Any]] = []
        for chunk in chunks(keys):
            rows.extend(self.connection.execute(
                sa.select(_VERSION.c.execution_id, _VERSION.c.partition_key,
                          _VERSION.c.created_at, _VERSION.c.version_id)
                .where(_VERSION.c.asset_key.in_(list(asset_keys)),
                       _VERSION.c.partition_key.in_(chunk), _VERSION.c.is_active.is_(True))))
        return rows

    def executions_of_keys(self, job_id: str, keys: Sequence[str]) -> list[sa.Row[Any]]:
        """The job's single-partition executions of any of ``keys``."""
        rows: list[sa.Row[Any]] = []
        for chunk in chunks(keys):
            rows.extend(self.connection.execute(sa.select(_EXECUTION).where(
                _EXECUTION.c.job_id == job_id, _EXECUTION.c.partition_key.in_(chunk))))
        return rows

    def range_executions(self, job_id: str, overlapping: tuple[str, str] | None
                         ) -> list[sa.Row[Any]]:
        """The job's range executions (no partition key of their own).

        Args:
            overlapping: ``(low, high)``: only ranges whose ends overlap ``low..high`` in string
                order, for jobs whose key order is string order; None: every range run.
        """
        stmt = sa.select(_EXECUTION).where(_EXECUTION.c.job_id == job_id,
                                           _EXECUTION.c.partition_key.is_(None))
        if overlapping is not None:
            low, high = overlapping
            stmt = stmt.where(_EXECUTION.c.partition_range_start <= high,
                              _EXECUTION.c.partition_range_end >= low)
        return list(self.connection.execute(stmt))
