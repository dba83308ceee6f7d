"""The alert lifecycle as pure rules: statuses, transitions, repeats, silences.

An alert is OPEN when raised, ACKNOWLEDGED once someone said they know, RESOLVED when it is over.

===============  ============  ==============  ==========================================
event            OPEN          ACKNOWLEDGED    RESOLVED
===============  ============  ==============  ==========================================
REPEAT           absorbed      absorbed        a new alert (news)
ACKNOWLEDGE      ACKNOWLEDGED  (no change)     (records who, keeps RESOLVED)
RECOVER          RESOLVED      RESOLVED        (no change)
RESOLVE (hand)   RESOLVED      RESOLVED        refused: BAT-001, already resolved
QUIET (window)   RESOLVED      (stays)         (no change)
===============  ============  ==============  ==========================================

A repeat of an OPEN alert is absorbed within the storm window (``dedupe_window_seconds`` after
its ``last_seen_at``); after a whole quiet window that incident is over (QUIET) and the repeat
opens a new alert. An ACKNOWLEDGED alert absorbs every repeat, however late, until it is
resolved: someone is already working on it.

A silence matches an alert when every matcher it gives matches (job, error code and rule id
exactly, the partition by a glob pattern such as ``2013-01-*``) and the alert is raised while the
silence holds (not ended, and ``at < expires_at``).
"""

import dataclasses
import datetime as dt
import enum
import fnmatch
import re


class AlertStatus(enum.StrEnum):
    """Status of one alert: raised, someone knows, over."""

    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


ALERT_STATUSES: tuple[str, ...] = tuple(s.value for s in AlertStatus)
"""The alert statuses as stored (the ``alert.status`` check constraint)."""

OPEN, ACKNOWLEDGED, RESOLVED = (AlertStatus.OPEN.value, AlertStatus.ACKNOWLEDGED.value,
                                AlertStatus.RESOLVED.value)
LIVE_STATUSES = (OPEN, ACKNOWLEDGED)
"""The statuses of a live alert: its ``dedupe_key`` is unique among them (a partial index)."""

REPEAT, ACKNOWLEDGE, RECOVER, RESOLVE, QUIET = "REPEAT", "ACKNOWLEDGE", "RECOVER", "RESOLVE", "QUIET"

# status after (status, event); a missing pair leaves the status as it is.
TRANSITIONS: dict[tuple[str, str], str] = {
    (OPEN, ACKNOWLEDGE): ACKNOWLEDGED,
    (OPEN, RECOVER): RESOLVED,
    (ACKNOWLEDGED, RECOVER): RESOLVED,
    (OPEN, RESOLVE): RESOLVED,
    (ACKNOWLEDGED, RESOLVE): RESOLVED,
    (OPEN, QUIET): RESOLVED,
}

# Who ``resolved_by`` names when no operator resolved the alert.
BY_RECOVERY = "opsrel:recovery"
BY_QUIET_WINDOW = "opsrel:quiet-window"
BY_HISTORY = "opsrel:history"

# The alerts a successful execution of the same job and partition ends: they are about that
# partition's computation failing. Warnings accumulated over many partitions and runs that could
# not be recorded are not ended by one success.
RECOVERABLE_KINDS = frozenset({"EXECUTION_FAILED", "DQ_FAIL"})

# A partition late past its deadline (``services.late_partitions``) ends when a version of it
# becomes active, whenever that execution ended: the lateness is about the version's absence.
ARRIVAL_KINDS = frozenset({"PARTITION_LATE"})

MAX_SILENCE_SECONDS = 90 * 24 * 3600
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def next_status(status: str, event: str) -> str:
    """The status after ``event`` (one of the events above); unchanged when the table has none."""
    return TRANSITIONS.get((status, event), status)


def can_resolve(status: str) -> bool:
    """Whether an operator may resolve an alert in ``status`` (a resolved one may not)."""
    return (status, RESOLVE) in TRANSITIONS


