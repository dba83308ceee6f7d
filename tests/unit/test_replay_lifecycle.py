"""The replay lifecycle's moves over an in-memory repository: what a launch and a status refresh
write, and that a move raced by another writer writes nothing and is decided again."""

import inspect

import pytest

from opsrel_core.domain.replay_status import ChildRun, ReplayStatus
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.replays import ReplayRepository
from opsrel_core.services.replays import NOT_FOUND_CODE
from opsrel_core.services.replays.lifecycle import launched, move, refreshed
from tests.support.fakes.replays import FakeReplayRepository

E = ExecutionStatus


@pytest.fixture
def replays() -> FakeReplayRepository:
    return FakeReplayRepository()


def test_the_fake_has_the_repositorys_methods():
    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    assert public(ReplayRepository) <= public(FakeReplayRepository)


def test_a_launch_moves_requested_to_running_and_stores_the_backfill(replays):
    row = replays.add(status="REQUESTED")
    moved = move(replays, row.replay_id, lambda r: launched(r, "bf-1"))
    assert moved == (row, True)
    stored = replays.get(row.replay_id)
    assert (stored.status, stored.backfill_id) == ("RUNNING", "bf-1")


def test_a_second_launch_changes_nothing_and_keeps_the_first_backfill(replays):
    row = replays.add(status="RUNNING", backfill_id="bf-1")
    assert move(replays, row.replay_id, lambda r: launched(r, "bf-2")) == (row, False)
    assert replays.get(row.replay_id) == row


@pytest.mark.parametrize("status,values", [
    ("STOPPING", {"backfill_id": "bf-1"}),  # a stop request is kept; the backfill is recorded
    ("SUCCESS", {}), ("FAILED", {}), ("STOPPED", {}),  # an ended replay is not touched
])
def test_a_launch_never_moves_a_stopping_or_ended_replay(replays, status, values):
    row = replays.add(status=status)
    assert launched(row, "bf-1") == values


def test_a_move_raced_by_a_stop_writes_nothing_and_the_next_attempt_keeps_the_stop(replays):
    row = replays.add(status="REQUESTED")
    replays.before_write = lambda fake: fake.set(row.replay_id, status="STOPPING")
    assert move(replays, row.replay_id, lambda r: launched(r, "bf-1")) is None
    assert (replays.get(row.replay_id).status, replays.get(row.replay_id).backfill_id) == (
        "STOPPING", None)
    again = move(replays, row.replay_id, lambda r: launched(r, "bf-1"))
    assert again is not None and again[1] is True
    stored = replays.get(row.replay_id)
    assert (stored.status, stored.backfill_id) == ("STOPPING", "bf-1")


def test_a_refresh_ends_the_replay_with_its_end_time_once_every_partition_succeeded(replays):
    row = replays.add(status="RUNNING", keys=("a", "b"))
    children = [ChildRun("a", None, None, E.SUCCESS), ChildRun("b", None, None, E.FAILED),
                ChildRun("b", None, None, E.SUCCESS)]  # b's retry replaces its failure
    assert move(replays, row.replay_id, lambda r: refreshed(r, children, ["a", "b"]))[1]
    stored = replays.get(row.replay_id)
    assert stored.status == ReplayStatus.SUCCESS.value
    assert stored.ended_at is not None and stored.ended_at.utcoffset().total_seconds() == 0


def test_a_refresh_while_a_child_runs_keeps_the_replay_open(replays):
    row = replays.add(status="REQUESTED", keys=("a",))
    running = [ChildRun("a", None, None, E.RUNNING)]
    assert refreshed(row, running, ["a"]) == {"status": "RUNNING"}
    moved = move(replays, row.replay_id, lambda r: refreshed(r, running, ["a"]))
    assert moved is not None and replays.get(row.replay_id).ended_at is None


def test_an_ended_replay_is_final_whatever_its_children_say(replays):
    row = replays.add(status="FAILED", keys=("a",))
    assert refreshed(row, [ChildRun("a", None, None, E.SUCCESS)], ["a"]) == {}


def test_an_unknown_replay_is_coded_and_nothing_is_decided(replays):
    decided = []
    with pytest.raises(BatchExecutionException) as caught:
        move(replays, 42, lambda r: decided.append(r) or {"status": "RUNNING"})
    assert caught.value.code == NOT_FOUND_CODE and not decided
