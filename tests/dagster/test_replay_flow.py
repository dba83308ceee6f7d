"""Replays end to end through Dagster: a failed partition, its replay, and the result versions
the replay leaves (the old ones kept, exactly one active)."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from opsrel_core.domain.replay_plan import ReplayAsk
from opsrel_core.errors import ConflictException
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights import flights_partitions
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.result_files import read_version
from opsrel_dagster.sensors.landing import make_landing_sensor
from tests.support.flights import flights_job

RESULTS = ("ontime_performance", "delay_explanation", "delay_simulation")


def _landing(env, day: str) -> Path:
    return Path(env["OPSREL_LANDING_DIR"], f"flights_{day}.csv")


def test_run_failure_then_replay_single(runner, opsrel_env):
    day = "2013-02-01"
    _landing(opsrel_env, day).write_text("year,month,day\n")  # header only
    [failed] = runner.run_partitions([day])
    assert (failed.status, failed.error_code) == ("FAILED", "INP-001")
    # the operator fixes the file and replays the day
    package_flights_for_day(dt.date(2013, 2, 1)).to_csv(_landing(opsrel_env, day), index=False)
    replay, [summary] = runner.run_replay(
        [day], kind="single", operator_id="erin", reason="landing file re-delivered by the source"
    )
    assert replay.status == "SUCCESS"
    assert summary.status == "SUCCESS" and summary.summary_figure == summary.rows["raw_flights"]

    executions = BatchExecutionService(runner.engine)
    done = executions.get_execution(summary.run_id)
    assert done.replay_id == replay.replay_id
    assert done.parent_execution_id == failed.run_id  # the chain: replay -> the failed run
    assert done.operator_id == "erin"
    assert executions.get_execution(failed.run_id).error_code == "INP-001"

    history = ReplayService(runner.engine).replay_history(replay.replay_id)
    assert [e.execution.execution_id for e in history.executions] == [summary.run_id]
    made = {v.asset_key: (v.version_number, v.is_active) for v in history.executions[0].versions}
    assert made == {a: (1, True) for a in (
        "raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats", *RESULTS)}
    assert ResultVersionService(runner.engine).versions_of_execution(failed.run_id) == []

    audit = AuditLogService(runner.engine).list_audit_logs(operator_id="erin")
    assert [(a.action, a.reason) for a in audit] == [
        ("REPLAY", "landing file re-delivered by the source")
    ]
    version = ResultVersionService(runner.engine).get_active_version("ontime_performance", day)
    execution, origin = ReplayService(runner.engine).origin_of_version(version.version_id)
    assert (execution.execution_id, origin.replay_id) == (summary.run_id, replay.replay_id)


def test_replay_a_range_twice_keeps_every_version(runner):
    days = ["2013-03-01", "2013-03-02", "2013-03-03"]
    first = runner.run_partitions(days)
    assert [s.status for s in first] == ["SUCCESS"] * 3
    for reason in ("recompute after rule change", "recompute again"):
        replay, summaries = runner.run_replay(days, kind="range", operator_id="frank", reason=reason)
        assert replay.status == "SUCCESS"
        assert (replay.partition_start, replay.partition_end) == ("2013-03-01", "2013-03-03")
        assert [s.status for s in summaries] == ["SUCCESS"] * 3
    versions = ResultVersionService(runner.engine)
    for day in days:
        history = versions.get_version_history("ontime_performance", day)
        assert [(v.version_number, v.is_active) for v in history] == [(3, True), (2, False), (1, False)]
        old = read_version(versions.get_version("ontime_performance", day, 1))
        new = read_version(versions.get_version("ontime_performance", day, 3))
        pd.testing.assert_frame_equal(old.frame, new.frame)  # the old data is still readable
        assert old.snapshot_id == new.snapshot_id


def test_the_same_replay_request_twice_runs_once(runner):
    days = ["2013-03-10"]
    runner.run_partitions(days)
    first, ran = runner.run_replay(days, kind="single", operator_id="gina", reason="fix",
                                   request_key="ticket-42")
    again, ran_again = runner.run_replay(days, kind="single", operator_id="gina", reason="fix",
                                         request_key="ticket-42")
    assert len(ran) == 1 and ran_again == []
    assert again.replay_id == first.replay_id
    history = ResultVersionService(runner.engine).get_version_history("ontime_performance", days[0])
    assert len(history) == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_replays_of_one_partition_at_once_on_postgres(runner, opsrel_env):
    """Two `opsrel replay` processes, Dagster's storage and the ops schema both on PostgreSQL."""
    day = "2013-04-01"
    runner.run_partitions([day])
    opsrel = Path(sys.executable).parent / "opsrel"
    procs = [
        subprocess.Popen(
            [str(opsrel), "replay", "single", day, "--reason", f"concurrent {n}",
             "--operator", f"op{n}", "--json"],
            env={**os.environ, **opsrel_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    # One writer per partition: while one replay of the day is in flight the other is refused
    # (BAT-012, exit 2, nothing written); both run only if they did not overlap at all.
    ran = 0
    for proc, (out, err) in zip(procs, outputs):
        if proc.returncode == 0:
            assert json.loads(out)["status"] == "SUCCESS"
            ran += 1
        else:
            assert proc.returncode == 2 and "BAT-012" in err, err[-2000:]
    assert ran >= 1
    versions = ResultVersionService(runner.engine)
    for asset in ("raw_flights", "ontime_performance"):
        history = versions.get_version_history(asset, day)
        assert sorted(v.version_number for v in history) == list(range(1, ran + 2))
        assert [v.version_number for v in history if v.is_active] == [ran + 1]
    assert len(ReplayService(runner.engine).list_replays()) == ran


def test_landing_sensor_runs_new_files_once_and_replays_changed_ones(runner, opsrel_env):
    day = "2013-05-01"
    frame = package_flights_for_day(dt.date(2013, 5, 1))
    frame.to_csv(_landing(opsrel_env, day), index=False)
    sensor = make_landing_sensor("flights_daily", dg.AssetSelection.groups("flights"), flights_partitions)
    resources = {"ops_db": flights_defs.resources["ops_db"]}

    def tick(cursor):
        context = dg.build_sensor_context(instance=runner.instance, cursor=cursor, resources=resources)
        return sensor(context)

    first = tick(None)
    [request] = first.run_requests
    assert request.partition_key == day and request.run_key.startswith(f"{day}:sha256:")
    assert request.tags["opsrel/operator"] == "sensor:opsrel_landing_sensor"
    assert "arrived" in request.tags["opsrel/reason"] and "opsrel/replay_id" not in request.tags
    assert tick(first.cursor).run_requests == []  # the same file: nothing new

    runner.run_partitions([day])  # the partition now has a result
    frame.head(100).to_csv(_landing(opsrel_env, day), index=False)  # the file changes
    changed = tick(first.cursor)
    [replay_request] = changed.run_requests
    old_hash = request.run_key.split(":", 1)[1]
    new_hash = replay_request.run_key.split(":", 1)[1]
    reason = replay_request.tags["opsrel/reason"]
    assert old_hash in reason and new_hash in reason and old_hash != new_hash
    replay = ReplayService(runner.engine).get_replay(int(replay_request.tags["opsrel/replay_id"]))
    assert (replay.operator_id, replay.reason, replay.status) == (
        "sensor:opsrel_landing_sensor", reason, "RUNNING"
    )
    assert replay_request.tags["opsrel/parent_execution_id"]
    # a reset cursor while that replay is in flight: the file waits, nothing is asked for
    assert tick(None).run_requests == []


def test_requested_replays_are_launched_once_by_the_sensor(runner):
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    days = ["2013-05-10", "2013-05-11", "2013-05-12"]
    first = runner.run_partitions(days[:1])
    replays = ReplayService(runner.engine)
    requested = replays.replay_range(
        job_id="flights_daily", start=days[0], end=days[-1], partition_keys=days,
        operator_id="kim", reason="requested through the API",
    )
    assert requested.status == "REQUESTED"
    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions
    )
    context = dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}
    )
    result = sensor(context)
    assert [r.run_key for r in result.run_requests] == [
        f"replay:{requested.replay_id}:{d}" for d in days
    ]
    assert [r.partition_key for r in result.run_requests] == days
    tags = result.run_requests[0].tags
    assert (tags["opsrel/operator"], tags["opsrel/reason"], tags["opsrel/replay_id"]) == (
        "kim", "requested through the API", str(requested.replay_id)
    )
    assert tags["opsrel/parent_execution_id"] == first[0].run_id
    assert "opsrel/parent_execution_id" not in result.run_requests[1].tags  # nothing to replace

    def tick():
        return sensor(dg.build_sensor_context(
            instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}
        ))

    # The daemon died before storing the runs: the replay is still REQUESTED and the next tick
    # asks for the same run keys (a repeat of a stored key is a no-op for Dagster).
    assert replays.get_replay(requested.replay_id).status == "REQUESTED"
    assert [r.run_key for r in tick().run_requests] == [r.run_key for r in result.run_requests]
    # Dagster holds runs for the first two days only: the third is asked for again.
    job = flights_job()
    for day in days[:2]:
        runner.instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={
            "dagster/partition": day, "opsrel/replay_id": str(requested.replay_id),
        })
    assert [r.partition_key for r in tick().run_requests] == days[2:]
    assert replays.get_replay(requested.replay_id).status == "REQUESTED"
    runner.instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={
        "dagster/partition": days[2], "opsrel/replay_id": str(requested.replay_id),
    })
    # every partition has its run: the replay is RUNNING and nothing is asked for again
    assert tick().run_requests == []
    assert replays.get_replay(requested.replay_id).status == "RUNNING"
    assert tick().run_requests == []


