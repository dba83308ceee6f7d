"""How alerts end: by the recovery of their partition, or by an operator.

**By recovery.** ``resolve_recovered_alerts`` runs inside the transaction that activates a
SUCCESS execution's result versions (``ResultVersionService.activate_execution_versions``: the
one place every path meets, whatever launched the execution: a replay, a Dagster retry or
re-execution, the landing sensor's rerun, a manual run). Every live alert (OPEN or ACKNOWLEDGED)
of a recoverable kind (``alert_lifecycle.RECOVERABLE_KINDS``) about the same job and one of the
partitions the execution now has an active version of, last seen no later than the execution
ended, becomes RESOLVED with ``resolved_by_execution_id``; one RECOVERY delivery is queued per
channel the alert was delivered to (not for a silenced alert's suppressed deliveries). The same
transaction: the partition's new result and the end of its alert land together or not at all. An
execution that ended before the failure (a catch-up of an older run) resolves nothing. A late
partition's alert (``alert_lifecycle.ARRIVAL_KINDS``) is resolved by any version of it becoming
active, whenever its execution ended. An incident (an alert listing its partitions in
``alert_partition``) has each partition marked recovered the same way, and is RESOLVED only once
every partition of it has recovered.

**By hand.** ``resolve_alert`` resolves a live alert with a reason, audited (BATCH_ACTION
``RESOLVE_ALERT``); resolving a resolved alert is refused (BAT-001, a conflict). No notice is
sent by email or Slack: the operator who resolves it is the one who knows.

**Mirrored channels.** PagerDuty keeps an incident's own state (triggered, acknowledged,
resolved), so every change of an alert's state is mirrored there, whatever the path:
``queue_mirrored`` queues an ACKNOWLEDGE delivery when the alert is acknowledged and a RECOVERY
delivery (sent as ``resolve``) when it is resolved by hand or closed by a quiet window, in the
transaction of that change; a recovery queues it with the other channels'. Only for a mirrored
channel the alert was delivered to (its ALERT delivery not SUPPRESSED).
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.errors import ConflictException, NotFoundException
from opsrel_core.persistence.tables import Alert, AlertDelivery, BatchExecution, utcnow
from opsrel_core.services import alert_incidents
from opsrel_core.services.audit_log import audit_change, require_attribution

_ALERT = Alert.__table__
_DELIVERY = AlertDelivery.__table__
# Channels that keep an incident's state of their own and follow the alert's.
MIRRORED_CHANNELS = ("PAGERDUTY",)


def queue_mirrored(conn: sa.Connection, alert_id: int, kind: str, at: dt.datetime) -> list[str]:
    """Queue a ``kind`` delivery (ACKNOWLEDGE or RECOVERY) of an alert for each mirrored channel
    it was delivered to, in the caller's transaction (the caller commits).

    Args:
        conn: the connection of the transaction that changes the alert's state.
        alert_id: the alert.
        kind: ACKNOWLEDGE (it was acknowledged) or RECOVERY (it was resolved).
        at: when (UTC): the deliveries' first attempt.

    Returns:
        The channels queued for (none when the alert has no such delivery to mirror, or has one
        of this kind already).
    """
    same = _DELIVERY.alias("same_kind")
    channels = conn.scalars(
        sa.select(_DELIVERY.c.channel).where(
            _DELIVERY.c.alert_id == alert_id, _DELIVERY.c.kind == "ALERT",
            _DELIVERY.c.status != "SUPPRESSED", _DELIVERY.c.channel.in_(MIRRORED_CHANNELS),
            ~sa.exists().where(same.c.alert_id == alert_id, same.c.channel == _DELIVERY.c.channel,
                               same.c.kind == kind),
        ).order_by(_DELIVERY.c.channel)
    ).all()
    if channels:
        conn.execute(sa.insert(_DELIVERY), [
            {"alert_id": alert_id, "channel": channel, "kind": kind, "status": "PENDING",
             "attempts": 0, "next_attempt_at": at, "created_at": at}
            for channel in channels
        ])
    return list(channels)


def resolve_recovered_alerts(
    session: Session, execution: BatchExecution, partition_keys: set[str], at: dt.datetime | None = None,
) -> list[int]:
    """Resolve the live alerts a SUCCESS execution's active versions recover, in the caller's
    transaction (the caller commits).

    Args:
        session: the activating transaction's session.
        execution: the SUCCESS execution (its ``job_id`` and ``ended_at`` are read).
        partition_keys: the partitions it now has an active version of.
        at: when (UTC): ``resolved_at`` and the recovery notices' first attempt; now if omitted.

    Returns:
        The ids of the alerts resolved by this call (empty on a repeated call).
    """
    if not partition_keys or execution.status != "SUCCESS":
        return []
    at = at or utcnow()
    ended = execution.ended_at or at
    conn = session.connection()
    live = conn.execute(
        sa.select(_ALERT.c.alert_id, _ALERT.c.status).where(
            _ALERT.c.job_id == execution.job_id,
            _ALERT.c.partition_key.in_(sorted(partition_keys)),
            _ALERT.c.status.in_(lifecycle.LIVE_STATUSES),
            sa.or_(sa.and_(_ALERT.c.event_kind.in_(sorted(lifecycle.RECOVERABLE_KINDS)),
                           _ALERT.c.last_seen_at <= ended,
                           ~alert_incidents.has_partitions()),
                   _ALERT.c.event_kind.in_(sorted(lifecycle.ARRIVAL_KINDS))),
        ).order_by(_ALERT.c.alert_id).with_for_update()
    ).all()
    over = [(row.alert_id, row.status) for row in live]
    over += alert_incidents.recover(conn, execution.job_id, execution.execution_id,
                                    sorted(partition_keys), ended, at)
    resolved = []
    for alert_id, status in sorted(over):
        done = conn.execute(
            sa.update(_ALERT).where(_ALERT.c.alert_id == alert_id, _ALERT.c.status == status)
            .values(status=lifecycle.next_status(status, lifecycle.RECOVER), resolved_at=at,
                    resolved_by=lifecycle.BY_RECOVERY,
                    resolved_by_execution_id=execution.execution_id,
                    resolve_reason=f"recovered by execution {execution.execution_id}")
        ).rowcount
        if done != 1:
            continue
        channels = conn.scalars(
            sa.select(_DELIVERY.c.channel).where(
                _DELIVERY.c.alert_id == alert_id, _DELIVERY.c.kind == "ALERT",
                _DELIVERY.c.status != "SUPPRESSED",
            ).order_by(_DELIVERY.c.channel)
        ).all()
        if channels:
            conn.execute(sa.insert(_DELIVERY), [
                {"alert_id": alert_id, "channel": channel, "kind": "RECOVERY",
                 "status": "PENDING", "attempts": 0, "next_attempt_at": at, "created_at": at}
                for channel in channels
            ])
        resolved.append(alert_id)
    return resolved


def resolve_alert(session: Session, alert_id: int, *, operator_id: str | None,
                  reason: str | None, at: dt.datetime) -> Alert:
    """Resolve a live alert by hand, with its audit record, in the caller's transaction.

    Raises:
        BatchExecutionException: BAT-008 when operator or reason is missing or blank.
        NotFoundException: BAT-011 when no alert has this id.
        ConflictException: BAT-001 when the alert is already resolved; nothing is written.
    """
    operator_id, reason = require_attribution(operator_id, reason)
    row = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
    if not lifecycle.can_resolve(row.status):
        when = row.resolved_at.isoformat() if row.resolved_at else "earlier"
        raise ConflictException(
            error_codes.BAT_INVALID_TRANSITION,
            f"alert {alert_id} is already resolved ({when}, by {row.resolved_by or 'opsrel'}); "
            "nothing to do. A new occurrence of its problem opens a new alert.",
        )
    with audit_change(session, operator_id=operator_id, reason=reason,
                      action_type="BATCH_ACTION", action="RESOLVE_ALERT", target=row,
                      execution_id=row.execution_id, at=at):
        row.status = lifecycle.next_status(row.status, lifecycle.RESOLVE)
        row.resolved_at = at
        row.resolved_by = operator_id
        row.resolve_reason = reason
    queue_mirrored(session.connection(), alert_id, "RECOVERY", at)
    return row
