"""What the alert services return: alerts, deliveries with their attempts, dispatch reports."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from opsrel_core.domain.instants import utc_if_instant


@dataclasses.dataclass(frozen=True)
class AlertView:
    """One alert as read back (times UTC)."""

    alert_id: int
    event_kind: str
    severity: str
    status: str
    dedupe_key: str
    error_code: str | None
    job_id: str | None
    execution_id: str | None
    asset_key: str | None
    partition_key: str | None
    title: str
    message: str
    occurrence_count: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolved_by_execution_id: str | None = None
    resolve_reason: str | None = None
    rule_id: str | None = None
    silenced_by: int | None = None

    @classmethod
    def of(cls, row: Any) -> "AlertView":
        """Build the view from an ORM ``Alert`` or a Core row of the ``alert`` table."""
        return cls(**{f.name: utc_if_instant(getattr(row, f.name)) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class AttemptView:
    """One recorded send attempt: when, whether it succeeded, the (secret-free) error."""

    attempt_id: int
    attempted_at: dt.datetime
    succeeded: bool
    error: str | None


@dataclasses.dataclass(frozen=True)
class DeliveryView:
    """One channel's delivery of an alert, with its attempts oldest first.

    Attributes:
        kind: ALERT (the alert), ACKNOWLEDGE (its acknowledgement, mirrored), UPDATE (an
            incident grew) or RECOVERY (the notice that it was resolved).
        status: PENDING, RETRY, SENT, FAILED, or SUPPRESSED (silenced: never sent).
        attempts: claims so far (a claim whose outcome was lost to a crash counts too).
        attempt_history: the recorded attempts.
    """

    delivery_id: int
    alert_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
    attempt_history: tuple[AttemptView, ...]
    kind: str = "ALERT"


@dataclasses.dataclass
class DispatchReport:
    """What one ``dispatch_once`` did: counts, and ``(delivery_id, channel, status)`` per send."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


def delivery_views(deliveries: Sequence[Any], attempts: Sequence[Any],
                   redact: Callable[[str], str]) -> list[DeliveryView]:
    """The views of ``deliveries`` (rows of ``alert_delivery``, in their order), each with its
    ``attempts`` (rows of ``alert_delivery_attempt``, oldest first); errors pass ``redact``."""
    def masked(text: str | None) -> str | None:
        return None if text is None else redact(text)

    return [
        DeliveryView(
            delivery_id=d.delivery_id, alert_id=d.alert_id, channel=d.channel,
            kind=d.kind, status=d.status, attempts=d.attempts,
            next_attempt_at=utc_if_instant(d.next_attempt_at), last_error=masked(d.last_error),
            sent_at=utc_if_instant(d.sent_at), created_at=utc_if_instant(d.created_at),
            attempt_history=tuple(
                AttemptView(a.attempt_id, utc_if_instant(a.attempted_at), a.succeeded,
                            masked(a.error))
                for a in attempts if a.delivery_id == d.delivery_id
            ),
        )
        for d in deliveries
    ]
