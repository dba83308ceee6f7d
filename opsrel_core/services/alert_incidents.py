"""Incident alerts in the database: their partitions, updates, recovery and replay.

The rules are ``opsrel_core.domain.alert_incidents``; this module applies them in the caller's
transaction (``AlertRaiser.occur`` when a failure joins, ``resolve_recovered_alerts`` when a
partition recovers) or reads for the replay of an incident (API, CLI).
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.instants import utc_if_instant
from opsrel_core.domain import alert_incidents as incidents
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.domain.replay_plan import ReplayAsk, ReplayPlan
from opsrel_core.errors import BatchExecutionException, ConflictException, NotFoundException
from opsrel_core.persistence.tables import Alert, AlertDelivery, AlertPartition, UtcDateTime
from opsrel_core.persistence.uow import UnitOfWork

_ALERT = Alert.__table__
_DELIVERY = AlertDelivery.__table__
_PART = AlertPartition.__table__


@dataclasses.dataclass(frozen=True)
class IncidentPartition:
    """One partition of an incident (times UTC; ``recovered_at`` None while it is failing)."""

    partition_key: str
    execution_id: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    recovered_at: dt.datetime | None
    recovered_by_execution_id: str | None


def covering(conn: sa.Connection, key: str, partition_key: str, at: dt.datetime) -> Any:
    """The alert of incident ``key`` that already counted a failure of ``partition_key`` at
    ``at`` (the partition's seen span covers it), or None: applying one execution twice counts
    it once, per partition, as the per-partition key did."""
    return conn.execute(
        sa.select(_ALERT).join(_PART, _PART.c.alert_id == _ALERT.c.alert_id).where(
            _ALERT.c.dedupe_key == key, _PART.c.partition_key == partition_key,
            _PART.c.first_seen_at <= at, _PART.c.last_seen_at >= at,
        ).order_by(_ALERT.c.alert_id.desc()).limit(1)
    ).first()


def join(conn: sa.Connection, alert_id: int, partition_key: str, execution_id: str | None,
         at: dt.datetime) -> tuple[bool, bool]:
    """Add a failure of ``partition_key`` at ``at`` to the incident, in the caller's transaction.

    Returns:
        ``(joined, covered)``: joined when the partition is new to the incident; covered when
        the incident already counted this failure (the caller then writes nothing).
    """
    row = conn.execute(
        sa.select(_PART).where(_PART.c.alert_id == alert_id,
                               _PART.c.partition_key == partition_key).with_for_update()
    ).first()
    if row is None:
        conn.execute(sa.insert(_PART).values(
            alert_id=alert_id, partition_key=partition_key, execution_id=execution_id,
            first_seen_at=at, last_seen_at=at))
        return True, False
    first, last = utc_if_instant(row.first_seen_at), utc_if_instant(row.last_seen_at)
    if first <= at <= last:
        return False, True
    values: dict[str, Any] = {"first_seen_at": min(first, at), "last_seen_at": max(last, at)}
    if at > last:
        # A later failure of a partition that had recovered (or a later attempt): failing again.
        values.update(execution_id=execution_id or row.execution_id, recovered_at=None,
                      recovered_by_execution_id=None)
    conn.execute(sa.update(_PART).where(_PART.c.alert_id == alert_id,
                                        _PART.c.partition_key == partition_key).values(values))
    return False, False


def listing(conn: sa.Connection, alert_id: int) -> tuple[list[str], int]:
    """The first ``LISTED_PARTITIONS`` partition keys of an incident (key order) and the count."""
    count = conn.scalar(sa.select(sa.func.count()).select_from(_PART)
                        .where(_PART.c.alert_id == alert_id)) or 0
    keys = conn.scalars(sa.select(_PART.c.partition_key).where(_PART.c.alert_id == alert_id)
                        .order_by(_PART.c.partition_key).limit(incidents.LISTED_PARTITIONS)).all()
    return list(keys), count


def queue_update(conn: sa.Connection, alert_id: int, count: int, now: dt.datetime) -> int:
    """Queue an UPDATE delivery (sequence = ``count``) on each message channel (email, Slack)
    whose ALERT message was sent and that has no update still waiting, when
    ``announces_update(count)``.

    Returns:
        How many deliveries were queued.
    """
    if not incidents.announces_update(count):
        return 0
    sent = set(conn.scalars(sa.select(_DELIVERY.c.channel).where(
        _DELIVERY.c.alert_id == alert_id, _DELIVERY.c.kind == "ALERT",
        _DELIVERY.c.status == "SENT")).all())
    waiting = set(conn.scalars(sa.select(_DELIVERY.c.channel).where(
        _DELIVERY.c.alert_id == alert_id, _DELIVERY.c.kind == "UPDATE",
        _DELIVERY.c.status.in_(("PENDING", "RETRY")))).all())
    # PagerDuty keeps one incident per alert and shows its state, not a thread of messages: an
    # update would be a second trigger of the same incident, so it gets none.
    channels = sorted(sent - waiting - {"PAGERDUTY"})
    if channels:
        conn.execute(sa.insert(_DELIVERY), [
            {"alert_id": alert_id, "channel": channel, "kind": "UPDATE", "sequence": count,
             "status": "PENDING", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for channel in channels
        ])
    return len(channels)


def recover(conn: sa.Connection, job_id: str, execution_id: str, partition_keys: Sequence[str],
            ended: dt.datetime, at: dt.datetime) -> list[tuple[int, str]]:
    """Mark the live incidents' partitions that a SUCCESS execution recovers, in the caller's
    transaction: those of the job among ``partition_keys`` that last failed no later than the
    execution ended.

    Returns:
        ``(alert_id, status)`` of the live incidents touched whose every partition has now
        recovered (the caller resolves them).
    """
    ended_param = sa.bindparam("ended", ended, type_=UtcDateTime())
    touched = conn.execute(
        sa.select(_ALERT.c.alert_id, _ALERT.c.status).where(
            _ALERT.c.job_id == job_id, _ALERT.c.status.in_(lifecycle.LIVE_STATUSES),
            _ALERT.c.event_kind.in_(sorted(lifecycle.RECOVERABLE_KINDS)),
            sa.exists().where(_PART.c.alert_id == _ALERT.c.alert_id,
                              _PART.c.partition_key.in_(sorted(partition_keys)),
                              _PART.c.recovered_at.is_(None),
                              _PART.c.last_seen_at <= ended_param),
        ).order_by(_ALERT.c.alert_id).with_for_update()
    ).all()
    done = []
    for row in touched:
        conn.execute(sa.update(_PART).where(
            _PART.c.alert_id == row.alert_id, _PART.c.partition_key.in_(sorted(partition_keys)),
            _PART.c.recovered_at.is_(None), _PART.c.last_seen_at <= ended_param,
        ).values(recovered_at=at, recovered_by_execution_id=execution_id))
        failing = conn.scalar(sa.select(sa.func.count()).select_from(_PART).where(
            _PART.c.alert_id == row.alert_id, _PART.c.recovered_at.is_(None))) or 0
        if failing == 0:
            done.append((row.alert_id, row.status))
    return done


def has_partitions() -> sa.ColumnElement[bool]:
    """Whether an ``alert`` row is an incident with listed partitions (for WHERE clauses)."""
    return sa.exists().where(_PART.c.alert_id == _ALERT.c.alert_id)


class IncidentService:
    """Reads an incident's partitions and requests its replay (every entry point calls this).

    Args:
        engine: engine of the ops database.
        replays: the ``ReplayService`` that records the request.
    """

    def __init__(self, engine: sa.Engine, replays: Any):
        self._engine = engine
        self._replays = replays

    def partitions(self, alert_id: int) -> list[IncidentPartition]:
        """The incident's partitions in key order.

        Raises:
            NotFoundException: BAT-011 when no alert has this id.
        """
        with UnitOfWork(self._engine) as uow:
            conn = uow.session.connection()
            _alert(conn, alert_id)
            rows = conn.execute(sa.select(_PART).where(_PART.c.alert_id == alert_id)
                                .order_by(_PART.c.partition_key)).all()
            return [IncidentPartition(r.partition_key, r.execution_id, utc_if_instant(r.first_seen_at),
                                      utc_if_instant(r.last_seen_at), utc_if_instant(r.recovered_at),
                                      r.recovered_by_execution_id) for r in rows]

    def replay_ask(self, alert_id: int, *, operator_id: str, reason: str) -> ReplayAsk:
        """The replay of exactly the incident's partitions that have not recovered: ``single``
        for one, else ``range`` listing them. An alert from before incidents (no listed
        partitions) replays its own partition.

        Raises:
            NotFoundException: BAT-011 when no alert has this id.
            BatchExecutionException: BAT-009 when the alert is not about a job's failed
                partitions (no job or partition to replay).
            ConflictException: BAT-001 when every partition of it has recovered already.
        """
        with UnitOfWork(self._engine) as uow:
            conn = uow.session.connection()
            alert = _alert(conn, alert_id)
            rows = conn.execute(sa.select(_PART.c.partition_key, _PART.c.recovered_at)
                                .where(_PART.c.alert_id == alert_id)
                                .order_by(_PART.c.partition_key)).all()
        if alert.job_id is None or (not rows and alert.partition_key is None) or \
                alert.event_kind not in lifecycle.RECOVERABLE_KINDS:
            raise BatchExecutionException(
                error_codes.BAT_REPLAY_INVALID,
                f"alert {alert_id} ({alert.event_kind}) is not about failed partitions of a job; "
                "replay by job and partitions instead (`opsrel replay range`)",
                {"alert_id": alert_id})
        keys = [r.partition_key for r in rows if r.recovered_at is None] if rows \
            else [alert.partition_key]
        if not keys:
            raise ConflictException(
                error_codes.BAT_INVALID_TRANSITION,
                f"every partition of alert {alert_id} has recovered already; nothing to replay",
                {"alert_id": alert_id})
        kind = "single" if len(keys) == 1 else "range"
        return ReplayAsk(kind, alert.job_id, operator_id, reason, tuple(keys))

    def replay(self, alert_id: int, *, operator_id: str, reason: str,
               request_key: str | None = None, job_keys: Sequence[str] | None = None) -> Any:
        """Request the replay of the incident's partitions (``ReplayService.request``: audited,
        idempotent by ``request_key``); errors as ``replay_ask`` and ``ReplayService.request``."""
        ask = self.replay_ask(alert_id, operator_id=operator_id, reason=reason)
        return self._replays.request(ask, request_key=request_key, job_keys=job_keys)

    def preview(self, alert_id: int, *, operator_id: str, reason: str) -> ReplayPlan:
        """The plan ``replay`` would record; writes nothing."""
        return self._replays.plan(self.replay_ask(alert_id, operator_id=operator_id,
                                                  reason=reason))


def _alert(conn: sa.Connection, alert_id: int) -> Any:
    row = conn.execute(sa.select(_ALERT).where(_ALERT.c.alert_id == alert_id)).first()
    if row is None:
        raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
    return row
