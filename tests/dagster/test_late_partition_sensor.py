"""The late-partition sensor against a real Dagster instance and the real pipeline: a tick past
the deadline alerts once, later ticks add nothing, and the partition's run (projected by the
projection sensor) resolves the alert. Time is the sensor's injected clock; the job's deadline is
the one migration 0019 gave it (the ``flights_deadline`` fixture)."""

import datetime as dt

import dagster as dg

from opsrel_core.config import AlertSettings
from opsrel_core.services.alerts import OpsAlertService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.sensors.late_partitions import make_late_partition_sensor
from opsrel_dagster.sensors.projection import make_projection_sensor

DAY = "2013-01-01"
DUE = dt.datetime(2013, 1, 2, 11, 0, tzinfo=dt.timezone.utc)  # 06:00 New York time


def test_sensor_alerts_once_past_the_deadline_and_the_run_resolves_it(runner, flights_deadline):
    now = [DUE - dt.timedelta(minutes=5)]
    resources = {"ops_db": flights_defs.resources["ops_db"]}
    late_sensor = make_late_partition_sensor(clock=lambda: now[0])
    assert late_sensor.name == "opsrel_late_partition_sensor"
    assert late_sensor.minimum_interval_seconds == 300
    assert late_sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick() -> str:
        return late_sensor(dg.build_sensor_context(
            instance=runner.instance, resources=resources)).skip_message

    alerts = OpsAlertService(runner.engine, AlertSettings())
    assert "0 late" in tick() and alerts.list_alerts() == []
    now[0] = DUE
    assert tick().endswith(f"1 late [{DAY}]; raised 1, resolved 0")
    for _ in range(3):
        now[0] += dt.timedelta(minutes=5)
        assert tick().endswith("raised 0, resolved 0")
    [alert] = alerts.list_alerts()
    assert (alert.error_code, alert.partition_key, alert.status, alert.occurrence_count) == (
        "BAT-015", DAY, "OPEN", 1)

    result = dg.materialize(FLIGHT_ASSETS, partition_key=DAY, instance=runner.instance,
                            resources=dict(flights_defs.resources))
    make_projection_sensor()(dg.build_sensor_context(instance=runner.instance, resources=resources))
    resolved = alerts.get_alert(alert.alert_id)
    assert (resolved.status, resolved.resolved_by_execution_id) == ("RESOLVED", result.run_id)
    now[0] += dt.timedelta(minutes=5)
    assert "0 late" in tick()
    assert len(alerts.list_alerts()) == 1
