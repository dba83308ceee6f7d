"""ReplayService on both backends (real SQLite and PostgreSQL).

A replay request writes exactly one ``replay`` row and one audit record, or nothing (blank operator
or reason, invalid request); a repeated or racing ``request_key`` gives one replay. The replay's
status is derived from its child executions (never "done" while a child runs), and its history
links replays, executions and result versions both ways.
"""

import threading

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus, TriggerType
from opsrel_core.domain.replay_plan import ReplayAsk
from opsrel_core.errors import BatchExecutionException, ConflictException, LogicException, OpsException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import AuditLog, BatchJob, Replay
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.replays import (
    INVALID_REQUEST_CODE,
    NOT_FOUND_CODE,
    ChildRun,
    ReplayService,
    ReplayStatus,
    ReplayType,
    derive_status,
)
from opsrel_core.services.results import ResultVersionService

JOB = "flights_daily"
ASSET = "ontime_performance"
OTHER_ASSET = "delay_explanation"
DAYS = [f"2013-01-{d:02d}" for d in range(1, 11)]
BLANKS = [None, "", "   ", "\t\n"]


@pytest.fixture
def replays(engine) -> ReplayService:
    return ReplayService(engine)


@pytest.fixture
def executions(engine) -> BatchExecutionService:
    return BatchExecutionService(engine)


@pytest.fixture
def versions(engine) -> ResultVersionService:
    return ResultVersionService(engine)


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def _counts(engine: sa.Engine) -> tuple[int, int]:
    return _count(engine, Replay.__table__), _count(engine, AuditLog.__table__)


def _audits(engine: sa.Engine) -> list[dict]:
    table = AuditLog.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.audit_id)).mappings()
        return [dict(r) for r in rows]


def _run(
    executions: BatchExecutionService,
    versions: ResultVersionService,
    execution_id: str,
    partition: str | None,
    outcome: str | None,
    *,
    replay_id: int | None = None,
    parent: str | None = None,
    partition_range: tuple[str, str] | None = None,
    assets: tuple[str, ...] = (ASSET,),
) -> None:
    """Record an execution, its versions, and drive it to ``outcome`` (None: leave RUNNING)."""
    executions.register_execution(ExecutionSpec(
        execution_id=execution_id, job_id=JOB, partition_key=partition,
        partition_range=partition_range, replay_id=replay_id, parent_execution_id=parent,
        trigger_type=TriggerType.REPLAY if replay_id else TriggerType.MANUAL, operator_id="op",
    ))
    executions.start_execution(execution_id)
    if partition is not None:
        partitions = [partition]
    else:
        partitions = [d for d in DAYS if partition_range[0] <= d <= partition_range[1]]
    for p in partitions:
        for asset in assets:
            versions.create_version(
                asset_key=asset, partition_key=p, execution_id=execution_id,
                content_hash=f"sha256:{execution_id}:{asset}:{p}", row_count=10, storage_uri=None,
            )
    if outcome is not None:
        _finish(executions, versions, execution_id, outcome)


def _finish(executions, versions, execution_id: str, outcome: str) -> None:
    if outcome == "SUCCESS":
        executions.complete_execution(execution_id)
    elif outcome == "FAILED":
        executions.fail_execution(execution_id, error_codes.INP_EMPTY_FILE)
    else:
        executions.stop_execution(execution_id)
    versions.activate_execution_versions(execution_id)


def _range(replays: ReplayService, days=DAYS, **kwargs):
    return replays.replay_range(
        job_id=JOB, start=days[0], end=days[-1], partition_keys=list(days),
        operator_id="kim", reason="bad landing file", **kwargs,
    )


