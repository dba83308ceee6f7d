"""BatchExecutionService lifecycle on both backends: a stop is final, a terminal state is decided
once, and concurrent writers on SQLite lose nothing.

READY -> RUNNING -> SUCCESS | FAILED | STOPPED, READY -> FAILED | STOPPED; every other move is
rejected with BAT-001 and leaves the row and its history untouched; a repeated event is a no-op.
"""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus, can_transition
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import BatchExecution, ExecutionEvent
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from tests.support.catalog import upgrade_and_register

S = ExecutionStatus
T0 = dt.datetime(2024, 3, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(minutes=1)
T2 = T0 + dt.timedelta(minutes=2)
T3 = T0 + dt.timedelta(minutes=3)
T4 = T0 + dt.timedelta(minutes=4)


@pytest.fixture
def service(engine) -> BatchExecutionService:
    return BatchExecutionService(engine)


def _spec(execution_id: str = "run-1", **kw) -> ExecutionSpec:
    return ExecutionSpec(execution_id=execution_id, job_id="flights_daily", **kw)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _raw_row(engine: sa.Engine, execution_id: str) -> dict:
    """The whole stored row, ``updated_at`` included (the view does not carry it)."""
    table = BatchExecution.__table__
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(table).where(table.c.execution_id == execution_id)
        ).mappings().one()
    return {k: _utc(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def _event_count(engine: sa.Engine, execution_id: str) -> int:
    table = ExecutionEvent.__table__
    with engine.connect() as conn:
        return conn.scalar(
            sa.select(sa.func.count()).select_from(table).where(
                table.c.execution_id == execution_id
            )
        )


def _statuses(history: list[dict]) -> list[str]:
    return [h["to_status"] for h in history]


def _status_events(history: list[dict]) -> list[dict]:
    """The events that moved the status (the others annotate: ignored ends, deliveries)."""
    return [h for h in history if h["event_key"].startswith("status:")]


def _assert_history_well_formed(history: list[dict]) -> None:
    assert history, "an execution always has its READY event"
    assert history[0]["from_status"] is None
    assert history[0]["to_status"] == "READY"
    for prev, cur in zip(history, history[1:]):
        assert cur["from_status"] == prev["to_status"]
        assert can_transition(S(prev["to_status"]), S(cur["to_status"]))
    assert len(set(_statuses(history))) == len(history)
    for h in history:
        assert h["event_key"] == f"status:{h['to_status']}"
        assert h["occurred_at"].tzinfo is not None


# --- drive an execution to a given status ------------------------------------------------------


def _to(service: BatchExecutionService, status: S, execution_id: str = "run-1"):
    service.register_execution(_spec(execution_id), at=T0)
    if status is S.READY:
        return service.get_execution(execution_id)
    service.start_execution(execution_id, at=T1)
    if status is S.RUNNING:
        return service.get_execution(execution_id)
    if status is S.SUCCESS:
        return service.complete_execution(execution_id, at=T2)
    if status is S.FAILED:
        return service.fail_execution(
            execution_id, error_codes.INP_EMPTY_FILE, error_message="empty file", at=T2
        )
    return service.stop_execution(execution_id, at=T2)


def _apply(service: BatchExecutionService, target: S, execution_id: str = "run-1"):
    if target is S.RUNNING:
        return service.start_execution(execution_id, at=T3)
    if target is S.SUCCESS:
        return service.complete_execution(execution_id, at=T3)
    if target is S.FAILED:
        return service.fail_execution(
            execution_id, error_codes.SYS_WORKER_LOST, error_message="stale heartbeat", at=T3
        )
    if target is S.STOPPED:
        return service.stop_execution(execution_id, at=T3)
    raise AssertionError(target)


# --- valid transitions -------------------------------------------------------------------------


def test_register_gives_ready_with_one_history_row(service):
    view = service.register_execution(
        _spec(partition_key="2013-01-01", run_tags={"dagster/partition": "2013-01-01"}, steps_total=3),
        at=T0,
    )
    assert view.status is S.READY
    assert view.created_at == T0
    assert view.started_at is None and view.ended_at is None
    assert (view.steps_total, view.steps_done, view.rows_written) == (3, 0, 0)
    assert view.run_tags == {"dagster/partition": "2013-01-01"}
    history = service.get_history("run-1")
    assert [(h["from_status"], h["to_status"]) for h in history] == [(None, "READY")]
    assert history[0]["occurred_at"] == T0


def test_ready_running_success(service, engine):
    service.register_execution(_spec(), at=T0)
    running = service.start_execution("run-1", at=T1)
    assert running.status is S.RUNNING
    assert running.started_at == T1 and running.ended_at is None
    done = service.complete_execution("run-1", at=T2)
    assert done.status is S.SUCCESS
    assert done.started_at == T1 and done.ended_at == T2
    assert done.error_code is None and done.error_message is None
    history = service.get_history("run-1")
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "READY"),
        ("READY", "RUNNING"),
        ("RUNNING", "SUCCESS"),
    ]
    assert [h["occurred_at"] for h in history] == [T0, T1, T2]
    _assert_history_well_formed(history)
    assert service.get_execution("run-1") == done


