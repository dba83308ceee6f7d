"""The hourly weather job from the Dagster UI's path and the daemon's: a partition backfill
launched through the webserver's GraphQL API (what "Materialize" over selected partitions does)
and a replay requested through the admin API, both run by a real ``dagster-daemon``, each hour
recorded once in the ops schema under its own key (the repeated fall-back hour is two)."""

from pathlib import Path

import pytest

from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from tests.support.api_server import api  # noqa: F401 - fixture
from tests.support.dagster_processes import dagster_daemon, dagster_webserver, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WAIT_SECONDS = 360
JOB = "weather_hourly"
HOURS = ["2013-11-03-01:00", "2013-11-03-01:00-0500"]
RANGE = ["2013-11-03-00:00", *HOURS, "2013-11-03-02:00"]
RUNS_BY_TAG = """
query Runs($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""
ASSETS = ["raw_weather", "weather_snapshot", "clean_weather", "airport_hour_weather",
          "flight_category"]
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
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
RUN_STATUS = """
query Run($runId: ID!) { runOrError(runId: $runId) { ... on Run { runId status } } }
"""
# "Materialize selected" on the first three assets only: no result asset, no checks.
SUBSET = ["raw_weather", "weather_snapshot", "clean_weather"]
SPRING_HOUR = "2013-03-10-03:00"  # the first hour after the spring-forward gap
RETRIED_HOUR = "2013-03-10-04:00"


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def _launch_subset(webserver, key: str, tags: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    selector = {"repositoryLocationName": "opsrel", "repositoryName": "__repository__",
                "jobName": "__ASSET_JOB", "assetSelection": [{"path": [a]} for a in SUBSET],
                "assetCheckSelection": []}
    result = webserver.graphql(LAUNCH, {"params": {
        "selector": selector, "mode": "default", "runConfigData": {},
        "executionMetadata": {"tags": _tags({"dagster/partition": key, **tags})},
    }})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _ended(webserver, run_id: str, processes) -> str:  # type: ignore[no-untyped-def]
    def finished():  # type: ignore[no-untyped-def]
        status = webserver.graphql(RUN_STATUS, {"runId": run_id})["runOrError"].get("status")
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    return wait_until(finished, WAIT_SECONDS, processes)


def _executions(engine, keys: list[str]) -> dict[str, list]:  # type: ignore[no-untyped-def]
    found: dict[str, list] = {key: [] for key in keys}
    page, _ = ExecutionQueries(engine).list_executions(ExecutionFilter(job_id=JOB), limit=100)
    for execution in page:
        if execution.partition_key in found:
            found[execution.partition_key].append(execution)
    return found


def test_a_ui_backfill_and_an_api_replay_of_the_repeated_hour_run_in_the_daemon(
    runner, opsrel_env, api, tmp_path,  # noqa: F811
):
    # The daemon retries a run that asks for it (dagster/max_retries), as a deployment enables.
    dagster_yaml = Path(opsrel_env["DAGSTER_HOME"]) / "dagster.yaml"
    dagster_yaml.write_text(dagster_yaml.read_text()
                            + "\nrun_retries:\n  enabled: true\n  max_retries: 0\n")
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    with dagster_webserver(opsrel_env, tmp_path) as webserver, \
            dagster_daemon(opsrel_env, tmp_path) as daemon:
        processes = [webserver.process, daemon]
        launched = webserver.graphql(LAUNCH_BACKFILL, {"params": {
            "partitionNames": HOURS, "assetSelection": [{"path": [a]} for a in ASSETS]}})
        result = launched["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result

        def backfilled() -> list:
            page, _ = ExecutionQueries(runner.engine).list_executions(
                ExecutionFilter(job_id=JOB), limit=100)
            return [e for e in page if e.status.value == "SUCCESS"]

        # The weather assets' single-run backfill policy: one run over both hours, recorded as
        # one execution whose range is exactly those two keys.
        [backfill] = wait_until(backfilled, WAIT_SECONDS, processes)
        assert (backfill.partition_key, backfill.partition_range_start,
                backfill.partition_range_end) == (None, *HOURS)

        reply = api.call("POST", "/admin/batch/replay", token="operator", body={
            "type": "single", "job_id": JOB, "partitions": [HOURS[1]],
            "reason": "second 01:00 re-delivered"})
        assert reply.status == 202, reply.body

        def replayed() -> list:
            runs = _executions(runner.engine, [HOURS[1]])[HOURS[1]]
            return runs if runs and runs[0].status.value == "SUCCESS" else []

        [replay_run] = wait_until(replayed, WAIT_SECONDS, processes)
        assert replay_run.execution_id != backfill.execution_id
        replays = ReplayService(runner.engine)
        single = wait_until(
            lambda: (r := replays.get_replay(reply.body["replay_id"])).status.is_terminal and r,
            WAIT_SECONDS, processes)
        assert single.status.value == "SUCCESS"

        # A range replay through the daemon: the job declares ranges of up to 25 hours, so the
        # replay-launch sensor launches the four hours around the repeated one as one run with
        # Dagster's range tags, recorded as one execution over exactly those keys.
        reply = api.call("POST", "/admin/batch/replay", token="operator", body={
            "type": "range", "job_id": JOB, "partitions": RANGE,
            "reason": "night of the fall-back re-delivered"})
        assert reply.status == 202, reply.body
        ended = wait_until(
            lambda: (r := replays.get_replay(reply.body["replay_id"])).status.is_terminal and r,
            WAIT_SECONDS, processes)
        assert ended.status.value == "SUCCESS"
        runs = webserver.graphql(RUNS_BY_TAG, {"tags": [
            {"key": "opsrel/replay_id", "value": str(ended.replay_id)}]})["runsOrError"]["results"]
        [range_run] = runs
        tags = {t["key"]: t["value"] for t in range_run["tags"]}
        assert (tags["dagster/asset_partition_range_start"],
                tags["dagster/asset_partition_range_end"]) == (RANGE[0], RANGE[-1])
        assert tags["dagster/sensor_name"] == "opsrel_replay_launch_sensor_weather_hourly"
        [ranged] = [e for e in ExecutionQueries(runner.engine).list_executions(
            ExecutionFilter(job_id=JOB), limit=100)[0] if e.execution_id == range_run["runId"]]
        assert (ranged.status.value, ranged.partition_range_start,
                ranged.partition_range_end) == ("SUCCESS", RANGE[0], RANGE[-1])

        # The UI on a subset of the weather assets, from a bad delivery (header only): one
        # failed execution of that hour with the input's error code and nothing recorded.
        bad = landing / f"weather_{SPRING_HOUR}.csv"
        bad.write_text("origin,time_hour\n")
        failed = _launch_subset(webserver, SPRING_HOUR, {"opsrel/operator": "dana",
                                                         "opsrel/reason": "spring hour check"})
        assert _ended(webserver, failed, processes) == "FAILURE"
        bad.unlink()  # fixed: the package's observations again
        execution = runner.projection.project_run(failed)
        assert (execution.partition_key, execution.status.value, execution.error_code) == (
            SPRING_HOUR, "FAILED", "INP-001")
        versions = ResultVersionService(runner.engine)
        assert versions.versions_of_execution(failed) == []

        # "Re-execute" from the failed run's page, with an operator and a reason of its own:
        # recorded as a re-execution of that run; only the subset's assets get a version.
        again = webserver.graphql(REEXECUTE, {"params": {
            "parentRunId": failed, "strategy": "ALL_STEPS",
            "extraTags": _tags({"opsrel/operator": "dana", "opsrel/reason": "file fixed"})}},
        )["launchRunReexecution"]
        assert again["__typename"] == "LaunchRunSuccess", again
        rerun = again["run"]["runId"]
        assert _ended(webserver, rerun, processes) == "SUCCESS"
        execution = runner.projection.project_run(rerun)
        assert (execution.trigger_type, execution.parent_execution_id, execution.status.value,
                execution.partition_key) == ("REEXECUTE", failed, "SUCCESS", SPRING_HOUR)
        assert sorted(v.asset_key for v in versions.versions_of_execution(rerun)) == sorted(
            SUBSET)
        [record] = AuditLogService(runner.engine).list_audit_logs(target_id=rerun)
        assert (record.action, record.operator_id) == ("REEXECUTE_RUN", "dana")

        # An automatic retry of a failed weather hour: the daemon's retry is recorded as RETRY
        # of the failed attempt, keeps its operator, and its versions are that hour's.
        bad = landing / f"weather_{RETRIED_HOUR}.csv"
        bad.write_text("origin,time_hour\n")
        attempt = _launch_subset(webserver, RETRIED_HOUR, {
            "dagster/max_retries": "1", "opsrel/operator": "alice",
            "opsrel/reason": "hour re-delivered"})
        assert _ended(webserver, attempt, processes) == "FAILURE"
        bad.unlink()

        def retry_run():  # type: ignore[no-untyped-def]
            return next((r.run_id for r in runner.instance.get_runs()
                         if r.parent_run_id == attempt), None)

        retry = wait_until(retry_run, WAIT_SECONDS, processes)
        assert _ended(webserver, retry, processes) == "SUCCESS"
        runner.projection.project_run(attempt)
        execution = runner.projection.project_run(retry)
        assert (execution.trigger_type, execution.parent_execution_id, execution.operator_id,
                execution.partition_key) == ("RETRY", attempt, "alice", RETRIED_HOUR)
        assert {v.partition_key for v in versions.versions_of_execution(retry)} == {RETRIED_HOUR}

    versions = ResultVersionService(runner.engine)
    assert sorted(v.partition_key for v in versions.versions_of_execution(range_run["runId"])
                  if v.asset_key == "flight_category") == sorted(RANGE)
    assert {v.partition_key for v in versions.versions_of_execution(backfill.execution_id)
            if v.asset_key == "flight_category"} == set(HOURS)
    second = versions.get_version_history("flight_category", HOURS[1])
    assert [(v.version_number, v.is_active) for v in sorted(
        second, key=lambda v: v.version_number)] == [(1, False), (2, False), (3, True)]
    first = versions.get_version_history("flight_category", HOURS[0])
    assert [(v.version_number, v.is_active) for v in sorted(
        first, key=lambda v: v.version_number)] == [(1, False), (2, True)]
