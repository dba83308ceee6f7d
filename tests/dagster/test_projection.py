"""The projection of Dagster runs into the ops schema, on SQLite and PostgreSQL.

Both Dagster's storage and the ops schema are real: a SQLite Dagster home with a SQLite ops
database, and PostgreSQL for both on the second leg.
"""

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from opsrel_core.persistence.tables import BatchExecution, ExecutionEvent
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, FLIGHT_CHECKS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.projection.apply import RunProjection
from opsrel_dagster.sensors.projection import make_projection_sensor
from tests.support.flights import flights_job

ASSET_STEPS = len(FLIGHT_ASSETS)
ALL_STEPS = len(FLIGHT_ASSETS) + len(FLIGHT_CHECKS)  # what `opsrel run` executes


def _table_rows(engine: sa.Engine, model) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(model.__table__)).all()
    return sorted(tuple(str(v) for v in row) for row in rows)


def test_successful_run_is_recorded_with_progress(runner):
    [summary] = runner.run_partitions(["2013-01-01"])
    assert summary.status == "SUCCESS"
    assert summary.rows["raw_flights"] == 842
    execution = BatchExecutionService(runner.engine).get_execution(summary.run_id)
    assert execution.status.value == "SUCCESS"
    assert execution.job_id == "flights_daily"
    assert execution.partition_key == "2013-01-01"
    assert execution.trigger_type == "CLI"
    assert execution.steps_total == ALL_STEPS
    assert execution.steps_done == ALL_STEPS
    assert execution.rows_written >= 842 * 3  # raw, snapshot and clean flights at least
    assert execution.started_at is not None and execution.ended_at >= execution.started_at
    assert execution.error_code is None
    history = BatchExecutionService(runner.engine).get_history(summary.run_id)
    assert [h["to_status"] for h in history] == ["READY", "RUNNING", "SUCCESS"]


def test_each_materialization_links_its_partition_page_in_the_console(
        opsrel_env, monkeypatch):
    from opsrel_dagster.app.runner import HeadlessRunner

    monkeypatch.setenv("OPSREL_CONSOLE_URL", "https://ops.example.com/")
    runner = HeadlessRunner.from_env()
    try:
        [summary] = runner.run_partitions(["2013-01-02"])
        assert summary.status == "SUCCESS"
        records = runner.instance.fetch_materializations(
            dg.AssetKey("clean_flights"), limit=10).records
        [materialization] = [r.asset_materialization for r in records
                             if r.run_id == summary.run_id]
        link = materialization.metadata["opsrel/console"]
        assert isinstance(link, dg.UrlMetadataValue)
        assert link.url == "https://ops.example.com/console/partitions/flights_daily/2013-01-02"
    finally:
        runner.engine.dispose()


def test_without_a_console_url_a_materialization_has_no_console_link(runner):
    [summary] = runner.run_partitions(["2013-01-02"])
    records = runner.instance.fetch_materializations(
        dg.AssetKey("clean_flights"), limit=10).records
    assert [sorted(r.asset_materialization.metadata) for r in records
            if "opsrel/console" in r.asset_materialization.metadata] == []
    assert summary.status == "SUCCESS"


def test_projection_applied_twice_leaves_the_same_rows(runner):
    runner.run_partitions(["2013-01-03", "2013-01-04"])
    before_exec = _table_rows(runner.engine, BatchExecution)
    before_events = _table_rows(runner.engine, ExecutionEvent)
    assert len(before_exec) == 2
    first = runner.sync(reset=True)
    second = runner.sync(reset=True)
    assert first.runs_projected == second.runs_projected == 2
    assert _table_rows(runner.engine, BatchExecution) == before_exec
    assert _table_rows(runner.engine, ExecutionEvent) == before_events
    # and a sync with the cursor in place reads nothing new
    assert runner.sync().runs_projected == 0


def test_sensor_completes_runs_it_has_not_seen_end(runner):
    # Runs made without the projection (plain dagster.materialize), then the sensor ticks.
    result = dg.materialize(
        FLIGHT_ASSETS,
        partition_key="2013-01-05",
        instance=runner.instance,
        resources=dict(flights_defs.resources),
    )
    # the IO manager recorded the run as it went, but not its end
    assert BatchExecutionService(runner.engine).get_execution(result.run_id).status.value == "RUNNING"
    sensor = make_projection_sensor()
    context = dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}
    )
    sensor(context)
    execution = BatchExecutionService(runner.engine).get_execution(result.run_id)
    assert execution.status.value == "SUCCESS"
    assert execution.trigger_type == "MANUAL"
    assert execution.steps_done == ASSET_STEPS


