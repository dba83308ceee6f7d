"""An in-memory ``AlertRepository``: alerts, deliveries, attempts, catalog codes and templates
kept in dictionaries, with the same guards as the SQL (compare-and-set claims, guarded outcomes,
the order of the kinds of one alert and channel).

``AlertStore`` holds the data across transactions; pass ``store.repository`` where a service or
the dispatcher takes ``repository=``. Rows are snapshots (``SimpleNamespace``): a row read before
a write does not change, as a database row does not.
"""

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import alert_delivery as rules
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.persistence.tables import Alert, AlertDelivery

_ALERT_COLUMNS = tuple(c.name for c in Alert.__table__.c)
_DELIVERY_COLUMNS = tuple(c.name for c in AlertDelivery.__table__.c)


def _row(values: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**values)


class AlertStore:
    """The fake database: what the fake repositories of every transaction read and write."""

    def __init__(self) -> None:
        self.alerts: dict[int, dict[str, Any]] = {}
        self.deliveries: dict[int, dict[str, Any]] = {}
        self.attempts: list[dict[str, Any]] = []
        self.partitions: set[tuple[int, str]] = set()  # (alert_id, partition_key) listed
        self.error_codes: dict[str, dict[str, Any]] = {}
        self.templates: dict[tuple[str, str], dict[str, Any]] = {}
        self.executions: set[str] = set()
        self._ids = itertools.count(1)

    def repository(self, conn: sa.Connection | None = None) -> "FakeAlertRepository":
        """A repository over this store (``conn`` is ignored)."""
        return FakeAlertRepository(self)

    def next_id(self) -> int:
        return next(self._ids)

    def add_alert(self, **values: Any) -> int:
        """Store an alert (unset columns None, ``status`` OPEN, one occurrence); its id."""
        return self.repository().insert(
            {"status": lifecycle.OPEN, "occurrence_count": 1, **values}).alert_id

    def add_delivery(self, alert_id: int, channel: str, *, at: dt.datetime, kind: str = "ALERT",
                     status: str = "PENDING", attempts: int = 0, sequence: int = 0) -> int:
        """Store a delivery due at ``at``; its id."""
        delivery_id = self.next_id()
        self.deliveries[delivery_id] = {
            **dict.fromkeys(_DELIVERY_COLUMNS), "delivery_id": delivery_id, "alert_id": alert_id,
            "channel": channel, "kind": kind, "sequence": sequence, "status": status,
            "attempts": attempts, "next_attempt_at": at, "created_at": at,
        }
        return delivery_id


