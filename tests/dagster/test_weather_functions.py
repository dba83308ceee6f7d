"""The weather pipeline's plain functions by hand: units, flight categories, rules, deliveries."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsrel_core.errors import InputDataException
from opsrel_dagster.checks.evaluation import evaluate_rule
from opsrel_dagster.defs.flights.package_data import WEATHER_COLUMNS
from opsrel_dagster.defs.weather import WEATHER_RULES
from opsrel_dagster.defs.weather import transform
from opsrel_dagster.defs.weather.common import window_of
from opsrel_dagster.defs.weather.source import read_weather_file

RULES = {rule.rule_id: rule for rule in WEATHER_RULES}
HOUR = "2013-11-03-01:00-0500"  # 06:00 UTC


def _observations(**changes: list) -> pd.DataFrame:
    frame = pd.DataFrame({
        "origin": ["EWR", "JFK", "LGA"], "time_hour": ["2013-11-03T06:00:00Z"] * 3,
        "temp": [32.0, 50.0, 212.0 - 180.0], "dewp": [30.0, 40.0, 20.0],
        "humid": [90.0, 60.0, 50.0], "wind_dir": [270.0, 10.0, np.nan],
        "wind_speed": [10.0, 0.0, 20.0], "wind_gust": [np.nan, np.nan, 25.0],
        "precip": [0.0, 0.1, 0.0], "pressure": [1012.0, np.nan, 1020.0],
        "visib": [10.0, 3.0, 0.5],
    })
    return frame.assign(**changes)


def test_clean_weather_keeps_the_units_and_adds_metric_ones():
    clean = transform.clean_weather(_observations())
    assert str(clean["time_hour"].dtype) == "datetime64[ns, UTC]"
    assert list(clean["temp"]) == [32.0, 50.0, 32.0]
    assert list(clean["temp_c"]) == pytest.approx([0.0, 10.0, 0.0])
    assert clean["wind_speed_kmh"].iloc[0] == pytest.approx(16.09344)
    assert clean["precip_mm"].iloc[1] == pytest.approx(2.54)
    assert clean["visib_km"].iloc[2] == pytest.approx(0.804672)
    assert math.isnan(clean["wind_gust_kmh"].iloc[0])


def test_flight_category_bands_by_visibility():
    visib = pd.Series([10, 5.01, 5, 3, 2.99, 1, 0.99, 0, np.nan])
    assert list(transform.category_of(visib)) == [
        "VFR", "VFR", "MVFR", "MVFR", "IFR", "IFR", "LIFR", "LIFR", "UNKNOWN"]


def test_each_airport_gets_a_row_with_its_departures():
    window = window_of(HOUR)
    hourly = transform.airport_hour_weather(
        transform.clean_weather(_observations().iloc[:2]), window)
    departures = pd.DataFrame({"origin": ["EWR", "EWR", "LGA"], "dep_delay": [10.0, np.nan, -2.0],
                               "cancelled": [False, True, False]})
    result = transform.flight_category(hourly, departures)
    assert list(result["origin"]) == ["EWR", "JFK", "LGA"]
    assert list(result["observations"]) == [1, 1, 0]
    assert list(result["flight_category"]) == ["VFR", "MVFR", "UNKNOWN"]
    assert list(result["departures"]) == [2, 0, 1] and list(result["cancelled"]) == [1, 0, 0]
    assert list(result["mean_dep_delay_min"].fillna(-99)) == [10.0, -99, -2.0]
    assert set(result["time_hour"]) == {pd.Timestamp("2013-11-03T06:00:00Z")}


@pytest.mark.parametrize(("rule", "column", "value"), [
    ("temp_range", "temp", 121.0), ("humid_range", "humid", 100.5),
    ("wind_speed_range", "wind_speed", 1048.36), ("pressure_range", "pressure", 899.0),
    ("visib_range", "visib", 11.0), ("gust_not_below_speed", "wind_gust", 5.0),
    ("dewp_not_above_temp", "dewp", 60.0),
])
def test_each_rule_fails_on_its_bad_value_and_allows_missing_values(rule, column, value):
    clean = transform.clean_weather(_observations())
    assert {r: evaluate_rule(RULES[r], clean).status for r in RULES} == dict.fromkeys(RULES, "PASS")
    bad = clean.copy()
    bad.loc[2, column] = value
    outcome = evaluate_rule(RULES[rule], bad)
    assert (outcome.status, outcome.failing_rows) == (RULES[rule].severity, 1)
    missing = clean.copy()
    missing.loc[:, column] = np.nan
    assert evaluate_rule(RULES[rule], missing).status == "PASS"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"weather_{HOUR}.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("content", "code"), [
    ("", "INP-001"),
    (",".join(WEATHER_COLUMNS) + "\n", "INP-001"),
    ("origin;time_hour\nEWR;2013-11-03T06:00:00Z\n", "INP-002"),
    ("origin,time_hour,temp\nEWR,2013-11-03T06:00:00Z,1\n", "INP-003"),
    ("origin,time_hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,pressure,visib\n"
     "EWR,2013-11-03T05:00:00Z,50,40,60,10,5,,0,1012,10\n", "INP-004"),
    ("origin,time_hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,pressure,visib\n"
     "EWR,2013-11-03T06:00:00Z,warm,40,60,10,5,,0,1012,10\n", "INP-002"),
], ids=["empty", "header_only", "semicolons", "missing_columns", "other_hour", "text_value"])
def test_a_bad_delivery_fails_with_its_code(tmp_path, content, code):
    with pytest.raises(InputDataException) as raised:
        read_weather_file(_write(tmp_path, content), window_of(HOUR))
    assert raised.value.code == code


def test_a_good_delivery_is_canonical(tmp_path):
    path = _write(tmp_path, "visib,origin,time_hour,temp,dewp,humid,wind_dir,wind_speed,"
                            "wind_gust,precip,pressure,year\n"
                            "10,JFK,2013-11-03T06:00:00+00:00,50,40,60,10,5,,0,1012,2013\n")
    frame = read_weather_file(path, window_of(HOUR))
    assert list(frame.columns) == [*WEATHER_COLUMNS, "year"]
    assert frame["time_hour"].tolist() == ["2013-11-03T06:00:00Z"]
    assert frame["wind_gust"].isna().all() and frame["visib"].tolist() == [10.0]
