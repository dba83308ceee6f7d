"""Validate and read a delivered flights file (``flights_YYYY-MM-DD.csv`` in the landing folder).

A delivery gets the checks every delivered CSV file gets (``opsrel_dagster.ingest.landing``:
``INP-001`` empty, ``INP-002`` not a valid CSV file, too large or truncated, ``EXT-001`` a
landing folder or file that cannot be read), then the flights ones, in this order:

* a required nycflights13 column missing -> ``INP-003``, naming the columns;
* rows whose ``year``/``month``/``day`` is not the partition date -> ``INP-004``.

A day of nycflights13 is about 100 KB, far below ``MAX_LANDING_BYTES`` (256 MiB).
Framework-free: pandas only.
"""

import datetime as dt
from pathlib import Path

import pandas as pd

from opsrel_core.domain.error_codes import INP_WRONG_PARTITION
from opsrel_core.errors import InputDataException
from opsrel_dagster.ingest.landing import MAX_LANDING_BYTES, find_delivery, read_delivered_csv
from .schema import FLIGHT_COLUMNS, STRING_COLUMNS, canonical_flights

LANDING_PATTERN = "flights_{date}.csv"


def landing_file_for(landing_dir: Path, day: dt.date) -> Path:
    """Return the path a delivery for ``day`` would have: ``<landing_dir>/flights_<date>.csv``."""
    return landing_dir / LANDING_PATTERN.format(date=day.isoformat())


def find_landing_file(landing_dir: Path, day: dt.date) -> Path | None:
    """Return the delivery for ``day`` in a configured landing folder, or None when there is none.

    ``find_delivery`` of ``flights_<date>.csv``: only a definite "no such entry" means no
    delivery; any entry of that name is returned, so that ``read_landing_file`` refuses a bad one.

    Args:
        landing_dir: the configured landing folder; it must exist and be a folder.
        day: the partition's local flight date.

    Returns:
        ``<landing_dir>/flights_<date>.csv`` when an entry of that name exists, else None.

    Raises:
        ExternalApiException: ``EXT-001`` as ``find_delivery``.
    """
    return find_delivery(landing_dir, landing_file_for(landing_dir, day).name)


def read_landing_file(path: Path, day: dt.date, max_bytes: int = MAX_LANDING_BYTES) -> pd.DataFrame:
    """Read and validate one delivered day of flights.

    Args:
        path: the CSV file (UTF-8, comma-separated, one header row with nycflights13's column
            names; extra columns are kept).
        day: the partition's local flight date; every row must belong to it.
        max_bytes: the largest delivery read, in bytes (``MAX_LANDING_BYTES`` by default).

    Returns:
        The canonical flights frame (see ``schema.canonical_flights``), one row per CSV row.

    Raises:
        InputDataException: ``INP-001`` empty file or header only; ``INP-002`` not valid CSV, or
            not a regular file (a directory, a broken symlink, a device or pipe); ``INP-003``
            required columns missing; ``INP-004`` rows of another date. Too large, UTF-16,
            truncated or another separator is ``INP-002`` too. ``details`` holds
            ``source_uri`` and the specifics (columns, row counts).
        ExternalApiException: ``EXT-001`` when the file cannot be read (permissions, I/O error);
            ``details`` holds ``source_uri``.
    """
    frame, uri = read_delivered_csv(path, string_columns=STRING_COLUMNS,
                                    required_columns=FLIGHT_COLUMNS, max_bytes=max_bytes,
                                    typical_size="one day of flights is about 100 KB")
    frame = canonical_flights(frame, source_uri=uri)
    check_partition_date(frame, day, source_uri=uri)
    return frame


def check_partition_date(frame: pd.DataFrame, day: dt.date, *, source_uri: str) -> None:
    """Refuse rows whose ``year``/``month``/``day`` is not ``day``.

    Args:
        frame: canonical flights (integer ``year``, ``month``, ``day`` columns).
        day: the partition's local flight date.
        source_uri: where the rows came from, for the message.

    Raises:
        InputDataException: ``INP-004`` naming how many rows and which dates were found.
    """
    wrong = (frame["year"] != day.year) | (frame["month"] != day.month) | (frame["day"] != day.day)
    if not wrong.any():
        return
    dates = frame.loc[wrong, ["year", "month", "day"]].drop_duplicates()
    found = sorted(f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in dates.itertuples(index=False))
    raise InputDataException(
        INP_WRONG_PARTITION,
        f"{source_uri}: {int(wrong.sum())} of {len(frame)} row(s) are not dated "
        f"{day.isoformat()} (found {', '.join(found[:5])}{' ...' if len(found) > 5 else ''})",
        {
            "source_uri": source_uri,
            "partition_date": day.isoformat(),
            "wrong_rows": int(wrong.sum()),
            "found_dates": found[:20],
        },
    )
