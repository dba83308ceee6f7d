"""When a partition must have an active version, and which partitions are late (pure rule).

A job may declare a partition deadline (``batch_job.deadline_seconds`` and
``batch_job.deadline_timezone``, migration 0019): the partition of day D must have an active
result version ``after_partition_end`` after the partition ends, on the wall clock of the job's
timezone. With 6 hours in ``America/New_York``, day D is due at D+1 06:00 New York time, whatever
the UTC offset of that day (EST or EDT). A deadline on a wall-clock time that does not exist (the
hour skipped when daylight saving time starts) falls one hour later, as the clock reads then; one
that exists twice (the hour repeated when it ends) is its first occurrence.

Only daily partition sets (ISO date keys) are checked. A partition is overdue at ``now`` when it
is in the job's partition set (its bounds), its deadline has passed (``deadline <= now``), and the
deadline passed at most ``lookback_days`` (default 7) before ``now``. The look-back keeps a fresh
install, a job declared late in its life, or a checker that was down for weeks from alerting for
every day of history: older gaps are history, found by reading the partition set, not news.
"""

import dataclasses
import datetime as dt
import zoneinfo

from opsrel_core.domain.partitions import PartitionSet

DEFAULT_LOOKBACK_DAYS = 7
MAX_DEADLINE_SECONDS = 31 * 86400


@dataclasses.dataclass(frozen=True)
class PartitionDeadline:
    """A job's partition deadline.

    Attributes:
        after_partition_end: how long after the partition ends (local midnight after day D)
            it must have an active version; 0 to 31 days.
        timezone: IANA name of the job's timezone, e.g. ``"America/New_York"``.

    Raises:
        ValueError: a negative or too long delay, or an unknown timezone.
    """

    after_partition_end: dt.timedelta
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        seconds = self.after_partition_end.total_seconds()
        if not 0 <= seconds <= MAX_DEADLINE_SECONDS:
            raise ValueError(
                f"a partition deadline must be 0..{MAX_DEADLINE_SECONDS} seconds after the "
                f"partition ends, got {seconds:g}"
            )
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {self.timezone!r} for a partition deadline"
            ) from exc

    @classmethod
    def of(cls, seconds: int | None, timezone: str | None) -> "PartitionDeadline | None":
        """The deadline stored in the catalog columns, or None when the job declares none."""
        if seconds is None:
            return None
        return cls(dt.timedelta(seconds=seconds), timezone or "UTC")

    def describe(self) -> str:
        """A short human form, e.g. ``06:00 America/New_York the day after the partition``."""
        seconds = int(self.after_partition_end.total_seconds())
        days, rest = divmod(seconds, 86400)
        clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
        after = ("the day after the partition" if days == 0
                 else f"{days + 1} days after the partition")
        return f"{clock} {self.timezone} {after}"


def deadline_of(partition_key: str, deadline: PartitionDeadline) -> dt.datetime:
    """The UTC time by which the daily partition ``partition_key`` must have an active version.

    Raises:
        ValueError: the key is not an ISO date.
    """
    day = dt.date.fromisoformat(partition_key)
    # Wall-clock arithmetic: midnight after the day plus the delay, then placed in the zone.
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    local = end + deadline.after_partition_end
    zone = zoneinfo.ZoneInfo(deadline.timezone)
    # fold=0: a skipped wall-clock time takes the offset before the change (so it falls an
    # hour later on the clock), a repeated one its first occurrence.
    aware = local.replace(tzinfo=zone, fold=0)
    return aware.astimezone(dt.timezone.utc)


def overdue_partitions(
    now: dt.datetime, deadline: PartitionDeadline, partition_set: PartitionSet,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> list[str]:
    """The partitions whose deadline passed at ``now`` (within the look-back), oldest first.

    Whether they have an active version is not this rule's business: the caller removes those.

    Args:
        now: the current time (aware; UTC or any offset).
        deadline: the job's declaration.
        partition_set: the job's partition set; only ``daily`` sets are checked (others: []).
        lookback_days: a deadline that passed more than this many days before ``now`` is not
            overdue any more (history); at least 1.

    Raises:
        ValueError: ``now`` is naive, or ``lookback_days`` < 1.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    if partition_set.kind != "daily":
        return []
    oldest = now - dt.timedelta(days=lookback_days)
    local_today = now.astimezone(zoneinfo.ZoneInfo(deadline.timezone)).date()
    # Day D is due after D+1 local midnight: candidates run from today back past the look-back
    # plus the delay.
    span = lookback_days + int(deadline.after_partition_end.total_seconds() // 86400) + 2
    keys = []
    for back in range(span, -1, -1):
        key = (local_today - dt.timedelta(days=back)).isoformat()
        if not partition_set.contains(key):
            continue
        due = deadline_of(key, deadline)
        if oldest < due <= now:
            keys.append(key)
    return keys
