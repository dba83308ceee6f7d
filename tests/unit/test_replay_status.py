"""Pure tests of the replay state machine: its table, its stored spellings, status derivation."""

import itertools

import pytest

from opsrel_core.domain import partition_writers, replay_limits
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.domain.replay_status import (
    ALLOWED_TRANSITIONS, IN_FLIGHT_STATUSES, REPLAY_STATUSES, REPLAY_TYPES, TERMINAL_STATUSES,
    ChildRun, ReplayStatus, ReplayType, can_transition, derive_status,
)
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.persistence import tables

R = ReplayStatus
E = ExecutionStatus


def test_the_table_names_every_status_and_only_terminal_ones_are_dead_ends():
    assert set(ALLOWED_TRANSITIONS) == set(ReplayStatus)
    assert TERMINAL_STATUSES == {R.SUCCESS, R.FAILED, R.STOPPED}
    assert {s for s in R if s.is_terminal} == TERMINAL_STATUSES
    for status in R:
        assert status not in ALLOWED_TRANSITIONS[status]  # staying put is not a move


@pytest.mark.parametrize("current,target", list(itertools.product(R, R)))
def test_a_stop_request_is_never_undone_and_nothing_leaves_an_end(current, target):
    allowed = can_transition(current, target)
    if current.is_terminal:
        assert not allowed
    elif current is R.STOPPING:
        assert allowed is (target is R.STOPPED)
    else:
        assert allowed is (target is not current and target is not R.REQUESTED)


def test_stored_spellings_derive_from_the_enums():
    assert tables.REPLAY_STATUSES == REPLAY_STATUSES == (
        "REQUESTED", "RUNNING", "SUCCESS", "FAILED", "STOPPING", "STOPPED")
    assert tables.REPLAY_TYPES == REPLAY_TYPES == ("FULL", "RANGE", "SINGLE")
    assert [ReplayType(t) for t in REPLAY_TYPES] == list(ReplayType)


def test_in_flight_is_every_status_but_the_ends_for_writers_and_limits():
    assert set(IN_FLIGHT_STATUSES) == set(R) - TERMINAL_STATUSES
    assert partition_writers.REPLAY_IN_FLIGHT == ("REQUESTED", "RUNNING", "STOPPING")
    assert replay_limits.PENDING_STATUSES == partition_writers.REPLAY_IN_FLIGHT


def test_a_range_run_covers_its_keys_in_the_jobs_order_not_in_string_order():
    order = PartitionSet("static", None, None, listed=("zulu", "alpha", "mike", "bravo"))
    span = order.span("zulu", "mike")
    assert span is not None
    in_job_order = ChildRun(None, "zulu", "mike", E.SUCCESS, frozenset(span))
    assert [k for k in order.keys() if in_job_order.covers(k)] == ["zulu", "alpha", "mike"]
    # Without the job's order the ends compare as text: "zulu".."mike" is empty.
    as_text = ChildRun(None, "zulu", "mike", E.SUCCESS)
    assert not any(as_text.covers(k) for k in order.keys())


def test_stopping_waits_for_every_child_then_stops_whatever_they_ended():
    running = [ChildRun("a", None, None, E.SUCCESS), ChildRun("b", None, None, E.RUNNING)]
    assert derive_status(R.STOPPING, running, ["a", "b"]) is R.STOPPING
    ended = [ChildRun("a", None, None, E.SUCCESS), ChildRun("b", None, None, E.SUCCESS)]
    assert derive_status(R.STOPPING, ended, ["a", "b"]) is R.STOPPED


def test_a_requested_replay_without_children_stays_requested():
    assert derive_status(R.REQUESTED, [], ["a"]) is R.REQUESTED
    assert derive_status(R.RUNNING, [], ["a"]) is R.RUNNING
