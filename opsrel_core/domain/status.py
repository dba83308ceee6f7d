"""Execution statuses and the allowed transitions between them.

The state machine is data: ``ALLOWED_TRANSITIONS`` lists, for each status, the statuses it may
move to. READY -> RUNNING -> SUCCESS | FAILED | STOPPED; READY may also end directly (a run that
fails or is canceled before its first step). Terminal statuses are final.
"""

import enum


class ExecutionStatus(str, enum.Enum):
    """Status of one batch execution (one Dagster run)."""

    READY = "READY"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, FAILED and STOPPED: no transition leaves them."""
        return self in TERMINAL_STATUSES


EXECUTION_STATUSES: tuple[str, ...] = tuple(s.value for s in ExecutionStatus)
"""The execution statuses as stored (the ``batch_execution.status`` check constraint)."""


TERMINAL_STATUSES: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
)

ALLOWED_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.READY: frozenset(
        {ExecutionStatus.RUNNING, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
    ),
    ExecutionStatus.RUNNING: frozenset(
        {ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.STOPPED}
    ),
    ExecutionStatus.SUCCESS: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.STOPPED: frozenset(),
}


def can_transition(current: ExecutionStatus, target: ExecutionStatus) -> bool:
    """Tell whether ``current -> target`` is an allowed move.

    Args:
        current: the execution's status now.
        target: the status asked for.

    Returns:
        True when the transitions table allows the move. Staying in the same status is not a
        transition and returns False (callers treat an identical repeat as a no-op).
    """
    return target in ALLOWED_TRANSITIONS[current]


class TriggerType(str, enum.Enum):
    """How an execution was launched, derived from the Dagster run's tags."""

    MANUAL = "MANUAL"
    BACKFILL = "BACKFILL"
    SENSOR = "SENSOR"
    SCHEDULE = "SCHEDULE"
    CLI = "CLI"
    REPLAY = "REPLAY"
    REEXECUTE = "REEXECUTE"  # a Dagster re-execution of an earlier run (the UI's Re-execute)
    RETRY = "RETRY"  # an automatic run retry (``dagster/max_retries``)
