"""Partition keys of an hourly partitions definition, spelled as Dagster spells them, built with
zoneinfo (no Dagster): ``YYYY-MM-DD-HH:MM`` local time, and for the second pass of a repeated
hour the local offset appended (``2013-11-03-01:00-0500``)."""

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc


def hourly_keys(year: int = 2013, timezone: str = "America/New_York") -> tuple[str, ...]:
    """Every local hour of ``year`` in ``timezone``, in time order (8,760 for 2013 in New York:
    the spring-forward day has 23 keys, the fall-back day 25)."""
    zone = ZoneInfo(timezone)
    at = dt.datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    keys: list[str] = []
    seen: set[str] = set()
    while at < end:
        local = at.astimezone(zone)
        key = local.strftime("%Y-%m-%d-%H:%M")
        if key in seen:
            key += local.strftime("%z")
        seen.add(key)
        keys.append(key)
        at += dt.timedelta(hours=1)
    return tuple(keys)


def day_of(keys: tuple[str, ...], day: str) -> list[str]:
    """The keys of local day ``day`` (``YYYY-MM-DD``), in order."""
    return [k for k in keys if k.startswith(day + "-")]
