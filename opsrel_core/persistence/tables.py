"""SQLAlchemy 2.0 typed models of the ops schema.

One ``MetaData`` with schema ``ops`` and a constraint naming convention. On SQLite the engine
maps schema ``ops`` to none (``schema_translate_map``), so the same models serve both backends.
The DDL itself is owned by the Alembic migrations in ``migrations/versions``; these models must
match them, which ``tests/integration/test_migrations.py`` checks by comparing metadata.

All times are UTC. Integer keys are ``INTEGER PRIMARY KEY`` on SQLite (the row id) and BIGINT
identity on PostgreSQL.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from opsrel_core.domain import alert_delivery, alert_lifecycle, replay_status
from opsrel_core.domain import status as domain_status

OPS_SCHEMA = "ops"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# None is stored as SQL NULL, not as the JSON text 'null'.
Json = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


class UtcDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC timestamp on both backends.

    PostgreSQL returns aware values; SQLite stores no zone and returns naive ones, which are UTC
    by construction here. Reading through this type gives aware UTC datetimes either way, so no
    caller has to repair them.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


EXECUTION_STATUSES = domain_status.EXECUTION_STATUSES
TRIGGER_TYPES = (
    "MANUAL", "BACKFILL", "SENSOR", "SCHEDULE", "CLI", "REPLAY", "REEXECUTE", "RETRY",  # 0010
)
ERROR_CATEGORIES = ("INP", "EXT", "BAT", "DQ", "LOG", "SYS")
SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
AUDIT_ACTION_TYPES = ("BATCH_ACTION", "DATA_CORRECTION", "CONFIG_CHANGE")
REPLAY_TYPES = replay_status.REPLAY_TYPES
REPLAY_STATUSES = replay_status.REPLAY_STATUSES
ALERT_STATUSES = alert_lifecycle.ALERT_STATUSES
ALERT_CHANNELS = alert_delivery.ALERT_CHANNELS  # PAGERDUTY: 0020
DELIVERY_STATUSES = alert_delivery.DELIVERY_STATUSES  # SUPPRESSED: 0016
DELIVERY_KINDS = alert_delivery.DELIVERY_KINDS  # 0016; UPDATE: 0018; ACKNOWLEDGE: 0020
LINEAGE_NODE_TYPES = ("SOURCE", "SNAPSHOT", "TRANSFORM", "AGGREGATION", "RESULT")
RULE_SEVERITIES = ("FAIL", "WARN")
RULE_ALERT_POLICIES = ("always", "baseline", "never")
VALIDATION_STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
REPORT_TYPES = ("DAILY", "REPLAY", "PARTITION")  # PARTITION: 0024
API_ROLES = ("viewer", "operator", "admin")


def in_list(column: str, values: tuple[str, ...]) -> str:
    """Render a CHECK expression ``column IN ('A', 'B')`` for a status column."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base carrying the ops schema's MetaData."""

    metadata = sa.MetaData(schema=OPS_SCHEMA, naming_convention=NAMING_CONVENTION)


# --- operations: jobs, executions, replays, audit, results, alerts, projection -------------


class BatchJob(Base):
    """A batch job of the catalog: a named selection of assets run per partition."""

    __tablename__ = "batch_job"
    job_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    asset_selection: Mapped[list[str]] = mapped_column(Json)
    partitions: Mapped[str] = mapped_column(sa.String(50))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The partition set's inclusive bounds (migration 0008); NULL: unbounded on that side.
    partition_start: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    partition_end: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    # The partition deadline (migration 0019, ``domain.deadlines``): day D must have an active
    # version this many seconds after it ends, on the clock of this IANA timezone; NULL: none.
    deadline_seconds: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    deadline_timezone: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class BatchJobPartition(Base):
    """One partition key of a job, at its place in the job's order (migration 0023); written
    by ``BatchJobCatalog.register`` from the application's partitions definition."""

    __tablename__ = "batch_job_partition"
    __table_args__ = (sa.UniqueConstraint("job_id", "partition_key"),)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    partition_key: Mapped[str] = mapped_column(sa.String(100))


