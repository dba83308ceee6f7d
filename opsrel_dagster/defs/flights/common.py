"""Conventions shared by the flights assets: partitions, group, job id and output metadata."""

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TypeVar

import dagster as dg
import pandas as pd

from opsrel_core.errors import OpsException
from .snapshot_store import Stamped
from opsrel_dagster.failures import as_failure
from opsrel_dagster.jobs import BY_PARTITION_METADATA, SNAPSHOT_IDS_METADATA

T = TypeVar("T")

FLIGHTS_GROUP = "flights"
FLIGHTS_JOB_ID = "flights_daily"
"""The flights pipeline's job id in the ops batch-job catalog."""

flights_partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")
"""One partition per local flight date of 2013 (the ``year``/``month``/``day`` columns)."""

SNAPSHOT_ID_KEY = "snapshot_id"
ROW_COUNT_KEY = "dagster/row_count"

_SCHEMA_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime", "O": "string"}


def partition_date(context: dg.AssetExecutionContext) -> dt.date:
    """The partition's local flight date (``"2013-01-01"`` -> ``date(2013, 1, 1)``)."""
    return dt.date.fromisoformat(context.partition_key)


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """Describe a frame's columns for the Dagster UI (``dagster/column_schema``)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(col), type=_SCHEMA_TYPES.get(dtype.kind, str(dtype)))
            for col, dtype in frame.dtypes.items()
        ]
    )


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
            "source_rows": stamped.source_rows,
            "dagster/column_schema": column_schema(stamped.frame),
            **metadata,
        },
    )


BY_PARTITION_KEY = BY_PARTITION_METADATA
"""Materialization metadata of a range run: ``{partition_key: {name: value}}``, each day's own
figures (what a single-partition run shows as plain metadata entries)."""


def stamped_outputs(
    context: dg.AssetExecutionContext,
    stamped: dict[str, Stamped],
    per_day: Callable[[str, Stamped], dict[str, object]] | None = None,
    **metadata: object,
) -> dg.Output:
    """A step's output over its partitions: ``stamped_output`` of the one value in a
    single-partition run; in a range run (single-run backfill policy) the mapping
    ``{partition_key: Stamped}`` with the range's totals and each day's figures.

    Args:
        stamped: ``{partition_key: Stamped}`` for every partition of the run.
        per_day: each day's extra metadata (e.g. the flight total), from its key and value.
        **metadata: extra metadata that holds for every day (e.g. parameters).

    Returns:
        A single-partition run: exactly what ``stamped_output`` returns. A range run: an Output
        of the mapping whose metadata holds ``dagster/row_count`` (all days' rows),
        ``opsrel/snapshot_ids`` (``{day: snapshot_id}``), ``opsrel/by_partition`` (``{day:
        {row_count, source_rows, **per_day}}``), the first day's column schema and ``metadata``.
    """
    extra = {key: per_day(key, value) if per_day else {} for key, value in stamped.items()}
    if context.has_partition_key:
        [(key, value)] = stamped.items()
        return stamped_output(value, **metadata, **extra[key])
    days = {
        key: {"row_count": len(value.frame), "source_rows": value.source_rows, **extra[key]}
        for key, value in stamped.items()
    }
    return dg.Output(
        stamped,
        metadata={
            ROW_COUNT_KEY: sum(day["row_count"] for day in days.values()),
            SNAPSHOT_IDS_METADATA: dg.MetadataValue.json(
                {key: value.snapshot_id for key, value in stamped.items()}),
            BY_PARTITION_KEY: dg.MetadataValue.json(days),
            "dagster/column_schema": column_schema(next(iter(stamped.values())).frame),
            **metadata,
        },
    )


def fail_coded(
    exc: OpsException, context: dg.AssetExecutionContext, partition_key: str | None = None
) -> dg.Failure:
    """The ``dg.Failure`` for a coded error in the running asset (``error_code`` in metadata).

    Args:
        partition_key: the failing partition; default the run's single partition (None in a
            range run, where the caller names the partition that failed).
    """
    context.log.error(f"[{exc.code}] {exc.operator_message}")
    if partition_key is None and context.has_partition_key:
        partition_key = context.partition_key
    return as_failure(exc, asset_key=context.asset_key.to_user_string(), partition_key=partition_key)


def by_partition(context: dg.AssetExecutionContext, upstream: T | Mapping[str, T]) -> dict[str, T]:
    """An input as ``{partition_key: value}``, in a single-partition run and a range run alike
    (a range run's input is already that mapping, see ``VersionedIOManager``)."""
    if context.has_partition_key:
        return {context.partition_key: upstream}  # type: ignore[dict-item]
    if not isinstance(upstream, Mapping):  # a range of one day: its input is loaded as the value
        return {context.partition_keys[0]: upstream}
    return dict(upstream)


def per_partition_output(context: dg.AssetExecutionContext, values: dict[str, T]) -> T | dict[str, T]:
    """What a step returns: its one value in a single-partition run, the mapping
    ``{partition_key: value}`` in a range run (single-run backfill policy),
    where ``context.partition_key`` does not exist."""
    return values[context.partition_key] if context.has_partition_key else values
