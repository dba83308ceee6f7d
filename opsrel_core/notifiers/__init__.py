"""Alert delivery channels: email over SMTP, Slack incoming webhooks, PagerDuty events.

Each sender does one network send with a bounded timeout and either returns or raises
``DeliveryError``, which says whether a later retry may succeed (``transient``) and why, in words
that never hold a secret. The dispatcher (``opsrel_core.services.alerts.AlertDispatcher``) turns
that into RETRY with backoff or FAILED.
"""

import dataclasses
from typing import Any, Protocol


class DeliveryError(Exception):
    """A send failed.

    Args:
        transient: True when retrying later may succeed (connection refused, timeout, SMTP 4xx,
            HTTP 5xx or 429); False for a permanent refusal (SMTP 5xx, HTTP 4xx other than 429,
            a misconfiguration).
        reason: what happened, for the operator; must not contain a secret.
        retry_after: the receiver's requested pause in seconds (HTTP ``Retry-After``), if any.
    """

    def __init__(self, transient: bool, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.transient = transient
        self.reason = reason
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class EmailMessageSpec:
    """One email to send.

    Attributes:
        subject: one line (newlines are replaced by spaces).
        body: plain text.
        message_id: a stable ``Message-ID`` (``<...@...>``); the same delivery re-sent after a
            crash carries the same id, so mail clients can collapse the duplicate.
        in_reply_to: the ``Message-ID`` this email answers (sent as ``In-Reply-To`` and
            ``References``, so mail clients thread a recovery notice under its alert).
    """

    subject: str
    body: str
    message_id: str | None = None
    in_reply_to: str | None = None


class EmailSender(Protocol):
    """Sends one email to the configured recipients; raises ``DeliveryError``."""

    def send(self, message: EmailMessageSpec) -> None: ...


class SlackSender(Protocol):
    """Posts one Slack message text; raises ``DeliveryError``."""

    def send(self, text: str) -> None: ...


class PagerDutySender(Protocol):
    """Posts one PagerDuty Events API v2 event (without the routing key); raises
    ``DeliveryError``."""

    def send(self, event: dict[str, Any]) -> None: ...


__all__ = ["DeliveryError", "EmailMessageSpec", "EmailSender", "PagerDutySender", "SlackSender"]
