"""The one assembly point of the opsrel code location (``workspace.yaml`` loads ``defs``)."""

import dagster as dg

from opsrel_dagster.defs.flights import FLIGHTS_JOB_ID, FLIGHTS_LINEAGE, flights_partitions
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.alerting import make_alert_dispatch_sensor
from opsrel_dagster.landing_sensor import make_landing_sensor
from opsrel_dagster.launch_facts import blocking_checks_of
from opsrel_dagster.openlineage import make_lineage_dispatch_sensor
from opsrel_dagster.replay_sensor import make_replay_launch_sensor
from opsrel_dagster.sensors import (
    make_late_partition_sensor, make_projection_sensor, make_run_failure_sensor,
)

defs = dg.Definitions.merge(
    flights_defs,
    dg.Definitions(
        # Small pandas steps: one process per run, not per step (DAGSTER-NOTES: ~4 s instead of
        # ~20 s a partition with the multiprocess executor).
        executor=dg.in_process_executor,
        sensors=[
            make_projection_sensor(
                partitions_by_job={FLIGHTS_JOB_ID: flights_partitions},
                lineage_by_job={FLIGHTS_JOB_ID: FLIGHTS_LINEAGE},
                blocking_checks=blocking_checks_of(flights_defs),
            ),
            make_run_failure_sensor(),
            make_late_partition_sensor(),
            make_landing_sensor(
                FLIGHTS_JOB_ID, dg.AssetSelection.groups("flights"), flights_partitions
            ),
            make_alert_dispatch_sensor(),
            make_lineage_dispatch_sensor(),
            make_replay_launch_sensor(
                FLIGHTS_JOB_ID, dg.AssetSelection.groups("flights"), flights_partitions
            ),
        ]
    ),
)