# -- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["SINGLE", "RANGE", "FULL"])
def test_each_kind_writes_one_replay_and_one_audit_record(engine, replays, kind):
    if kind == "SINGLE":
        view = replays.replay_single(job_id=JOB, partition_key="2013-01-05", operator_id="kim",
                                     reason="file fixed")
        bounds = ("2013-01-05", "2013-01-05")
    elif kind == "RANGE":
        view = replays.replay_range(job_id=JOB, start="2013-01-02", end="2013-01-04",
                                    partition_keys=["2013-01-03", "2013-01-02", "2013-01-04"],
                                    operator_id="kim", reason="file fixed")
        bounds = ("2013-01-02", "2013-01-04")
    else:
        view = replays.replay_full(job_id=JOB, partition_keys=DAYS, operator_id="kim",
                                   reason="file fixed")
        bounds = (DAYS[0], DAYS[-1])
    assert _counts(engine) == (1, 1)
    assert (view.replay_type, view.job_id) == (ReplayType(kind), JOB)
    assert view.status is ReplayStatus.REQUESTED
    assert (view.partition_start, view.partition_end) == bounds
    assert (view.operator_id, view.reason) == ("kim", "file fixed")
    assert (view.backfill_id, view.ended_at) == (None, None)
    assert view.requested_at.tzinfo is not None and len(view.request_key) == 36  # a uuid4
    assert replays.get_replay(view.replay_id) == view
    [audit] = _audits(engine)
    assert (audit["action_type"], audit["action"], audit["operator_id"], audit["reason"]) == (
        "BATCH_ACTION", "REPLAY", "kim", "file fixed")
    assert (audit["target_type"], audit["target_id"]) == ("replay", str(view.replay_id))
    assert audit["before_state"] is None
    assert audit["after_state"]["status"] == "REQUESTED"
    assert audit["after_state"]["request_key"] == view.request_key
    after = audit["after_state"]
    assert (after["partition_start"], after["partition_end"]) == bounds


@pytest.mark.parametrize("field", ["operator_id", "reason"])
@pytest.mark.parametrize("blank", BLANKS)
def test_blank_operator_or_reason_is_bat_008_and_writes_nothing(engine, replays, field, blank):
    kwargs = {"operator_id": "kim", "reason": "file fixed", field: blank}
    with pytest.raises(BatchExecutionException) as err:
        replays.replay_single(job_id=JOB, partition_key="2013-01-01", **kwargs)
    assert err.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED == "BAT-008"
    with pytest.raises(BatchExecutionException):
        replays.replay_full(job_id=JOB, partition_keys=DAYS, request_key="k", **kwargs)
    assert _counts(engine) == (0, 0)


@pytest.mark.parametrize("call", [
    lambda r: r.replay_single(job_id="no_such_job", partition_key="2013-01-01",
                              operator_id="kim", reason="x"),
    lambda r: r.replay_range(job_id=JOB, start="2013-01-05", end="2013-01-01",
                             partition_keys=["2013-01-03"], operator_id="kim", reason="x"),
    lambda r: r.replay_range(job_id=JOB, start="2013-01-01", end="2013-01-03",
                             partition_keys=["2013-01-02", "2013-01-04"],
                             operator_id="kim", reason="x"),
    lambda r: r.replay_full(job_id=JOB, partition_keys=[], operator_id="kim", reason="x"),
    lambda r: r.replay_full(job_id=JOB, partition_keys=["2013-01-01", " "],
                            operator_id="kim", reason="x"),
    lambda r: r.replay_single(job_id=JOB, partition_key="2013-01-01", operator_id="kim", reason="x",
                              request_key="  "),
], ids=["unknown-job", "start-after-end", "key-outside-range", "no-keys", "blank-key",
        "blank-request-key"])
def test_invalid_request_is_coded_and_writes_nothing(engine, replays, call):
    with pytest.raises(BatchExecutionException) as err:
        call(replays)
    assert err.value.code == INVALID_REQUEST_CODE
    assert _counts(engine) == (0, 0)


def test_same_request_key_twice_gives_one_replay_and_one_audit(engine, replays):
    first = replays.replay_single(job_id=JOB, partition_key="2013-01-01", operator_id="kim",
                                  reason="file fixed", request_key="req-1")
    again = replays.replay_single(job_id=JOB, partition_key="2013-01-01", operator_id="kim",
                                  reason=" file fixed ", request_key="req-1")
    assert again == first and first.request_key == "req-1"
    assert _counts(engine) == (1, 1)
    assert replays.find_replay_by_request_key("kim", "req-1") == first
    assert replays.find_replay_by_request_key("lee", "req-1") is None
    assert replays.find_replay_by_request_key("kim", "req-2") is None