def test_failing_step_with_a_foreign_exception_maps_to_sys(runner):
    @dg.asset(name="raw_flights", partitions_def=dg.DailyPartitionsDefinition("2013-01-01"))
    def broken_raw_flights():
        raise ZeroDivisionError("division by zero in the test asset")

    result = dg.materialize(
        [broken_raw_flights], partition_key="2013-01-02", instance=runner.instance,
        raise_on_error=False,
    )
    assert not result.success
    execution = RunProjection(runner.instance, runner.engine).project_run(result.run_id)
    assert execution.status.value == "FAILED"
    assert execution.error_code == "SYS-001"
    assert execution.error_message.startswith("ZeroDivisionError: division by zero in the test asset")
    assert execution.failed_asset_key == "raw_flights"
    assert execution.failed_partition_key == "2013-01-02"


def test_canceled_run_ends_stopped_not_failed(runner):
    job = flights_job()
    run = runner.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.NOT_STARTED, tags={"dagster/partition": "2013-01-06"}
    )
    projection = RunProjection(runner.instance, runner.engine)
    assert projection.project_run(run.run_id).status.value == "READY"
    runner.instance.report_run_canceling(run)
    runner.instance.report_run_canceled(run)
    execution = projection.project_run(run.run_id)
    assert execution.status.value == "STOPPED"
    assert execution.error_code == "BAT-004"
    assert execution.stop_requested_at is not None


def test_runs_of_other_jobs_are_not_recorded(runner):
    @dg.asset
    def unrelated_asset():
        return 1

    result = dg.materialize([unrelated_asset], instance=runner.instance)
    assert RunProjection(runner.instance, runner.engine).project_run(result.run_id) is None
    assert BatchExecutionService(runner.engine).find_execution(result.run_id) is None


BAD_INPUTS = {
    "header_only": ("INP-001", lambda good: good.head(0).to_csv(index=False)),
    "not_csv": ("INP-002", lambda good: 'year,month,day\n2013,"1,1\n\x00\x01\x02,,,,,,\n'),
    "missing_column": ("INP-003", lambda good: good.drop(columns=["carrier"]).to_csv(index=False)),
    "other_day": ("INP-004", lambda good: good.assign(day=9).to_csv(index=False)),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_landing_file_fails_with_inp_code_and_loses_nothing(runner, opsrel_env, case):
    from pathlib import Path

    day = "2013-01-08"
    [good] = runner.run_partitions([day])
    assert good.status == "SUCCESS"
    code, make_text = BAD_INPUTS[case]
    good_frame = pd.DataFrame(
        {
            "year": [2013], "month": [1], "day": [8], "dep_time": [517.0], "sched_dep_time": [515],
            "dep_delay": [2.0], "arr_time": [830.0], "sched_arr_time": [819], "arr_delay": [11.0],
            "carrier": ["UA"], "flight": [1545], "tailnum": ["N14228"], "origin": ["EWR"],
            "dest": ["IAH"], "air_time": [227.0], "distance": [1400], "hour": [5], "minute": [15],
            "time_hour": ["2013-01-08T10:00:00Z"],
        }
    )
    Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{day}.csv").write_text(make_text(good_frame))
    [bad] = runner.run_partitions([day])
    assert bad.status == "FAILED"
    assert bad.error_code == code
    execution = BatchExecutionService(runner.engine).get_execution(bad.run_id)
    assert execution.error_code == code
    assert execution.failed_asset_key == "raw_flights"
    assert execution.failed_partition_key == day
    assert "ontime_performance" not in bad.rows  # no result written
    # nothing earlier is lost: the good execution and its latest result stand
    assert BatchExecutionService(runner.engine).get_execution(good.run_id).status.value == "SUCCESS"
    latest = runner.instance.get_latest_materialization_event(dg.AssetKey("ontime_performance"))
    assert latest.run_id == good.run_id


def test_failure_after_cancel_request_ends_stopped_even_unseen(runner):
    # The projection never sees CANCELING: the run goes STARTED -> CANCELING -> FAILURE
    # between two projections, as when a stop interrupts a step that then raises.
    run = runner.instance.create_run_for_job(
        flights_job(), status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"dagster/partition": "2013-01-09"},
    )
    runner.instance.report_run_canceling(run)
    runner.instance.report_run_failed(run, message="KeyboardInterrupt raised inside the step")
    execution = RunProjection(runner.instance, runner.engine).project_run(run.run_id)
    assert execution.status.value == "STOPPED"
    assert execution.error_code == "BAT-004"
    assert execution.stop_requested_at is not None


def test_run_deleted_from_dagster_fails_its_open_execution_with_sys_003(runner):
    run = runner.instance.create_run_for_job(
        flights_job(), status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"dagster/partition": "2013-01-12"},
    )
    projection = RunProjection(runner.instance, runner.engine)
    assert projection.project_run(run.run_id).status.value == "READY"
    runner.instance.delete_run(run.run_id)
    projection.sync()
    execution = BatchExecutionService(runner.engine).get_execution(run.run_id)
    assert execution.status.value == "FAILED"
    assert execution.error_code == "SYS-003"
    assert "no longer exists" in execution.error_message
    assert BatchExecutionService(runner.engine).list_open_execution_ids() == []