def test_running_failed_with_code(service):
    _to(service, S.RUNNING)
    failed = service.fail_execution(
        "run-1",
        error_codes.INP_MISSING_COLUMN,
        error_message="column 'carrier' missing in flights_2013-01-01.csv",
        failed_asset_key="raw_flights",
        failed_partition_key="2013-01-01",
        at=T2,
    )
    assert failed.status is S.FAILED
    assert failed.error_code == "INP-003"
    assert failed.error_message == "column 'carrier' missing in flights_2013-01-01.csv"
    assert failed.failed_asset_key == "raw_flights"
    assert failed.failed_partition_key == "2013-01-01"
    assert failed.started_at == T1 and failed.ended_at == T2
    history = service.get_history("run-1")
    assert _statuses(history) == ["READY", "RUNNING", "FAILED"]
    assert history[-1]["detail"] == {"error_code": "INP-003"}
    _assert_history_well_formed(history)


def test_running_stopped(service):
    _to(service, S.RUNNING)
    stopped = service.stop_execution("run-1", at=T2, error_message="stopped by alice")
    assert stopped.status is S.STOPPED
    assert stopped.error_code == error_codes.BAT_RUN_CANCELED
    assert stopped.error_message == "stopped by alice"
    assert stopped.started_at == T1 and stopped.ended_at == T2
    assert _statuses(service.get_history("run-1")) == ["READY", "RUNNING", "STOPPED"]


def test_ready_failed(service):
    service.register_execution(_spec(), at=T0)
    failed = service.fail_execution("run-1", error_codes.EXT_SOURCE_UNAVAILABLE, at=T1)
    assert failed.status is S.FAILED
    assert failed.error_code == "EXT-001"
    assert failed.started_at is None and failed.ended_at == T1
    history = service.get_history("run-1")
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "READY"),
        ("READY", "FAILED"),
    ]


def test_ready_stopped(service):
    service.register_execution(_spec(), at=T0)
    stopped = service.stop_execution("run-1", at=T1)
    assert stopped.status is S.STOPPED
    assert stopped.error_code == "BAT-004"
    assert stopped.started_at is None and stopped.ended_at == T1
    assert _statuses(service.get_history("run-1")) == ["READY", "STOPPED"]


# --- invalid transitions -----------------------------------------------------------------------

INVALID = [
    (S.READY, S.SUCCESS),
    (S.SUCCESS, S.FAILED),
    (S.SUCCESS, S.RUNNING),
    (S.SUCCESS, S.STOPPED),
    (S.FAILED, S.SUCCESS),
    (S.FAILED, S.RUNNING),
    (S.FAILED, S.STOPPED),
    (S.STOPPED, S.RUNNING),
]
# STOPPED -> FAILED and STOPPED -> SUCCESS are not in this list: a stop is final, so a failure
# or a success reported after it resolves to STOPPED (no failure alert, no
# automatic retry); see the test_stop_ tests.