class ErrorCode(Base):
    """One entry of the error-code catalog."""

    __tablename__ = "error_code"
    __table_args__ = (
        sa.CheckConstraint(in_list("category", ERROR_CATEGORIES), name="category"),
        sa.CheckConstraint(in_list("severity", SEVERITIES), name="severity"),
        sa.Index(None, "category"),
    )
    code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(200))
    user_message: Mapped[str] = mapped_column(sa.Text)
    operator_message: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[str] = mapped_column(sa.String(10))
    retryable: Mapped[bool] = mapped_column(sa.Boolean)
    auto_alert: Mapped[bool] = mapped_column(sa.Boolean)
    # What an operator does first for this code, shown in alert messages (migration 0017).
    operator_action: Mapped[str] = mapped_column(sa.Text, server_default="")


class Replay(Base):
    """A replay request: full history, a range or a single partition."""

    __tablename__ = "replay"
    __table_args__ = (
        sa.CheckConstraint(in_list("replay_type", REPLAY_TYPES), name="replay_type"),
        sa.CheckConstraint(in_list("status", REPLAY_STATUSES), name="status"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
        sa.Index(None, "job_id", "requested_at"),
    )
    replay_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    replay_type: Mapped[str] = mapped_column(sa.String(10))
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    partition_start: Mapped[str | None] = mapped_column(sa.String(100))
    partition_end: Mapped[str | None] = mapped_column(sa.String(100))
    backfill_id: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str] = mapped_column(sa.Text)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # The exact keys the replay runs, in order (its plan, migration 0010); NULL on older rows,
    # which cover partition_start..partition_end.
    partition_keys: Mapped[list[str] | None] = mapped_column(Json, nullable=True)


class BatchExecution(Base):
    """One execution: one Dagster run of the code location (execution_id = run id).

    The primary key makes recording the same execution twice impossible.
    """

    __tablename__ = "batch_execution"
    __table_args__ = (
        sa.CheckConstraint(in_list("status", EXECUTION_STATUSES), name="status"),
        sa.CheckConstraint(in_list("trigger_type", TRIGGER_TYPES), name="trigger_type"),
        sa.CheckConstraint("steps_done >= 0 AND steps_done <= steps_total", name="progress"),
        sa.Index(None, "job_id", "started_at"),
        sa.Index(None, "status"),
        sa.Index(None, "partition_key"),
        sa.Index(None, "error_code"),
        sa.Index(None, "parent_execution_id"),
        sa.Index(None, "created_at", "execution_id"),  # the execution list's order (0007)
        sa.Index(None, "job_id", "partition_key", "created_at", "execution_id"),  # metrics (0015)
        sa.Index(None, "updated_at"),  # metrics: executions ended since the last scrape (0015)
    )
    execution_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    status: Mapped[str] = mapped_column(sa.String(10))
    trigger_type: Mapped[str] = mapped_column(sa.String(10))
    partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    partition_range_start: Mapped[str | None] = mapped_column(sa.String(100))
    partition_range_end: Mapped[str | None] = mapped_column(sa.String(100))
    backfill_id: Mapped[str | None] = mapped_column(sa.String(100))
    run_tags: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    parent_execution_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("batch_execution.execution_id")
    )
    replay_id: Mapped[int | None] = mapped_column(sa.ForeignKey("replay.replay_id"))
    operator_id: Mapped[str | None] = mapped_column(sa.String(100))
    steps_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    steps_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_written: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    error_code: Mapped[str | None] = mapped_column(sa.ForeignKey("error_code.code"))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    failed_asset_key: Mapped[str | None] = mapped_column(sa.String(200))
    failed_partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    stop_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ExecutionEvent(Base):
    """Append-only history of an execution's status changes and progress events.

    ``(execution_id, event_key)`` is unique: the same event applied twice is stored once.
    """

    __tablename__ = "execution_event"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "event_key"),
        sa.CheckConstraint(in_list("to_status", EXECUTION_STATUSES), name="to_status"),
    )
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    event_key: Mapped[str] = mapped_column(sa.String(200))
    from_status: Mapped[str | None] = mapped_column(sa.String(10))
    to_status: Mapped[str] = mapped_column(sa.String(10))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    detail: Mapped[dict[str, Any] | None] = mapped_column(Json)