def test_stopping_a_replay_cancels_its_unfinished_runs(runner):
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    replays = ReplayService(runner.engine)
    replay = replays.replay_single(job_id="flights_daily", partition_key="2013-05-20",
                                   operator_id="lee", reason="will be stopped")
    replays.mark_launched(replay.replay_id)
    job = flights_job()
    run = runner.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"dagster/partition": "2013-05-20", "opsrel/replay_id": str(replay.replay_id)},
    )
    replays.request_stop(replay.replay_id, operator_id="lee", reason="wrong range")
    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions
    )
    result = sensor(dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}
    ))
    assert result.run_requests == []
    assert runner.instance.get_run_by_id(run.run_id).status in (
        dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED
    )


def test_an_operator_stop_cancels_the_run_and_is_audited(runner):
    from opsrel_core.services.execution_commands import ExecutionCommands
    from opsrel_dagster.projection.apply import RunProjection
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    job = flights_job()
    run = runner.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.NOT_STARTED, tags={"dagster/partition": "2013-05-21"},
    )
    RunProjection(runner.instance, runner.engine).project_run(run.run_id)
    stop = ExecutionCommands(runner.engine).request_stop(run.run_id, operator_id="max", reason="hung")
    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions
    )
    sensor(dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}
    ))
    assert runner.instance.get_run_by_id(run.run_id).status in (
        dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED
    )
    execution = RunProjection(runner.instance, runner.engine).project_run(run.run_id)
    assert execution.stop_requested_at is not None
    [record] = AuditLogService(runner.engine).list_audit_logs(target_id=run.run_id)
    assert (record.audit_id, record.operator_id, record.action) == (stop.audit_id, "max", "STOP_EXECUTION")


