"""When a WARN rule's warning is news: the rule's own recent baseline (pure, no database).

A WARN rule never blocks a partition; its warning raises DQ-002 only when it says something the
rule's history does not. The rule's declared ``alert_policy`` decides first:

- ``always``: every warning alerts.
- ``never``: no warning alerts (the results are still recorded and shown in the reports).
- ``baseline`` (the default): the warning is compared with the rule's results on the previous
  ``window`` partitions of the job, by partition order (the partitions before this one that
  have a result of the rule):

  - fewer than ``min_history`` such partitions: no alert. A baseline needs history; a pipeline's
    first days (the quick start) say nothing about what the rule usually does.
  - the rule warned on at least ``noisy_share`` of them: known noise. No alert unless this
    partition's figure is above ``rise_factor`` times the median figure of the warning
    partitions in the window.
  - otherwise the rule seldom warns: the warning alerts.

A partition's figure is its failing-row share (``failing_rows / total_rows``) for a row-level
rule, or its measured value for a table-level rule; a share, not a count, so a day with fewer
flights does not look better or worse than it is.
"""

import dataclasses
import statistics
from collections.abc import Sequence

ALERT_ALWAYS = "always"
ALERT_BASELINE = "baseline"
ALERT_NEVER = "never"
ALERT_POLICIES = (ALERT_ALWAYS, ALERT_BASELINE, ALERT_NEVER)


@dataclasses.dataclass(frozen=True)
class BaselinePolicy:
    """The baseline's parameters.

    Attributes:
        window: how many previous partitions make the baseline (>= 1).
        min_history: how many of them must have a result before a warning can alert
            (1..window).
        noisy_share: a rule that warned on at least this share of the window is known noise
            (0 < share <= 1).
        rise_factor: how many times its median figure a known-noise rule's figure must exceed to
            alert (> 1).
    """

    window: int = 14
    min_history: int = 7
    noisy_share: float = 0.8
    rise_factor: float = 3.0

    def __post_init__(self) -> None:
        if self.window < 1 or not 1 <= self.min_history <= self.window:
            raise ValueError(
                f"need window >= 1 and 1 <= min_history <= window, got window {self.window}, "
                f"min_history {self.min_history}"
            )
        if not 0 < self.noisy_share <= 1:
            raise ValueError(f"noisy_share must be in (0, 1], got {self.noisy_share}")
        if not self.rise_factor > 1:
            raise ValueError(f"rise_factor must be > 1, got {self.rise_factor}")


@dataclasses.dataclass(frozen=True)
class RuleOutcomeFigure:
    """One partition's result of a rule: its status and its figure (None when not measured)."""

    partition_key: str
    status: str
    figure: float | None = None


@dataclasses.dataclass(frozen=True)
class BaselineDecision:
    """Whether a warning alerts, and why (one sentence an operator can read).

    Attributes:
        alert: the warning raises DQ-002.
        reason: why, e.g. ``"warned on 0 of the previous 7 partitions"``.
        warned: how many partitions of the baseline warned; considered: how many it holds.
        median: the median figure of the warning partitions of the baseline (None: none).
    """

    alert: bool
    reason: str
    warned: int = 0
    considered: int = 0
    median: float | None = None


def figure_of(failing_rows: int | None, total_rows: int | None,
              measured_value: float | None) -> float | None:
    """A result's figure: the measured value (table-level), else the failing-row share."""
    if measured_value is not None:
        return float(measured_value)
    if failing_rows is not None and total_rows:
        return failing_rows / total_rows
    return None


def decide_warning(
    current: RuleOutcomeFigure,
    history: Sequence[RuleOutcomeFigure],
    *,
    alert_policy: str = ALERT_BASELINE,
    policy: BaselinePolicy = BaselinePolicy(),
) -> BaselineDecision:
    """Decide whether a rule's WARN result on one partition raises DQ-002.

    Args:
        current: the result being decided (status WARN; another status never alerts).
        history: the rule's results on earlier partitions, newest first (only the first
            ``policy.window`` count; later partitions than ``current`` must not be passed).
        alert_policy: the rule's declared policy, ``always``, ``baseline`` or ``never``.
        policy: the baseline's parameters.

    Returns:
        The decision with its reason.

    Raises:
        ValueError: an unknown ``alert_policy``.
    """
    if alert_policy not in ALERT_POLICIES:
        raise ValueError(f"unknown alert policy {alert_policy!r}; one of {ALERT_POLICIES}")
    if current.status != "WARN":
        return BaselineDecision(False, f"the result is {current.status}, not WARN")
    if alert_policy == ALERT_NEVER:
        return BaselineDecision(False, "the rule is declared alert: never")
    if alert_policy == ALERT_ALWAYS:
        return BaselineDecision(True, "the rule is declared alert: always")
    window = list(history[: policy.window])
    considered = len(window)
    warning = [h for h in window if h.status == "WARN"]
    figures = [h.figure for h in warning if h.figure is not None]
    median = statistics.median(figures) if figures else None
    seen = f"warned on {len(warning)} of the previous {considered} partitions"
    if considered < policy.min_history:
        return BaselineDecision(
            False, f"no baseline yet: {considered} previous partitions, "
            f"{policy.min_history} needed", len(warning), considered, median,
        )
    if len(warning) < policy.noisy_share * considered:
        return BaselineDecision(True, f"the rule seldom warns: {seen}", len(warning),
                                considered, median)
    if current.figure is not None and median is not None and (
            current.figure > policy.rise_factor * median):
        return BaselineDecision(
            True, f"above its baseline: {current.figure:.4g} is more than "
            f"{policy.rise_factor:g} times its median {median:.4g} ({seen})",
            len(warning), considered, median,
        )
    return BaselineDecision(False, f"known noise: {seen}, within its usual level",
                            len(warning), considered, median)