@pytest.mark.parametrize(("start", "target"), INVALID, ids=lambda s: s.value)
def test_invalid_transition_is_rejected_and_changes_nothing(service, engine, start, target):
    _to(service, start)
    row_before = _raw_row(engine, "run-1")
    history_before = service.get_history("run-1")

    with pytest.raises(BatchExecutionException) as info:
        _apply(service, target)

    assert info.value.code == "BAT-001"
    assert start.value in info.value.operator_message
    assert target.value in info.value.operator_message
    assert _raw_row(engine, "run-1") == row_before
    assert service.get_history("run-1") == history_before


# --- idempotency -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.RUNNING, S.SUCCESS, S.FAILED, S.STOPPED], ids=lambda s: s.value)
def test_same_event_twice_changes_nothing(service, engine, status):
    _to(service, status)
    row_before = _raw_row(engine, "run-1")
    n_events = _event_count(engine, "run-1")
    view_before = service.get_execution("run-1")

    if status is S.RUNNING:
        again = service.start_execution("run-1", at=T4)
    elif status is S.SUCCESS:
        again = service.complete_execution("run-1", at=T4)
    elif status is S.FAILED:
        # The same failure delivered again (e.g. a retried request after a lost response).
        again = service.fail_execution(
            "run-1", error_codes.INP_EMPTY_FILE, error_message="empty file", at=T4
        )
    else:
        again = service.stop_execution("run-1", at=T4)

    assert again == view_before
    assert _raw_row(engine, "run-1") == row_before
    assert _event_count(engine, "run-1") == n_events


def test_register_same_execution_twice_gives_one_row(service, engine):
    first = service.register_execution(_spec(partition_key="2013-01-01"), at=T0)
    service.start_execution("run-1", at=T1)
    again = service.register_execution(_spec(partition_key="2013-01-02"), at=T2)
    # The second registration returns the stored execution untouched (still RUNNING).
    assert again.status is S.RUNNING
    assert again.partition_key == "2013-01-01"
    assert again.created_at == first.created_at == T0
    table = BatchExecution.__table__
    with engine.connect() as conn:
        n = conn.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.execution_id == "run-1")
        )
    assert n == 1
    assert _statuses(service.get_history("run-1")) == ["READY", "RUNNING"]


# --- unknown execution / unknown code ----------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_execution("nope"),
        lambda s: s.start_execution("nope"),
        lambda s: s.complete_execution("nope"),
        lambda s: s.fail_execution("nope", "SYS-001"),
        lambda s: s.stop_execution("nope"),
        lambda s: s.request_stop("nope"),
        lambda s: s.update_progress("nope", steps_done=0),
    ],
    ids=["get", "start", "complete", "fail", "stop", "request_stop", "progress"],
)
def test_unknown_execution_is_bat_002(service, engine, call):
    with pytest.raises(BatchExecutionException) as info:
        call(service)
    assert info.value.code == "BAT-002"
    assert service.find_execution("nope") is None
    assert service.get_history("nope") == []


@pytest.mark.parametrize("status", [S.READY, S.RUNNING])
def test_fail_with_code_outside_the_catalog_is_rejected(service, engine, status):
    _to(service, status)
    row_before = _raw_row(engine, "run-1")
    history_before = service.get_history("run-1")
    with pytest.raises(BatchExecutionException) as info:
        service.fail_execution("run-1", "XYZ-999", error_message="boom", at=T3)
    assert info.value.code == "BAT-001"
    assert _raw_row(engine, "run-1") == row_before
    assert service.get_history("run-1") == history_before


# --- progress ----------------------------------------------------------------------------------