class AuditLog(Base):
    """Append-only audit record of a manual action. Operator and reason are required.

    Triggers (migrations 0001, 0012) refuse UPDATE, DELETE, TRUNCATE (PostgreSQL) and an insert
    that names an existing ``audit_id`` (SQLite REPLACE, upserts); the application role may only
    SELECT and INSERT it (``persistence.roles``)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.CheckConstraint(in_list("action_type", AUDIT_ACTION_TYPES), name="action_type"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),
        sa.Index(None, "occurred_at"),
        sa.Index(None, "operator_id", "occurred_at"),
        sa.Index(None, "target_type", "target_id"),
    )
    audit_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    action_type: Mapped[str] = mapped_column(sa.String(20))
    action: Mapped[str] = mapped_column(sa.String(50))
    target_type: Mapped[str] = mapped_column(sa.String(50))
    target_id: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.Text)
    before_state: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after_state: Mapped[dict[str, Any] | None] = mapped_column(Json)
    execution_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Who was authenticated for the action (token:<id>, os:<user>, sensor:<name>), beside the
    # operator name; NULL on records written before migration 0011.
    principal: Mapped[str | None] = mapped_column(sa.String(120))


class ResultVersion(Base):
    """One version of a result asset partition. At most one active per partition."""

    __tablename__ = "result_version"
    __table_args__ = (
        sa.UniqueConstraint("asset_key", "partition_key", "version_number"),
        sa.UniqueConstraint("asset_key", "partition_key", "execution_id"),
        sa.Index(
            "uq_result_version_one_active",
            "asset_key",
            "partition_key",
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        ),
        sa.CheckConstraint("version_number >= 1", name="version_number_positive"),
    )
    version_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    version_number: Mapped[int] = mapped_column(sa.Integer)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    content_hash: Mapped[str] = mapped_column(sa.String(80))
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    storage_uri: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    deactivated_by_execution_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Why the activation gate left this version inactive (migration 0010); NULL otherwise.
    inactive_reason: Mapped[str | None] = mapped_column(sa.Text)


class Alert(Base):
    """An operational alert. ``dedupe_key`` is unique among live (OPEN or
    ACKNOWLEDGED) alerts; ``resolved_*`` say when, by whom and why one ended (0016)."""

    __tablename__ = "alert"
    __table_args__ = (
        sa.CheckConstraint(in_list("status", ALERT_STATUSES), name="status"),
        sa.CheckConstraint(in_list("severity", SEVERITIES), name="severity"),
        sa.CheckConstraint("occurrence_count >= 1", name="occurrence_count_positive"),
        sa.Index(
            "uq_alert_open_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=sa.text("status IN ('OPEN', 'ACKNOWLEDGED')"),
            postgresql_where=sa.text("status IN ('OPEN', 'ACKNOWLEDGED')"),
        ),
        sa.Index(None, "status", "last_seen_at"),
        sa.Index(None, "execution_id"),
    )
    alert_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_kind: Mapped[str] = mapped_column(sa.String(50))
    severity: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(15), default="OPEN")
    dedupe_key: Mapped[str] = mapped_column(sa.String(300))
    error_code: Mapped[str | None] = mapped_column(sa.ForeignKey("error_code.code"))
    job_id: Mapped[str | None] = mapped_column(sa.String(100))
    execution_id: Mapped[str | None] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    asset_key: Mapped[str | None] = mapped_column(sa.String(200))
    partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(300))
    message: Mapped[str] = mapped_column(sa.Text)
    occurrence_count: Mapped[int] = mapped_column(sa.Integer, default=1)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(100))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))
    resolved_by_execution_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("batch_execution.execution_id"))
    resolve_reason: Mapped[str | None] = mapped_column(sa.Text)
    rule_id: Mapped[str | None] = mapped_column(sa.String(100))
    silenced_by: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("alert_silence.silence_id"))


class AlertSilence(Base):
    """A silence: alerts matching every given matcher, raised while ``now < expires_at`` and
    before ``ended_at``, are recorded but not delivered (0016)."""

    __tablename__ = "alert_silence"
    __table_args__ = (
        sa.CheckConstraint(
            "job_id IS NOT NULL OR error_code IS NOT NULL OR rule_id IS NOT NULL "
            "OR partition_pattern IS NOT NULL", name="has_matcher"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
        sa.Index(None, "expires_at"),
    )
    silence_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(sa.String(100))
    error_code: Mapped[str | None] = mapped_column(sa.ForeignKey("error_code.code"))
    rule_id: Mapped[str | None] = mapped_column(sa.String(100))
    partition_pattern: Mapped[str | None] = mapped_column(sa.String(100))
    reason: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    ended_by: Mapped[str | None] = mapped_column(sa.String(100))


class AlertDelivery(Base):
    """One channel's delivery of an alert: the outbox row a dispatcher sends. ``kind`` ALERT is
    the alert itself, RECOVERY the notice that it was resolved (PagerDuty: ``resolve``),
    ACKNOWLEDGE its acknowledgement mirrored to PagerDuty."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", "kind", "sequence"),
        sa.CheckConstraint(in_list("kind", DELIVERY_KINDS), name="kind"),
        sa.CheckConstraint(in_list("channel", ALERT_CHANNELS), name="channel"),
        sa.CheckConstraint(in_list("status", DELIVERY_STATUSES), name="status"),
        sa.Index(None, "status", "next_attempt_at"),
    )
    delivery_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.alert_id"))
    channel: Mapped[str] = mapped_column(sa.String(10))
    kind: Mapped[str] = mapped_column(sa.String(20), default="ALERT", server_default="ALERT")
    # An incident's UPDATE deliveries: the partition count each announces; 0 otherwise (0018).
    sequence: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(sa.String(10), default="PENDING")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AlertPartition(Base):
    """A partition of an incident alert (EXECUTION_FAILED): its latest failing execution, when
    it first and last failed, and its recovery. The alert is resolved by recovery once every
    partition of it has recovered (0018)."""

    __tablename__ = "alert_partition"
    __table_args__ = (sa.Index(None, "partition_key"),)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.alert_id"), primary_key=True)
    partition_key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    execution_id: Mapped[str | None] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    recovered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    recovered_by_execution_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("batch_execution.execution_id"))


