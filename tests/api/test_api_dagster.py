"""A replay requested through the admin API runs in Dagster, launched by the real daemon."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import uvicorn

from opsrel_core.entrypoints.api import create_app
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.settings import OpsSettings
from tests.api.conftest import Api, _free_port
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 240


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_api_replay_is_launched_by_the_daemon_with_its_tags(runner, opsrel_env, database_url, tmp_path):
    import threading

    day = "2013-07-01"
    [first] = runner.run_partitions([day])
    token = ApiTokenService(runner.engine).create("nina", "operator")[0]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(OpsSettings(database_url=database_url, home=tmp_path)),
        host="127.0.0.1", port=port, log_level="warning", lifespan="on",
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env={**os.environ, **opsrel_env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        api = Api(f"http://127.0.0.1:{port}", {"operator": token})
        request = {
            "type": "single", "job_id": "flights_daily", "partitions": [day],
            "reason": "re-run after the carrier fix",
        }
        reply = api.call("POST", "/admin/batch/replay", token="operator", body=request,
                         headers={"Idempotency-Key": "ticket-7"})
        assert reply.status == 202, reply.body
        replay_id = reply.body["replay_id"]
        executions = BatchExecutionService(runner.engine)
        deadline = time.monotonic() + WAIT_SECONDS
        done = None
        while time.monotonic() < deadline and done is None:
            for e in executions.list_executions(partition_key=day, limit=10):
                if e.replay_id == replay_id and e.status.is_terminal:
                    done = e
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        assert done is not None, (tmp_path / "daemon.log").read_text()[-3000:]
        assert done.status.value == "SUCCESS", done
        assert (done.operator_id, done.parent_execution_id) == ("nina", first.run_id)
        run = runner.instance.get_run_by_id(done.execution_id)
        assert run.tags["opsrel/replay_id"] == str(replay_id)
        assert run.tags["opsrel/reason"] == "re-run after the carrier fix"
        assert run.tags["dagster/sensor_name"] == "opsrel_replay_launch_sensor"
        [audit] = AuditLogService(runner.engine).list_audit_logs(operator_id="nina")
        assert (audit.action, audit.reason, audit.audit_id) == (
            "REPLAY", "re-run after the carrier fix", reply.body["audit_id"]
        )
        # the same request again (a retried call) is the same replay and launches nothing more
        again = api.call("POST", "/admin/batch/replay", token="operator", body=request,
                         headers={"Idempotency-Key": "ticket-7"})
        assert again.status == 202 and again.body["replay_id"] == replay_id
        time.sleep(20)  # more than one sensor interval
        runs = runner.instance.get_runs(dg.RunsFilter(tags={"opsrel/replay_id": str(replay_id)}))
        assert len(runs) == 1
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
        log.close()
        server.should_exit = True
        thread.join(timeout=20)
