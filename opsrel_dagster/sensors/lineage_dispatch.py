"""OpenLineage delivery from Dagster and the CLI: the dispatch sensor and ``dispatch_lineage``.

The outbox (``lineage_event`` rows) is written by the projection with each execution's start and
end; this module only sends what is due to ``OPSREL_OPENLINEAGE_URL``. Without that setting
nothing is recorded and nothing is sent.
"""

import dagster as dg
import sqlalchemy as sa

from opsrel_core.notifiers.openlineage_http import OpenLineageHttpSender
from opsrel_core.config import OpenLineageSettings
from opsrel_core.services.provenance import LineageDispatcher, LineageDispatchReport
from opsrel_dagster.resources import OpsDatabase

DISPATCH_INTERVAL_SECONDS = 30


def dispatch_lineage(
    engine: sa.Engine, settings: OpenLineageSettings | None = None, limit: int = 100
) -> LineageDispatchReport | None:
    """Send the due OpenLineage run events once.

    Args:
        engine: engine of the ops database.
        settings: OpenLineage settings; from the environment when omitted.
        limit: at most this many events in this call.

    Returns:
        The dispatcher's report, or None when OpenLineage is off.

    Raises:
        ValueError: the OpenLineage settings in the environment are invalid (the message names
            the variable, never the API key).
    """
    settings = settings or OpenLineageSettings.from_env()
    if not settings.enabled:
        return None
    sender = OpenLineageHttpSender(settings)
    return LineageDispatcher(engine, settings, sender).dispatch_once(limit=limit)


def make_lineage_dispatch_sensor(
    name: str = "opsrel_lineage_dispatch_sensor",
    minimum_interval_seconds: int = DISPATCH_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """Build the sensor that sends pending OpenLineage run events each tick (requires
    ``ops_db``)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends pending OpenLineage run events to OPSREL_OPENLINEAGE_URL and retries "
                    "failed ones.",
    )
    def _dispatch_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        report = dispatch_lineage(ops_db.engine)
        if report is None:
            return dg.SkipReason("OpenLineage is off (OPSREL_OPENLINEAGE_URL is unset)")
        return dg.SkipReason(
            f"sent {report.sent}, retrying {report.retried}, failed {report.failed}"
        )

    return _dispatch_sensor
