"""A job's partitions as ``GET /metrics`` counts them: each one's newest attempt (pure).

Every partition the job ran or tried has a newest execution, ordered by (created, id). A run
over a range of partitions (a single-run backfill) is an attempt at every partition it covers,
so it is the newest attempt of each of them unless a later run of that partition exists. A
partition without an active result version counts as such; one whose newest attempt FAILED
while an older version stays active counts apart.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, MutableMapping

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class PartitionAttempt:
    """The newest execution of one partition: its order (created, id) and status."""

    created_at: dt.datetime
    execution_id: str
    status: str


def cover(latest: MutableMapping[str, PartitionAttempt], attempt: PartitionAttempt,
          keys: Iterable[str]) -> None:
    """Make ``attempt`` (a range run) the newest attempt of each of ``keys`` it is newer for,
    in place: a partition's own later run stays its newest."""
    for key in keys:
        seen = latest.get(key)
        if seen is None or (attempt.created_at, attempt.execution_id) > (
                seen.created_at, seen.execution_id):
            latest[key] = attempt


def partition_health(
    latest: Mapping[str, PartitionAttempt], active: Iterable[str]
) -> tuple[int, int]:
    """Count a job's partitions without an active version, and those whose latest attempt
    FAILED while an older version stays active.

    Args:
        latest: every partition the job ran or tried, with its newest execution.
        active: the partitions with an active result version of one of the job's assets.

    Returns:
        ``(without_active_version, latest_attempt_failed)``.
    """
    have = set(active)
    without = sum(1 for key in latest if key not in have)
    failed = sum(1 for key, a in latest.items() if key in have and a.status == "FAILED")
    return without, failed
