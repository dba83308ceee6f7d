"""The SQL of the audit log, over the connection of the caller's transaction.

``AuditRepository`` runs Core statements and returns rows of the ``audit_log`` table (a
SQLAlchemy ``Row`` with every column as an attribute, ``occurred_at`` an aware UTC datetime). It
never commits: the caller's unit of work does, so an audited action and its record land together
or not at all. The table is append-only (the database refuses UPDATE and DELETE on it), and
nothing here updates or deletes.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog

_AUDIT = AuditLog.__table__


class AuditRepository:
    """Writes and reads audit records on ``conn`` (a connection of an open transaction)."""

    def __init__(self, conn: sa.Connection):
        self._conn = conn

    def insert(self, values: dict[str, Any]) -> sa.Row[Any]:
        """Write one record and return it as written (every column, ``audit_id`` included).

        One ``INSERT ... RETURNING``: the caller builds its view from the returned row instead
        of reading it back in a second statement.
        """
        return self._conn.execute(sa.insert(_AUDIT).values(values).returning(*_AUDIT.c)).one()

    def newest_id(self, target_type: str, target_id: str, action: str) -> int | None:
        """The id of the newest record of ``action`` on a target, or None when there is none."""
        return self._conn.scalar(
            sa.select(_AUDIT.c.audit_id)
            .where(_AUDIT.c.target_type == target_type, _AUDIT.c.target_id == target_id,
                   _AUDIT.c.action == action)
            .order_by(_AUDIT.c.audit_id.desc()).limit(1)
        )

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
    ) -> list[sa.Row[Any]]:
        """Records, newest first (by ``audit_id``, the insertion order), at most ``limit``.

        Args:
            limit: how many rows at most (the caller checks its range).
            operator_id, target_type, target_id, action_type: exact-match filters; None
                filters nothing.
            since: ``occurred_at >= since``; until: ``occurred_at < until`` (aware UTC).
            before_audit_id: only records with a smaller ``audit_id`` (a keyset cursor).
        """
        stmt = sa.select(_AUDIT).order_by(_AUDIT.c.audit_id.desc()).limit(limit)
        for column, value in (
            (_AUDIT.c.operator_id, operator_id),
            (_AUDIT.c.target_type, target_type),
            (_AUDIT.c.target_id, target_id),
            (_AUDIT.c.action_type, action_type),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(_AUDIT.c.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(_AUDIT.c.occurred_at < until)
        if before_audit_id is not None:
            stmt = stmt.where(_AUDIT.c.audit_id < before_audit_id)
        return list(self._conn.execute(stmt))
