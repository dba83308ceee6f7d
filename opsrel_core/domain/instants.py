"""Instants given by clients (``since``, ``until``, cursors): always compared in UTC. Pure.

A time with an offset may lie outside what a UTC datetime can hold once converted:
``9999-12-31T23:59:59-14:00`` is in year 10000 in UTC, ``0001-01-01T00:00:00+14:00`` in year 0.
Such a value is bad input (a 422 problem in the admin API), never a server error.
"""

import datetime as dt
from typing import Any


def to_utc(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC; a naive datetime is taken as UTC already.

    Args:
        value: a datetime, naive (UTC) or with any offset.

    Returns:
        An aware datetime with ``tzinfo`` UTC.

    Raises:
        ValueError: the instant falls outside years 1..9999 in UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is outside the range of times (years 1 to 9999 in UTC)"
        ) from None


def utc_if_instant(value: Any) -> Any:
    """``to_utc`` of a datetime; any other value (None, a number, a string) as it is.

    For rows read back whole: SQLite returns naive datetimes, and everything stored is UTC.
    """
    return to_utc(value) if isinstance(value, dt.datetime) else value
