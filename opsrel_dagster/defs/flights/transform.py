"""TRANSFORM: typed flights with derived fields. Framework-free: pandas only."""

import pandas as pd

CLEAN_COLUMNS: tuple[str, ...] = (
    "dep_date", "carrier", "flight", "tailnum", "origin", "dest",
    "sched_dep_at", "time_hour", "dep_time", "sched_dep_time", "dep_delay",
    "arr_time", "sched_arr_time", "arr_delay", "air_time", "distance",
    "cancelled", "on_time",
)

ON_TIME_THRESHOLD_MIN = 15.0


def clean_flights(raw: pd.DataFrame) -> pd.DataFrame:
    """Type a day's flights and derive the fields the aggregations use.

    Args:
        raw: canonical flights (``schema.canonical_flights``): integer ``year``, ``month``,
            ``day``, ``hour``, ``minute``; float ``dep_time``, ``dep_delay``, ``arr_delay`` ...;
            text ``carrier``, ``origin``, ``time_hour`` (UTC, ``2013-01-01T10:00:00Z``).

    Returns:
        One row per input flight with ``CLEAN_COLUMNS``:

        * ``dep_date`` (``datetime64[ns]``, midnight of the local flight date);
        * ``sched_dep_at`` (``datetime64[ns]``, local scheduled departure, naive New York time);
        * ``time_hour`` (``datetime64[ns, UTC]``, the scheduled hour, the weather join key);
        * ``flight``, ``sched_dep_time``, ``sched_arr_time``, ``distance`` as ``int64`` (miles);
        * ``dep_time``, ``arr_time`` (HHMM), ``dep_delay``, ``arr_delay``, ``air_time`` (minutes)
          as ``float64``, NaN where not flown or not measured;
        * ``cancelled`` (bool): no departure time;
        * ``on_time`` (bool): not cancelled and ``arr_delay <= 15`` minutes (a diverted flight,
          with no arrival delay, is not on time).

    Raises:
        KeyError: a required column is missing (the source validates this first).
        ValueError: ``time_hour`` is not a parseable timestamp.
    """
    out = pd.DataFrame(index=raw.index)
    dates = pd.to_datetime(
        {"year": raw["year"], "month": raw["month"], "day": raw["day"]}, errors="raise"
    )
    out["dep_date"] = dates
    for col in ("carrier", "flight", "tailnum", "origin", "dest"):
        out[col] = raw[col]
    out["sched_dep_at"] = (
        dates
        + pd.to_timedelta(raw["hour"].astype("int64"), unit="h")
        + pd.to_timedelta(raw["minute"].astype("int64"), unit="m")
    )
    out["time_hour"] = pd.to_datetime(raw["time_hour"], utc=True, format="ISO8601")
    for col in ("flight", "sched_dep_time", "sched_arr_time", "distance"):
        out[col] = raw[col].astype("int64")
    for col in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"):
        out[col] = raw[col].astype("float64")
    out["cancelled"] = out["dep_time"].isna()
    # NaN <= 15 is False: a flight without an arrival delay is never counted on time.
    out["on_time"] = (out["arr_delay"] <= ON_TIME_THRESHOLD_MIN) & ~out["cancelled"]
    return out.loc[:, list(CLEAN_COLUMNS)].reset_index(drop=True)
