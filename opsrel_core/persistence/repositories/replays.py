"""The SQL of replay requests: look-ups, lists, status moves and the locks that order requests.

Every function reads or writes through the connection of the caller's unit of work, so it sees
that transaction's own changes and commits with it; nothing here commits. Rows come back as
``sa.Row`` of the ``replay`` table (attributes named as its columns).

A new replay row is not inserted here: its audit record captures the row's state before and
after the insert through the ORM session (``audit_log.audit_change``), so the request use case
adds the ORM object itself inside that block.
"""

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import BatchJob, Replay

_REPLAY = Replay.__table__
_JOB = BatchJob.__table__


class ReplayRepository:
    """Reads and writes ``replay`` rows over one transaction's connection.

    Args:
        connection: the connection of an open unit of work (``uow.session.connection()``);
            use a new repository after a commit or rollback, which ends that connection's
            transaction.
    """

    def __init__(self, connection: sa.Connection):
        self._connection = connection

    def get(self, replay_id: int) -> sa.Row[Any] | None:
        """The replay with this id as the database holds it now, or None."""
        return self._connection.execute(
            sa.select(_REPLAY).where(_REPLAY.c.replay_id == replay_id)).one_or_none()

    def by_request_key(self, stored_key: str) -> sa.Row[Any] | None:
        """The replay recorded under ``stored_key`` (the key as stored: scoped to its
        operator, ``request_identity.scoped_key``), or None."""
        return self._connection.execute(
            sa.select(_REPLAY).where(_REPLAY.c.request_key == stored_key)).one_or_none()

    def newest_first(
        self, *, job_id: str | None, status: str | None, limit: int,
        before_replay_id: int | None,
    ) -> list[sa.Row[Any]]:
        """At most ``limit`` replays by descending ``replay_id``, optionally of one job and one
        status (as stored), only ids below ``before_replay_id`` when given (a keyset page)."""
        stmt = sa.select(_REPLAY).order_by(_REPLAY.c.replay_id.desc()).limit(limit)
        if job_id is not None:
            stmt = stmt.where(_REPLAY.c.job_id == job_id)
        if status is not None:
            stmt = stmt.where(_REPLAY.c.status == status)
        if before_replay_id is not None:
            stmt = stmt.where(_REPLAY.c.replay_id < before_replay_id)
        return list(self._connection.execute(stmt))

    def of_job_in(self, job_id: str, statuses: Iterable[str]) -> list[sa.Row[Any]]:
        """The job's replays whose status is one of ``statuses`` (in no particular order)."""
        return list(self._connection.execute(sa.select(_REPLAY).where(
            _REPLAY.c.job_id == job_id, _REPLAY.c.status.in_(list(statuses)))))

    def compare_and_set(self, replay_id: int, current: str, values: Mapping[str, Any]) -> bool:
        """Set ``values`` (columns) on the replay only while its status is still ``current``.

        Returns:
            True when the row was changed; False when another writer moved the status first
            (the caller reads again and decides again).
        """
        # Guarded by the status read, so a concurrent move (say SUCCESS by a status refresh) is
        # never overwritten, on SQLite too, where SELECT ... FOR UPDATE does not lock.
        result = self._connection.execute(
            sa.update(_REPLAY)
            .where(_REPLAY.c.replay_id == replay_id, _REPLAY.c.status == current)
            .values(**values))
        return result.rowcount == 1

    def serialize_requests_of_job(self, job_id: str) -> None:
        """Lock the job's catalog row until the transaction ends (a no-op update).

        Two requests for one job then cannot both find its partitions free: a row lock on
        PostgreSQL, the database write lock on SQLite.
        """
        self._connection.execute(
            sa.update(_JOB).where(_JOB.c.job_id == job_id).values(is_active=_JOB.c.is_active))

    def count_of_operator_in(self, operator_id: str, statuses: Iterable[str]) -> int:
        """How many of the operator's replays (any job) have one of ``statuses``, counted under
        a lock held until the transaction ends.

        The job's row lock (``serialize_requests_of_job``) serializes requests of one job; an
        operator's requests for different jobs are serialized here too: a transaction-scoped
        advisory lock per operator on PostgreSQL (SQLite already holds the database write lock).
        """
        if self._connection.dialect.name == "postgresql":
            digest = hashlib.sha256(f"opsrel.replay.operator:{operator_id}".encode()).digest()
            self._connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                int.from_bytes(digest[:8], "big", signed=True))))
        return self._connection.scalar(
            sa.select(sa.func.count()).select_from(_REPLAY).where(
                _REPLAY.c.operator_id == operator_id,
                _REPLAY.c.status.in_(list(statuses)))) or 0
