"""When a run whose projection failed is tried again, and when it is worth an alert.

A run that cannot be recorded is set aside so that it never holds back the others; it is retried
with exponential backoff (``base * 2**(attempts - 1)``, capped), and after a bounded number of
failed attempts one alert tells the operator. Plain functions over plain data: the service over
the ``projection_failure`` table applies them.
"""

import dataclasses
import datetime as dt

DEFAULT_BASE_SECONDS = 30.0
DEFAULT_CAP_SECONDS = 3600.0
DEFAULT_ALERT_AFTER_ATTEMPTS = 5
MAX_MESSAGE_CHARS = 2000


@dataclasses.dataclass(frozen=True)
class SetAsidePolicy:
    """How a set-aside run is retried and when it alerts.

    Attributes:
        base_seconds: the wait after the first failure, seconds (> 0).
        cap_seconds: the longest wait between two attempts, seconds (>= base_seconds).
        alert_after_attempts: failed attempts after which the one alert is raised (>= 1).

    Raises:
        ValueError: a value outside those bounds.
    """

    base_seconds: float = DEFAULT_BASE_SECONDS
    cap_seconds: float = DEFAULT_CAP_SECONDS
    alert_after_attempts: int = DEFAULT_ALERT_AFTER_ATTEMPTS

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError(
                f"backoff needs 0 < base_seconds <= cap_seconds, got base {self.base_seconds}, "
                f"cap {self.cap_seconds}"
            )
        if self.alert_after_attempts < 1:
            raise ValueError(f"alert_after_attempts must be >= 1, got {self.alert_after_attempts}")


def retry_delay_seconds(attempts: int, policy: SetAsidePolicy = SetAsidePolicy()) -> float:
    """The wait before the next attempt after ``attempts`` failed ones.

    Args:
        attempts: failed attempts so far (>= 1).
        policy: base, cap.

    Returns:
        ``min(base * 2**(attempts - 1), cap)`` in seconds.

    Raises:
        ValueError: ``attempts`` below 1.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    # The exponent is bounded first: a run failing for days must not overflow the float.
    exponent = min(attempts - 1, 64)
    return min(policy.base_seconds * 2.0**exponent, policy.cap_seconds)


def next_attempt_at(
    attempts: int, failed_at: dt.datetime, policy: SetAsidePolicy = SetAsidePolicy()
) -> dt.datetime:
    """When a run that failed for the ``attempts``-th time at ``failed_at`` is due again."""
    return failed_at + dt.timedelta(seconds=retry_delay_seconds(attempts, policy))


def alert_due(attempts: int, alerted: bool, policy: SetAsidePolicy = SetAsidePolicy()) -> bool:
    """Whether this failure raises the run's one alert: enough attempts and none raised yet."""
    return not alerted and attempts >= policy.alert_after_attempts


def clip_message(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The error message as stored: stripped, at most ``limit`` characters (an ellipsis marks a
    cut), never empty."""
    text = (message or "").strip() or "no message"
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
