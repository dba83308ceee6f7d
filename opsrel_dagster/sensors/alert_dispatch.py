"""Alert delivery from Dagster: the dispatch sensor over ``services.alert_dispatch``.

Each tick sends what is pending, with the channels the environment configures; a failed tick
raises only redacted text. ``dispatch_alerts`` is re-exported for the runner.
"""

import dagster as dg

from opsrel_core.log_redaction import redactor_from_env
from opsrel_core.services.alert_dispatch import dispatch_alerts

__all__ = ["DISPATCH_INTERVAL_SECONDS", "DispatchSensorError", "dispatch_alerts",
           "make_alert_dispatch_sensor"]
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.sensors.acting import acts_as_sensor

DISPATCH_INTERVAL_SECONDS = 30


class DispatchSensorError(RuntimeError):
    """The dispatch sensor failed; the message is redacted and the original chain is dropped."""


def make_alert_dispatch_sensor(
    name: str = "opsrel_alert_dispatch_sensor",
    minimum_interval_seconds: int = DISPATCH_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """Build the sensor that sends pending alert deliveries each tick (requires ``ops_db``)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends pending alert deliveries (email, Slack, PagerDuty) and retries failed ones.",
    )
    @acts_as_sensor(name)
    def _dispatch_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        try:
            report = dispatch_alerts(ops_db.engine)
        except Exception as exc:
            # Dagster stores a sensor's error with its traceback in the instance (DAGSTER_HOME
            # or its database): raise only the redacted text, without the chain.
            redactor = redactor_from_env()
            if not redactor.traceback_holds_secret(exc):
                raise
            raise DispatchSensorError(redactor.describe_exception(exc)) from None
        return dg.SkipReason(
            f"sent {report.sent}, retrying {report.retried}, failed {report.failed}"
        )

    return _dispatch_sensor
