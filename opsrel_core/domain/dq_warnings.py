"""What a DQ-002 alert of a WARN rule says, and how its repeats are counted (pure).

The alert is deduplicated per job and rule (``dedupe_key``): the open alert counts the rule's
warnings above its baseline, and its title and message name the current count and the latest
partition (``warning_text``). Whether a warning alerts at all is
``opsrel_core.domain.dq_baseline.decide_warning``, on the figures ``outcome_figure`` makes.
"""

from typing import Protocol

from opsrel_core.domain.dq_baseline import BaselineDecision, RuleOutcomeFigure, figure_of

DQ_WARN_ACCUMULATED = "DQ_WARN_ACCUMULATED"


class WarnResult(Protocol):
    """What the rules here read of a validation result."""

    rule_id: str
    asset_key: str
    partition_key: str
    status: str
    total_rows: int | None
    failing_rows: int | None
    measured_value: float | None
    bound: str | None


def outcome_figure(result: WarnResult) -> RuleOutcomeFigure:
    """A result as the baseline weighs it: its partition, status and figure (``figure_of``)."""
    return RuleOutcomeFigure(
        result.partition_key, result.status,
        figure_of(result.failing_rows, result.total_rows, result.measured_value),
    )


def dedupe_key(job_id: str, rule_id: str) -> str:
    """The alert key of a rule's warnings in a job: ``DQ_WARN_ACCUMULATED:<job>:<rule>``."""
    return f"{DQ_WARN_ACCUMULATED}:{job_id}:{rule_id}"


def warning_text(count: int, result: WarnResult, decision: BaselineDecision) -> tuple[str, str]:
    """The title and message of the alert after ``count`` warnings, the latest ``result``.

    Returns:
        (title, message): e.g. ``"DQ-002 r warned 3 times above its baseline, latest
        2013-02-01"`` and a message naming the rows (or the measured figure and its bound)
        and why it alerts.
    """
    times = "once" if count == 1 else f"{count} times"
    figure = outcome_figure(result).figure
    shown = f"{result.failing_rows} of {result.total_rows} rows" \
        if result.failing_rows is not None \
        else f"measured {figure:.4g} (bound {result.bound})" if figure is not None else "warned"
    return (
        f"DQ-002 {result.rule_id} warned {times} above its baseline, latest "
        f"{result.partition_key}",
        f"Rule {result.rule_id} on {result.asset_key} warned {times} above its baseline; latest "
        f"partition {result.partition_key}: {shown}. Why it alerts: {decision.reason}.",
    )
