"""The materialization metadata keys the ingest steps write, named once for every domain.

A single-partition run shows a partition's figures as plain entries; a range run (single-run
backfill policy) shows the range's totals and ``{partition_key: value}`` mappings instead
(``SOURCE_URIS_KEY``, ``SNAPSHOT_IDS_METADATA``, ``BY_PARTITION_METADATA``).
"""

import dagster as dg
import pandas as pd

from opsrel_dagster.job_spec import BY_PARTITION_METADATA, SNAPSHOT_IDS_METADATA

ROW_COUNT_KEY = "dagster/row_count"
"""Rows of the step's table (in a range run, of all its partitions); the IO manager records it."""
COLUMN_SCHEMA_KEY = "dagster/column_schema"
"""The table's columns and their kinds, for the Dagster UI (``column_schema``)."""
SNAPSHOT_ID_KEY = "snapshot_id"
"""The partition's input snapshot (``sha256:<hex>``), in a single-partition run."""
SNAPSHOT_IDS_KEY = SNAPSHOT_IDS_METADATA
"""``{partition_key: snapshot_id}`` of the partitions a range run stored or derived from."""
BY_PARTITION_KEY = BY_PARTITION_METADATA
"""``{partition_key: {name: value}}`` of a range run: each partition's own figures (what a
single-partition run shows as plain metadata entries)."""
SOURCE_URI_KEY = "source_uri"
"""Where the partition's rows came from (``file://`` URI or a package URI), in a
single-partition run."""
SOURCE_URIS_KEY = "opsrel/source_uris"
"""``{partition_key: source URI}`` of the partitions a SOURCE step loaded."""
SOURCE_ROWS_KEY = "source_rows"
"""Rows of the snapshot a table derives from."""

_SCHEMA_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime", "O": "string"}


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """Describe a frame's columns for the Dagster UI (``dagster/column_schema``).

    Returns:
        One ``dg.TableColumn`` per column, in frame order, typed ``int``, ``float``, ``bool``,
        ``datetime`` or ``string`` by the dtype's kind (other dtypes by their name).
    """
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(col), type=_SCHEMA_TYPES.get(dtype.kind, str(dtype)))
            for col, dtype in frame.dtypes.items()
        ]
    )
