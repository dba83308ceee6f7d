"""What an asset partition is: the state of its active version, with the latest attempt beside it.

A partition's results are those of the execution that made its active result version. A later
attempt whose versions stayed inactive (a replay that failed a FAIL rule, a stopped run, a run
the activation gate refused) does not change what the partition is; it is shown beside the
active state, never instead of it. Only a partition without an active version is described by
its latest attempt, and the basis says so.

Plain data in, plain data out: the daily data-quality report, and anything else that needs a
partition's status, read the attempts from the ops schema and ask ``partition_state``.
"""

import dataclasses
from collections.abc import Iterable

ACTIVE = "ACTIVE"
LATEST_ATTEMPT = "LATEST_ATTEMPT"
NONE = "NONE"
BASES = (ACTIVE, LATEST_ATTEMPT, NONE)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One execution's attempt at an asset partition.

    Attributes:
        execution_id: the execution.
        status: its execution status (``SUCCESS``, ``FAILED``, ...).
        order: larger is newer (the newest validation result id it recorded for the partition;
            0 when it recorded none).
        is_active: this execution made the partition's active result version.
        replay_id: the replay it ran for, if any.
        trigger_type: how it was launched (``MANUAL``, ``REPLAY``, ...), if known.
    """

    execution_id: str
    status: str
    order: int
    is_active: bool = False
    replay_id: int | None = None
    trigger_type: str | None = None


@dataclasses.dataclass(frozen=True)
class PartitionState:
    """What a partition is, and its latest attempt.

    Attributes:
        basis: ``ACTIVE`` (``current`` made the active version), ``LATEST_ATTEMPT`` (no
            version is active: ``current`` is the latest attempt) or ``NONE`` (no attempt).
        current: the attempt that describes the partition, or None.
        latest: the newest attempt, or None.
    """

    basis: str
    current: Attempt | None
    latest: Attempt | None

    @property
    def latest_differs(self) -> bool:
        """True when the newest attempt is not the one that describes the partition."""
        return (self.current is not None and self.latest is not None
                and self.latest.execution_id != self.current.execution_id)


def partition_state(attempts: Iterable[Attempt]) -> PartitionState:
    """The state of one asset partition from every execution's attempt at it.

    Args:
        attempts: the attempts at one asset partition, in any order.

    Returns:
        The active attempt as ``current`` when one is active, else the latest; the newest
        attempt (highest ``order``, then execution id) as ``latest``.

    Raises:
        ValueError: more than one attempt is marked active (the ops schema allows one active
            version per asset partition).
    """
    found = list(attempts)
    if not found:
        return PartitionState(NONE, None, None)
    latest = max(found, key=lambda a: (a.order, a.execution_id))
    active = [a for a in found if a.is_active]
    if len(active) > 1:
        raise ValueError(
            "one active version per asset partition, got the executions "
            + ", ".join(sorted(a.execution_id for a in active))
        )
    if active:
        return PartitionState(ACTIVE, active[0], latest)
    return PartitionState(LATEST_ATTEMPT, latest, latest)
