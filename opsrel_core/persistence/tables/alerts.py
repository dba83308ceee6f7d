"""Alerts: the alerts, their silences, the delivery outbox and its attempts, the incidents'
partitions and the message templates."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.alert_delivery import AlertChannel, DeliveryKind, DeliveryStatus
from opsrel_core.domain.alert_lifecycle import AlertStatus
from opsrel_core.persistence.tables.base import SEVERITIES, BigId, Base, UtcDateTime, in_list, utcnow

ALERT_STATUSES = tuple(s.value for s in AlertStatus)
ALERT_CHANNELS = tuple(c.value for c in AlertChannel)  # PAGERDUTY: 0020
DELIVERY_STATUSES = tuple(s.value for s in DeliveryStatus)  # SUPPRESSED: 0016
DELIVERY_KINDS = tuple(k.value for k in DeliveryKind)  # 0016; UPDATE: 0018; ACKNOWLEDGE: 0020


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