def test_rematerializing_a_partition_with_a_result_needs_operator_and_reason(runner):
    [first] = runner.run_partitions(["2013-01-13"])
    assert first.status == "SUCCESS"
    versions_before = ResultVersionService(runner.engine).get_version_history(
        "ontime_performance", "2013-01-13"
    )
    # as from the UI's Materialize button: no opsrel/operator, no opsrel/reason
    bare = dg.materialize(
        FLIGHT_ASSETS, partition_key="2013-01-13", instance=runner.instance,
        resources=dict(flights_defs.resources), raise_on_error=False,
    )
    assert not bare.success
    execution = RunProjection(runner.instance, runner.engine).project_run(bare.run_id)
    assert execution.status.value == "FAILED"
    assert execution.error_code == "BAT-007"
    assert "opsrel/operator" in execution.error_message and "opsrel/reason" in execution.error_message
    service = ResultVersionService(runner.engine)
    assert service.get_version_history("ontime_performance", "2013-01-13") == versions_before
    assert service.get_active_version("ontime_performance", "2013-01-13").execution_id == first.run_id
    # with both tags (as added in the launch dialog) it runs and its result becomes active
    tagged = dg.materialize(
        FLIGHT_ASSETS, partition_key="2013-01-13", instance=runner.instance,
        resources=dict(flights_defs.resources),
        tags={"opsrel/operator": "alice", "opsrel/reason": "carrier file corrected"},
    )
    execution = RunProjection(runner.instance, runner.engine).project_run(tagged.run_id)
    assert execution.status.value == "SUCCESS"
    assert execution.operator_id == "alice"
    active = service.get_active_version("ontime_performance", "2013-01-13")
    assert (active.execution_id, active.version_number) == (tagged.run_id, 2)
    history = service.get_version_history("ontime_performance", "2013-01-13")
    assert [(v.version_number, v.is_active) for v in history] == [(2, True), (1, False)]


def test_failed_run_leaves_the_earlier_active_version_and_its_own_inactive(runner, opsrel_env):
    from pathlib import Path

    [first] = runner.run_partitions(["2013-01-14"])
    # an attributed re-run whose delay_simulation step fails (its config is refused at the
    # step), after raw_flights..ontime_performance already stored their new versions
    bad = dg.materialize(
        FLIGHT_ASSETS, partition_key="2013-01-14", instance=runner.instance,
        resources=dict(flights_defs.resources), raise_on_error=False,
        tags={"opsrel/operator": "bob", "opsrel/reason": "test a failing rerun"},
        run_config={"ops": {"delay_simulation": {"config": {"n_draws": 0}}}},
    )
    assert not bad.success
    execution = RunProjection(runner.instance, runner.engine).project_run(bad.run_id)
    assert execution.status.value == "FAILED"
    service = ResultVersionService(runner.engine)
    for asset in ("raw_flights", "clean_flights", "ontime_performance"):
        active = service.get_active_version(asset, "2013-01-14")
        assert active.execution_id == first.run_id, asset
    own = service.versions_of_execution(bad.run_id)
    assert own and not any(v.is_active for v in own)
    assert Path(opsrel_env["OPSREL_HOME"], "results", "raw_flights", "2013-01-14").is_dir()


def test_a_manual_run_writes_its_audit_record_by_itself(runner):
    from opsrel_core.services.audit_log import AuditLogService

    result = dg.materialize(
        FLIGHT_ASSETS, partition_key="2013-01-15", instance=runner.instance,
        resources=dict(flights_defs.resources),
        tags={"opsrel/operator": "carol", "opsrel/reason": "verify the January numbers"},
    )
    RunProjection(runner.instance, runner.engine).sync()
    RunProjection(runner.instance, runner.engine).sync()  # applied twice: still one record
    records = AuditLogService(runner.engine).list_audit_logs(target_id=result.run_id)
    assert len(records) == 1
    [record] = records
    assert (record.operator_id, record.reason, record.action) == (
        "carol", "verify the January numbers", "MANUAL_RUN"
    )
    assert record.action_type == "BATCH_ACTION"
    assert record.before_state is None
    assert record.after_state["execution_id"] == result.run_id
    assert record.after_state["status"] == "READY"
    # an unattributed first run writes none
    plain = dg.materialize(
        FLIGHT_ASSETS, partition_key="2013-01-16", instance=runner.instance,
        resources=dict(flights_defs.resources),
    )
    RunProjection(runner.instance, runner.engine).project_run(plain.run_id)
    assert AuditLogService(runner.engine).list_audit_logs(target_id=plain.run_id) == []
