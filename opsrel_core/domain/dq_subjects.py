"""What a data-quality report is about, and which kind of report a partition key makes (pure).

A report's subject is a job's partition or a replay. Of a daily job, a day's key (``YYYY-MM-DD``)
makes its DAILY report, with its ``report_date``; any other key a PARTITION report. Keys are
taken as the job spells them, never parsed as times: ``2013-11-03-01:00-0500`` is one key. A
subject's builders are serialized by its lock name (the unique constraint on the report does
not stop duplicates where a column is NULL).
"""

import dataclasses
import datetime as dt

DAILY, PARTITION, REPLAY = "DAILY", "PARTITION", "REPLAY"
MAX_KEY_LENGTH = 100  # dq_report.partition_key


@dataclasses.dataclass(frozen=True)
class Subject:
    """What a report is about: a job's partition (DAILY with its day, or PARTITION), or a
    replay. ``job_id`` None: a daily report of a catalog without a daily job (every job's)."""

    report_type: str
    job_id: str | None = None
    partition_key: str | None = None
    day: dt.date | None = None
    replay_id: int | None = None

    @property
    def lock_name(self) -> str:
        """The name its builders lock, e.g. ``dq_report:PARTITION:weather_hourly:K:None``."""
        return f"dq_report:{self.report_type}:{self.job_id}:{self.partition_key}:{self.replay_id}"


def check_key(partition_key: object) -> None:
    """Refuse a partition key the report table cannot store.

    Raises:
        ValueError: not a string of 1..100 characters, or blank.
    """
    if (not isinstance(partition_key, str) or not partition_key.strip()
            or len(partition_key) > MAX_KEY_LENGTH):
        raise ValueError(
            f"a partition key is 1..{MAX_KEY_LENGTH} characters, got {partition_key!r}")


def subject_of(job_id: str, partition_key: str, partitions: str) -> Subject:
    """The subject of a job's partition report, given the job's kind of partitions (``daily``,
    ``hourly``, ...): of a daily job, a day's key makes its DAILY report; else PARTITION."""
    if partitions == "daily" and is_day(partition_key):
        return Subject(DAILY, job_id, partition_key, dt.date.fromisoformat(partition_key))
    return Subject(PARTITION, job_id, partition_key)


def is_day(key: str) -> bool:
    """Whether ``key`` is a day spelled ``YYYY-MM-DD`` exactly."""
    try:
        return dt.date.fromisoformat(key).isoformat() == key
    except ValueError:
        return False


def parse_day(value: dt.date | str) -> dt.date:
    """A day from a date or its ISO text.

    Raises:
        ValueError: a datetime (a time, not a day), or text that is not ``YYYY-MM-DD``.
    """
    if isinstance(value, dt.datetime):
        raise ValueError(f"a day is expected, got the time {value!r}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"a daily partition key is an ISO date YYYY-MM-DD, got {value!r}"
        ) from None
