"""The admin API and the CLI against the live Dagster processes: a real ``dagster-webserver`` and
``dagster-daemon run`` on loopback, the admin API served over HTTP, and ``opsrel replay`` in
submit mode (``OPSREL_DAGSTER_URL``).

A replay requested through the API (retried, with the same Idempotency-Key) becomes exactly one
run per partition of its plan, launched by the daemon's replay sensor (a range and a full body that
list two days run those two days, as their previews said); the runs and their opsrel tags are read
back through the webserver's GraphQL API, and the audit entry carries the token's operator and
the reason. ``opsrel replay single --wait`` submits a second replay to the same processes and
follows it to SUCCESS. On both backends: on the PostgreSQL leg Dagster's own storage is in
PostgreSQL too (tests/dagster/conftest.py). Processes are killed by pid at teardown
(tests/support/dagster_processes).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.replays import ReplayService
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures
from tests.support.dagster_processes import dagster_daemon, dagster_webserver, wait_until

WAIT_SECONDS = 360
RUNS_BY_TAG = """
query RunsByTag($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def _runs_of_replay(webserver, replay_id: int) -> list[dict]:
    """The Dagster runs tagged with the replay id, as the webserver's GraphQL API shows them."""
    data = webserver.graphql(
        RUNS_BY_TAG, {"tags": [{"key": "opsrel/replay_id", "value": str(replay_id)}]})
    assert data["runsOrError"]["__typename"] == "Runs", data
    return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}}
            for r in data["runsOrError"]["results"]]


def test_api_replay_and_cli_submit_run_in_live_dagster_exactly_once(
    runner, opsrel_env, api, tmp_path,
):
    first_day, days = "2013-07-01", ["2013-07-01", "2013-07-04"]
    [first] = runner.run_partitions([first_day])
    replays = ReplayService(runner.engine)
    # range and full bodies that list two days run those two (preview = launch), not every
    # day between them
    request = {"type": "range", "job_id": "flights_daily", "partitions": days,
               "reason": "re-run after the carrier fix"}
    full_days = ["2013-07-06", "2013-07-09"]
    full = {"type": "full", "job_id": "flights_daily", "partitions": full_days,
            "reason": "two days of a full replay"}
    headers = {"Idempotency-Key": "ticket-7"}
    previews = {kind: api.call("POST", "/admin/batch/replay/preview", token="operator", body=body)
                for kind, body in (("range", request), ("full", full))}
    assert previews["range"].body["partitions"] == days
    assert previews["range"].body["parents"] == {first_day: first.run_id, days[1]: None}
    assert previews["full"].body["partitions"] == full_days

    with dagster_webserver(opsrel_env, tmp_path) as webserver, \
            dagster_daemon(opsrel_env, tmp_path) as daemon:
        processes = [webserver.process, daemon]
        reply = api.call("POST", "/admin/batch/replay", token="operator", body=request,
                         headers=headers)
        assert reply.status == 202, reply.body
        replay_id = reply.body["replay_id"]
        # a client retrying at once (say after a timeout) gets the same replay back
        retried = api.call("POST", "/admin/batch/replay", token="operator", body=request,
                           headers=headers)
        assert (retried.status, retried.body["replay_id"], retried.body["audit_id"]) == (
            202, replay_id, reply.body["audit_id"])
        full_reply = api.call("POST", "/admin/batch/replay", token="operator", body=full)
        assert full_reply.status == 202, full_reply.body
        full_id = full_reply.body["replay_id"]

        for waited in (replay_id, full_id):
            ended = wait_until(
                lambda: (r := replays.get_replay(waited)).status.is_terminal and r,
                WAIT_SECONDS, processes)
            assert ended.status.value == "SUCCESS"
        full_runs = _runs_of_replay(webserver, full_id)
        assert sorted(r["tags"]["dagster/partition"] for r in full_runs) == full_days
        status = api.call("GET", f"/admin/replays/{replay_id}")
        assert status.body["replay"]["status"] == "SUCCESS"
        by_partition = {e["execution"]["partition_key"]: e["execution"]
                        for e in status.body["executions"]}
        assert sorted(by_partition) == days
        assert by_partition[first_day]["parent_execution_id"] == first.run_id

        # the webserver shows one run per partition, launched by the sensor, with the tags
        runs = _runs_of_replay(webserver, replay_id)
        assert sorted(r["tags"]["dagster/partition"] for r in runs) == days
        for run in runs:
            assert run["status"] == "SUCCESS"
            assert run["tags"]["opsrel/operator"] == "operator-op"
            assert run["tags"]["opsrel/reason"] == "re-run after the carrier fix"
            assert run["tags"]["dagster/sensor_name"] == "opsrel_replay_launch_sensor"
            assert by_partition[run["tags"]["dagster/partition"]]["execution_id"] == run["runId"]
        # the audit entry, in the ops schema and through the API, with the token's operator
        audits = AuditLogService(runner.engine).list_audit_logs(operator_id="operator-op")
        assert [a.target_id for a in audits] == [str(full_id), str(replay_id)]  # newest first
        audit = audits[1]
        assert (audit.audit_id, audit.action, audit.reason, audit.target_id) == (
            reply.body["audit_id"], "REPLAY", "re-run after the carrier fix", str(replay_id))
        listed = api.call("GET", "/admin/audit-logs?operator_id=operator-op")
        assert [a["audit_id"] for a in listed.body["items"]] == [a.audit_id for a in audits]

        # a retry after the end is still the same replay and launches nothing
        late = api.call("POST", "/admin/batch/replay", token="operator", body=request,
                        headers=headers)
        assert (late.status, late.body["replay_id"]) == (202, replay_id)

        # submit mode: `opsrel replay` with OPSREL_DAGSTER_URL records the request for the
        # daemon and --wait follows it to the end (the sensor ticked several times meanwhile)
        submitted = subprocess.run(
            [str(Path(sys.executable).parent / "opsrel"), "replay", "single", "2013-07-03",
             "--reason", "submitted from cron", "--operator", "cron-bot", "--wait", "--json"],
            env={**os.environ, **opsrel_env, "OPSREL_DAGSTER_URL": webserver.url},
            capture_output=True, text=True, timeout=WAIT_SECONDS,
        )
        assert submitted.returncode == 0, submitted.stderr + "\n".join(
            p.log_tail() for p in processes)
        shown = json.loads(submitted.stdout)
        assert (shown["status"], shown["mode"]) == ("SUCCESS", "submitted")
        assert [e["partition"] for e in shown["executions"]] == ["2013-07-03"]
        [cli_run] = _runs_of_replay(webserver, shown["replay_id"])
        assert (cli_run["tags"]["opsrel/operator"], cli_run["tags"]["opsrel/reason"]) == (
            "cron-bot", "submitted from cron")
        assert cli_run["runId"] == shown["executions"][0]["execution_id"]

        # exactly once: after all those sensor ticks and three API calls, still one run a day
        assert sorted(r["tags"]["dagster/partition"] for r in _runs_of_replay(
            webserver, replay_id)) == days
        assert sorted(r["tags"]["dagster/partition"] for r in _runs_of_replay(
            webserver, full_id)) == full_days
        assert len(replays.list_replays()) == 3