def test_progress_only_moves_forward(service, engine):
    service.register_execution(_spec(steps_total=5), at=T0)
    service.start_execution("run-1", at=T1)
    view = service.update_progress("run-1", steps_done=2, rows_written=100)
    assert (view.steps_done, view.steps_total, view.rows_written) == (2, 5, 100)
    # A late, lower figure is ignored.
    view = service.update_progress("run-1", steps_done=1, rows_written=50)
    assert (view.steps_done, view.rows_written) == (2, 100)
    # A larger total is taken; a smaller one never shrinks it.
    view = service.update_progress("run-1", steps_done=4, steps_total=7, rows_written=300)
    assert (view.steps_done, view.steps_total, view.rows_written) == (4, 7, 300)
    view = service.update_progress("run-1", steps_done=4, steps_total=3)
    assert view.steps_total == 7
    assert service.get_execution("run-1").steps_done == 4
    # Progress is not a status change: no history row.
    assert _statuses(service.get_history("run-1")) == ["READY", "RUNNING"]


def test_same_progress_twice_changes_nothing(service, engine):
    """A progress event delivered twice (sensor re-read after a crash) is a no-op too."""
    service.register_execution(_spec(steps_total=5), at=T0)
    service.start_execution("run-1", at=T1)
    service.update_progress("run-1", steps_done=2, rows_written=100)
    before = _raw_row(engine, "run-1")
    service.update_progress("run-1", steps_done=2, rows_written=100)
    assert _raw_row(engine, "run-1") == before


def test_progress_rejects_impossible_figures(service, engine):
    service.register_execution(_spec(steps_total=2), at=T0)
    before = _raw_row(engine, "run-1")
    with pytest.raises(ValueError):
        service.update_progress("run-1", steps_done=-1)
    with pytest.raises(ValueError):
        service.update_progress("run-1", steps_done=1, rows_written=-5)
    with pytest.raises(ValueError):
        service.update_progress("run-1", steps_done=3)
    assert _raw_row(engine, "run-1") == before


@pytest.mark.parametrize("status", [S.SUCCESS, S.FAILED, S.STOPPED], ids=lambda s: s.value)
def test_progress_after_terminal_state_is_ignored(service, engine, status):
    service.register_execution(_spec(steps_total=4), at=T0)
    service.start_execution("run-1", at=T1)
    service.update_progress("run-1", steps_done=2, rows_written=10)
    if status is S.SUCCESS:
        service.complete_execution("run-1", at=T2)
    elif status is S.FAILED:
        service.fail_execution("run-1", "BAT-005", at=T2)
    else:
        service.stop_execution("run-1", at=T2)
    before = _raw_row(engine, "run-1")
    view = service.update_progress("run-1", steps_done=4, rows_written=999)
    assert view.status is status
    assert (view.steps_done, view.rows_written) == (2, 10)
    assert _raw_row(engine, "run-1") == before


# --- a failure after a stop request ends STOPPED ----------------------------------------------


def test_stop_requested_then_failure_ends_stopped(service, engine):
    _to(service, S.RUNNING)
    requested = service.request_stop("run-1", at=T2)
    assert requested.status is S.RUNNING
    assert requested.stop_requested_at == T2

    view = service.fail_execution(
        "run-1",
        error_codes.SYS_UNEXPECTED,
        error_message="KeyboardInterrupt raised inside pyarrow",
        failed_asset_key="clean_flights",
        at=T3,
    )
    assert view.status is S.STOPPED
    assert view.error_code == "BAT-004"
    assert view.error_message == "KeyboardInterrupt raised inside pyarrow"
    assert view.stop_requested_at == T2
    assert view.ended_at == T3
    history = service.get_history("run-1")
    assert _statuses(_status_events(history)) == ["READY", "RUNNING", "STOPPED"]
    assert history[2]["detail"] == {"error_code": "SYS-001"}
    # the failure is kept in the history as an end the stop overruled
    assert (history[3]["event_key"], history[3]["detail"]["error_code"]) == (
        "ignored:FAILED", "SYS-001")

    # The worker's failure delivered again, and the cancel event itself, change nothing.
    before = _raw_row(engine, "run-1")
    service.fail_execution("run-1", error_codes.SYS_UNEXPECTED, error_message="again", at=T4)
    service.stop_execution("run-1", at=T4)
    assert _raw_row(engine, "run-1") == before
    assert len(service.get_history("run-1")) == 4


