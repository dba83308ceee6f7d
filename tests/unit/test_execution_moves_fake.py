"""The execution lifecycle over the in-memory repository: the moves of each event, repeats,
forbidden moves, a stop that is final, a concurrent writer between read and write, and progress.
No database server: the unit of work runs on an empty in-memory SQLite the fake never queries."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.domain import execution_moves as moves
from opsrel_core.domain.status import ExecutionStatus as S
from opsrel_core.errors import BatchExecutionException
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.batch_execution.moving import CAS_ATTEMPTS
from tests.support.fakes.executions import ExecutionStore

T0 = dt.datetime(2024, 3, 1, 2, 0, tzinfo=dt.timezone.utc)
T1, T2, T3 = (T0 + dt.timedelta(minutes=n) for n in (1, 2, 3))


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> ExecutionStore:
    s = ExecutionStore()
    s.error_codes.update({"INP-001", "SYS-003"})
    return s


@pytest.fixture
def service(engine: sa.Engine, store: ExecutionStore) -> BatchExecutionService:
    svc = BatchExecutionService(engine, repository=store.repository)
    svc.register_execution(ExecutionSpec("run-1", "flights_daily", steps_total=4), at=T0)
    return svc


def _keys(service: BatchExecutionService) -> list[str]:
    return [e["event_key"] for e in service.get_history("run-1")]


# -- the pure moves ------------------------------------------------------------------------------


def test_success_without_a_stop_ends_success_and_after_one_ends_stopped():
    assert moves.success(None, T2) == moves.Move(S.SUCCESS, {"ended_at": T2})
    after_stop = moves.success(T1, T2)
    assert (after_stop.status, after_stop.values["error_code"]) == (S.STOPPED, "BAT-004")
    assert after_stop.ignored["observed_status"] == "SUCCESS"
    assert after_stop.ignored["stop_requested_at"] == T1.isoformat()


def test_failure_after_a_stop_keeps_the_code_in_the_ignored_detail():
    move = moves.failure(T1, T2, error_code="INP-001", error_message="boom",
                         failed_asset_key="raw_flights", failed_partition_key="2024-03-01")
    assert move.status is S.STOPPED
    assert (move.values["error_code"], move.values["error_message"]) == ("BAT-004", "boom")
    assert (move.ignored["observed_status"], move.ignored["error_code"]) == ("FAILED", "INP-001")


def test_stop_sets_the_request_time_and_keeps_an_absent_message_unset():
    move = moves.stop(T2)
    assert (move.status, move.stop_requested_at) == (S.STOPPED, T2)
    assert "error_message" not in move.values


def test_progress_only_moves_forward():
    recorded = moves.Progress(steps_total=4, steps_done=3, rows_written=100)
    assert moves.advance(recorded, steps_done=1, steps_total=2, rows_written=50) == recorded
    assert moves.advance(recorded, steps_done=5, steps_total=6, rows_written=None) == \
        moves.Progress(6, 5, 100)
    with pytest.raises(ValueError):
        moves.advance(recorded, steps_done=5, steps_total=None, rows_written=None)
    with pytest.raises(ValueError):
        moves.check_progress_counts(-1, None)


# -- the service over the fake -------------------------------------------------------------------


def test_a_run_moves_ready_running_success_and_a_repeat_writes_nothing(service, store):
    service.start_execution("run-1", at=T1)
    view = service.complete_execution("run-1", at=T2)
    assert (view.status, view.started_at, view.ended_at) == (S.SUCCESS, T1, T2)
    writes = store.writes
    assert service.complete_execution("run-1", at=T3).ended_at == T2
    assert store.writes == writes
    assert _keys(service) == ["status:READY", "status:RUNNING", "status:SUCCESS"]


def test_failed_after_success_is_refused_and_changes_nothing(service):
    service.start_execution("run-1", at=T1)
    service.complete_execution("run-1", at=T2)
    with pytest.raises(BatchExecutionException) as err:
        service.fail_execution("run-1", "INP-001", at=T3)
    assert err.value.code == "BAT-001"
    assert service.get_execution("run-1").status is S.SUCCESS
    assert len(_keys(service)) == 3


def test_unknown_ids_and_codes_are_refused(service):
    with pytest.raises(BatchExecutionException) as missing:
        service.start_execution("nope", at=T1)
    assert missing.value.code == "BAT-002"
    with pytest.raises(BatchExecutionException) as unknown_code:
        service.fail_execution("run-1", "NOPE-001", at=T1)
    assert unknown_code.value.code == "BAT-001"
    assert service.get_execution("run-1").status is S.READY


def test_a_success_after_a_stop_request_ends_stopped_and_is_ignored_once(service):
    service.start_execution("run-1", at=T1)
    service.request_stop("run-1", at=T2)
    view = service.complete_execution("run-1", at=T3)
    assert (view.status, view.error_code, view.stop_requested_at) == (S.STOPPED, "BAT-004", T2)
    service.complete_execution("run-1", at=T3)
    assert _keys(service) == ["status:READY", "status:RUNNING", "status:STOPPED",
                              "ignored:SUCCESS"]


def test_a_stop_request_landing_before_the_write_is_seen(service, store):
    service.start_execution("run-1", at=T1)
    other = BatchExecutionService(sa.create_engine("sqlite://"), repository=store.repository)

    def stop_lands_first() -> None:
        store.before_write = None
        other.request_stop("run-1", at=T2)

    store.before_write = stop_lands_first
    view = service.fail_execution("run-1", "INP-001", error_message="interrupted", at=T3)
    assert (view.status, view.error_code, view.error_message) == (S.STOPPED, "BAT-004",
                                                                  "interrupted")
    assert _keys(service)[-1] == "ignored:FAILED"


def test_a_stale_failure_changes_nothing(service):
    service.start_execution("run-1", at=T1)  # updated_at is now, no longer T0
    view = service.fail_execution("run-1", "SYS-003", at=T2, if_unchanged_since=T0)
    assert (view.status, view.error_code) == (S.RUNNING, None)
    assert _keys(service) == ["status:READY", "status:RUNNING"]


def test_the_move_gives_up_when_other_writers_keep_moving_the_row(service, store):
    service.start_execution("run-1", at=T1)
    flips = []

    def flip() -> None:
        row = store.executions["run-1"]
        row["status"] = "READY" if row["status"] == "RUNNING" else "RUNNING"
        flips.append(row["status"])

    store.before_write = flip
    with pytest.raises(BatchExecutionException) as err:
        service.stop_execution("run-1", at=T2)
    assert err.value.code == "BAT-001" and "kept changing" in err.value.operator_message
    assert len(flips) == CAS_ATTEMPTS


def test_progress_is_ignored_after_the_end(service):
    service.start_execution("run-1", at=T1)
    assert service.update_progress("run-1", steps_done=2, rows_written=10).steps_done == 2
    service.stop_execution("run-1", at=T2)
    view = service.update_progress("run-1", steps_done=4, rows_written=99)
    assert (view.steps_done, view.rows_written, view.status) == (2, 10, S.STOPPED)
    assert service.list_open_execution_ids() == []
