"""Replay statuses, the allowed moves between them and how a status follows from the runs.

Pure; no I/O. The state machine is data: ``ALLOWED_TRANSITIONS`` lists, for each status, the
statuses it may move to. REQUESTED -> RUNNING once the runs are launched; either may move to
STOPPING when an operator asks to stop, or end SUCCESS, FAILED or STOPPED; STOPPING only ends
STOPPED (a stop request is never undone). Terminal statuses are final.

A replay's status is *derived* from its child executions (``derive_status``), never set by hand:
an adapter that crashed between two runs, or a retry of one partition, must not leave a replay
SUCCESS while a child still runs or a partition has no execution yet.
"""

import dataclasses
import enum
from collections.abc import Sequence

from opsrel_core.domain.status import ExecutionStatus


class ReplayType(str, enum.Enum):
    """What a replay covers: the whole history, a range or one partition."""

    FULL = "FULL"
    RANGE = "RANGE"
    SINGLE = "SINGLE"


class ReplayStatus(str, enum.Enum):
    """Status of a replay; SUCCESS, FAILED and STOPPED are final."""

    REQUESTED = "REQUESTED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, FAILED and STOPPED: no transition leaves them."""
        return not ALLOWED_TRANSITIONS[self]


_R = ReplayStatus
ALLOWED_TRANSITIONS: dict[ReplayStatus, frozenset[ReplayStatus]] = {
    _R.REQUESTED: frozenset({_R.RUNNING, _R.STOPPING, _R.SUCCESS, _R.FAILED, _R.STOPPED}),
    _R.RUNNING: frozenset({_R.STOPPING, _R.SUCCESS, _R.FAILED, _R.STOPPED}),
    _R.STOPPING: frozenset({_R.STOPPED}),  # a stop request is never undone
    _R.SUCCESS: frozenset(),
    _R.FAILED: frozenset(),
    _R.STOPPED: frozenset(),
}

TERMINAL_STATUSES: frozenset[ReplayStatus] = frozenset(s for s in _R if s.is_terminal)

IN_FLIGHT_STATUSES: tuple[ReplayStatus, ...] = (_R.REQUESTED, _R.RUNNING, _R.STOPPING)
"""A replay from its request until it ends: it may still write its partitions."""

REPLAY_STATUSES: tuple[str, ...] = tuple(s.value for s in ReplayStatus)
"""The replay statuses as stored (the ``replay.status`` check constraint)."""

REPLAY_TYPES: tuple[str, ...] = tuple(t.value for t in ReplayType)
"""The replay types as stored (the ``replay.replay_type`` check constraint)."""


def can_transition(current: ReplayStatus, target: ReplayStatus) -> bool:
    """Tell whether ``current -> target`` is an allowed move.

    Returns:
        True when the transitions table allows the move; staying in the same status is not a
        transition and returns False (callers treat a repeat as a no-op).
    """
    return target in ALLOWED_TRANSITIONS[current]


@dataclasses.dataclass(frozen=True)
class ChildRun:
    """What status derivation needs of one child execution (range runs cover start..end).

    ``keys``: the keys a range run covers in the job's registered order; None:
    ``range_start..range_end`` in string order.
    """

    partition_key: str | None
    range_start: str | None
    range_end: str | None
    status: ExecutionStatus
    keys: frozenset[str] | None = None

    def covers(self, partition: str) -> bool:
        """True when this run materializes ``partition``."""
        if self.partition_key is not None:
            return self.partition_key == partition
        if self.keys is not None:
            return partition in self.keys
        if self.range_start is not None and self.range_end is not None:
            return self.range_start <= partition <= self.range_end
        return False


def derive_status(
    current: ReplayStatus, children: Sequence[ChildRun], expected: Sequence[str]
) -> ReplayStatus:
    """Derive a replay's status from its child executions; pure, no I/O.

    Args:
        current: the stored status.
        children: the replay's executions in creation order (a later run of a partition, a
            retry, replaces an earlier one).
        expected: every partition key the replay must produce.

    Returns:
        ``current`` when terminal. STOPPING until every child ended, then STOPPED. Otherwise
        RUNNING (or ``current`` when no child exists yet) while a child runs or an expected
        partition has no child; when all ended: SUCCESS if each partition's latest child
        succeeded, else FAILED if one of them failed, else STOPPED.
    """
    if current.is_terminal:
        return current
    all_ended = all(c.status.is_terminal for c in children)
    if current is ReplayStatus.STOPPING:
        return ReplayStatus.STOPPED if all_ended else current
    latest = [next((c for c in reversed(children) if c.covers(p)), None) for p in expected]
    if not all_ended or any(c is None for c in latest):
        return ReplayStatus.RUNNING if children else current
    outcomes = {c.status for c in latest if c is not None}
    if outcomes == {ExecutionStatus.SUCCESS}:
        return ReplayStatus.SUCCESS
    return ReplayStatus.FAILED if ExecutionStatus.FAILED in outcomes else ReplayStatus.STOPPED
