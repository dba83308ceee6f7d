"""Content-addressed, immutable snapshots of a partition's input, and the SNAPSHOT step.

The snapshot id is the SHA-256 of the frame's canonical CSV bytes: the same rows give the same id
whatever their source or row order. A snapshot file is written once and never overwritten, and
registered in the ops schema's snapshot table (``snapshot_partitions``). The canonical column
order is the domain's (``leading_columns``): the library knows no domain's columns.
"""

import dataclasses
import gzip
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from opsrel_core.services.results import SnapshotRecord
from opsrel_dagster.ingest.metadata import (
    COLUMN_SCHEMA_KEY,
    ROW_COUNT_KEY,
    SNAPSHOT_ID_KEY,
    SNAPSHOT_IDS_KEY,
    SOURCE_URI_KEY,
    column_schema,
)
from opsrel_dagster.ingest.partition_values import by_partition, per_partition_output
from opsrel_dagster.resources import OpsDatabase

SNAPSHOT_PREFIX = "sha256:"


@dataclasses.dataclass(frozen=True)
class Stamped:
    """A frame passed between a domain's assets, stamped with the snapshot it derives from.

    Attributes:
        snapshot_id: ``sha256:<hex>`` of the input snapshot.
        source_rows: row count of that snapshot (rows delivered for the partition).
        frame: the asset's table.
    """

    snapshot_id: str
    source_rows: int
    frame: pd.DataFrame

    def __len__(self) -> int:
        # The rows opsrel records for the result version: the table's, not the stamp's.
        return len(self.frame)


def canonical_frame(frame: pd.DataFrame, leading_columns: Sequence[str]) -> pd.DataFrame:
    """Return ``frame`` in canonical order: fixed column order, rows sorted by every column.

    Columns: ``leading_columns`` first (the domain's columns, those present), then other columns
    by name. Rows: a stable sort on all columns (missing values
    last), so that a reordered delivery gives the same bytes.
    """
    columns = [c for c in leading_columns if c in frame.columns]
    columns += sorted(c for c in frame.columns if c not in leading_columns)
    ordered = frame.loc[:, columns]
    return ordered.sort_values(columns, kind="mergesort", na_position="last").reset_index(drop=True)


def canonical_csv_bytes(frame: pd.DataFrame, leading_columns: Sequence[str]) -> bytes:
    """Render ``frame`` as canonical CSV (UTF-8, ``\\n`` line ends, no index)."""
    text = canonical_frame(frame, leading_columns).to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def snapshot_id_of(data: bytes) -> str:
    """Return the snapshot id of canonical bytes: ``"sha256:" + hexdigest``."""
    return SNAPSHOT_PREFIX + hashlib.sha256(data).hexdigest()


def snapshot_path(snapshot_dir: Path, partition_key: str, snapshot_id: str) -> Path:
    """Return ``<snapshot_dir>/<partition_key>/<hex>.csv.gz`` for a snapshot id."""
    return snapshot_dir / partition_key / f"{snapshot_id.removeprefix(SNAPSHOT_PREFIX)}.csv.gz"


@dataclasses.dataclass(frozen=True)
class StoredSnapshot:
    """Where a snapshot lives.

    Attributes:
        snapshot_id: ``sha256:<hex>`` of the canonical CSV bytes.
        path: the gzip'd canonical CSV file.
        written: False when the file was already there (nothing was written).
    """

    snapshot_id: str
    path: Path
    written: bool


def store_snapshot(
    frame: pd.DataFrame, snapshot_dir: Path, partition_key: str, leading_columns: Sequence[str],
) -> StoredSnapshot:
    """Write the frame's canonical CSV, gzip'd, unless a file with that content id exists.

    The file is written to a temporary name in the target folder, flushed to disk, then renamed
    into place (``os.replace``), so a reader never sees half a snapshot. An existing snapshot file
    is never rewritten (its mtime does not change).

    Args:
        frame: the rows to snapshot.
        snapshot_dir: root of the snapshot store (``OpsSettings.snapshot_dir``); created if needed.
        partition_key: the partition, used as sub-folder (``2013-01-01``, ``2013-01-01-05:00``).
        leading_columns: the canonical column order (``canonical_frame``).

    Returns:
        The snapshot id, the file path and whether this call wrote it.

    Raises:
        OSError: the store is not writable.
    """
    data = canonical_csv_bytes(frame, leading_columns)
    snapshot_id = snapshot_id_of(data)
    path = snapshot_path(snapshot_dir, partition_key, snapshot_id)
    if path.exists():
        return StoredSnapshot(snapshot_id, path, written=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same content gives the same gzip bytes.
    payload = gzip.compress(data, mtime=0)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".csv.gz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():  # a concurrent run stored the same content meanwhile
            os.unlink(tmp_name)
            return StoredSnapshot(snapshot_id, path, written=False)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return StoredSnapshot(snapshot_id, path, written=True)


def snapshot_partitions(
    context: dg.AssetExecutionContext,
    upstream: Any,
    ops_db: OpsDatabase,
    *,
    rows_of: Callable[[Any], pd.DataFrame],
    leading_columns: Sequence[str],
) -> dg.Output:
    """The SNAPSHOT step: store each partition's canonical rows once and record the snapshots.

    Each partition's frame is put in canonical order, stored (``store_snapshot``) and recorded in
    the ops schema's snapshot table under the running asset's key, all partitions of the run in
    one transaction.

    Args:
        context: the running snapshot asset (one partition, or a range in a single-run backfill).
        upstream: the SOURCE step's value: a batch with a ``source_uri`` attribute; in a range
            run ``{partition_key: batch}``.
        ops_db: the ops database resource (snapshot folder and snapshot table).
        rows_of: the batch's rows, e.g. ``lambda batch: batch.frame``.
        leading_columns: the domain's canonical column order (``canonical_frame``).

    Returns:
        An Output of ``Stamped`` (in a range run ``{partition_key: Stamped}``) whose metadata
        holds ``dagster/row_count`` (all partitions' rows), ``opsrel/snapshot_ids``
        (``{partition_key: snapshot_id}``) and the first partition's ``dagster/column_schema``;
        a single partition also shows ``snapshot_id``, ``source_uri``, ``storage_uri``,
        ``first_execution_id`` and ``written`` (False when the file was already stored).

    Raises:
        OSError: the snapshot store is not writable.
    """
    stamped, stored_files, pending = {}, {}, []
    for key, batch in by_partition(context, upstream).items():
        frame = canonical_frame(rows_of(batch), leading_columns)
        stored = store_snapshot(frame, ops_db.settings.snapshot_dir, key, leading_columns)
        stored_files[key] = stored
        pending.append(SnapshotRecord(
            snapshot_id=stored.snapshot_id,
            asset_key=context.asset_key.to_user_string(),
            partition_key=key,
            source_uri=batch.source_uri,
            storage_uri=stored.path.resolve().as_uri(),
            row_count=len(frame),
            first_execution_id=context.run_id,
        ))
        stamped[key] = Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame), frame=frame)
    # Every partition's snapshot row in one transaction (a range run's whole range at once).
    records = ops_db.snapshots.record_snapshots(pending)
    single = {}
    if len(stamped) == 1:  # the partition's details, as a single-partition run always showed them
        [stored], [record] = stored_files.values(), records
        single = {
            SNAPSHOT_ID_KEY: stored.snapshot_id,
            SOURCE_URI_KEY: record.source_uri,
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
            COLUMN_SCHEMA_KEY: column_schema(next(iter(stamped.values())).frame),
        },
    )
