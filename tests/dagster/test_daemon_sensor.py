"""With the real dagster-daemon running the code location, the projection sensor records runs.

Runs are made in this process against the persistent instance (only the IO manager's in-run
recording, which leaves them RUNNING in the ops schema), then a real
``dagster-daemon run`` process evaluates ``opsrel_projection_sensor``; the test waits for the
executions to appear in the ops schema. The daemon is killed by pid at teardown
(tests/support/dagster_processes).
"""

import dagster as dg

from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs
from tests.support.dagster_processes import dagster_daemon, wait_until

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

    with dagster_daemon(opsrel_env, tmp_path) as daemon:

        def recorded() -> list:
            found = [service.find_execution(r.run_id) for r in results]
            return found if all(e is not None and e.status.value == "SUCCESS" for e in found) else []

        found = wait_until(recorded, DAEMON_WAIT_SECONDS, [daemon])
        assert [e.partition_key for e in found] == ["2013-01-10", "2013-01-11"]
