"""Read queries of the admin API that the core services do not offer: the audit record written
by a given action. The execution list is the core's one listing
(``opsrel_core.services.execution_queries``), shared with the CLI; its filter and cursor helpers
are re-exported here for the routes."""

from opsrel_core.services.audit_log import AuditLogService
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
        return AuditLogService(self._engine).newest_audit_id(target_type, target_id, action)