def test_request_key_of_another_operator_is_never_their_replay(engine, replays):
    """Keys are scoped to the operator: lee's "req-1" is not kim's "req-1"."""
    kim = replays.replay_single(job_id=JOB, partition_key="2013-01-01", operator_id="kim",
                                reason="file fixed", request_key="req-1")
    lee = replays.replay_single(job_id=JOB, partition_key="2013-01-02", operator_id="lee",
                                reason="other", request_key="req-1")
    assert lee.replay_id != kim.replay_id
    assert (lee.operator_id, lee.partition_keys, lee.request_key) == ("lee", ("2013-01-02",), "req-1")
    assert replays.get_replay(kim.replay_id) == kim
    assert _counts(engine) == (2, 2)
    # the same request by lee again is lee's replay
    assert replays.replay_single(job_id=JOB, partition_key="2013-01-02", operator_id="lee",
                                 reason="other", request_key="req-1") == lee
    # a sensor's key sent by an operator first does not swallow the sensor's replay
    sensor_key = "landing:2013-01-05:sha256:abc"
    taken = replays.replay_single(job_id=JOB, partition_key="2013-01-06", operator_id="kim",
                                  reason="took the sensor's key", request_key=sensor_key)
    sensors = replays.replay_single(job_id=JOB, partition_key="2013-01-05",
                                    operator_id="sensor:opsrel_landing_sensor",
                                    reason="landing file changed", request_key=sensor_key)
    assert sensors.replay_id != taken.replay_id
    assert (sensors.operator_id, sensors.partition_keys) == (
        "sensor:opsrel_landing_sensor", ("2013-01-05",))
    # a key so long that operator + key exceed the column is stored hashed, still scoped
    long_key = "k" * 200
    mine = replays.replay_single(job_id=JOB, partition_key="2013-01-07", operator_id="kim",
                                 reason="long", request_key=long_key)
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(Replay.request_key).where(
            Replay.replay_id == mine.replay_id))
    assert stored.startswith("kim/sha256:") and len(stored) <= 200
    assert replays.find_replay_by_request_key("kim", long_key) == mine


@pytest.mark.parametrize("change", [
    {"partition_key": "2013-01-02"}, {"reason": "another reason"}, {"job_id": "other_daily"},
], ids=["partition", "reason", "job"])
def test_same_key_same_operator_other_request_is_bat_009(engine, replays, change):
    first = replays.replay_single(job_id=JOB, partition_key="2013-01-01", operator_id="kim",
                                  reason="file fixed", request_key="req-1")
    asked = {"job_id": JOB, "partition_key": "2013-01-01", "operator_id": "kim",
             "reason": "file fixed", "request_key": "req-1", **change}
    if asked["job_id"] != JOB:  # a job of the catalog with the same key set is needed
        with engine.begin() as conn:
            conn.execute(sa.insert(BatchJob).values(
                job_id="other_daily", name="w", description="w", asset_selection=[ASSET],
                partitions="daily", partition_start="2013-01-01", partition_end="2013-12-31"))
    with pytest.raises(ConflictException) as err:
        replays.replay_single(**asked)
    assert err.value.code == error_codes.BAT_REPLAY_INVALID == "BAT-009"
    assert f"replay {first.replay_id}" in err.value.operator_message
    assert err.value.details["conflict"] == "request_key"
    # other kinds over the same key are refused too
    with pytest.raises(ConflictException):
        replays.replay_range(job_id=JOB, start="2013-01-01", end="2013-01-01",
                             partition_keys=None, operator_id="kim", reason="file fixed",
                             request_key="req-1")
    assert _counts(engine) == (1, 1)


