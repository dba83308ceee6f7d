"""Re-execution as the UI does it, and automatic run retries, on a live ``dagster-webserver``
and ``dagster-daemon run``: each is its own execution, recorded and attributed as what it is.

- "Re-execute" on a failed run's page (GraphQL ``launchRunReexecution``, all steps) copies the
  failed run's tags, a sensor's included. The re-execution is recorded as what it is: trigger
  REEXECUTE, linked to its parent, audited as ``REEXECUTE_RUN``, never as the sensor's run; it
  may not replace the active result (BAT-007 before it computes), while a re-execution that
  carries an operator and a reason of its own (``extraTags``) replaces it and names that
  operator.
- A run with ``dagster/max_retries`` that fails is retried by the daemon: the failed attempt
  (``dagster/will_retry=true``) raises no alert, the retry is recorded as RETRY of its parent,
  audited by the orchestrator (not as the operator's MANUAL_RUN), keeps the operator whose
  decision it continues, and its results become active.

SQLite only: the Dagster processes dominate the cost, and the rules tested live in the ops
schema, which the other tests cover on PostgreSQL.
"""

from pathlib import Path

import pytest
import sqlalchemy as sa

from opsrel_core.persistence.tables import Alert
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.results import ResultVersionService
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures
from tests.support.dagster_processes import dagster_daemon, dagster_webserver, wait_until

WAIT_SECONDS = 300
ASSETS = ["raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
          "ontime_performance", "delay_explanation", "delay_simulation"]
