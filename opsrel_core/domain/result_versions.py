"""Result versions: how they are numbered, which one stays in service, which one takes over.

Pure rules, no I/O (``opsrel_core.services.results`` reads the rows, these decide):

- ``next_number``: a new version of an asset partition is numbered one above its highest (1 for
  the first); results are never overwritten, so numbers are never reused.
- ``takes_place``: a version replaces the active one only when it is not older: a newer result is
  never displaced by an older one that finished later.
- ``successor``: when the active version is taken out of service by hand, the newest earlier
  version made by a successful execution takes its place (none when there is no such version).
- ``execution_outcome``: what the activation gate (``opsrel_core.domain.activation``) weighs of
  the execution that made the versions, from its recorded facts and its checks' evidence.
"""

import dataclasses
from collections.abc import Iterable, Mapping

from opsrel_core.domain import activation
from opsrel_core.domain.status import ExecutionStatus

# Triggers whose refusal names the execution they replay ("reexecute of run-1").
_REPLAYING_TRIGGERS = ("REEXECUTE", "RETRY")


@dataclasses.dataclass(frozen=True)
class CheckEvidence:
    """The checks the activation gate weighs: declared blocking checks per asset key, and each
    (asset key, check name)'s evaluation in the execution (``activation.CheckOutcome``)."""

    blocking_checks: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    checks: Mapping[tuple[str, str], activation.CheckOutcome] = dataclasses.field(
        default_factory=dict)


def next_number(highest: int | None) -> int:
    """The number of a new version, given the partition's highest so far (None: no version yet).

    Returns:
        ``highest + 1``, or 1 for the first version (``version_number >= 1`` in the table).
    """
    return (highest or 0) + 1


def takes_place(active_number: int | None, number: int) -> bool:
    """Whether version ``number`` may take the place of the active version ``active_number``.

    Args:
        active_number: the partition's active version number, None when none is active.
        number: the version the gate admitted.

    Returns:
        False only when the active version is newer (a higher number).
    """
    return active_number is None or active_number <= number


def successor(earlier: Iterable[tuple[int, ExecutionStatus | None]]) -> int | None:
    """The version that takes over when the active one is taken out of service by hand.

    Args:
        earlier: ``(version number, status of the execution that made it)`` of the partition's
            versions below the one taken out (status None: its execution is not recorded).

    Returns:
        The highest number made by a SUCCESS execution, or None when there is none (the
        partition then has no active version).
    """
    good = [number for number, status in earlier if status is ExecutionStatus.SUCCESS]
    return max(good, default=None)


def attribution_text(trigger_type: str, parent_execution_id: str | None) -> str:
    """How a refusal names the execution: its trigger and, for a replay of a run, which run.

    Example: ``attribution_text("REEXECUTE", "run-1") == "reexecute of run-1"``.
    """
    trigger = trigger_type.lower()
    if parent_execution_id and trigger_type in _REPLAYING_TRIGGERS:
        return f"{trigger} of {parent_execution_id}"
    return trigger


def execution_outcome(
    execution_id: str, *, status: ExecutionStatus, stop_requested: bool,
    operator_id: str | None, trigger_type: str, parent_execution_id: str | None,
    evidence: CheckEvidence,
) -> activation.ExecutionOutcome:
    """What the activation gate needs of an execution, from its recorded facts.

    An execution with an ``operator_id`` was decided by someone, so it may replace an active
    result (``opsrel_core.domain.attribution``).
    """
    return activation.ExecutionOutcome(
        execution_id=execution_id,
        status=status,
        stop_requested=stop_requested,
        may_replace=operator_id is not None,
        attribution=attribution_text(trigger_type, parent_execution_id),
        blocking_checks=evidence.blocking_checks,
        checks=evidence.checks,
    )
