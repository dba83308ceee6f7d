"""The baseline rule for WARN rules (``opsrel_core.domain.dq_baseline``), without a database."""

import pytest

from opsrel_core.domain.dq_baseline import (
    BaselinePolicy, RuleOutcomeFigure, decide_warning, figure_of,
)

POLICY = BaselinePolicy(window=14, min_history=7, noisy_share=0.8, rise_factor=3.0)


def _history(statuses: str, figure: float = 0.02) -> list[RuleOutcomeFigure]:
    # newest first; "W" a warning with ``figure``, "P" a pass
    return [RuleOutcomeFigure(f"2013-01-{30 - i:02d}", "WARN" if s == "W" else "PASS",
                              figure if s == "W" else None) for i, s in enumerate(statuses)]


def _warn(figure: float) -> RuleOutcomeFigure:
    return RuleOutcomeFigure("2013-01-31", "WARN", figure)


def test_a_rule_that_warns_every_day_is_known_noise_at_its_usual_level():
    decision = decide_warning(_warn(0.025), _history("W" * 14), policy=POLICY)
    assert (decision.alert, decision.warned, decision.considered) == (False, 14, 14)
    assert decision.median == pytest.approx(0.02)
    assert decision.reason == "known noise: warned on 14 of the previous 14 partitions, within its usual level"


def test_known_noise_alerts_when_it_rises_above_factor_times_its_median():
    assert decide_warning(_warn(0.06), _history("W" * 14), policy=POLICY).alert is False  # 3x: not above
    decision = decide_warning(_warn(0.0601), _history("W" * 14), policy=POLICY)
    assert decision.alert is True
    assert decision.reason.startswith("above its baseline: 0.0601 is more than 3 times its median 0.02")


def test_a_rule_that_seldom_warns_alerts_when_it_warns():
    decision = decide_warning(_warn(0.51), _history("P" * 13 + "W"), policy=POLICY)
    assert (decision.alert, decision.warned, decision.considered) == (True, 1, 14)
    assert decision.reason == "the rule seldom warns: warned on 1 of the previous 14 partitions"


def test_eighty_percent_of_the_window_is_the_noise_line():
    # 11 of 14 = 78.6 %: seldom; 12 of 14 = 85.7 %: noise
    assert decide_warning(_warn(0.02), _history("W" * 11 + "P" * 3), policy=POLICY).alert is True
    assert decide_warning(_warn(0.02), _history("W" * 12 + "P" * 2), policy=POLICY).alert is False


def test_no_baseline_before_min_history_partitions():
    for n in range(7):
        decision = decide_warning(_warn(0.9), _history("P" * n), policy=POLICY)
        assert decision.alert is False
        assert decision.reason == f"no baseline yet: {n} previous partitions, 7 needed"
    assert decide_warning(_warn(0.9), _history("P" * 7), policy=POLICY).alert is True


def test_only_the_window_counts():
    # 14 warnings then older passes: the passes beyond the window are not part of the baseline
    decision = decide_warning(_warn(0.02), _history("W" * 14 + "P" * 20), policy=POLICY)
    assert (decision.alert, decision.considered) == (False, 14)


def test_declared_policies_win_over_the_baseline():
    assert decide_warning(_warn(0.02), [], alert_policy="always", policy=POLICY).alert is True
    never = decide_warning(_warn(99.0), _history("P" * 14), alert_policy="never", policy=POLICY)
    assert (never.alert, never.reason) == (False, "the rule is declared alert: never")
    with pytest.raises(ValueError, match="unknown alert policy 'sometimes'"):
        decide_warning(_warn(0.02), [], alert_policy="sometimes")


def test_a_result_that_is_not_a_warning_never_alerts():
    passed = RuleOutcomeFigure("2013-01-31", "PASS")
    assert decide_warning(passed, [], alert_policy="always").alert is False


def test_figures_are_shares_or_measured_values():
    assert figure_of(20, 1000, None) == pytest.approx(0.02)
    assert figure_of(None, 930, 0.5075) == pytest.approx(0.5075)
    assert figure_of(None, 0, None) is None and figure_of(3, 0, None) is None


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "need window >= 1"),
    ({"min_history": 15}, "1 <= min_history <= window"),
    ({"noisy_share": 0}, "noisy_share must be in"),
    ({"rise_factor": 1.0}, "rise_factor must be > 1"),
])
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BaselinePolicy(**kwargs)
