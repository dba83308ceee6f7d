"""A stop is final, end to end: an operator's stop through the admin API of a run that Dagster can
only move to CANCELING (an in-process worker cannot be reached), whose worker then finishes.

Real components only: the real flights pipeline in a real Dagster instance (``HeadlessRunner``,
in-process, as ``opsrel run`` runs it), the real replay launch sensor delivering the stop, the
real projection (``RunProjection``), the admin API over HTTP and the ``opsrel`` CLI, on SQLite and
on PostgreSQL (``database_url``; Dagster's own storage in PostgreSQL too on that leg).
"""

import json
import threading
import time

import dagster as dg
from click.testing import CliRunner

from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights import flights_partitions, simulation
from tests.api.conftest import api  # noqa: F401 - fixture (the admin API over HTTP)
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures

DAY = "2013-06-03"
ASSETS = ("raw_flights", "clean_flights", "carrier_daily_stats", "ontime_performance",
          "delay_explanation", "delay_simulation")


def _launch_tick(runner) -> None:  # noqa: F811 - fixture name
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    sensor = make_replay_launch_sensor(
        "flights_daily", dg.AssetSelection.groups("flights"), flights_partitions)
    sensor(dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}))


def _wait_for(predicate, what: str, timeout: float = 120.0):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_stop_a_canceling_run_whose_worker_finishes_ends_stopped(
    runner, api, monkeypatch  # noqa: F811
):
    engine, instance = runner.engine, runner.instance
    versions = ResultVersionService(engine)
    [first] = runner.run_partitions([DAY])
    assert first.status == "SUCCESS"
    earlier = {a: versions.get_active_version(a, DAY) for a in ASSETS}
    assert {v.execution_id for v in earlier.values()} == {first.run_id}

    # The second run's worker blocks inside a step until the test lets it finish.
    entered, release = threading.Event(), threading.Event()
    original = simulation.delay_simulation

    def blocking_simulation(*args, **kwargs):  # noqa: ANN002, ANN003
        entered.set()
        assert release.wait(120), "the test never released the worker"
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation, "delay_simulation", blocking_simulation)
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.extend(runner.run_partitions([DAY])), daemon=True)
    worker.start()
    try:
        assert entered.wait(120), "the run never reached its blocking step"
        [live] = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert runner.projection.project_run(live.run_id).status.value == "RUNNING"

        # The operator stops it through the admin API.
        stop = api.call("POST", f"/admin/batch/executions/{live.run_id}/stop", token="operator",
                        body={"reason": "wrong rule version"})
        assert stop.status == 202, stop.body
        assert (stop.body["stop"]["final_status"], stop.body["stop"]["results_become_active"],
                stop.body["stop"]["delivery"]) == ("STOPPED", False, "PENDING")

        # The replay launch sensor delivers it: Dagster can only move the run to CANCELING.
        _launch_tick(runner)
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.CANCELING
        shown = api.call("GET", f"/admin/batch/executions/{live.run_id}").body
        assert shown["status"] == "RUNNING"
        assert shown["stop"]["delivery"] == "NOT_TERMINATED"
        assert "could not terminate the worker" in shown["stop"]["delivery_detail"]
        _launch_tick(runner)  # a later tick asks Dagster nothing more and records nothing more
    finally:
        release.set()  # the worker finishes
        worker.join(180)
    assert not worker.is_alive()

    # Dagster recorded SUCCESS; the execution ends STOPPED all the same.
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.SUCCESS
    [summary] = outcome
    assert (summary.run_id, summary.status, summary.error_code) == (live.run_id, "STOPPED", "BAT-004")
    runner.sync(reset=True)  # the whole event log applied again: nothing changes
    runner.projection.project_run(live.run_id)
    executions = BatchExecutionService(engine)
    execution = executions.get_execution(live.run_id)
    assert (execution.status.value, execution.error_code) == ("STOPPED", "BAT-004")
    assert execution.stop_requested_at is not None

    # None of its versions is active; the earlier active versions stay.
    made = versions.versions_of_execution(live.run_id)
    assert {v.asset_key for v in made} >= set(ASSETS)
    assert [v for v in made if v.is_active] == []
    assert {a: versions.get_active_version(a, DAY).version_id for a in ASSETS} == {
        a: v.version_id for a, v in earlier.items()}

    # The history keeps the ignored SUCCESS and what Dagster did with the stop, once each.
    history = executions.get_history(live.run_id)
    assert [(h["event_key"], h["from_status"], h["to_status"]) for h in history] == [
        ("status:READY", None, "READY"),
        ("status:RUNNING", "READY", "RUNNING"),
        ("stop_delivery:NOT_TERMINATED", "RUNNING", "RUNNING"),
        ("status:STOPPED", "RUNNING", "STOPPED"),
        ("ignored:SUCCESS", "STOPPED", "STOPPED"),
    ]
    assert history[-1]["detail"]["observed_status"] == "SUCCESS"

    # The stop's audit record: before and after differ by the stop request.
    [record] = [a for a in AuditLogService(engine).list_audit_logs(target_id=live.run_id)
                if a.action == "STOP_EXECUTION"]
    assert (record.audit_id, record.action, record.operator_id, record.reason) == (
        stop.body["audit_id"], "STOP_EXECUTION", "operator-op", "wrong rule version")
    assert (record.before_state["stop_requested"], record.after_state["stop_requested"]) == (
        False, True)
    assert record.after_state["final_status"] == "STOPPED"
    assert record.before_state != record.after_state

    # The API and the CLI say it.
    shown = api.call("GET", f"/admin/batch/executions/{live.run_id}").body
    assert (shown["status"], shown["stop"]["delivery"]) == ("STOPPED", "NOT_TERMINATED")
    assert [i["observed_status"] for i in shown["stop"]["ignored"]] == ["SUCCESS"]
    assert [v["is_active"] for v in shown["versions"]] == [False] * len(shown["versions"])
    from opsrel_dagster.app.cli import cli

    text = CliRunner().invoke(cli, ["executions", "show", live.run_id])
    assert text.exit_code == 0, text.output
    assert "stop delivery NOT_TERMINATED: Dagster could not terminate the worker" in text.output
    assert "ignored:SUCCESS" in text.output and "final (ends STOPPED" in text.output
    as_json = json.loads(
        CliRunner().invoke(cli, ["executions", "show", live.run_id, "--json"]).output)
    assert (as_json["stop"]["delivery"], as_json["execution"]["status"]) == (
        "NOT_TERMINATED", "STOPPED")
