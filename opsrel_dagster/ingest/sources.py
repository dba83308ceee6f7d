"""The SOURCE step: each partition of the run loaded through the domain's loader.

A domain gives how to load one partition (its source resource: a landing file or package data)
and where a batch holds its rows; the step fails on the first bad partition with that
partition's code and key, and shows where every partition came from.
"""

from collections.abc import Callable
from typing import Any, Protocol

import dagster as dg
import pandas as pd

from opsrel_core.errors import OpsException
from opsrel_dagster.ingest.metadata import (
    COLUMN_SCHEMA_KEY,
    ROW_COUNT_KEY,
    SOURCE_URI_KEY,
    SOURCE_URIS_KEY,
    column_schema,
)
from opsrel_dagster.ingest.partition_values import fail_coded, per_partition_output


class Batch(Protocol):
    """What the SOURCE step reads of a domain's batch: where its rows came from."""

    source_uri: str


def source_partitions(
    context: dg.AssetExecutionContext,
    load: Callable[[str], Batch],
    *,
    rows_of: Callable[[Any], pd.DataFrame],
) -> dg.Output:
    """Load each partition of the run, in key order, and build the SOURCE step's output.

    Args:
        context: the running SOURCE asset (one partition, or a range in a single-run backfill).
        load: the domain's loader: a partition key -> its batch (with ``source_uri``).
        rows_of: the batch's rows, e.g. ``lambda batch: batch.frame``.

    Returns:
        An Output of the batch (in a range run ``{partition_key: batch}``) whose metadata holds
        ``dagster/row_count`` (all partitions' rows), ``opsrel/source_uris``
        (``{partition_key: source_uri}``), ``source_uri`` for a single partition, and the first
        partition's ``dagster/column_schema``.

    Raises:
        dg.Failure: the first partition whose load raised a coded error, with its code
            (e.g. ``INP-002``, ``INP-005``, ``EXT-001``) and that partition's key
            (``fail_coded``).
    """
    batches = {}
    for key in context.partition_keys:
        try:
            batches[key] = load(key)
        except OpsException as exc:
            raise fail_coded(exc, context, key) from exc
    first = next(iter(batches.values()))
    return dg.Output(
        per_partition_output(context, batches),
        metadata={
            ROW_COUNT_KEY: sum(len(rows_of(b)) for b in batches.values()),
            SOURCE_URIS_KEY: dg.MetadataValue.json({k: b.source_uri for k, b in batches.items()}),
            **({SOURCE_URI_KEY: first.source_uri} if len(batches) == 1 else {}),
            COLUMN_SCHEMA_KEY: column_schema(rows_of(first)),
        },
    )
