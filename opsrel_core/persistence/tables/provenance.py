"""Provenance: the lineage graph, what produced each execution's results, and the OpenLineage
outbox with its attempts."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.alert_delivery import DELIVERY_STATUSES
from opsrel_core.persistence.tables.base import BigId, Base, Json, UtcDateTime, in_list, utcnow

LINEAGE_NODE_TYPES = ("SOURCE", "SNAPSHOT", "TRANSFORM", "AGGREGATION", "RESULT")
LINEAGE_EVENT_TYPES = ("START", "COMPLETE", "FAIL", "ABORT")


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
