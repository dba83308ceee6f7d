"""RESULT: how much departure delay goes with bad weather at the origin airport.

Each flight is joined to the hourly weather of its origin at its scheduled hour (``origin`` +
``time_hour``, UTC). An hour is *bad* when it rains or snows (``precip > 0`` inches), visibility
is under 3 miles or the wind is over 25 mph. The weather table misses some hours: those flights
are counted apart (``unknown_weather_flights``) and left out of the bad/other comparison.
Framework-free: pandas only.
"""

import pandas as pd

BAD_PRECIP_IN = 0.0
BAD_VISIB_MI = 3.0
BAD_WIND_MPH = 25.0

EXPLANATION_COLUMNS: tuple[str, ...] = (
    "carrier", "origin", "departed", "bad_weather_flights", "other_flights",
    "unknown_weather_flights", "mean_dep_delay_bad", "mean_dep_delay_other",
    "delay_minutes_total", "delay_minutes_bad", "bad_weather_delay_share",
)


def weather_condition(weather: pd.DataFrame) -> pd.DataFrame:
    """Classify weather hours.

    Args:
        weather: hourly weather (``origin``, ``time_hour`` as UTC text or timestamps,
            ``precip`` inches, ``visib`` miles, ``wind_speed`` mph; NaN allowed).

    Returns:
        ``origin``, ``time_hour`` (``datetime64[ns, UTC]``) and ``bad_weather`` (bool); a NaN
        measure does not make an hour bad by itself.
    """
    out = weather.loc[:, ["origin"]].copy()
    times = weather["time_hour"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True, format="ISO8601")
    out["time_hour"] = times
    out["bad_weather"] = (
        (weather["precip"] > BAD_PRECIP_IN)
        | (weather["visib"] < BAD_VISIB_MI)
        | (weather["wind_speed"] > BAD_WIND_MPH)
    )
    return out.drop_duplicates(["origin", "time_hour"], keep="first")


def delay_explanation(clean: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Compare departure delays in bad-weather hours with other hours, per carrier and origin.

    Args:
        clean: output of ``transform.clean_flights``.
        weather: hourly weather as taken by ``weather_condition``.

    Returns:
        One row per (carrier, origin) with departed flights, sorted, with
        ``EXPLANATION_COLUMNS``: counts of departed flights in bad / other / unknown weather
        hours; mean ``dep_delay`` (minutes, early departures negative) in bad and other hours
        (NaN when there was no such flight); delay minutes (positive ``dep_delay`` only) in total
        and in bad hours; ``bad_weather_delay_share`` = bad-hour delay minutes / delay minutes of
        flights with known weather (0..1, NaN when there were none).
    """
    departed = clean.loc[~clean["cancelled"] & clean["dep_delay"].notna(),
                         ["carrier", "origin", "time_hour", "dep_delay"]]
    joined = departed.merge(
        weather_condition(weather), on=["origin", "time_hour"], how="left", validate="many_to_one"
    )
    known = joined["bad_weather"].notna()
    bad = known & joined["bad_weather"].astype("boolean").fillna(False).astype(bool)
    other = known & ~bad
    minutes = joined["dep_delay"].clip(lower=0.0)
    parts = pd.DataFrame(
        {
            "carrier": joined["carrier"],
            "origin": joined["origin"],
            "departed": 1,
            "bad_weather_flights": bad.astype("int64"),
            "other_flights": other.astype("int64"),
            "unknown_weather_flights": (~known).astype("int64"),
            "delay_bad": joined["dep_delay"].where(bad),
            "delay_other": joined["dep_delay"].where(other),
            "delay_minutes_total": minutes,
            "delay_minutes_known": minutes.where(known, 0.0),
            "delay_minutes_bad": minutes.where(bad, 0.0),
        }
    )
    out = parts.groupby(["carrier", "origin"], sort=True).agg(
        departed=("departed", "sum"),
        bad_weather_flights=("bad_weather_flights", "sum"),
        other_flights=("other_flights", "sum"),
        unknown_weather_flights=("unknown_weather_flights", "sum"),
        mean_dep_delay_bad=("delay_bad", "mean"),
        mean_dep_delay_other=("delay_other", "mean"),
        delay_minutes_total=("delay_minutes_total", "sum"),
        delay_minutes_known=("delay_minutes_known", "sum"),
        delay_minutes_bad=("delay_minutes_bad", "sum"),
    ).reset_index()
    known_minutes = out["delay_minutes_known"].where(out["delay_minutes_known"] > 0)
    out["bad_weather_delay_share"] = out["delay_minutes_bad"] / known_minutes
    return out.loc[:, list(EXPLANATION_COLUMNS)]