def test_stop_requested_while_failure_is_being_recorded(service, engine, monkeypatch):
    """A stop request that commits between fail_execution's read and its write must still win.

    fail_execution decides FAILED vs STOPPED from ``stop_requested_at`` read in one transaction
    and writes in another; the compare-and-set only checks the status. Here an operator's
    request_stop lands in that window (deterministically, by running it just before the write).
    """
    _to(service, S.RUNNING)
    other = BatchExecutionService(engine)
    original = service._mover.move

    def transition_after_a_concurrent_stop_request(*args, **kwargs):
        other.request_stop("run-1", at=T2)
        return original(*args, **kwargs)

    monkeypatch.setattr(service._mover, "move", transition_after_a_concurrent_stop_request)
    service.fail_execution("run-1", error_codes.SYS_UNEXPECTED, error_message="interrupted", at=T3)
    monkeypatch.undo()

    view = service.get_execution("run-1")
    assert view.stop_requested_at == T2
    # The stop was requested before the terminal event was written: it ends STOPPED.
    assert view.status is S.STOPPED
    assert view.error_code == "BAT-004"


def test_request_stop_is_idempotent_and_ignored_after_the_end(service, engine):
    _to(service, S.READY)
    service.request_stop("run-1", at=T1)
    again = service.request_stop("run-1", at=T2)
    assert again.stop_requested_at == T1
    service.stop_execution("run-1", at=T3)
    before = _raw_row(engine, "run-1")
    service.request_stop("run-1", at=T4)
    assert _raw_row(engine, "run-1") == before


def test_request_stop_on_finished_execution_changes_nothing(service, engine):
    _to(service, S.SUCCESS)
    before = _raw_row(engine, "run-1")
    view = service.request_stop("run-1", at=T4)
    assert view.status is S.SUCCESS and view.stop_requested_at is None
    assert _raw_row(engine, "run-1") == before


# --- a stop is final: a SUCCESS after a stop request ends STOPPED ------------------------------


def test_stop_success_after_a_stop_request_ends_stopped(service, engine):
    """The worker that could not be reached finishes after the operator's stop: the execution
    ends STOPPED (BAT-004), the SUCCESS is kept as ignored, and the same SUCCESS observed again
    changes nothing."""
    _to(service, S.RUNNING)
    service.request_stop("run-1", at=T2)
    view = service.complete_execution("run-1", at=T3)
    assert (view.status, view.error_code, view.ended_at, view.stop_requested_at) == (
        S.STOPPED, "BAT-004", T3, T2)
    history = service.get_history("run-1")
    assert [(h["event_key"], h["from_status"], h["to_status"]) for h in history] == [
        ("status:READY", None, "READY"),
        ("status:RUNNING", "READY", "RUNNING"),
        ("status:STOPPED", "RUNNING", "STOPPED"),
        ("ignored:SUCCESS", "STOPPED", "STOPPED"),
    ]
    ignored = history[-1]
    assert ignored["occurred_at"] == T3
    assert ignored["detail"]["observed_status"] == "SUCCESS"
    assert ignored["detail"]["stop_requested_at"] == T2.isoformat()
    assert "ends STOPPED" in ignored["detail"]["reason"]
    _assert_history_well_formed(_status_events(history))

    before, n_events = _raw_row(engine, "run-1"), _event_count(engine, "run-1")
    again = service.complete_execution("run-1", at=T4)  # the same SUCCESS observed twice
    assert again == view
    assert (_raw_row(engine, "run-1"), _event_count(engine, "run-1")) == (before, n_events)