def absorbs_repeat(status: str, last_seen_at: dt.datetime, at: dt.datetime,
                   window_seconds: float) -> bool:
    """Whether a repeat of a live alert's key at ``at`` is counted on it (no new alert, no send).

    Args:
        status: the live alert's status (OPEN or ACKNOWLEDGED).
        last_seen_at, at: UTC times of its last occurrence and of the repeat.
        window_seconds: the storm window (seconds).

    Returns:
        True for an ACKNOWLEDGED alert, and for an OPEN one within the window; False otherwise
        (the OPEN alert is then over: QUIET, and the repeat opens a new alert).
    """
    if status == ACKNOWLEDGED:
        return True
    return status == OPEN and at - last_seen_at <= dt.timedelta(seconds=window_seconds)


@dataclasses.dataclass(frozen=True)
class SilenceMatchers:
    """What a silence mutes: every matcher given must match (None matches anything).

    Attributes:
        job_id, error_code, rule_id: compared exactly.
        partition_pattern: a glob (``*``, ``?``, ``[...]``) over the alert's partition key; an
            alert without a partition does not match a silence that gives one.
    """

    job_id: str | None = None
    error_code: str | None = None
    rule_id: str | None = None
    partition_pattern: str | None = None

    def validate(self) -> "SilenceMatchers":
        """Return the matchers with blanks as None.

        Raises:
            ValueError: no matcher is given (a silence must not mute everything), one is
                longer than 100 characters, or the partition pattern is wildcards only
                (``*``, ``?*``: it matches every partition).
        """
        cleaned = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            value = value.strip() if isinstance(value, str) and value.strip() else None
            if value is not None and len(value) > 100:
                raise ValueError(f"{field.name} must be at most 100 characters")
            if (field.name == "partition_pattern" and value is not None and "*" in value
                    and not value.strip("*?")):
                # ``*``, ``?*``: every partition key; a silence by it alone would mute every
                # partitioned alert, which the rule of one matcher at least is there to refuse.
                raise ValueError(f"partition_pattern {value!r} matches every partition; name "
                                 "some (e.g. 2013-01-*) or leave it out")
            cleaned[field.name] = value
        result = SilenceMatchers(**cleaned)
        if not any(cleaned.values()):
            raise ValueError("a silence needs at least one matcher (job, error code, rule or "
                             "partition pattern); it must not mute every alert")
        return result

    def matches(self, *, job_id: str | None, error_code: str | None, rule_id: str | None,
                partition_key: str | None) -> bool:
        """Whether an alert with these facts is muted by these matchers."""
        if self.job_id is not None and self.job_id != job_id:
            return False
        if self.error_code is not None and self.error_code != error_code:
            return False
        if self.rule_id is not None and self.rule_id != rule_id:
            return False
        if self.partition_pattern is not None:
            if partition_key is None or not fnmatch.fnmatchcase(partition_key,
                                                                self.partition_pattern):
                return False
        return True


def silence_holds(expires_at: dt.datetime, ended_at: dt.datetime | None, at: dt.datetime) -> bool:
    """Whether a silence mutes what is raised at ``at`` (UTC): not ended by then, and
    ``at < expires_at`` (it is lifted at its expiry without anyone acting)."""
    if ended_at is not None and ended_at <= at:
        return False
    return at < expires_at


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"4h"``, ``"90m"``, ``"1d12h"`` (units s, m, h, d, w).

    Raises:
        ValueError: not a duration, zero, or longer than 90 days (a silence that long hides a
            condition nobody remembers).
    """
    compact = "".join(text.split()).lower()
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30m, 4h, 1d12h")
    seconds = float(sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))
    validate_silence_seconds(seconds)
    return seconds


def validate_silence_seconds(seconds: float) -> None:
    """Raises ValueError unless ``0 < seconds <= MAX_SILENCE_SECONDS`` (90 days)."""
    if not 0 < seconds <= MAX_SILENCE_SECONDS:
        raise ValueError(f"a silence lasts more than 0 s and at most 90 days, got {seconds:.0f} s")
