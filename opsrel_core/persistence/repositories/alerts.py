"""The SQL of alerts and their deliveries, over the connection of the caller's transaction.

``AlertRepository`` runs Core statements (no ORM objects: on the raising path the session's
flush, identity map and row loading cost most of the client's CPU), returns rows of the
``alert``, ``alert_delivery`` and ``alert_delivery_attempt`` tables, and never commits: the
caller's unit of work does. The guards of the statements (``WHERE status = ? AND attempts = ?``
and the like) are what makes concurrent writers safe; the callers decide what to do when a
guard refuses (``False`` or None).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain.alert_delivery import DUE_STATUSES, SENT_BEFORE, DeliveryKind
from opsrel_core.persistence.tables import (
    Alert, AlertDelivery, AlertDeliveryAttempt, AlertPartition, AlertTemplate, BatchExecution,
    ErrorCode, UtcDateTime,
)

_ALERT = Alert.__table__
_DELIVERY = AlertDelivery.__table__
_ATTEMPT = AlertDeliveryAttempt.__table__
_PARTITION = AlertPartition.__table__
_TEMPLATE = AlertTemplate.__table__
_ERROR_CODE = ErrorCode.__table__
_EXECUTION = BatchExecution.__table__


class AlertRepository:
    """Reads and writes alerts and deliveries on ``conn`` (a connection of an open transaction).

    Rows are SQLAlchemy rows with the table's columns as attributes (times as aware UTC
    datetimes where the column is ``UtcDateTime``).
    """

    def __init__(self, conn: sa.Connection):
        self._conn = conn

    # -- references --------------------------------------------------------------------------

    def has_error_code(self, code: str) -> bool:
        """Whether ``code`` is in the error catalog."""
        return self._conn.scalar(
            sa.select(_ERROR_CODE.c.code).where(_ERROR_CODE.c.code == code)) is not None

    def has_execution(self, execution_id: str) -> bool:
        """Whether ``execution_id`` is a recorded execution."""
        return self._conn.scalar(
            sa.select(_EXECUTION.c.execution_id).where(_EXECUTION.c.execution_id == execution_id)
        ) is not None

    def error_code(self, code: str) -> Any:
        """The catalog row of ``code`` (severity, title, operator message...), or None."""
        return self._conn.execute(sa.select(_ERROR_CODE).where(_ERROR_CODE.c.code == code)).first()

    def template(self, event_kind: str, channel: str) -> Any:
        """The operator's template of this event kind on this channel, or None."""
        return self._conn.execute(sa.select(_TEMPLATE).where(
            _TEMPLATE.c.event_kind == event_kind, _TEMPLATE.c.channel == channel)).first()

    # -- alerts ------------------------------------------------------------------------------

    def get(self, alert_id: int) -> Any:
        """The alert row, or None."""
        return self._conn.execute(sa.select(_ALERT).where(_ALERT.c.alert_id == alert_id)).first()

    def covering(self, key: str, at: dt.datetime) -> Any:
        """The newest alert of ``key`` whose seen span ``[first_seen_at, last_seen_at]``
        covers ``at`` (it has counted an occurrence at that time), or None."""
        return self._conn.execute(
            sa.select(_ALERT).where(
                _ALERT.c.dedupe_key == key, _ALERT.c.first_seen_at <= at,
                _ALERT.c.last_seen_at >= at,
            ).order_by(_ALERT.c.alert_id.desc()).limit(1)
        ).first()

    def live_for_update(self, key: str) -> Any:
        """``(alert_id, last_seen_at, status)`` of the live alert of ``key``, locked, or None."""
        return self._conn.execute(
            sa.select(_ALERT.c.alert_id, _ALERT.c.last_seen_at, _ALERT.c.status)
            .where(_ALERT.c.dedupe_key == key, _ALERT.c.status.in_(lifecycle.LIVE_STATUSES))
            .with_for_update()
        ).first()

    def live_of_incident(self, key: str) -> Sequence[Any]:
        """``(dedupe_key, silenced_by)`` of the live alerts of ``key`` and of its muted parts
        (``<key>:silence-<id>``), oldest first."""
        return self._conn.execute(
            sa.select(_ALERT.c.dedupe_key, _ALERT.c.silenced_by)
            .where(sa.or_(_ALERT.c.dedupe_key == key,
                          _ALERT.c.dedupe_key.like(f"{key}:silence-%")),
                   _ALERT.c.status.in_(lifecycle.LIVE_STATUSES))
            .order_by(_ALERT.c.alert_id)
        ).all()

    def insert(self, values: dict[str, Any]) -> Any:
        """Insert an alert; returns its row.

        Raises:
            sqlalchemy.exc.IntegrityError: a live alert of the same ``dedupe_key`` exists.
        """
        return self._conn.execute(sa.insert(_ALERT).values(values).returning(*_ALERT.c)).one()

    def add_occurrence(self, alert_id: int, status: str, at: dt.datetime, *,
                       unless_covered: bool) -> Any:
        """Count one more occurrence at ``at`` on the alert while it has ``status``: the count
        grows by one and the seen span widens to include ``at``.

        Args:
            unless_covered: write nothing when the seen span already covers ``at`` (the
                occurrence was counted; the test is in the statement, so it holds under
                concurrency).

        Returns:
            The updated row, or None when the guard refused (status changed, or covered).
        """
        guard = [_ALERT.c.alert_id == alert_id, _ALERT.c.status == status]
        if unless_covered:
            guard.append(sa.not_(sa.and_(_ALERT.c.first_seen_at <= at, _ALERT.c.last_seen_at >= at)))
        at_param = sa.bindparam("occurred_at", at, type_=UtcDateTime())
        return self._conn.execute(
            sa.update(_ALERT).where(*guard).values(
                occurrence_count=_ALERT.c.occurrence_count + 1,
                last_seen_at=sa.case((_ALERT.c.last_seen_at < at_param, at_param),
                                     else_=_ALERT.c.last_seen_at),
                first_seen_at=sa.case((_ALERT.c.first_seen_at > at_param, at_param),
                                      else_=_ALERT.c.first_seen_at),
            ).returning(*_ALERT.c)
        ).first()

    def resolve_if(self, alert_id: int, status: str, *, new_status: str, at: dt.datetime,
                   resolved_by: str) -> bool:
        """Move the alert from ``status`` to ``new_status``, resolved at ``at`` by
        ``resolved_by``; False when it no longer had ``status``."""
        return self._conn.execute(
            sa.update(_ALERT).where(_ALERT.c.alert_id == alert_id, _ALERT.c.status == status)
            .values(status=new_status, resolved_at=at, resolved_by=resolved_by)
        ).rowcount == 1

    def update(self, alert_id: int, **values: Any) -> Any:
        """Set columns of the alert (its text, where it happened last); returns its row."""
        return self._conn.execute(
            sa.update(_ALERT).where(_ALERT.c.alert_id == alert_id).values(**values)
            .returning(*_ALERT.c)
        ).one()

    def take_unacknowledged(self, alert_id: int) -> bool:
        """A guarded no-op write on the alert while nobody acknowledged it: it takes the row
        (PostgreSQL) or database (SQLite) write lock first, so a concurrent acknowledgement is
        seen. True when the alert exists and was not acknowledged."""
        return self._conn.execute(
            sa.update(_ALERT)
            .where(_ALERT.c.alert_id == alert_id, _ALERT.c.acknowledged_at.is_(None))
            .values(acknowledged_at=_ALERT.c.acknowledged_at)
        ).rowcount == 1

    def newest(self, *, status: str | None, limit: int,
               before_alert_id: int | None) -> Sequence[Any]:
        """Alerts newest first (by id): of ``status`` (all when None), with an id below
        ``before_alert_id`` (when given), at most ``limit``."""
        stmt = sa.select(_ALERT).order_by(_ALERT.c.alert_id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(_ALERT.c.status == status)
        if before_alert_id is not None:
            stmt = stmt.where(_ALERT.c.alert_id < before_alert_id)
        return self._conn.execute(stmt).all()

    def of_partition(self, job_id: str, partition_key: str, limit: int) -> Sequence[Any]:
        """The job's alerts raised for the partition or listing it (``alert_partition``),
        newest first, at most ``limit``. One query."""
        listed = sa.select(_PARTITION.c.alert_id).where(_PARTITION.c.partition_key == partition_key)
        return self._conn.execute(
            sa.select(_ALERT).where(
                _ALERT.c.job_id == job_id,
                sa.or_(_ALERT.c.partition_key == partition_key, _ALERT.c.alert_id.in_(listed)))
            .order_by(_ALERT.c.alert_id.desc()).limit(limit)
        ).all()

    # -- deliveries --------------------------------------------------------------------------

    def add_deliveries(self, alert_id: int, channels: Iterable[str], *, status: str,
                       now: dt.datetime) -> None:
        """Queue one ALERT delivery per channel, due at ``now`` (PENDING or SUPPRESSED)."""
        rows = [{"alert_id": alert_id, "channel": channel, "kind": DeliveryKind.ALERT.value,
                 "status": status, "attempts": 0, "next_attempt_at": now, "created_at": now}
                for channel in channels]
        if rows:
            self._conn.execute(sa.insert(_DELIVERY), rows)

    def release_suppressed(self, alert_id: int, now: dt.datetime) -> None:
        """Turn the alert's SUPPRESSED ALERT deliveries PENDING, due at ``now``."""
        self._conn.execute(
            sa.update(_DELIVERY).where(_DELIVERY.c.alert_id == alert_id,
                                       _DELIVERY.c.kind == DeliveryKind.ALERT.value,
                                       _DELIVERY.c.status == "SUPPRESSED")
            .values(status="PENDING", next_attempt_at=now)
        )

    def deliveries(self, alert_id: int) -> Sequence[Any]:
        """The alert's deliveries ordered by kind and channel."""
        return self._conn.execute(
            sa.select(_DELIVERY).where(_DELIVERY.c.alert_id == alert_id)
            .order_by(_DELIVERY.c.kind, _DELIVERY.c.channel)
        ).all()

    def attempts(self, delivery_ids: Sequence[int]) -> Sequence[Any]:
        """The recorded attempts of these deliveries, oldest first."""
        return self._conn.execute(
            sa.select(_ATTEMPT).where(_ATTEMPT.c.delivery_id.in_(list(delivery_ids)))
            .order_by(_ATTEMPT.c.attempt_id)
        ).all()

    def next_due(self, channels: Sequence[str], now: dt.datetime, *, skip_locked: bool) -> Any:
        """The first due delivery (PENDING or RETRY, ``next_attempt_at <= now``) on one of
        ``channels`` that may be sent now (``SENT_BEFORE``: none of the kinds it waits for is
        still due for its alert and channel), by due time then id; None when there is none.

        Args:
            skip_locked: lock the row and skip rows another transaction locked (PostgreSQL).
        """
        earlier = _DELIVERY.alias("earlier")
        in_order = [_DELIVERY.c.kind == DeliveryKind.ALERT.value, *(
            sa.and_(_DELIVERY.c.kind == kind, ~sa.exists().where(
                earlier.c.alert_id == _DELIVERY.c.alert_id,
                earlier.c.channel == _DELIVERY.c.channel,
                earlier.c.kind.in_(before),
                earlier.c.status.in_(DUE_STATUSES)))
            for kind, before in SENT_BEFORE.items())]
        stmt = (
            sa.select(_DELIVERY)
            .where(_DELIVERY.c.status.in_(DUE_STATUSES), _DELIVERY.c.next_attempt_at <= now,
                   _DELIVERY.c.channel.in_(sorted(channels)), sa.or_(*in_order))
            .order_by(_DELIVERY.c.next_attempt_at, _DELIVERY.c.delivery_id)
            .limit(1)
        )
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        return self._conn.execute(stmt).first()

    def claim(self, delivery: Any, lease_until: dt.datetime) -> bool:
        """Compare-and-set: count one more attempt and lease the delivery until ``lease_until``,
        if its status and attempts are still those of ``delivery`` (the row as read); False when
        another dispatcher took it."""
        return self._conn.execute(
            sa.update(_DELIVERY).where(
                _DELIVERY.c.delivery_id == delivery.delivery_id,
                _DELIVERY.c.status == delivery.status,
                _DELIVERY.c.attempts == delivery.attempts,
            ).values(attempts=delivery.attempts + 1, next_attempt_at=lease_until)
        ).rowcount == 1

    def recorded_attempts(self, delivery_id: int) -> int:
        """How many attempts of the delivery were recorded."""
        return self._conn.scalar(
            sa.select(sa.func.count()).select_from(_ATTEMPT)
            .where(_ATTEMPT.c.delivery_id == delivery_id)
        ) or 0

    def add_attempt(self, delivery_id: int, at: dt.datetime, *, succeeded: bool,
                    error: str | None) -> None:
        """Record one attempt of the delivery."""
        self._conn.execute(sa.insert(_ATTEMPT).values(
            delivery_id=delivery_id, attempted_at=at, succeeded=succeeded, error=error))

    def set_outcome(self, delivery_id: int, attempt: int, status: str, **values: Any) -> bool:
        """Write the outcome of the claim that made ``attempt``, if the delivery is still due
        and no later claim took it (a dispatcher whose lease ran out does not overwrite the
        outcome of the one that re-claimed it); False when the guard refused."""
        return self._conn.execute(
            sa.update(_DELIVERY).where(
                _DELIVERY.c.delivery_id == delivery_id,
                _DELIVERY.c.attempts == attempt,
                _DELIVERY.c.status.in_(DUE_STATUSES),
            ).values(status=status, **values)
        ).rowcount == 1
