"""The sensor that checks the jobs' partition deadlines (every 5 minutes).

It starts RUNNING (``DefaultSensorStatus.RUNNING``): nothing has to be switched on in the UI.
"""

import datetime as dt
from collections.abc import Callable

import dagster as dg

from opsrel_core.config import AlertSettings
from opsrel_core.persistence.tables import utcnow
from opsrel_core.services.late_partitions import LatePartitionService
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.sensors.acting import acts_as_sensor

LATE_PARTITION_INTERVAL_SECONDS = 300


def make_late_partition_sensor(
    name: str = "opsrel_late_partition_sensor",
    minimum_interval_seconds: int = LATE_PARTITION_INTERVAL_SECONDS,
    clock: Callable[[], dt.datetime] = utcnow,
) -> dg.SensorDefinition:
    """Build the sensor that checks the partition deadlines of the catalog's jobs each tick.

    Runs ``LatePartitionService.check`` (``opsrel_core.services.late_partitions``): one BAT-015
    alert per partition past its deadline without an active version, resolved when it arrives.

    Args:
        name: sensor name.
        minimum_interval_seconds: seconds between ticks (5 minutes).
        clock: the current UTC time; injectable so a test moves time past a deadline.

    Returns:
        A sensor requiring the ``ops_db`` resource; alert channels come from the environment.
    """

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts once on each partition with no active version past its job's "
                    "deadline (BAT-015); resolves the alert when the version arrives.",
    )
    @acts_as_sensor(name)
    def _late_partition_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        report = LatePartitionService(ops_db.engine, AlertSettings.from_env(), clock=clock).check()
        return dg.SkipReason(report.summary())

    return _late_partition_sensor
