"""Alert deliveries as pure rules: channels, kinds, statuses, order, backoff. No I/O.

A delivery is one channel's message about one alert, written PENDING with the alert (the
outbox) and sent by a dispatcher. It is SENT once the channel accepted it, RETRY after a
transient failure (due again after a backoff), FAILED after a permanent failure or the last
attempt, SUPPRESSED when a silence muted its alert (recorded, never sent until the silence no
longer holds).

The kinds of one alert and channel are sent in order (``SENT_BEFORE``): an acknowledgement or
an update only after the alert, a recovery notice only after all of those, so no notice ever
reaches a channel before the alert it is about (PagerDuty sees trigger, acknowledge, resolve).
"""

import enum

from opsrel_core.domain import error_codes


class AlertChannel(enum.StrEnum):
    """Where a delivery goes."""

    EMAIL = "EMAIL"
    SLACK = "SLACK"
    PAGERDUTY = "PAGERDUTY"


class DeliveryKind(enum.StrEnum):
    """What a delivery says about its alert."""

    ALERT = "ALERT"  # the alert itself
    ACKNOWLEDGE = "ACKNOWLEDGE"  # someone acknowledged it (mirrored to PagerDuty)
    RECOVERY = "RECOVERY"  # it was resolved (PagerDuty: ``resolve``)
    UPDATE = "UPDATE"  # an incident grew (its partition count doubled)


class DeliveryStatus(enum.StrEnum):
    """Where a delivery is in its life."""

    PENDING = "PENDING"
    SENT = "SENT"
    RETRY = "RETRY"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


# The tuples as stored (the check constraints of ``alert_delivery`` and ``lineage_event``), in
# the order the migrations wrote them.
ALERT_CHANNELS: tuple[str, ...] = tuple(c.value for c in AlertChannel)
DELIVERY_KINDS: tuple[str, ...] = tuple(k.value for k in DeliveryKind)
DELIVERY_STATUSES: tuple[str, ...] = tuple(s.value for s in DeliveryStatus)

DUE_STATUSES: tuple[str, ...] = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRY.value)
"""The statuses of a delivery still to be sent (when its ``next_attempt_at`` has come)."""

SENT_BEFORE: dict[str, tuple[str, ...]] = {
    DeliveryKind.ACKNOWLEDGE.value: (DeliveryKind.ALERT.value,),
    DeliveryKind.UPDATE.value: (DeliveryKind.ALERT.value,),
    DeliveryKind.RECOVERY.value: (
        DeliveryKind.ALERT.value, DeliveryKind.ACKNOWLEDGE.value, DeliveryKind.UPDATE.value),
}
"""For each kind, the kinds of the same alert and channel that must no longer be due before a
delivery of it is sent. An ALERT delivery waits for nothing."""

CHANNEL_ERROR_CODES: dict[str, str] = {
    AlertChannel.EMAIL.value: error_codes.EXT_SMTP_FAILED,
    AlertChannel.SLACK.value: error_codes.EXT_WEBHOOK_FAILED,
    AlertChannel.PAGERDUTY.value: error_codes.EXT_PAGERDUTY_FAILED,
}
"""The catalog code a channel's failed attempt is recorded under (EXT-002, EXT-003, EXT-004)."""

MAX_REASON_CHARS = 2000


def may_send(kind: str, due_kinds: set[str] | frozenset[str]) -> bool:
    """Whether a due delivery of ``kind`` may be sent while the same alert and channel still
    has deliveries of ``due_kinds`` due (``SENT_BEFORE``)."""
    if kind == DeliveryKind.ALERT:
        return True
    before = SENT_BEFORE.get(kind)
    return before is not None and not due_kinds.intersection(before)


def retry_delay(attempt: int, *, base_seconds: float, cap_seconds: float,
                retry_after: float | None = None) -> float:
    """Seconds until a delivery whose ``attempt``-th attempt failed transiently is due again.

    Args:
        attempt: the failed attempt, from 1.
        base_seconds, cap_seconds: the backoff: ``min(base * 2**(attempt-1), cap)``.
        retry_after: what the channel asked for (a 429's ``Retry-After``, seconds); when given
            it replaces the backoff, at least 1 s and at most the cap.
    """
    if retry_after is not None:
        return min(max(retry_after, 1.0), cap_seconds)
    return min(base_seconds * 2 ** (attempt - 1), cap_seconds)


def failure_outcome(channel: str, reason: str, *, transient: bool, attempt: int,
                    max_attempts: int) -> tuple[DeliveryStatus, str]:
    """The status and the stored reason of a failed attempt.

    Args:
        channel: the delivery's channel (its catalog code prefixes the reason).
        reason: what the sender said, already free of secrets.
        transient: whether trying again may succeed.
        attempt, max_attempts: this attempt (from 1) and the last one allowed.

    Returns:
        ``(RETRY, "<code>: <reason>")`` for a transient failure before the last attempt, else
        ``(FAILED, ...)``, a transient one saying it gave up after ``attempt`` attempts. The
        reason is cut to ``MAX_REASON_CHARS`` before that note.
    """
    text = f"{CHANNEL_ERROR_CODES[channel]}: {reason}"[:MAX_REASON_CHARS]
    if transient and attempt < max_attempts:
        return DeliveryStatus.RETRY, text
    if transient:
        text = f"{text} (gave up after {attempt} attempts)"
    return DeliveryStatus.FAILED, text
