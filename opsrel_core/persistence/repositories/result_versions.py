"""The SQL of result versions, over the session of the caller's unit of work.

``ResultVersionRepository`` reads and writes ``result_version`` rows as ORM objects: the audit
record of a data correction captures the row it changes, and the alert resolution and the
OpenLineage outbox write in the same session. It never commits: the caller's unit of work does.
At most one version per asset partition is active (a partial unique index): a write that puts a
version in service flushes at once, after the write that took the old one out, so the index sees
the old one leave before the new one enters.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.tables import BatchExecution, ResultVersion

_V = ResultVersion


class ResultVersionRepository:
    """Reads and writes result versions in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    # -- reads -------------------------------------------------------------------------------

    def get(self, version_id: int) -> ResultVersion | None:
        """The version with this id, or None."""
        return self._session.get(ResultVersion, version_id)

    def of_execution(self, asset_key: str, partition_key: str,
                     execution_id: str) -> ResultVersion | None:
        """The version an execution produced for an asset partition, or None."""
        return self._session.scalar(sa.select(_V).where(
            _V.asset_key == asset_key, _V.partition_key == partition_key,
            _V.execution_id == execution_id))

    def all_of_execution(self, execution_id: str) -> list[ResultVersion]:
        """Every version an execution produced, by asset and partition."""
        return list(self._session.scalars(
            sa.select(_V).where(_V.execution_id == execution_id)
            .order_by(_V.asset_key, _V.partition_key)))

    def highest_number(self, asset_key: str, partition_key: str) -> int | None:
        """The partition's highest version number, None before its first version."""
        return self._session.scalar(sa.select(sa.func.max(_V.version_number)).where(
            _V.asset_key == asset_key, _V.partition_key == partition_key))

    def active(self, asset_key: str, partition_key: str, *,
               lock: bool = False) -> ResultVersion | None:
        """The partition's active version, or None.

        Args:
            lock: lock the row until the transaction ends (an activation or a restore).
        """
        stmt = sa.select(_V).where(_V.asset_key == asset_key, _V.partition_key == partition_key,
                                   _V.is_active.is_(True))
        if lock:
            stmt = stmt.with_for_update()
        return self._session.scalar(stmt)

    def active_numbers(self, asset_key: str,
                       partition_keys: Sequence[str]) -> dict[str, int | None]:
        """Per partition key, the number of the asset's active version (None: none active); one
        query for every partition (a range run's year is one statement)."""
        found = dict(self._session.execute(
            sa.select(_V.partition_key, _V.version_number).where(
                _V.asset_key == asset_key, _V.partition_key.in_(list(partition_keys)),
                _V.is_active.is_(True))).tuples().all())
        return {key: found.get(key) for key in partition_keys}

    def first_active(self, asset_keys: Sequence[str],
                     partition_keys: Sequence[str]) -> ResultVersion | None:
        """One active version among the assets and partitions (by asset, partition), or None."""
        return self._session.scalar(
            sa.select(_V).where(_V.asset_key.in_(list(asset_keys)),
                                _V.partition_key.in_(list(partition_keys)),
                                _V.is_active.is_(True))
            .order_by(_V.asset_key, _V.partition_key).limit(1))

    def history(self, asset_key: str, partition_key: str) -> list[ResultVersion]:
        """Every version of an asset partition, newest first."""
        return list(self._session.scalars(
            sa.select(_V).where(_V.asset_key == asset_key, _V.partition_key == partition_key)
            .order_by(_V.version_number.desc())))

    def by_number(self, asset_key: str, partition_key: str, version_number: int, *,
                  lock: bool = False) -> ResultVersion | None:
        """One version by number, or None; ``lock`` locks it until the transaction ends."""
        stmt = sa.select(_V).where(_V.asset_key == asset_key, _V.partition_key == partition_key,
                                   _V.version_number == version_number)
        if lock:
            stmt = stmt.with_for_update()
        return self._session.scalar(stmt)

    def earlier(self, asset_key: str, partition_key: str,
                below: int) -> list[tuple[ResultVersion, str]]:
        """The partition's versions numbered below ``below`` whose execution is recorded, with
        that execution's status, newest first."""
        return [(row, status) for row, status in self._session.execute(
            sa.select(_V, BatchExecution.status)
            .join(BatchExecution, BatchExecution.execution_id == _V.execution_id)
            .where(_V.asset_key == asset_key, _V.partition_key == partition_key,
                   _V.version_number < below)
            .order_by(_V.version_number.desc()))]

    def assets_of_execution(self, execution_id: str) -> int:
        """How many distinct assets an execution has versions of."""
        return self._session.scalar(
            sa.select(sa.func.count(sa.distinct(_V.asset_key)))
            .where(_V.execution_id == execution_id)) or 0

    # -- writes ------------------------------------------------------------------------------

    def add(self, values: dict[str, Any]) -> ResultVersion:
        """Add a new version with these column values; written at the next flush.

        Raises (at the flush or commit):
            sqlalchemy.exc.IntegrityError: the partition has a version with this number, or one
                of this execution (a concurrent writer took it first).
        """
        row = ResultVersion(**values)
        self._session.add(row)
        return row

    def flush(self) -> None:
        """Write what was added so far (a conflict surfaces here as ``IntegrityError``)."""
        self._session.flush()

    def put_in_service(self, row: ResultVersion, *, clear_reason: bool = True) -> None:
        """Make ``row`` the active version and flush; ``clear_reason`` also forgets the gate's
        recorded refusal."""
        row.is_active = True
        if clear_reason:
            row.inactive_reason = None
        row.deactivated_at = None
        row.deactivated_by_execution_id = None
        self._session.flush()

    def take_out_of_service(self, row: ResultVersion, at: dt.datetime,
                            by_execution_id: str | None) -> None:
        """Make ``row`` inactive as of ``at`` and flush; ``by_execution_id``: the execution whose
        version replaces it (None for an operator's correction)."""
        row.is_active = False
        row.deactivated_at = at
        row.deactivated_by_execution_id = by_execution_id
        self._session.flush()

    def set_reason(self, row: ResultVersion, reason: str | None) -> None:
        """Record why the activation gate left ``row`` inactive (written with the next flush)."""
        row.inactive_reason = reason