class AlertDeliveryAttempt(Base):
    """One attempt to send a delivery: time, outcome, error."""

    __tablename__ = "alert_delivery_attempt"
    __table_args__ = (sa.Index(None, "delivery_id"),)
    attempt_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("alert_delivery.delivery_id"))
    attempted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(sa.Boolean)
    error: Mapped[str | None] = mapped_column(sa.Text)


class AlertTemplate(Base):
    """Subject and body templates per kind of event and channel."""

    __tablename__ = "alert_template"
    __table_args__ = (
        sa.UniqueConstraint("event_kind", "channel"),
        sa.CheckConstraint(in_list("channel", ALERT_CHANNELS), name="channel"),
    )
    template_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_kind: Mapped[str] = mapped_column(sa.String(50))
    channel: Mapped[str] = mapped_column(sa.String(10))
    subject_template: Mapped[str | None] = mapped_column(sa.Text)
    body_template: Mapped[str] = mapped_column(sa.Text)


class ProjectionCursor(Base):
    """Where a projection of Dagster's event log into the ops schema stands (a storage id).

    ``oldest_pending_at``: when the oldest event not yet applied happened, as seen at the last
    batch (NULL when caught up); the ingestion lag is measured from it (migration 0006).
    """

    __tablename__ = "projection_cursor"
    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    oldest_pending_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class ProjectionFailure(Base):
    """A run whose projection raised, set aside so that it never holds back the others
    (migration 0010). Retried from ``next_attempt_at`` with backoff; the row goes when the run
    is recorded. ``alerted``: the one SYS-004 alert after repeated attempts was raised.
    """

    __tablename__ = "projection_failure"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 1", name="attempts_positive"),
        sa.Index(None, "next_attempt_at"),
    )
    run_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    error_code: Mapped[str] = mapped_column(sa.ForeignKey("error_code.code"))
    error_message: Mapped[str] = mapped_column(sa.Text)
    first_failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    alerted: Mapped[bool] = mapped_column(sa.Boolean, default=False)


LINEAGE_EVENT_TYPES = ("START", "COMPLETE", "FAIL", "ABORT")


