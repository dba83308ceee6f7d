"""What a data-quality report says about its results: counts, the outcome, the basis (pure).

A report's outcome is its worst item: a FAIL outranks an ERROR (a rule that could not run),
which outranks a WARN. Of a rule's results on one asset partition the newest counts (a retry or
a replay within one report replaces the earlier result). A partition report's basis says where
its items come from: every asset's active version, the latest attempt, or both.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from opsrel_core.domain import partition_state as ps

STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
SEVERITY_RANK = {"FAIL": 0, "ERROR": 1, "WARN": 2, "PASS": 3}
BASIS_MIXED = "MIXED"  # some assets from their active version, others from their latest attempt
BASIS_REPLAY = "REPLAY"  # a replay report: its executions' results, active or not


class RuleResult(Protocol):
    """What the rules here read of a validation result."""

    result_id: int
    rule_id: str
    asset_key: str
    partition_key: str
    status: str
    execution_id: str


R = TypeVar("R", bound=RuleResult)


def worst(statuses: Iterable[str]) -> str:
    """The worst of some rule statuses (``FAIL`` > ``ERROR`` > ``WARN`` > ``PASS``); ``NONE``
    for none."""
    return min(statuses, key=SEVERITY_RANK.__getitem__, default=ps.NONE)


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """``{status: n}`` for each of ``STATUSES`` (0 when absent)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] += 1
    return counts


def summary_of(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{asset: {status: n}}`` of ``(asset, status)`` pairs, assets in order."""
    summary: dict[str, dict[str, int]] = {}
    for asset, status in sorted(pairs):
        summary.setdefault(asset, dict.fromkeys(STATUSES, 0))[status] += 1
    return summary


def basis_of(active_flags: Iterable[bool]) -> str:
    """Where a partition report's items come from, by each item's ``active_version``:
    ``ACTIVE`` (all), ``LATEST_ATTEMPT`` (none), ``MIXED``, or ``NONE`` without items."""
    active = set(active_flags)
    if not active:
        return ps.NONE
    if active == {True}:
        return ps.ACTIVE
    return ps.LATEST_ATTEMPT if active == {False} else BASIS_MIXED


def result_key(r: RuleResult) -> tuple[str, str, str]:
    """What one report line is about: ``(rule_id, asset_key, partition_key)``."""
    return (r.rule_id, r.asset_key, r.partition_key)


def latest_per_rule(results: Iterable[R]) -> list[R]:
    """Each (rule, asset, partition)'s result with the highest id, in report order (by asset,
    partition, rule)."""
    latest: dict[tuple[str, str, str], R] = {}
    for r in results:
        key = result_key(r)
        if key not in latest or r.result_id > latest[key].result_id:
            latest[key] = r
    return [latest[k] for k in sorted(latest, key=lambda k: (k[1], k[2], k[0]))]


def current_results(results: Iterable[R], states: Mapping[str, ps.PartitionState]) -> list[R]:
    """What a partition report is made of: of each asset's results, those of its current
    attempt (``partition_state``: the execution of its active version, else its latest
    attempt), the latest per rule; an asset without a state has none.

    Args:
        results: the partition's results (any order); states: ``{asset_key: state}``.
    """
    return latest_per_rule(
        r for r in results
        if (state := states.get(r.asset_key)) is not None and state.current is not None
        and r.execution_id == state.current.execution_id
    )


def covers(partition_key: str | None, start: str | None,
           end: str | None) -> Callable[[str], bool]:
    """Whether a partition lies in what an execution ran: its one key, its range (inclusive,
    keys in order), or everything for an unpartitioned run (all its parent checked)."""
    if partition_key is not None:
        return lambda p: p == partition_key
    if start is not None and end is not None:
        return lambda p: start <= p <= end
    return lambda p: True