# -- one plan for every launcher, request identity, one writer per partition --------------------


def _landing_tick(runner):
    sensor = make_landing_sensor("flights_daily", dg.AssetSelection.groups("flights"), flights_partitions)
    resources = {"ops_db": flights_defs.resources["ops_db"]}

    def tick(cursor):
        return sensor(dg.build_sensor_context(instance=runner.instance, cursor=cursor,
                                              resources=resources))

    return tick


@pytest.mark.parametrize("kind", ["range", "full"])
def test_the_launch_sensor_runs_exactly_the_plan_with_its_parents(runner, opsrel_env, kind):
    """A range or full request listing two days: the sensor launches the two days the preview
    showed, and the failed day's run names the failed execution as its parent."""
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    days = ["2013-06-01", "2013-06-30"]
    _landing(opsrel_env, days[0]).write_text("year,month,day\n")  # header only: INP-001
    [failed] = runner.run_partitions(days[:1])
    assert failed.error_code == "INP-001"
    replays = ReplayService(runner.engine)
    ask = ReplayAsk(kind, "flights_daily", "kim", "two days only", tuple(days))
    preview = replays.plan(ask)
    replay = replays.request(ask)
    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions)
    result = sensor(dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}))
    assert [r.partition_key for r in result.run_requests] == list(preview.partitions) == days
    first, last = (r.tags for r in result.run_requests)
    assert first["opsrel/parent_execution_id"] == failed.run_id == preview.parents[days[0]]
    assert "opsrel/parent_execution_id" not in last
    assert first["opsrel/replay_id"] == str(replay.replay_id)


def test_an_operator_cannot_take_the_landing_sensors_key(runner, opsrel_env):
    from opsrel_dagster.sensors.landing import file_digest

    day = "2013-06-20"
    runner.run_partitions([day])  # the day has a result
    path = _landing(opsrel_env, day)
    package_flights_for_day(dt.date(2013, 6, 20)).head(200).to_csv(path, index=False)
    # someone sends the key the sensor will use for this file first, for another day
    replays = ReplayService(runner.engine)
    taken = replays.replay_single(
        job_id="flights_daily", partition_key="2013-06-21", operator_id="mallory",
        reason="took the sensor's key", request_key=f"landing:{day}:{file_digest(path)}")
    [request] = _landing_tick(runner)(None).run_requests
    replay = replays.get_replay(int(request.tags["opsrel/replay_id"]))
    assert replay.replay_id != taken.replay_id
    assert (replay.operator_id, replay.partition_keys) == ("sensor:opsrel_landing_sensor", (day,))
    assert replays.get_replay(taken.replay_id).partition_keys == ("2013-06-21",)