class LineageEvent(Base):
    """One OpenLineage run event of an execution: the outbox row the lineage dispatcher sends
    (migration 0014). Written in the transaction that records what it reports (the start, the
    end, the activation); one per execution and event type. ``payload``: the RunEvent as sent.
    """

    __tablename__ = "lineage_event"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "event_type"),
        sa.CheckConstraint(in_list("event_type", LINEAGE_EVENT_TYPES), name="event_type"),
        sa.CheckConstraint(in_list("status", DELIVERY_STATUSES), name="status"),
        sa.Index(None, "status", "next_attempt_at"),
    )
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    event_type: Mapped[str] = mapped_column(sa.String(10))
    run_id: Mapped[str] = mapped_column(sa.String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(sa.String(10), default="PENDING")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LineageEventAttempt(Base):
    """One attempt to send a lineage event: time, outcome, HTTP status, error."""

    __tablename__ = "lineage_event_attempt"
    __table_args__ = (sa.Index(None, "event_id"),)
    attempt_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("lineage_event.event_id"))
    attempted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(sa.Boolean)
    http_status: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)


# --- data quality, lineage, reproducibility --------------------------------------------------


class Snapshot(Base):
    """An immutable input snapshot; ``snapshot_id`` is its content hash."""

    __tablename__ = "snapshot"
    __table_args__ = (sa.Index(None, "asset_key", "partition_key"),)
    snapshot_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    source_uri: Mapped[str] = mapped_column(sa.Text)
    storage_uri: Mapped[str] = mapped_column(sa.Text)
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    first_execution_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LineageNode(Base):
    """A lineage node: one asset partition at one version."""

    __tablename__ = "lineage_node"
    __table_args__ = (
        sa.UniqueConstraint("node_type", "asset_key", "partition_key", "version_ref"),
        sa.CheckConstraint(in_list("node_type", LINEAGE_NODE_TYPES), name="node_type"),
    )
    node_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node_type: Mapped[str] = mapped_column(sa.String(15))
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    version_ref: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LineageEdge(Base):
    """A lineage edge from an input node to an output node, recorded per execution."""

    __tablename__ = "lineage_edge"
    __table_args__ = (
        sa.UniqueConstraint("from_node_id", "to_node_id", "execution_id"),
        sa.CheckConstraint("from_node_id <> to_node_id", name="no_self_loop"),
        sa.Index(None, "to_node_id"),
    )
    edge_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    from_node_id: Mapped[int] = mapped_column(sa.ForeignKey("lineage_node.node_id"))
    to_node_id: Mapped[int] = mapped_column(sa.ForeignKey("lineage_node.node_id"))
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))


