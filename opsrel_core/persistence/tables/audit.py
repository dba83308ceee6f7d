"""The audit log: the append-only record of every manual action."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.audit_records import AuditActionType
from opsrel_core.persistence.tables.base import BigId, Base, Json, UtcDateTime, in_list, utcnow

AUDIT_ACTION_TYPES = tuple(a.value for a in AuditActionType)


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
