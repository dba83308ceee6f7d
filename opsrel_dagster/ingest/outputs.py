"""The output of a step below the snapshot: its tables, each stamped with the snapshot it was
computed from, with the metadata every such step shows.

A step computes each partition on its own (``by_partition``), so a range run gives exactly the
values of the same partitions run one by one; its output is ``{partition_key: Stamped}`` then.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from opsrel_dagster.ingest.metadata import (
    BY_PARTITION_KEY,
    COLUMN_SCHEMA_KEY,
    ROW_COUNT_KEY,
    SNAPSHOT_ID_KEY,
    SNAPSHOT_IDS_KEY,
    SOURCE_ROWS_KEY,
    column_schema,
)
from opsrel_dagster.ingest.snapshots import Stamped


def derived(parent: Stamped, frame: pd.DataFrame) -> Stamped:
    """``frame`` stamped with the snapshot ``parent`` derives from (its id and source rows)."""
    # Every table below the snapshot carries the snapshot it was computed from.
    return Stamped(snapshot_id=parent.snapshot_id, source_rows=parent.source_rows, frame=frame)


def stamped_output(stamped: Stamped, **metadata: object) -> dg.Output:
    """Wrap a stamped frame as the asset's output, with the metadata every asset shows.

    Args:
        stamped: the asset's table and the snapshot it derives from.
        **metadata: extra materialization metadata (numbers, text or ``dg.MetadataValue``).

    Returns:
        An Output whose metadata holds ``dagster/row_count`` (rows of ``stamped.frame``),
        ``snapshot_id``, ``source_rows`` and ``dagster/column_schema``, plus ``metadata``.
    """
    return dg.Output(
        stamped,
        metadata={
            ROW_COUNT_KEY: len(stamped.frame),
            SNAPSHOT_ID_KEY: stamped.snapshot_id,
            SOURCE_ROWS_KEY: stamped.source_rows,
            COLUMN_SCHEMA_KEY: column_schema(stamped.frame),
            **metadata,
        },
    )


def stamped_outputs(
    context: dg.AssetExecutionContext,
    stamped: dict[str, Stamped],
    per_day: Callable[[str, Stamped], dict[str, object]] | None = None,
    **metadata: object,
) -> dg.Output:
    """A step's output over its partitions: ``stamped_output`` of the one value in a
    single-partition run; in a range run (single-run backfill policy) the mapping
    ``{partition_key: Stamped}`` with the range's totals and each partition's figures.

    Args:
        context: the running asset.
        stamped: ``{partition_key: Stamped}`` for every partition of the run.
        per_day: each partition's extra metadata (e.g. the flight total), from its key and value.
        **metadata: extra metadata that holds for every partition (e.g. parameters).

    Returns:
        A single-partition run: exactly what ``stamped_output`` returns. A range run: an Output
        of the mapping whose metadata holds ``dagster/row_count`` (all partitions' rows),
        ``opsrel/snapshot_ids`` (``{key: snapshot_id}``), ``opsrel/by_partition`` (``{key:
        {row_count, source_rows, **per_day}}``), the first partition's column schema and
        ``metadata``.
    """
    extra = {key: per_day(key, value) if per_day else {} for key, value in stamped.items()}
    if context.has_partition_key:
        [(key, value)] = stamped.items()
        return stamped_output(value, **metadata, **extra[key])
    days = {
        key: {"row_count": len(value.frame), SOURCE_ROWS_KEY: value.source_rows, **extra[key]}
        for key, value in stamped.items()
    }
    return dg.Output(
        stamped,
        metadata={
            ROW_COUNT_KEY: sum(day["row_count"] for day in days.values()),
            SNAPSHOT_IDS_KEY: dg.MetadataValue.json(
                {key: value.snapshot_id for key, value in stamped.items()}),
            BY_PARTITION_KEY: dg.MetadataValue.json(days),
            COLUMN_SCHEMA_KEY: column_schema(next(iter(stamped.values())).frame),
            **metadata,
        },
    )
