"""SQLAlchemy 2.0 typed models of the ops schema, one module per wing.

``base`` holds what every table shares: one ``MetaData`` with schema ``ops`` and a constraint
naming convention, the column types (``BigId``, ``Json``, ``UtcDateTime``) and ``Base``. The
wings: ``catalog`` (batch jobs and their partition keys, error codes), ``executions``,
``replays``, ``audit``, ``results`` (result versions, snapshots), ``alerts``, ``projection``,
``provenance`` (lineage, execution context, the OpenLineage outbox), ``quality`` (rules, check
results, reports), ``access`` (API tokens, console sessions) and ``notes``.

Importing this package imports every wing, so ``Base.metadata`` holds the complete schema for
Alembic (``migrations/env.py``) and for the model/migration comparison; the names below are the
ones other modules import from here. Status lists of a CHECK constraint come from the domain's
enum where one exists, in the order the migrations wrote them.
"""

from opsrel_core.persistence.tables.access import API_ROLES, ApiToken, ConsoleSession
from opsrel_core.persistence.tables.alerts import (
    ALERT_CHANNELS, ALERT_STATUSES, DELIVERY_KINDS, DELIVERY_STATUSES, Alert, AlertDelivery,
    AlertDeliveryAttempt, AlertPartition, AlertSilence, AlertTemplate,
)
from opsrel_core.persistence.tables.audit import AUDIT_ACTION_TYPES, AuditLog
from opsrel_core.persistence.tables.base import (
    NAMING_CONVENTION, OPS_SCHEMA, SEVERITIES, Base, BigId, Json, UtcDateTime, in_list, utcnow,
)
from opsrel_core.persistence.tables.catalog import (
    ERROR_CATEGORIES, BatchJob, BatchJobPartition, ErrorCode,
)
from opsrel_core.persistence.tables.executions import (
    EXECUTION_STATUSES, TRIGGER_TYPES, BatchExecution, ExecutionEvent,
)
from opsrel_core.persistence.tables.notes import MAX_NOTE_LENGTH, PartitionNote
from opsrel_core.persistence.tables.projection import ProjectionCursor, ProjectionFailure
from opsrel_core.persistence.tables.provenance import (
    LINEAGE_EVENT_TYPES, LINEAGE_NODE_TYPES, ExecutionContext, LineageEdge, LineageEvent,
    LineageEventAttempt, LineageNode,
)
from opsrel_core.persistence.tables.quality import (
    REPORT_TYPES, RULE_ALERT_POLICIES, RULE_SEVERITIES, VALIDATION_STATUSES, DqReport,
    DqReportItem, ValidationResult, ValidationRule, ValidationRuleVersion,
)
from opsrel_core.persistence.tables.replays import REPLAY_STATUSES, REPLAY_TYPES, Replay
from opsrel_core.persistence.tables.results import ResultVersion, Snapshot

__all__ = [
    "ALERT_CHANNELS", "ALERT_STATUSES", "API_ROLES", "AUDIT_ACTION_TYPES", "DELIVERY_KINDS",
    "DELIVERY_STATUSES", "ERROR_CATEGORIES", "EXECUTION_STATUSES", "LINEAGE_EVENT_TYPES",
    "LINEAGE_NODE_TYPES", "MAX_NOTE_LENGTH", "NAMING_CONVENTION", "OPS_SCHEMA", "REPLAY_STATUSES",
    "REPLAY_TYPES", "REPORT_TYPES", "RULE_ALERT_POLICIES", "RULE_SEVERITIES", "SEVERITIES",
    "TRIGGER_TYPES", "VALIDATION_STATUSES", "Alert", "AlertDelivery", "AlertDeliveryAttempt",
    "AlertPartition", "AlertSilence", "AlertTemplate", "ApiToken", "AuditLog", "Base", "BatchExecution",
    "BatchJob", "BatchJobPartition", "BigId", "ConsoleSession", "DqReport", "DqReportItem",
    "ErrorCode", "ExecutionContext", "ExecutionEvent", "Json", "LineageEdge", "LineageEvent",
    "LineageEventAttempt", "LineageNode", "PartitionNote", "ProjectionCursor", "ProjectionFailure",
    "Replay", "ResultVersion", "Snapshot", "UtcDateTime", "ValidationResult", "ValidationRule",
    "ValidationRuleVersion", "in_list", "utcnow",
]