def test_stop_success_after_the_stop_ended_it_is_ignored_once(service, engine):
    """Dagster's CANCELED ended it STOPPED first; a late SUCCESS (formerly BAT-001) leaves it
    STOPPED, recorded once as ignored; without a stop request SUCCESS is unchanged."""
    _to(service, S.STOPPED)
    before = _raw_row(engine, "run-1")
    view = service.complete_execution("run-1", at=T3)
    assert view.status is S.STOPPED and _raw_row(engine, "run-1") == before
    assert [h["event_key"] for h in service.get_history("run-1")][-2:] == [
        "status:STOPPED", "ignored:SUCCESS"]
    n_events = _event_count(engine, "run-1")
    service.complete_execution("run-1", at=T4)
    assert _event_count(engine, "run-1") == n_events

    done = _to(service, S.SUCCESS, "run-2")
    assert (done.status, done.error_code, done.stop_requested_at) == (S.SUCCESS, None, None)
    assert [h["event_key"] for h in service.get_history("run-2")] == [
        "status:READY", "status:RUNNING", "status:SUCCESS"]


def test_stop_request_landing_while_success_is_recorded_wins(service, engine, monkeypatch):
    """A stop request that commits between complete_execution's read and its write: the
    compare-and-set sees it, decides again, and the execution ends STOPPED."""
    _to(service, S.RUNNING)
    other = BatchExecutionService(engine)
    original = service._mover.move

    def transition_after_a_concurrent_stop_request(*args, **kwargs):
        other.request_stop("run-1", at=T2)
        return original(*args, **kwargs)

    monkeypatch.setattr(service._mover, "move", transition_after_a_concurrent_stop_request)
    view = service.complete_execution("run-1", at=T3)
    assert (view.status, view.error_code) == (S.STOPPED, "BAT-004")


# --- a stale failure after SUCCESS is rejected -------------------------------------------------


def test_stale_fail_after_success_is_rejected(service, engine):
    _to(service, S.SUCCESS)
    before = _raw_row(engine, "run-1")
    with pytest.raises(BatchExecutionException) as info:
        service.fail_execution(
            "run-1", error_codes.SYS_WORKER_LOST, error_message="heartbeat lost", at=T3
        )
    assert info.value.code == "BAT-001"
    assert service.get_execution("run-1").status is S.SUCCESS
    assert _raw_row(engine, "run-1") == before
    assert _statuses(service.get_history("run-1")) == ["READY", "RUNNING", "SUCCESS"]
    # The same SUCCESS delivered twice is a no-op success, not an error.
    assert service.complete_execution("run-1", at=T4).status is S.SUCCESS
    assert _raw_row(engine, "run-1") == before


# --- concurrency -------------------------------------------------------------------------------

N_THREADS = 8
N_EXECUTIONS = 5


def _race(url: str, execution_ids: list[str]) -> dict[str, list]:
    """8 threads, each with its own engine, race complete vs fail on each RUNNING execution."""
    outcomes: dict[str, list] = {eid: [] for eid in execution_ids}
    lock = threading.Lock()
    engines = [make_engine(url) for _ in range(N_THREADS)]
    try:
        for eid in execution_ids:
            barrier = threading.Barrier(N_THREADS)

            def worker(i: int, eid: str = eid, barrier: threading.Barrier = barrier) -> None:
                svc = BatchExecutionService(engines[i])
                barrier.wait()
                try:
                    if i % 2 == 0:
                        view = svc.complete_execution(eid)
                    else:
                        view = svc.fail_execution(
                            eid, error_codes.SYS_WORKER_LOST, error_message=f"thread {i}"
                        )
                    result = ("ok", i, view.status)
                except BatchExecutionException as exc:
                    result = ("rejected", i, exc.code)
                except Exception as exc:  # noqa: BLE001 - collected and asserted on
                    result = ("error", i, repr(exc))
                with lock:
                    outcomes[eid].append(result)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not any(t.is_alive() for t in threads), "a worker hung"
    finally:
        for e in engines:
            e.dispose()
    return outcomes


