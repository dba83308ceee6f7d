"""The SQL of execution contexts, over the session of the caller's unit of work.

``ExecutionContextRepository`` reads and writes ``execution_context`` rows as ORM objects and
takes the per-subject writer lock (``lock_subject``) that serializes concurrent recorders of one
execution, so no merge is lost. It never commits: the caller's unit of work does.
"""

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.tables import BatchExecution, ExecutionContext, utcnow


class ExecutionContextRepository:
    """Reads and writes execution contexts in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    def lock(self, key: str) -> None:
        """Serialize writers of ``key`` until the transaction ends (``lock_subject``)."""
        lock_subject(self._session, key)

    def execution_exists(self, execution_id: str) -> bool:
        """Whether the execution is recorded (``batch_execution``)."""
        return self._session.get(BatchExecution, execution_id) is not None

    def get(self, execution_id: str, *, fresh: bool = False) -> ExecutionContext | None:
        """The context row, or None.

        Args:
            fresh: read it from the database even when the session holds it (after the lock,
                another writer's merge must be seen).
        """
        return self._session.get(ExecutionContext, execution_id, populate_existing=fresh)

    def add(self, values: dict[str, Any]) -> ExecutionContext:
        """Add a new context row (``created_at`` now) and return it."""
        row = ExecutionContext(**values, created_at=utcnow())
        self._session.add(row)
        return row

    def update(self, execution_id: str, values: dict[str, Any]) -> ExecutionContext:
        """Set columns of a loaded context row and return it.

        Values are new objects, never in-place edits, so the ORM sees the JSON columns change.
        """
        row = self._session.get(ExecutionContext, execution_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        return row


def lock_subject(session: Session, key: str) -> None:
    """Serialize writers of one subject until the session's transaction ends.

    Call first in the transaction. PostgreSQL: a transaction-level advisory lock on a hash of
    ``key``. SQLite: takes the database write lock with a no-op write, so the reads that follow
    see every committed row and no other writer interleaves (SQLite has one writer anyway).

    Args:
        session: the unit of work's session, before any other statement.
        key: names the subject, e.g. ``"dq_report:DAILY:2013-02-01"``.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True)))
        )
    else:
        session.execute(
            sa.update(ExecutionContext)
            .where(sa.false())
            .values(execution_id=ExecutionContext.execution_id)
            .execution_options(synchronize_session=False)
        )
