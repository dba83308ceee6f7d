"""The hourly weather job from the Dagster UI's path and the daemon's: a partition backfill
launched through the webserver's GraphQL API (what "Materialize" over selected partitions does)
and a replay requested through the admin API, both run by a real ``dagster-daemon``, each hour
recorded once in the ops schema under its own key (the repeated fall-back hour is two)."""

import pytest

from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.result_versions import ResultVersionService
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
