"""Partition keys as a job's partitions definition spells and orders them.

The library never does date arithmetic over keys: a key, its neighbours and the keys of a local
day come from the partitions definition itself (on the fall-back day of an hourly New York set,
``2013-11-03-01:00-0500`` follows ``2013-11-03-01:00`` and the day has 25 keys).
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import dagster as dg


def adjacent_ranges(order: "Sequence[str] | Mapping[str, int]", keys: "Sequence[str]",
                    size: int) -> list[list[str]]:
    """Split ``keys``, in their order, into runs of up to ``size`` keys that are neighbours in
    the job's key order ``order`` (a list of every key, or key -> position); a gap or a key
    outside ``order`` starts a new run, since a range run covers every key between its ends.

    Example: order ``a b c d e``, keys ``a b d e``, size 3 -> ``[[a, b], [d, e]]``.
    """
    position = order if isinstance(order, Mapping) else {k: i for i, k in enumerate(order)}
    runs: list[list[str]] = []
    for key in keys:
        last = runs[-1] if runs else None
        here = position.get(key)
        before = position.get(last[-1]) if last else None
        if (last is not None and len(last) < size and here is not None and before is not None
                and here == before + 1):
            last.append(key)
        else:
            runs.append([key])
    return runs


def partitions_kind(definition: dg.PartitionsDefinition) -> str:
    """How a partitions definition cuts its keys, as the batch-job catalog names it: ``daily``,
    ``hourly``, ``weekly``, ``monthly`` (a time window of that cadence), ``time_window`` (any
    other cron), ``static`` or ``other``."""
    if isinstance(definition, dg.StaticPartitionsDefinition):
        return "static"
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        for kind, cls in (("hourly", dg.HourlyPartitionsDefinition),
                          ("daily", dg.DailyPartitionsDefinition),
                          ("weekly", dg.WeeklyPartitionsDefinition),
                          ("monthly", dg.MonthlyPartitionsDefinition)):
            if isinstance(definition, cls):
                return kind
        return "time_window"
    return "other"


def local_day_keys(definition: dg.PartitionsDefinition, value: str) -> list[str] | None:
    """The keys whose time window starts on the local day ``value`` (``YYYY-MM-DD``, in the
    definition's timezone), through the definition itself.

    Returns:
        The day's keys in order (empty when the day has none); None when ``value`` is not a
        ``YYYY-MM-DD`` date or the definition is not a time window.
    """
    if not isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    if day.isoformat() != value:
        return None
    zone = ZoneInfo(definition.timezone)
    window = dg.TimeWindow(dt.datetime.combine(day, dt.time(), zone),
                           dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone))
    return definition.get_partition_keys_in_time_window(window)
