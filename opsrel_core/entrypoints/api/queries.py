"""Read queries of the admin API that the core services do not offer: the audit record written
by a given action. The execution list is the core's one listing
(``opsrel_core.services.execution_queries``), shared with the CLI; its filter and cursor helpers
are re-exported here for the routes."""

import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.execution_queries import (
    MAX_LIMIT,
    ExecutionFilter,
    ExecutionQueries,
    decode_cursor,
    encode_cursor,
)

__all__ = ["MAX_LIMIT", "AdminQueries", "ExecutionFilter", "decode_cursor", "encode_cursor"]


class AdminQueries(ExecutionQueries):
    """Read-only queries over the ops tables for the admin API: the execution list (inherited,
    the same one the CLI uses) and audit look-ups.

    Args:
        engine: engine of the ops database.
    """

    def audit_id_of(self, target_type: str, target_id: str, action: str) -> int | None:
        """The newest audit record of ``action`` on a target, or None."""
        with UnitOfWork(self._engine) as uow:
            return uow.session.scalar(
                sa.select(AuditLog.audit_id)
                .where(AuditLog.target_type == target_type, AuditLog.target_id == target_id,
                       AuditLog.action == action)
                .order_by(AuditLog.audit_id.desc()).limit(1)
            )
