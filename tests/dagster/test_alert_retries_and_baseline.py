"""Alerts on real Dagster runs of the flights pipeline: retries raise nothing until the last
attempt, and DQ-002 fires only when a WARN rule rises above its own baseline.

- A run with ``dagster/max_retries`` on an instance with run retries enabled fails three times
  (a bad landing file). Dagster tags the first two ``dagster/will_retry=true`` and the last
  ``false``; only the last failure raises an alert. The retries are launched here in-process
  as the retry daemon launches them (a re-execution from the failure with ``retry_number``), so
  Dagster itself computes ``will_retry`` from the run group. The daemon's own
  launch is covered by the live test of re-execution and retries.
- The quick start's days (2013-01-01..07, one range run) open no DQ-002 alert: no rule has a
  baseline of 7 earlier partitions yet, and the rules that warn every day would be known noise.
- 2013-02-01..09 (one range run): DQ-002 opens for ``cancelled_share_max`` alone, counting the
  blizzard days 2013-02-08 and 2013-02-09, with its title naming the count and the latest day;
  ``dest_known`` and ``tailnum_known`` warn on every day of the range and stay quiet.

SQLite only: the rule decided lives in the ops schema, which the integration tests cover on
PostgreSQL too; the Dagster runs dominate the cost (about 15 s for a range of 7 to 9 days).
"""

from pathlib import Path

import dagster as dg
import pytest

from opsrel_core.config import AlertSettings
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, FLIGHT_CHECKS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.app.runner import HeadlessRunner
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
         "execution": {"config": {"in_process": {}}}}


def flights_asset_job() -> dg.JobDefinition:
    """The flights assets and checks as one job: reconstructable, so Dagster can re-execute a
    run of it (``dagster/parent_run_id`` and ``root_run_id`` set as for the retry daemon's runs)."""
    return dg.Definitions(
        assets=[*FLIGHT_ASSETS], asset_checks=[*FLIGHT_CHECKS],
        resources=dict(flights_defs.resources),
        jobs=[dg.define_asset_job("flights_with_retries", selection=dg.AssetSelection.all())],
    ).resolve_job_def("flights_with_retries")


def _alerts(runner) -> list:
    return OpsAlertService(runner.engine, AlertSettings.from_env()).list_alerts()


@pytest.fixture
def retrying_runner(opsrel_env) -> HeadlessRunner:
    """A runner whose Dagster instance has run retries enabled (as the daemon's deployment)."""
    first = HeadlessRunner.from_env()  # writes dagster.yaml and migrates the ops schema
    first.engine.dispose()
    dagster_yaml = Path(opsrel_env["DAGSTER_HOME"]) / "dagster.yaml"
    dagster_yaml.write_text(dagster_yaml.read_text()
                            + "\nrun_retries:\n  enabled: true\n  max_retries: 0\n")
    runner = HeadlessRunner.from_env()
    assert runner.instance.run_retries_enabled
    yield runner
    runner.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_run_retried_by_dagster_alerts_once_on_the_last_failure(retrying_runner, opsrel_env):
    runner = retrying_runner
    day = "2013-03-04"
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    (landing / f"flights_{day}.csv").write_text("year,month,day\n")  # header only: INP-001
    base_tags = {**runner.default_tags(), "dagster/max_retries": "2"}

    job = dg.reconstructable(flights_asset_job)

    def launch(parent: str | None, number: int) -> str:
        # A retry as the daemon launches it: a re-execution from the failure of the previous
        # attempt, tagged with its run group (parent, root) and its retry number.
        group = {"dagster/parent_run_id": parent, "dagster/root_run_id": runs[0],
                 "dagster/retry_number": str(number)} if parent else {}
        result = dg.execute_job(
            job, runner.instance, run_config=QUIET,
            tags={**base_tags, "dagster/partition": day, **group},
            reexecution_options=(
                dg.ReexecutionOptions.from_failure(parent, runner.instance) if parent else None),
        )
        assert not result.success
        return result.run_id

    runs: list[str] = []
    runs.append(launch(None, 0))
    for number in (1, 2):
        runs.append(launch(runs[-1], number))
    assert [runner.instance.get_run_by_id(r).root_run_id for r in runs[1:]] == [runs[0]] * 2
    will_retry = [runner.instance.get_run_by_id(r).tags.get("dagster/will_retry") for r in runs]
    assert will_retry == ["true", "true", "false"]

    # The attempts Dagster retries raise nothing, however often they are projected.
    for run_id in runs[:2]:
        execution = runner.projection.project_run(run_id)
        assert (execution.status.value, execution.error_code) == ("FAILED", "INP-001")
        runner.projection.project_run(run_id)
    assert _alerts(runner) == []

    # The last attempt decides: one alert, about it, counted once.
    last = runner.projection.project_run(runs[2])
    assert (last.trigger_type, last.parent_execution_id) == ("RETRY", runs[1])
    runner.projection.project_run(runs[2])
    runner.sync(reset=True)
    [alert] = _alerts(runner)
    assert (alert.event_kind, alert.error_code, alert.partition_key) == (
        "EXECUTION_FAILED", "INP-001", day)
    assert (alert.execution_id, alert.occurrence_count, alert.status) == (runs[2], 1, "OPEN")


def _dq002(runner) -> list:
    return [a for a in _alerts(runner) if a.error_code == "DQ-002"]


def _warned_days(runner, run_id: str) -> dict[str, list[str]]:
    warned: dict[str, list[str]] = {}
    for result in ValidationService(runner.engine).results_for_execution(run_id):
        if result.status == "WARN":
            warned.setdefault(result.rule_id, []).append(result.partition_key)
    return {rule: sorted(days) for rule, days in warned.items()}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_quick_start_days_open_no_dq002_alert(runner):
    days = runner.partition_keys(*map(_date, ("2013-01-01", "2013-01-07")))
    summaries = runner.run_partitions(days, range_size=len(days))
    assert {s.status for s in summaries} == {"SUCCESS"}
    warned = _warned_days(runner, summaries[0].run_id)
    # the rules that warn every day by design did warn on every one of these days
    for rule in ("dest_known", "tailnum_known"):
        assert warned[rule] == days, rule
    assert _dq002(runner) == []
    assert [a for a in _alerts(runner) if a.status == "OPEN"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dq002_fires_for_the_blizzard_days_and_not_for_rules_that_warn_every_day(runner):
    days = runner.partition_keys(*map(_date, ("2013-02-01", "2013-02-09")))
    summaries = runner.run_partitions(days, range_size=len(days))
    assert {s.status for s in summaries} == {"SUCCESS"}
    run_id = summaries[0].run_id
    warned = _warned_days(runner, run_id)
    for rule in ("dest_known", "tailnum_known"):
        assert warned[rule] == days, rule
    assert warned["cancelled_share_max"] == ["2013-02-08", "2013-02-09"]

    [alert] = _dq002(runner)
    assert (alert.event_kind, alert.status, alert.occurrence_count) == (
        "DQ_WARN_ACCUMULATED", "OPEN", 2)
    assert alert.title == ("DQ-002 cancelled_share_max warned 2 times above its baseline, "
                           "latest 2013-02-09")
    assert (alert.partition_key, alert.execution_id, alert.asset_key) == (
        "2013-02-09", run_id, "clean_flights")
    assert "the rule seldom warns: warned on 1 of the previous 8 partitions" in alert.message
    assert "measured 0.5746 (bound <= 0.5)" in alert.message


def _date(text: str):
    import datetime as dt

    return dt.date.fromisoformat(text)
