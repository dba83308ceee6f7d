"""An operator's limit of pending replays. Pure; no I/O.

A replay is pending from its request until it ends: REQUESTED, RUNNING or STOPPING (the
statuses of a replay in flight, ``partition_writers.REPLAY_IN_FLIGHT``). A new replay that would
give its operator more pending replays than the limit is refused with BAT-014 and writes
nothing; the landing sensor, whose replays are its own operator's (``sensor:<name>``), waits and
asks again on a later tick, as for a busy partition.
"""

from opsrel_core.domain import error_codes
from opsrel_core.domain.partition_writers import REPLAY_IN_FLIGHT
from opsrel_core.errors import ConflictException

PENDING_STATUSES = REPLAY_IN_FLIGHT
DEFAULT_MAX_PENDING_PER_OPERATOR = 20


def ensure_below_limit(operator_id: str, pending: int, limit: int) -> None:
    """Refuse one more replay for an operator who already has ``limit`` pending.

    Args:
        operator_id: who asks.
        pending: how many of their replays are REQUESTED, RUNNING or STOPPING now.
        limit: at most this many pending replays per operator (>= 1).

    Raises:
        ConflictException: BAT-014 (``BAT_REPLAY_LIMIT``) saying how many are pending, the
            limit, its setting and what to do.
    """
    if pending < limit:
        return
    raise ConflictException(
        error_codes.BAT_REPLAY_LIMIT,
        f"operator {operator_id!r} already has {pending} replays pending or running (the limit "
        f"is {limit}, OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR); wait until one ends or stop one "
        "(`opsrel replay list --status RUNNING`), then ask again; nothing was recorded",
        {"operator_id": operator_id, "pending": pending, "limit": limit},
    )
