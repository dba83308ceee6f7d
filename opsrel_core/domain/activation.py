"""When a result version becomes active: one gate for every launch path.

Every path that materializes a result (the Dagster UI on any subset of assets, backfills,
re-executions, retries, sensors, ``opsrel run``, Python) ends in the projection activating the
versions of a finished execution, and this gate decides there, per version, with no I/O. A version
becomes the active one only when:

- its execution ended SUCCESS and no stop was requested for it (a stop is final);
- every blocking check declared for its asset ran in that execution and passed for its partition
  (an asset materialized without its blocking checks stays inactive, with the reason recorded);
- if it would replace an active version, the execution was decided by someone
  (``opsrel_core.domain.attribution``): copied tags and unattributed runs never replace a result.

An execution's versions of one partition become active together or not at all
(``decide_execution``): when one of them is refused, the others stay inactive too, so what is in
service for a partition never mixes a result with inputs that were not validated (a downstream
asset of an unchecked one has no blocking check of its own, yet derives from unchecked data).

A refused version stays inactive for inspection; the earlier active version stays in place.
"""

import dataclasses
from collections.abc import Mapping

from opsrel_core.domain.status import ExecutionStatus

# How a refusal for a missing decision ends (``decide``); a restore by an operator answers it
# (``domain.restore``).
NO_DECISION_REFUSAL = "has no operator and reason of its own, so it may not replace the active result"


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """A check's evaluation in one execution.

    Attributes:
        passed: the evaluation passed.
        failed_partitions: in a range execution, the partitions it failed for (empty: every
            partition had the outcome ``passed``).
    """

    passed: bool
    failed_partitions: frozenset[str] = frozenset()

    def passed_for(self, partition_key: str) -> bool:
        """Whether the check passed for one partition of the execution."""
        if self.failed_partitions:
            return partition_key not in self.failed_partitions
        return self.passed


@dataclasses.dataclass(frozen=True)
class ExecutionOutcome:
    """What the gate needs of the execution that made the versions.

    Attributes:
        execution_id: the execution.
        status: its recorded status.
        stop_requested: a stop was requested for it (by an operator or the orchestrator).
        may_replace: its attribution allows replacing an active result.
        attribution: how it is attributed, for the refusal's wording ("re-execution of run X").
        blocking_checks: per asset key, the names of the blocking checks declared for it.
        checks: per (asset key, check name), the evaluation in this execution.
    """

    execution_id: str
    status: ExecutionStatus
    stop_requested: bool = False
    may_replace: bool = True
    attribution: str = ""
    blocking_checks: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    checks: Mapping[tuple[str, str], CheckOutcome] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """The gate's answer for one version: activate, or stay inactive for ``reason``."""

    activate: bool
    reason: str | None = None


def decide(
    outcome: ExecutionOutcome, asset_key: str, partition_key: str, replaces_active: bool
) -> GateDecision:
    """Decide whether one version of ``outcome``'s execution becomes active.

    Args:
        outcome: the execution's outcome.
        asset_key, partition_key: the version's asset partition.
        replaces_active: another execution's version of that asset partition is active now.

    Returns:
        ``GateDecision(True)`` or ``GateDecision(False, reason)``; an execution that has not
        ended SUCCESS gets no reason (its versions are simply not in service).
    """
    if outcome.status is not ExecutionStatus.SUCCESS:
        return GateDecision(False)
    if outcome.stop_requested:
        return GateDecision(False, f"a stop was requested for execution {outcome.execution_id}; "
                                   "a stop is final, so none of its results becomes active")
    for check in sorted(outcome.blocking_checks.get(asset_key, frozenset())):
        evaluation = outcome.checks.get((asset_key, check))
        if evaluation is None:
            return GateDecision(False, f"the blocking check {check} of {asset_key} did not run "
                                       f"in execution {outcome.execution_id}; materialize the "
                                       "asset with its checks")
        if not evaluation.passed_for(partition_key):
            return GateDecision(False, f"the blocking check {check} of {asset_key} failed for "
                                       f"{partition_key}")
    if replaces_active and not outcome.may_replace:
        who = f" ({outcome.attribution})" if outcome.attribution else ""
        return GateDecision(False, f"execution {outcome.execution_id}{who} {NO_DECISION_REFUSAL}")
    return GateDecision(True)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One version of the execution: its asset partition and whether it would replace another
    execution's active version."""

    asset_key: str
    partition_key: str
    replaces_active: bool


def decide_execution(
    outcome: ExecutionOutcome, candidates: "list[Candidate]"
) -> list[GateDecision]:
    """``decide`` for each of an execution's versions, all or nothing per partition.

    Args:
        outcome: the execution's outcome.
        candidates: its versions not yet active.

    Returns:
        One decision per candidate, in order. A partition with one refused version has every
        version refused, each with the reason ``held back with <asset>: <reason>``.
    """
    decisions = [decide(outcome, c.asset_key, c.partition_key, c.replaces_active)
                 for c in candidates]
    refused: dict[str, tuple[str, GateDecision]] = {}
    for candidate, decision in zip(candidates, decisions):
        if not decision.activate and candidate.partition_key not in refused:
            refused[candidate.partition_key] = (candidate.asset_key, decision)
    result = []
    for candidate, decision in zip(candidates, decisions):
        first = refused.get(candidate.partition_key)
        if decision.activate and first is not None:
            asset, why = first
            reason = None if why.reason is None else f"held back with {asset}: {why.reason}"
            decision = GateDecision(False, reason)
        result.append(decision)
    return result
