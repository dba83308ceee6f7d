"""Data quality: validation rules and their versions, check results and the reports."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain import dq_baseline
from opsrel_core.persistence.tables.base import BigId, Base, Json, UtcDateTime, in_list, utcnow

RULE_SEVERITIES = ("FAIL", "WARN")
RULE_ALERT_POLICIES = dq_baseline.ALERT_POLICIES
VALIDATION_STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
REPORT_TYPES = ("DAILY", "REPLAY", "PARTITION")  # PARTITION: 0024


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
