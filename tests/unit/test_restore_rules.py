"""domain.restore: which versions may be restored, and which downstream versions it leaves stale."""

import pytest

from opsrel_core.domain import activation
from opsrel_core.domain.restore import StaleDownstream, restore_refusal, stale_downstream
from opsrel_core.domain.status import ExecutionStatus


def _gate_reason(**outcome) -> str:
    decision = activation.decide(activation.ExecutionOutcome("run-2", ExecutionStatus.SUCCESS,
                                                             **outcome),
                                 "clean_flights", "2013-01-01", replaces_active=True)
    assert not decision.activate
    return decision.reason


def test_a_successful_version_the_gate_never_refused_may_be_restored():
    assert restore_refusal(ExecutionStatus.SUCCESS, False, None) is None


@pytest.mark.parametrize("status", [ExecutionStatus.FAILED, ExecutionStatus.STOPPED,
                                    ExecutionStatus.RUNNING])
def test_a_version_of_a_run_that_did_not_succeed_is_refused(status):
    assert status.value in restore_refusal(status, False, None)


def test_a_stop_requested_is_final():
    assert "stop" in restore_refusal(ExecutionStatus.SUCCESS, True, None)


def test_a_failed_or_missing_blocking_check_is_refused():
    failed = _gate_reason(blocking_checks={"clean_flights": frozenset({"carrier_known"})},
                          checks={("clean_flights", "carrier_known"):
                                  activation.CheckOutcome(False)})
    missing = _gate_reason(blocking_checks={"clean_flights": frozenset({"carrier_known"})})
    for reason in (failed, missing, f"held back with clean_flights: {failed}"):
        assert "activation gate refused" in restore_refusal(ExecutionStatus.SUCCESS, False, reason)


def test_a_version_refused_only_for_want_of_a_decision_may_be_restored():
    reason = _gate_reason(may_replace=False, attribution="re-execution of run-1")
    assert restore_refusal(ExecutionStatus.SUCCESS, False, reason) is None
    held = f"held back with carrier_daily_stats: {reason}"
    assert restore_refusal(ExecutionStatus.SUCCESS, False, held) is None


def test_stale_downstream_names_actives_made_from_another_version():
    made_from = {("stats", "d", 1): frozenset({1}), ("stats", "d", 2): frozenset({2}),
                 ("result", "d", 2): frozenset({2}), ("both", "d", 1): frozenset({1, 2})}
    active = {("stats", "d"): 2, ("result", "d"): 2, ("both", "d"): 1, ("unlinked", "d"): 4}
    assert stale_downstream(made_from, active, 1) == [
        StaleDownstream("result", "d", 2, (2,)), StaleDownstream("stats", "d", 2, (2,))]
    assert stale_downstream(made_from, active, 2) == []
