"""TRANSFORM, AGGREGATION and RESULT assets: thin adapters over the pandas functions.

Each asset computes one day or a range of days in one step (single-run backfill policy, like
``raw_flights`` and ``flights_snapshot``): its input is ``{partition_key: Stamped}`` in a range
run (``by_partition``) and each day is computed on its own, so a range gives exactly the values
of the same days run one by one; the output is the mapping, one result version per day
(``VersionedIOManager``).
"""

from typing import Any

import dagster as dg
import pydantic

from opsrel_core.errors import OpsException
from . import explanation, performance, simulation, transform
from .common import FLIGHTS_GROUP, flights_partitions
from .schema import WEATHER_SOURCE_URI
from .source import FlightsSource
from opsrel_dagster.ingest.outputs import derived, stamped_outputs
from opsrel_dagster.ingest.partition_values import by_partition, fail_coded


# Every asset below the snapshot may run a range of days as one run (B2: a replay of the year in
# single runs); a single-partition run is a range of one and behaves as before.
_RANGE = dg.BackfillPolicy.single_run()


@dg.asset(
    description=(
        "TRANSFORM: typed flights (ints, floats, datetimes) with dep_date, sched_dep_at, "
        "cancelled (no dep_time) and on_time (arr_delay <= 15 min and not cancelled)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=_RANGE,
    code_version="1",
    kinds={"pandas"},
)
def clean_flights(context: dg.AssetExecutionContext, flights_snapshot: Any) -> dg.Output:
    """Type each day's snapshot flights and derive cancelled / on_time (``flights_snapshot``: a
    ``Stamped``; in a range run ``{partition_key: Stamped}``)."""
    return stamped_outputs(context, {
        key: derived(day, transform.clean_flights(day.frame))
        for key, day in by_partition(context, flights_snapshot).items()
    })


@dg.asset(
    description=(
        "AGGREGATION: per carrier and origin: flights, cancellations, on-time rate, mean and "
        "90th percentile of departure and arrival delays (minutes)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=_RANGE,
    code_version="1",
    kinds={"pandas"},
)
def carrier_daily_stats(context: dg.AssetExecutionContext, clean_flights: Any) -> dg.Output:
    """Aggregate each day's clean flights per carrier and origin."""
    return stamped_outputs(context, {
        key: derived(day, performance.carrier_daily_stats(day.frame))
        for key, day in by_partition(context, clean_flights).items()
    })


@dg.asset(
    description=(
        "RESULT: on-time performance per carrier: flights, cancelled, on_time_rate. "
        "Its flights add up to the snapshot's row count (LOG-003 otherwise)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=_RANGE,
    code_version="1",
    kinds={"pandas"},
)
def ontime_performance(context: dg.AssetExecutionContext, carrier_daily_stats: Any) -> dg.Output:
    """Roll each day's carrier/origin statistics up per carrier, checking the flight total (the
    first day that does not add up fails the step with LOG-003 and its day)."""
    results = {}
    for key, day in by_partition(context, carrier_daily_stats).items():
        try:
            perf = performance.ontime_performance(day.frame, day.source_rows)
        except OpsException as exc:
            raise fail_coded(exc, context, key) from exc
        results[key] = derived(day, perf)
    return stamped_outputs(context, results, per_day=lambda _key, day: {
        "flights_total": int(day.frame["flights"].sum())})


@dg.asset(
    description=(
        "RESULT: departure delay in bad-weather hours (precip > 0, visib < 3 mi or wind > 25 mph "
        "at the origin, nycflights13 weather joined on origin + time_hour) vs other hours, and "
        "the share of delay minutes in bad-weather hours, per carrier and origin."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=_RANGE,
    code_version="1",
    kinds={"pandas"},
)
def delay_explanation(
    context: dg.AssetExecutionContext, clean_flights: Any, flights_source: FlightsSource
) -> dg.Output:
    """Join each day's departures to the origin's hourly weather and compare delays."""
    weather = flights_source.weather()
    return stamped_outputs(
        context,
        {key: derived(day, explanation.delay_explanation(day.frame, weather))
         for key, day in by_partition(context, clean_flights).items()},
        per_day=lambda _key, day: {
            "unknown_weather_flights": int(day.frame["unknown_weather_flights"].sum())},
        weather_source_uri=WEATHER_SOURCE_URI,
    )


class DelaySimulationConfig(dg.Config):
    """Parameters of the delay simulation (part of the seed: a change gives new draws)."""

    n_draws: int = pydantic.Field(default=1000, ge=1, description="bootstrap draws per carrier")
    salt: int = pydantic.Field(
        default=0, description="extra seed input, for an independent replicate"
    )


@dg.asset(
    description=(
        "RESULT: seeded Monte-Carlo estimate of the next day's departure delay per carrier "
        "(bootstrap of the day's delays; mean, p50, p90 in minutes). The seed comes from the "
        "partition key and the parameters: the same inputs give identical output."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=_RANGE,
    code_version="1",
    kinds={"pandas", "numpy"},
)
def delay_simulation(
    context: dg.AssetExecutionContext, config: DelaySimulationConfig, clean_flights: Any
) -> dg.Output:
    """Bootstrap each day's departure delays per carrier with a seed derived from its day."""
    return stamped_outputs(
        context,
        {key: derived(day, simulation.delay_simulation(
            day.frame, key, n_draws=config.n_draws, salt=config.salt))
         for key, day in by_partition(context, clean_flights).items()},
        n_draws=config.n_draws, salt=config.salt,
    )