CHECKS = ["flight_key_unique", "carrier_known", "row_count_positive", "dest_known",
          "tailnum_known", "tailnum_present", "dep_delay_max", "cancelled_share_max"]
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
REEXECUTE = """
mutation Reexecute($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { runId status tags { key value } } }
}
"""


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def _launch(webserver, day: str, tags: dict[str, str]) -> str:
    selector = {
        "repositoryLocationName": "opsrel", "repositoryName": "__repository__",
        "jobName": "__ASSET_JOB",
        "assetSelection": [{"path": [a]} for a in ASSETS],
        "assetCheckSelection": [{"assetKey": {"path": ["clean_flights"]}, "name": c}
                                for c in CHECKS],
    }
    data = webserver.graphql(LAUNCH, {"params": {
        "selector": selector, "mode": "default", "runConfigData": {},
        "executionMetadata": {"tags": _tags({"dagster/partition": day, **tags})},
    }})
    result = data["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _reexecute(webserver, parent: str, extra: dict[str, str] | None = None) -> str:
    params = {"parentRunId": parent, "strategy": "ALL_STEPS"}
    if extra:
        params["extraTags"] = _tags(extra)
    result = webserver.graphql(REEXECUTE, {"params": params})["launchRunReexecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _ended(webserver, run_id: str, processes) -> dict:
    def finished():
        run = webserver.graphql(RUN, {"runId": run_id})["runOrError"]
        return run if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED") else None

    run = wait_until(finished, WAIT_SECONDS, processes)
    return {**run, "tags": {t["key"]: t["value"] for t in run["tags"]}}


def _alerts(runner, day: str) -> list:
    with runner.engine.connect() as conn:
        return conn.execute(sa.select(Alert.alert_id, Alert.status).where(
            Alert.partition_key == day)).all()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reexecution_and_retry_on_live_dagster(runner, opsrel_env, tmp_path):
    dagster_yaml = Path(opsrel_env["DAGSTER_HOME"]) / "dagster.yaml"
    dagster_yaml.write_text(dagster_yaml.read_text()
                            + "\nrun_retries:\n  enabled: true\n  max_retries: 0\n")
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    day, retried_day = "2013-05-06", "2013-05-07"
    [first] = runner.run_partitions([day])
    active = ResultVersionService(runner.engine).get_active_version("ontime_performance", day)
    assert active.execution_id == first.run_id
    executions = BatchExecutionService(runner.engine)
    audit = AuditLogService(runner.engine)

    with dagster_webserver(opsrel_env, tmp_path) as webserver, \
            dagster_daemon(opsrel_env, tmp_path) as daemon:
        processes = [webserver.process, daemon]

        # A sensor's run of the day fails on a bad re-delivery (header only: INP-001).
        (landing / f"flights_{day}.csv").write_text("year,month,day\n")
        sensor_tags = {"dagster/sensor_name": "opsrel_landing_sensor",
                       "opsrel/operator": "sensor:opsrel_landing_sensor",
                       "opsrel/reason": "landing file arrived"}
        parent = _launch(webserver, day, sensor_tags)
        assert _ended(webserver, parent, processes)["status"] == "FAILURE"
        (landing / f"flights_{day}.csv").unlink()  # the file is fixed (package data again)

        # "Re-execute" as the failed run's page does it: the parent's tags are copied.
        copy = _reexecute(webserver, parent)
        run = _ended(webserver, copy, processes)
        assert run["tags"]["dagster/sensor_name"] == "opsrel_landing_sensor"  # copied
        assert run["tags"]["dagster/parent_run_id"] == parent
        runner.projection.project_run(parent)
        execution = runner.projection.project_run(copy)
        assert (execution.trigger_type, execution.parent_execution_id) == ("REEXECUTE", parent)
        assert execution.operator_id is None
        assert (execution.status.value, execution.error_code) == ("FAILED", "BAT-007")
        assert "copies that run's tags" in execution.error_message
        assert ResultVersionService(runner.engine).get_active_version(
            "ontime_performance", day) == active
        [record] = audit.list_audit_logs(target_id=copy)
        assert (record.action, record.operator_id) == ("REEXECUTE_RUN", "orchestrator:reexecution")
        assert record.reason == f"re-execution of run {parent[:8]}"

        # With an operator and a reason of its own, the re-execution replaces the result.
        own = _reexecute(webserver, parent, {"opsrel/operator": "dana",
                                             "opsrel/reason": "file fixed, recompute"})
        assert _ended(webserver, own, processes)["status"] == "SUCCESS"
        execution = runner.projection.project_run(own)
        assert (execution.trigger_type, execution.status.value, execution.operator_id) == (
            "REEXECUTE", "SUCCESS", "dana")
        replaced = ResultVersionService(runner.engine).get_active_version(
            "ontime_performance", day)
        assert replaced.execution_id == own
        [record] = audit.list_audit_logs(target_id=own)
        assert (record.action, record.operator_id, record.reason) == (
            "REEXECUTE_RUN", "dana", f"re-execution of run {parent[:8]}: file fixed, recompute")

        # A run with one automatic retry fails; the file is fixed before the retry reads it.
        (landing / f"flights_{retried_day}.csv").write_text("year,month,day\n")
        attempt = _launch(webserver, retried_day, {"dagster/max_retries": "1",
                                                    "opsrel/operator": "alice",
                                                    "opsrel/reason": "monthly refresh"})
        failed = _ended(webserver, attempt, processes)
        (landing / f"flights_{retried_day}.csv").unlink()
        assert failed["status"] == "FAILURE"
        first_attempt = runner.projection.project_run(attempt)
        assert (first_attempt.status.value, first_attempt.error_code) == ("FAILED", "INP-001")

        def retry_run():
            runs = runner.instance.get_runs()
            return next((r.run_id for r in runs if r.parent_run_id == attempt), None)

        retry = wait_until(retry_run, WAIT_SECONDS, processes)
        assert _ended(webserver, retry, processes)["status"] == "SUCCESS"
        assert runner.instance.get_run_by_id(attempt).tags.get("dagster/will_retry") == "true"
        runner.projection.project_run(attempt)
        execution = runner.projection.project_run(retry)
        assert (execution.trigger_type, execution.status.value) == ("RETRY", "SUCCESS")
        assert (execution.parent_execution_id, execution.operator_id) == (attempt, "alice")
        [record] = audit.list_audit_logs(target_id=retry)
        assert (record.action, record.operator_id) == ("RETRY_RUN", "orchestrator:run_retry")
        assert record.reason == f"automatic retry 1 of run {attempt[:8]} (alice: monthly refresh)"
        assert ResultVersionService(runner.engine).get_active_version(
            "ontime_performance", retried_day).execution_id == retry
        # the failed attempt, about to be retried, never alerted; nothing is left open
        assert _alerts(runner, retried_day) == []
        assert executions.get_execution(attempt).status.value == "FAILED"
