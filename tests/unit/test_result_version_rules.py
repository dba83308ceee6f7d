"""domain.result_versions: how versions are numbered, which one stays in service, which takes
over, and what the activation gate is told of the execution that made them."""

from opsrel_core.domain import activation
from opsrel_core.domain.result_versions import (
    CheckEvidence, attribution_text, execution_outcome, next_number, successor, takes_place,
)
from opsrel_core.domain.status import ExecutionStatus as S


def test_a_new_version_is_numbered_one_above_the_highest():
    assert [next_number(None), next_number(0), next_number(1), next_number(41)] == [1, 1, 2, 42]


def test_an_older_version_never_takes_the_place_of_a_newer_one():
    assert takes_place(None, 1)
    assert takes_place(2, 3)
    assert takes_place(3, 3)
    assert not takes_place(4, 3)


def test_the_successor_is_the_newest_earlier_version_of_a_successful_execution():
    assert successor([(3, S.FAILED), (2, S.SUCCESS), (1, S.SUCCESS)]) == 2
    assert successor([(1, S.SUCCESS), (2, S.SUCCESS)]) == 2  # whatever the order given
    assert successor([(2, S.STOPPED), (1, None)]) is None
    assert successor([]) is None


def test_a_refusal_names_the_run_a_replay_replays():
    assert attribution_text("REEXECUTE", "run-1") == "reexecute of run-1"
    assert attribution_text("RETRY", "run-1") == "retry of run-1"
    assert attribution_text("RETRY", None) == "retry"
    assert attribution_text("SENSOR", "run-1") == "sensor"


def test_the_gate_is_told_who_decided_the_execution_and_its_checks():
    checks = {("clean_flights", "carrier_known"): activation.CheckOutcome(True)}
    evidence = CheckEvidence({"clean_flights": frozenset({"carrier_known"})}, checks)
    decided = execution_outcome("run-2", status=S.SUCCESS, stop_requested=False,
                                operator_id="dana", trigger_type="REEXECUTE",
                                parent_execution_id="run-1", evidence=evidence)
    assert decided == activation.ExecutionOutcome(
        "run-2", S.SUCCESS, stop_requested=False, may_replace=True,
        attribution="reexecute of run-1", blocking_checks=evidence.blocking_checks,
        checks=checks)
    nobody = execution_outcome("run-3", status=S.SUCCESS, stop_requested=True, operator_id=None,
                               trigger_type="SENSOR", parent_execution_id=None,
                               evidence=CheckEvidence())
    assert (nobody.may_replace, nobody.stop_requested, nobody.attribution) == (
        False, True, "sensor")