class FakeAlertRepository:
    """``AlertRepository`` over an ``AlertStore`` (the same methods, see its docstrings)."""

    def __init__(self, store: AlertStore):
        self._s = store

    # -- references --------------------------------------------------------------------------

    def has_error_code(self, code: str) -> bool:
        return code in self._s.error_codes

    def has_execution(self, execution_id: str) -> bool:
        return execution_id in self._s.executions

    def error_code(self, code: str) -> Any:
        found = self._s.error_codes.get(code)
        return None if found is None else _row({"code": code, **found})

    def template(self, event_kind: str, channel: str) -> Any:
        found = self._s.templates.get((event_kind, channel))
        return None if found is None else _row(found)

    # -- alerts ------------------------------------------------------------------------------

    def get(self, alert_id: int) -> Any:
        found = self._s.alerts.get(alert_id)
        return None if found is None else _row(found)

    def covering(self, key: str, at: dt.datetime) -> Any:
        rows = [a for a in self._s.alerts.values() if a["dedupe_key"] == key
                and a["first_seen_at"] <= at <= a["last_seen_at"]]
        return _row(max(rows, key=lambda a: a["alert_id"])) if rows else None

    def _live(self, key: str) -> dict[str, Any] | None:
        return next((a for a in self._s.alerts.values() if a["dedupe_key"] == key
                     and a["status"] in lifecycle.LIVE_STATUSES), None)

    def live_for_update(self, key: str) -> Any:
        live = self._live(key)
        return None if live is None else _row(
            {k: live[k] for k in ("alert_id", "last_seen_at", "status")})

    def live_of_incident(self, key: str) -> Sequence[Any]:
        return [_row({"dedupe_key": a["dedupe_key"], "silenced_by": a["silenced_by"]})
                for a in sorted(self._s.alerts.values(), key=lambda a: a["alert_id"])
                if (a["dedupe_key"] == key or a["dedupe_key"].startswith(f"{key}:silence-"))
                and a["status"] in lifecycle.LIVE_STATUSES]

    def insert(self, values: dict[str, Any]) -> Any:
        if values.get("status") in lifecycle.LIVE_STATUSES and self._live(values["dedupe_key"]):
            raise sa.exc.IntegrityError("INSERT INTO alert", {}, Exception("uq_alert_open_dedupe_key"))
        alert_id = self._s.next_id()
        self._s.alerts[alert_id] = {**dict.fromkeys(_ALERT_COLUMNS), **values, "alert_id": alert_id}
        return _row(self._s.alerts[alert_id])

    def add_occurrence(self, alert_id: int, status: str, at: dt.datetime, *,
                       unless_covered: bool) -> Any:
        a = self._s.alerts.get(alert_id)
        if a is None or a["status"] != status or (
                unless_covered and a["first_seen_at"] <= at <= a["last_seen_at"]):
            return None
        a.update(occurrence_count=a["occurrence_count"] + 1,
                 last_seen_at=max(a["last_seen_at"], at), first_seen_at=min(a["first_seen_at"], at))
        return _row(a)

    def resolve_if(self, alert_id: int, status: str, *, new_status: str, at: dt.datetime,
                   resolved_by: str) -> bool:
        a = self._s.alerts.get(alert_id)
        if a is None or a["status"] != status:
            return False
        a.update(status=new_status, resolved_at=at, resolved_by=resolved_by)
        return True

    def update(self, alert_id: int, **values: Any) -> Any:
        self._s.alerts[alert_id].update(values)
        return _row(self._s.alerts[alert_id])

    def take_unacknowledged(self, alert_id: int) -> bool:
        a = self._s.alerts.get(alert_id)
        return a is not None and a["acknowledged_at"] is None

    def newest(self, *, status: str | None, limit: int,
               before_alert_id: int | None) -> Sequence[Any]:
        rows = [a for a in self._s.alerts.values()
                if (status is None or a["status"] == status)
                and (before_alert_id is None or a["alert_id"] < before_alert_id)]
        return [_row(a) for a in sorted(rows, key=lambda a: -a["alert_id"])[:limit]]

    def of_partition(self, job_id: str, partition_key: str, limit: int) -> Sequence[Any]:
        rows = [a for a in self._s.alerts.values() if a["job_id"] == job_id and (
            a["partition_key"] == partition_key
            or (a["alert_id"], partition_key) in self._s.partitions)]
        return [_row(a) for a in sorted(rows, key=lambda a: -a["alert_id"])[:limit]]

    # -- deliveries --------------------------------------------------------------------------

    def add_deliveries(self, alert_id: int, channels: Iterable[str], *, status: str,
                       now: dt.datetime) -> None:
        for channel in channels:
            self._s.add_delivery(alert_id, channel, at=now, status=status)

    def release_suppressed(self, alert_id: int, now: dt.datetime) -> None:
        for d in self._s.deliveries.values():
            if d["alert_id"] == alert_id and d["kind"] == "ALERT" and d["status"] == "SUPPRESSED":
                d.update(status="PENDING", next_attempt_at=now)

    def deliveries(self, alert_id: int) -> Sequence[Any]:
        rows = [d for d in self._s.deliveries.values() if d["alert_id"] == alert_id]
        return [_row(d) for d in sorted(rows, key=lambda d: (d["kind"], d["channel"]))]

    def attempts(self, delivery_ids: Sequence[int]) -> Sequence[Any]:
        return [_row(a) for a in self._s.attempts if a["delivery_id"] in set(delivery_ids)]

    def next_due(self, channels: Sequence[str], now: dt.datetime, *, skip_locked: bool) -> Any:
        def still_due(d: dict[str, Any]) -> set[str]:
            return {e["kind"] for e in self._s.deliveries.values()
                    if e["alert_id"] == d["alert_id"] and e["channel"] == d["channel"]
                    and e["status"] in rules.DUE_STATUSES}

        due = [d for d in self._s.deliveries.values()
               if d["status"] in rules.DUE_STATUSES and d["next_attempt_at"] <= now
               and d["channel"] in channels and rules.may_send(d["kind"], still_due(d))]
        due.sort(key=lambda d: (d["next_attempt_at"], d["delivery_id"]))
        return _row(due[0]) if due else None

    def claim(self, delivery: Any, lease_until: dt.datetime) -> bool:
        d = self._s.deliveries.get(delivery.delivery_id)
        if d is None or d["status"] != delivery.status or d["attempts"] != delivery.attempts:
            return False
        d.update(attempts=delivery.attempts + 1, next_attempt_at=lease_until)
        return True

    def recorded_attempts(self, delivery_id: int) -> int:
        return sum(a["delivery_id"] == delivery_id for a in self._s.attempts)

    def add_attempt(self, delivery_id: int, at: dt.datetime, *, succeeded: bool,
                    error: str | None) -> None:
        self._s.attempts.append({"attempt_id": self._s.next_id(), "delivery_id": delivery_id,
                                 "attempted_at": at, "succeeded": succeeded, "error": error})

    def set_outcome(self, delivery_id: int, attempt: int, status: str, **values: Any) -> bool:
        d = self._s.deliveries.get(delivery_id)
        if d is None or d["attempts"] != attempt or d["status"] not in rules.DUE_STATUSES:
            return False
        d.update(status=status, **values)
        return True
