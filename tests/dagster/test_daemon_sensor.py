"""With the real dagster-daemon running the code location, the projection sensor records runs.

Runs are made in this process against the persistent instance (only the IO manager's in-run
recording, which leaves them RUNNING in the ops schema), then a real
``dagster-daemon run`` process evaluates ``opsrel_projection_sensor``; the test waits for the
executions to appear in the ops schema. The daemon is killed by pid at teardown.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs

REPO = Path(__file__).resolve().parents[2]
DAEMON_WAIT_SECONDS = 120


def test_daemon_runs_the_projection_sensor(runner, opsrel_env, tmp_path):
    results = [
        dg.materialize(
            FLIGHT_ASSETS, partition_key=key, instance=runner.instance,
            resources=dict(flights_defs.resources),
        )
        for key in ("2013-01-10", "2013-01-11")
    ]
    service = BatchExecutionService(runner.engine)
    # The IO manager recorded the runs as they went; nothing recorded their end yet.
    assert [service.find_execution(r.run_id).status.value for r in results] == ["RUNNING"] * 2

    daemon_bin = Path(sys.executable).parent / "dagster-daemon"
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen(
        [str(daemon_bin), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env={**os.environ, **opsrel_env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DAEMON_WAIT_SECONDS
        while time.monotonic() < deadline:
            found = [service.find_execution(r.run_id) for r in results]
            if all(e is not None and e.status.value == "SUCCESS" for e in found):
                break
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        found = [service.find_execution(r.run_id) for r in results]
        assert [e.status.value if e else None for e in found] == ["SUCCESS", "SUCCESS"], (
            (tmp_path / "daemon.log").read_text()[-3000:]
        )
        assert [e.partition_key for e in found] == ["2013-01-10", "2013-01-11"]
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
        log.close()