def test_concurrent_duplicate_requests_give_one_replay(database_url):
    """8 threads, each with its own engine, request the same key at once."""
    n = 8
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def worker(i: int) -> None:
        eng = make_engine(database_url)
        try:
            service = ReplayService(eng)
            barrier.wait()
            results[i] = service.replay_range(
                job_id=JOB, start=DAYS[0], end=DAYS[2], partition_keys=DAYS[:3],
                operator_id="op", reason="race", request_key="same-key",
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len({r.replay_id for r in results}) == 1
    eng = make_engine(database_url)
    try:
        assert _counts(eng) == (1, 1)
        assert _audits(eng)[0]["operator_id"] == results[0].operator_id
    finally:
        eng.dispose()


# -- parent execution ----------------------------------------------------------------------------


def test_parent_execution_id_is_the_active_versions_execution(replays, executions, versions):
    assert replays.parent_execution_id(JOB, DAYS[0]) is None
    _run(executions, versions, "orig", DAYS[0], "SUCCESS", assets=(ASSET, OTHER_ASSET))
    assert replays.parent_execution_id(JOB, DAYS[0]) == "orig"
    _run(executions, versions, "failed-retry", DAYS[0], "FAILED")  # never active
    assert replays.parent_execution_id(JOB, DAYS[0]) == "orig"
    # Only one asset re-made by a newer run: the newest active version decides.
    _run(executions, versions, "partial", DAYS[0], "SUCCESS", assets=(OTHER_ASSET,))
    assert replays.parent_execution_id(JOB, DAYS[0]) == "partial"
    assert replays.parent_execution_id(JOB, DAYS[1]) is None
    with pytest.raises(BatchExecutionException):
        replays.parent_execution_id("no_such_job", DAYS[0])


# -- lifecycle -----------------------------------------------------------------------------------


def test_mark_launched_is_idempotent_and_keeps_the_first_backfill_id(replays):
    replay = _range(replays, DAYS[:2])
    view = replays.mark_launched(replay.replay_id, backfill_id="bf-1")
    assert (view.status, view.backfill_id) == (ReplayStatus.RUNNING, "bf-1")
    assert replays.mark_launched(replay.replay_id, backfill_id="bf-2") == view
    assert replays.mark_launched(replay.replay_id) == view


def test_mark_launched_keeps_a_stopping_replay_stopping(engine, replays):
    replay = _range(replays, DAYS[:2])
    replays.request_stop(replay.replay_id, operator_id="lee", reason="wrong range")
    view = replays.mark_launched(replay.replay_id, backfill_id="bf-1")
    assert (view.status, view.backfill_id) == (ReplayStatus.STOPPING, "bf-1")


def test_request_stop_is_audited_once_and_ignored_after_the_end(engine, replays):
    replay = _range(replays, DAYS[:2])
    with pytest.raises(BatchExecutionException) as err:
        replays.request_stop(replay.replay_id, operator_id="lee", reason=" ")
    assert err.value.code == "BAT-008"
    assert replays.get_replay(replay.replay_id).status is ReplayStatus.REQUESTED
    view = replays.request_stop(replay.replay_id, operator_id="lee", reason="wrong range")
    assert view.status is ReplayStatus.STOPPING
    stop = _audits(engine)[-1]
    assert (stop["action"], stop["operator_id"]) == ("STOP_REPLAY", "lee")
    assert (stop["target_type"], stop["target_id"]) == ("replay", str(replay.replay_id))
    assert stop["before_state"]["status"] == "REQUESTED"
    assert stop["after_state"]["status"] == "STOPPING"
    assert replays.request_stop(replay.replay_id, operator_id="kim", reason="again") == view
    ended = replays.refresh_status(replay.replay_id, DAYS[:2])  # nothing was launched
    assert ended.status is ReplayStatus.STOPPED and ended.ended_at is not None
    assert replays.request_stop(replay.replay_id, operator_id="kim", reason="late") == ended
    assert _counts(engine) == (1, 2)


def test_unknown_replay_is_coded(replays):
    for call in (lambda: replays.get_replay(999), lambda: replays.mark_launched(999),
                 lambda: replays.refresh_status(999, DAYS[:1]), lambda: replays.replay_history(999),
                 lambda: replays.request_stop(999, operator_id="kim", reason="x"),
                 lambda: replays.origin_of_version(999)):
        with pytest.raises(OpsException) as err:
            call()
        assert err.value.code == NOT_FOUND_CODE


# -- status derivation: a replay's state follows its children ------------------------------------


def test_all_partitions_succeed_gives_success(replays, executions, versions):
    days = DAYS[:3]
    replay = _range(replays, days)
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.REQUESTED
    replays.mark_launched(replay.replay_id)
    for i, day in enumerate(days):
        _run(executions, versions, f"r-{i}", day, None, replay_id=replay.replay_id)
        assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.RUNNING
    for i in range(3):
        assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.RUNNING
        _finish(executions, versions, f"r-{i}", "SUCCESS")
    view = replays.refresh_status(replay.replay_id, days)
    assert view.status is ReplayStatus.SUCCESS and view.ended_at is not None
    assert replays.refresh_status(replay.replay_id, days) == view  # terminal is final
    assert replays.request_stop(replay.replay_id, operator_id="kim", reason="late") == view


def test_one_failed_partition_gives_failed_and_keeps_the_old_result(replays, executions, versions):
    days = DAYS[:2]
    for day in days:
        _run(executions, versions, f"orig-{day}", day, "SUCCESS")
    replay = _range(replays, days)
    for i, outcome in enumerate(["SUCCESS", "FAILED"]):
        _run(executions, versions, f"r-{i}", days[i], outcome, replay_id=replay.replay_id,
             parent=f"orig-{days[i]}")
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.FAILED
    assert versions.get_active_version(ASSET, days[0]).execution_id == "r-0"
    assert versions.get_active_version(ASSET, days[1]).execution_id == f"orig-{days[1]}"


def test_never_success_while_a_partition_has_no_execution(replays, executions, versions):
    days = DAYS[:3]
    replay = _range(replays, days)
    replays.mark_launched(replay.replay_id)
    _run(executions, versions, "r-0", days[0], "SUCCESS", replay_id=replay.replay_id)
    _run(executions, versions, "r-1", days[1], "SUCCESS", replay_id=replay.replay_id)
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.RUNNING
    with pytest.raises(BatchExecutionException) as err:
        replays.refresh_status(replay.replay_id, [])
    assert err.value.code == INVALID_REQUEST_CODE
    _run(executions, versions, "r-2", days[2], "SUCCESS", replay_id=replay.replay_id)
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.SUCCESS


def test_latest_child_of_a_partition_wins_after_a_retry(replays, executions, versions):
    days = DAYS[:2]
    replay = _range(replays, days)
    _run(executions, versions, "r-0", days[0], "SUCCESS", replay_id=replay.replay_id)
    _run(executions, versions, "r-1", days[1], "FAILED", replay_id=replay.replay_id)
    _run(executions, versions, "r-1-retry", days[1], None, replay_id=replay.replay_id)
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.RUNNING
    _finish(executions, versions, "r-1-retry", "SUCCESS")
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.SUCCESS


def test_stop_with_children_in_flight_ends_stopped(engine, replays, executions, versions):
    """replay_range over 10 partitions; stop while 3 children run; one of them then succeeds,
    which a stop overrules: a stop is final, so it ends STOPPED and every earlier result stays."""
    for day in DAYS:
        _run(executions, versions, f"orig-{day}", day, "SUCCESS")
    replay = _range(replays)
    replays.mark_launched(replay.replay_id, backfill_id="bf-1")
    children = {f"r-{i}": DAYS[i] for i in range(3)}
    for eid, day in children.items():
        _run(executions, versions, eid, day, None, replay_id=replay.replay_id, parent=f"orig-{day}")
    stopping = replays.request_stop(replay.replay_id, operator_id="lee", reason="wrong code")
    assert stopping.status is ReplayStatus.STOPPING
    for eid in children:
        executions.request_stop(eid)
    _finish(executions, versions, "r-0", "SUCCESS")  # finished during the stop
    assert executions.get_execution("r-0").status is ExecutionStatus.STOPPED  # a stop is final
    assert replays.refresh_status(replay.replay_id, DAYS).status is ReplayStatus.STOPPING
    _finish(executions, versions, "r-1", "STOPPED")
    executions.fail_execution("r-2", error_codes.SYS_WORKER_LOST)  # a failure caused by the stop
    versions.activate_execution_versions("r-2")
    assert executions.get_execution("r-2").status is ExecutionStatus.STOPPED
    view = replays.refresh_status(replay.replay_id, DAYS)
    assert view.status is ReplayStatus.STOPPED and view.ended_at is not None
    for day in DAYS:
        assert versions.get_active_version(ASSET, day).execution_id == f"orig-{day}"
    assert _counts(engine) == (1, 2)


def test_a_range_run_counts_for_every_partition_it_covers(replays, executions, versions):
    """One run over the whole range (single-run backfill policy) counts for each of its days."""
    days = DAYS[:7]
    replay = _range(replays, days)
    _run(executions, versions, "range-run", None, None, replay_id=replay.replay_id,
         partition_range=(days[0], days[-1]))
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.RUNNING
    _finish(executions, versions, "range-run", "SUCCESS")
    assert replays.refresh_status(replay.replay_id, days).status is ReplayStatus.SUCCESS
    assert len(replays.replay_history(replay.replay_id).executions[0].versions) == 7


@pytest.mark.parametrize(("current", "children", "expected"), [
    ("RUNNING", [], "RUNNING"),
    ("REQUESTED", [], "REQUESTED"),
    ("REQUESTED", [("a", "RUNNING")], "RUNNING"),
    ("RUNNING", [("a", "SUCCESS"), ("b", "RUNNING")], "RUNNING"),
    ("RUNNING", [("a", "SUCCESS"), ("b", "STOPPED")], "STOPPED"),
    ("RUNNING", [("a", "FAILED"), ("b", "STOPPED")], "FAILED"),
    ("RUNNING", [("a", "SUCCESS"), ("b", "SUCCESS"), ("b", "FAILED")], "FAILED"),
    ("RUNNING", [("a", "SUCCESS"), ("b", "FAILED"), ("b", "SUCCESS")], "SUCCESS"),
    ("RUNNING", [("a", "SUCCESS"), ("b", "SUCCESS"), ("a", "READY")], "RUNNING"),
    ("STOPPING", [("a", "SUCCESS"), ("b", "SUCCESS")], "STOPPED"),
    ("STOPPING", [("a", "SUCCESS"), ("b", "READY")], "STOPPING"),
    ("FAILED", [("a", "SUCCESS"), ("b", "SUCCESS")], "FAILED"),
])
def test_derive_status_table(current, children, expected):
    runs = [ChildRun(p, None, None, ExecutionStatus(s)) for p, s in children]
    assert derive_status(ReplayStatus(current), runs, ["a", "b"]) is ReplayStatus(expected)


# -- history -------------------------------------------------------------------------------------


def test_history_and_origin_of_version(replays, executions, versions):
    day = DAYS[0]
    _run(executions, versions, "orig", day, "SUCCESS", assets=(ASSET, OTHER_ASSET))
    replay = replays.replay_single(job_id=JOB, partition_key=day, operator_id="kim", reason="fixed")
    parent = replays.parent_execution_id(JOB, day)
    _run(executions, versions, "r-fail", day, "FAILED", replay_id=replay.replay_id, parent=parent,
         assets=(ASSET,))
    _run(executions, versions, "r-ok", day, "SUCCESS", replay_id=replay.replay_id, parent=parent,
         assets=(ASSET, OTHER_ASSET))
    replays.refresh_status(replay.replay_id, [day])

    history = replays.replay_history(replay.replay_id)
    assert history.replay.status is ReplayStatus.SUCCESS
    assert [e.execution.execution_id for e in history.executions] == ["r-fail", "r-ok"]
    assert {e.execution.parent_execution_id for e in history.executions} == {"orig"}
    assert [(v.asset_key, v.partition_key, v.version_number, v.is_active)
            for v in history.executions[0].versions] == [(ASSET, day, 2, False)]
    made = [(v.asset_key, v.version_number, v.is_active) for v in history.executions[1].versions]
    assert made == [(OTHER_ASSET, 2, True), (ASSET, 3, True)]

    old = versions.get_version(ASSET, day, 1)
    assert not old.is_active  # kept, inactive
    execution, origin = replays.origin_of_version(old.version_id)
    assert (execution.execution_id, origin) == ("orig", None)
    new = versions.get_active_version(ASSET, day)
    execution, origin = replays.origin_of_version(new.version_id)
    assert (execution.execution_id, execution.replay_id, execution.parent_execution_id) == (
        "r-ok", replay.replay_id, "orig")
    assert origin == history.replay
    assert execution.created_at.tzinfo is not None


def test_list_replays_newest_first_with_filters_and_cursor(replays, executions, versions):
    made = [replays.replay_single(job_id=JOB, partition_key=d, operator_id="kim", reason="r")
            for d in DAYS[:4]]
    replays.mark_launched(made[1].replay_id)
    assert [r.replay_id for r in replays.list_replays()] == [r.replay_id for r in reversed(made)]
    assert [r.replay_id for r in replays.list_replays(status="RUNNING")] == [made[1].replay_id]
    assert replays.list_replays(job_id="other") == []
    page = replays.list_replays(limit=2, before_replay_id=made[3].replay_id)
    assert [r.replay_id for r in page] == [made[2].replay_id, made[1].replay_id]
    with pytest.raises(ValueError):
        replays.list_replays(limit=0)


# -- the replay plan and one writer per partition ------------------------------------------------

TWO_DAYS = ["2013-03-01", "2013-03-31"]


@pytest.mark.parametrize("kind", ["range", "full"])
def test_a_body_listing_two_days_plans_and_records_exactly_those(engine, replays, kind):
    """Preview = launch: a range or full request that lists two days runs two, not 31 or 365."""
    ask = ReplayAsk(kind, JOB, "kim", "two days only", tuple(TWO_DAYS))
    plan = replays.plan(ask)
    assert plan.partitions == tuple(TWO_DAYS)
    assert (plan.partition_start, plan.partition_end) == tuple(TWO_DAYS)
    assert _counts(engine) == (0, 0)  # a preview writes nothing
    replay = replays.request(ask, request_key="two-days")
    assert replay.partition_keys == tuple(TWO_DAYS)
    job_keys = [f"2013-03-{d:02d}" for d in range(1, 32)]
    assert replay.keys(job_keys) == TWO_DAYS
    assert replays.launch_plan(replay, job_keys).partitions == plan.partitions
    # the range given by its ends runs every key between
    ends = replays.plan(ReplayAsk("range", JOB, "kim", "all", None, *TWO_DAYS))
    assert len(ends.partitions) == 31
    assert len(replays.plan(ReplayAsk("full", JOB, "kim", "all")).partitions) == 365


def test_each_key_has_its_parent_active_else_the_failed_run(replays, executions, versions):
    done, failed, fresh = "2013-01-01", "2013-01-02", "2013-01-03"
    _run(executions, versions, "ok", done, "SUCCESS")
    _run(executions, versions, "bad", failed, "FAILED")
    _run(executions, versions, "ok-range", None, "SUCCESS", partition_range=("2013-01-04", "2013-01-05"))
    plan = replays.plan(ReplayAsk("range", JOB, "kim", "redo", None, done, "2013-01-05"))
    assert plan.parents == {done: "ok", failed: "bad", fresh: None, "2013-01-04": "ok-range",
                            "2013-01-05": "ok-range"}
    assert plan.replaces == {done: "ok", failed: None, fresh: None, "2013-01-04": "ok-range",
                             "2013-01-05": "ok-range"}
    assert replays.parent_execution_id(JOB, failed) == "bad"


def test_a_partition_with_a_run_in_flight_refuses_a_second_writer(engine, replays,
                                                                          executions, versions):
    day = "2013-01-02"
    _run(executions, versions, "running", day, None)  # RUNNING
    for call in (
        lambda: replays.replay_single(job_id=JOB, partition_key=day, operator_id="kim", reason="x"),
        lambda: replays.replay_range(job_id=JOB, start="2013-01-01", end="2013-01-03",
                                     partition_keys=None, operator_id="kim", reason="x"),
    ):
        with pytest.raises(ConflictException) as err:
            call()
        assert err.value.code == error_codes.BAT_PARTITION_BUSY == "BAT-012"
        assert "execution running (RUNNING)" in err.value.operator_message
        assert day in err.value.operator_message
    assert _counts(engine) == (0, 0)
    assert replays.busy_partitions(JOB, [day, "2013-01-05"]) == {day: ["execution running (RUNNING)"]}
    # another day is free; then its REQUESTED replay makes that day busy in turn
    other = replays.replay_single(job_id=JOB, partition_key="2013-01-05", operator_id="kim",
                                  reason="other day")
    with pytest.raises(ConflictException) as err:
        replays.replay_full(job_id=JOB, partition_keys=["2013-01-05", "2013-01-09"],
                            operator_id="lee", reason="overlaps")
    assert f"replay {other.replay_id} (REQUESTED)" in err.value.operator_message
    # a range run in flight covers every day between its ends
    _run(executions, versions, "range", None, None, partition_range=("2013-01-07", "2013-01-08"))
    assert list(replays.busy_partitions(JOB, ["2013-01-06", "2013-01-08"])) == ["2013-01-08"]
    # once the run ended, the day takes a new writer
    _finish(executions, versions, "running", "SUCCESS")
    assert replays.replay_single(job_id=JOB, partition_key=day, operator_id="kim", reason="x")
    assert _counts(engine) == (2, 2)