class ValidationRule(Base):
    """A named validation rule on an asset, with severity FAIL or WARN."""

    __tablename__ = "validation_rule"
    __table_args__ = (
        sa.CheckConstraint(in_list("severity", RULE_SEVERITIES), name="severity"),
        sa.CheckConstraint(in_list("alert_policy", RULE_ALERT_POLICIES), name="alert_policy"),
    )
    rule_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    severity: Mapped[str] = mapped_column(sa.String(4))
    description: Mapped[str] = mapped_column(sa.Text)
    # How a WARN rule's warnings raise DQ-002: baseline, always or never (migration 0017).
    alert_policy: Mapped[str] = mapped_column(sa.String(10), server_default="baseline")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ValidationRuleVersion(Base):
    """One version of a rule; ``version_hash`` is derived from the rule's definition."""

    __tablename__ = "validation_rule_version"
    __table_args__ = (sa.UniqueConstraint("rule_id", "version_hash"),)
    rule_version_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(sa.ForeignKey("validation_rule.rule_id"))
    version_hash: Mapped[str] = mapped_column(sa.String(80))
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ValidationResult(Base):
    """The outcome of one rule version on one asset partition in one execution."""

    __tablename__ = "validation_result"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "rule_version_id", "partition_key"),
        sa.CheckConstraint(in_list("status", VALIDATION_STATUSES), name="status"),
        sa.Index(None, "partition_key", "status"),
    )
    result_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_execution.execution_id"))
    rule_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("validation_rule_version.rule_version_id")
    )
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(5))
    total_rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    failing_rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    measured_value: Mapped[float | None] = mapped_column(sa.Float)
    bound: Mapped[str | None] = mapped_column(sa.String(100))
    sample_failures: Mapped[list[Any] | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ExecutionContext(Base):
    """What produced an execution's results: snapshots, rule versions, parameters, code."""

    __tablename__ = "execution_context"
    execution_id: Mapped[str] = mapped_column(
        sa.ForeignKey("batch_execution.execution_id"), primary_key=True
    )
    snapshot_ids: Mapped[list[str]] = mapped_column(Json)
    rule_versions: Mapped[dict[str, Any]] = mapped_column(Json)
    parameters: Mapped[dict[str, Any]] = mapped_column(Json)
    code_version: Mapped[dict[str, Any]] = mapped_column(Json)
    library_versions: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DqReport(Base):
    """A data-quality report of one job's partition or of one replay.

    A DAILY report is the partition report of a daily job (``report_date`` is its day); a
    PARTITION report is that of any other key (hourly, monthly, static). Both carry the job and
    the partition key (migration 0024; a DAILY report made before may lack the job).
    """

    __tablename__ = "dq_report"
    __table_args__ = (
        sa.CheckConstraint(in_list("report_type", REPORT_TYPES), name="report_type"),
        sa.CheckConstraint(
            "(report_type = 'DAILY' AND report_date IS NOT NULL) OR "
            "(report_type = 'PARTITION' AND job_id IS NOT NULL AND partition_key IS NOT NULL) "
            "OR (report_type = 'REPLAY' AND replay_id IS NOT NULL)",
            name="subject",
        ),
        sa.UniqueConstraint("report_type", "job_id", "partition_key", "replay_id"),
        sa.Index(None, "job_id", "partition_key"),
    )
    report_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_type: Mapped[str] = mapped_column(sa.String(10))
    report_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    replay_id: Mapped[int | None] = mapped_column(sa.ForeignKey("replay.replay_id"))
    job_id: Mapped[str | None] = mapped_column(sa.String(100))
    partition_key: Mapped[str | None] = mapped_column(sa.String(100))
    pass_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    warn_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    fail_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DqReportItem(Base):
    """One line of a data-quality report: a rule's outcome on an asset partition."""

    __tablename__ = "dq_report_item"
    __table_args__ = (
        sa.CheckConstraint(in_list("status", VALIDATION_STATUSES), name="status"),
        sa.Index(None, "report_id"),
    )
    item_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("dq_report.report_id"))
    result_id: Mapped[int | None] = mapped_column(sa.ForeignKey("validation_result.result_id"))
    rule_id: Mapped[str] = mapped_column(sa.String(100))
    asset_key: Mapped[str] = mapped_column(sa.String(200))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(5))
    failing_rows: Mapped[int | None] = mapped_column(sa.BigInteger)


# --- admin API -----------------------------------------------------------------------------


class ApiToken(Base):
    """An API token: who it acts for, its role and the hash of its secret."""

    __tablename__ = "api_token"
    __table_args__ = (
        sa.CheckConstraint(in_list("role", API_ROLES), name="role"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
    )
    token_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(10))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # NULL: never expires
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # to the minute


class ConsoleSession(Base):
    """An operator console session, made from an API token at sign-in. The cookie holds the
    session's secret; only its SHA-256 hash is stored. Valid while not ended, not expired and
    its token valid."""

    __tablename__ = "console_session"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expiry"),)
    session_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("api_token.token_id"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # at sign-out


# --- partition notes ---------------------------------------------------------------------

MAX_NOTE_LENGTH = 4000


class PartitionNote(Base):
    """An operator's note on a partition of a job (migration 0022); written with its audit
    record (``ADD_NOTE``), never changed."""

    __tablename__ = "partition_note"
    __table_args__ = (
        sa.CheckConstraint("length(trim(body)) > 0", name="body_not_blank"),
        sa.CheckConstraint(f"length(body) <= {MAX_NOTE_LENGTH}", name="body_length"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
        sa.Index(None, "job_id", "partition_key", "created_at"),
    )
    note_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("batch_job.job_id"))
    partition_key: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