def _check_race(url: str, outcomes: dict[str, list]) -> None:
    engine = make_engine(url)
    try:
        svc = BatchExecutionService(engine)
        for eid, results in outcomes.items():
            assert len(results) == N_THREADS
            assert [r for r in results if r[0] == "error"] == [], results
            view = svc.get_execution(eid)
            assert view.status in (S.SUCCESS, S.FAILED)
            history = svc.get_history(eid)
            terminal = [h for h in history if S(h["to_status"]).is_terminal]
            assert len(terminal) == 1, history
            assert terminal[0]["to_status"] == view.status.value
            _assert_history_well_formed(history)
            # Every thread that asked for the winning status saw it; every other was rejected.
            for kind, i, value in results:
                asked = S.SUCCESS if i % 2 == 0 else S.FAILED
                if asked is view.status:
                    assert (kind, value) == ("ok", view.status)
                else:
                    assert (kind, value) == ("rejected", "BAT-001")
            # The row is consistent with the winner.
            assert view.ended_at is not None
            if view.status is S.SUCCESS:
                assert view.error_code is None and view.error_message is None
            else:
                assert view.error_code == "SYS-003"
                assert view.error_message.startswith("thread ")
    finally:
        engine.dispose()


def _prepare(url: str, n: int) -> list[str]:
    engine = make_engine(url)
    try:
        svc = BatchExecutionService(engine)
        ids = [f"race-{k}" for k in range(n)]
        for eid in ids:
            svc.register_execution(_spec(eid))
            svc.start_execution(eid)
        return ids
    finally:
        engine.dispose()


def test_concurrent_complete_vs_fail_on_postgres(pg_database_url):
    upgrade_and_register(pg_database_url)
    ids = _prepare(pg_database_url, N_EXECUTIONS)
    outcomes = _race(pg_database_url, ids)
    _check_race(pg_database_url, outcomes)


def test_concurrent_complete_vs_fail_on_sqlite(sqlite_database_url):
    """The default SQLite setup must not lose or duplicate a lifecycle event."""
    upgrade_and_register(sqlite_database_url)
    ids = _prepare(sqlite_database_url, N_EXECUTIONS)
    outcomes = _race(sqlite_database_url, ids)
    _check_race(sqlite_database_url, outcomes)


def test_concurrent_register_of_the_same_execution_on_postgres(pg_database_url):
    upgrade_and_register(pg_database_url)
    engines = [make_engine(pg_database_url) for _ in range(N_THREADS)]
    barrier = threading.Barrier(N_THREADS)
    errors: list[str] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            view = BatchExecutionService(engines[i]).register_execution(_spec("dup"))
            assert view.execution_id == "dup"
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    engine = make_engine(pg_database_url)
    try:
        svc = BatchExecutionService(engine)
        assert svc.get_execution("dup").status is S.READY
        assert _statuses(svc.get_history("dup")) == ["READY"]
    finally:
        engine.dispose()


def test_failure_after_stop_resolves_to_stopped(service, engine):
    _to(service, S.STOPPED)
    row_before = _raw_row(engine, "run-1")
    history_before = service.get_history("run-1")
    after = service.fail_execution("run-1", "SYS-001", error_message="late failure")
    assert after.status is S.STOPPED
    assert after.error_code == "BAT-004"
    assert _raw_row(engine, "run-1") == row_before
    # the status history is unchanged; the late failure is kept as an ignored end, once
    history = service.get_history("run-1")
    assert _status_events(history) == history_before
    assert [h["event_key"] for h in history[len(history_before):]] == ["ignored:FAILED"]
    service.fail_execution("run-1", "SYS-001", error_message="late failure")
    assert service.get_history("run-1") == history