def test_landing_fix_then_operator_replay_runs_the_day_once(runner, opsrel_env):
    """The source re-delivers a failed day's file and the operator replays it too: one run."""
    tick = _landing_tick(runner)
    executions = BatchExecutionService(runner.engine)
    replays = ReplayService(runner.engine)
    day = "2013-06-10"
    path = _landing(opsrel_env, day)
    path.write_text("year,month,day\n")
    arrived = tick(None)
    [failed] = runner.run_partitions([day], run_tags=dict(arrived.run_requests[0].tags))
    assert failed.error_code == "INP-001"
    # the file is fixed: the sensor reruns the day as a replay of the failed run
    package_flights_for_day(dt.date(2013, 6, 10)).to_csv(path, index=False)
    fixed = tick(arrived.cursor)
    [rerun] = fixed.run_requests
    assert rerun.tags["opsrel/parent_execution_id"] == failed.run_id
    sensor_replay = int(rerun.tags["opsrel/replay_id"])
    # the operator replays the day as well: refused while the sensor's run is in flight
    with pytest.raises(ConflictException) as err:
        runner.run_replay([day], kind="single", operator_id="erin", reason="file re-delivered")
    assert err.value.code == "BAT-012"
    assert f"replay {sensor_replay} (RUNNING)" in err.value.operator_message
    [done] = runner.run_partitions([day], run_tags=dict(rerun.tags))  # as the daemon runs it
    assert done.status == "SUCCESS"
    runner.projection.refresh_replays()
    assert replays.get_replay(sensor_replay).status == "SUCCESS"
    assert tick(fixed.cursor).run_requests == []
    from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries

    listed, _next = ExecutionQueries(runner.engine).list_executions(
        ExecutionFilter(partition_from=day, partition_to=day))
    assert {e.execution_id for e in listed} == {
        failed.run_id, done.run_id}

    # the other order: the operator replays the re-delivered file before the sensor looks
    day = "2013-06-11"
    path = _landing(opsrel_env, day)
    frame = package_flights_for_day(dt.date(2013, 6, 11))
    frame.to_csv(path, index=False)
    seen = tick(None)
    runner.run_partitions([day], run_tags=dict(seen.run_requests[0].tags))
    frame.head(300).to_csv(path, index=False)  # re-delivered
    submitted = replays.replay_single(job_id="flights_daily", partition_key=day,
                                      operator_id="erin", reason="submitted, not yet launched")
    waiting = tick(seen.cursor)
    assert waiting.run_requests == [] and json.loads(waiting.cursor) == json.loads(seen.cursor)
    replays.request_stop(submitted.replay_id, operator_id="erin", reason="will run it here")
    runner.projection.refresh_replays()
    replay, [mine] = runner.run_replay([day], kind="single", operator_id="erin",
                                       reason="file re-delivered")
    assert (replay.status, mine.status) == ("SUCCESS", "SUCCESS")
    after = tick(seen.cursor)
    assert after.run_requests == []  # the operator's run already read this file
    assert json.loads(after.cursor)[day] != json.loads(seen.cursor)[day]  # recorded as seen


def test_the_launch_sensor_runs_adjacent_days_as_single_run_ranges(runner):
    """With a replay range size (the flights job declares 31), the sensor launches a plan's
    adjacent days as one single-run range each, with Dagster's range tags and a range run key;
    a lone day stays a one-partition run. A range run Dagster holds counts for every day it
    covers, so nothing is asked for again."""
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    days = ["2013-08-01", "2013-08-02", "2013-08-03", "2013-08-05", "2013-08-06"]
    replays = ReplayService(runner.engine)
    replay = replays.request(ReplayAsk("range", "flights_daily", "kim", "august redelivered",
                                       tuple(days)))
    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions, range_size=2)

    def tick():
        return sensor(dg.build_sensor_context(
            instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}))

    requests = tick().run_requests
    rid = replay.replay_id
    assert [r.run_key for r in requests] == [
        f"replay:{rid}:2013-08-01...2013-08-02", f"replay:{rid}:2013-08-03",
        f"replay:{rid}:2013-08-05...2013-08-06"]
    first, lone, last = requests
    assert first.partition_key is None and lone.partition_key == "2013-08-03"
    assert (first.tags["dagster/asset_partition_range_start"],
            first.tags["dagster/asset_partition_range_end"]) == ("2013-08-01", "2013-08-02")
    assert first.tags["opsrel/replay_id"] == str(rid) and first.tags["opsrel/reason"] == (
        "august redelivered")
    # Dagster holds the first range run: its two days count as launched.
    job = flights_job()
    runner.instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={
        **first.tags, "opsrel/replay_id": str(rid)})
    assert [r.run_key for r in tick().run_requests] == [r.run_key for r in requests[1:]]
    for request in requests[1:]:
        runner.instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED,
                                           tags={**request.tags, **(
                                               {"dagster/partition": request.partition_key}
                                               if request.partition_key else {})})
    assert tick().run_requests == []
    assert replays.get_replay(rid).status == "RUNNING"
