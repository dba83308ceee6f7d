"""Content-addressed, immutable snapshots of a partition's input (a day's flights, an hour's
weather).

The snapshot id is the SHA-256 of the frame's canonical CSV bytes: the same flights give the same
id whatever their source or row order. A snapshot file is written once and never overwritten.
Framework-free: pandas and the standard library only.
"""

import dataclasses
import gzip
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .schema import FLIGHT_COLUMNS

SNAPSHOT_PREFIX = "sha256:"


@dataclasses.dataclass(frozen=True)
class Stamped:
    """A frame passed between flights assets, stamped with the snapshot it derives from.

    Attributes:
        snapshot_id: ``sha256:<hex>`` of the input snapshot.
        source_rows: row count of that snapshot (flights delivered for the day).
        frame: the asset's table.
    """

    snapshot_id: str
    source_rows: int
    frame: pd.DataFrame

    def __len__(self) -> int:
        # The rows opsrel records for the result version: the table's, not the stamp's.
        return len(self.frame)


def canonical_frame(
    frame: pd.DataFrame, leading_columns: Sequence[str] = FLIGHT_COLUMNS
) -> pd.DataFrame:
    """Return ``frame`` in canonical order: fixed column order, rows sorted by every column.

    Columns: ``leading_columns`` first (by default the flights columns; another pipeline passes
    its own), then other columns by name. Rows: a stable sort on all columns (missing values
    last), so that a reordered delivery gives the same bytes.
    """
    columns = [c for c in leading_columns if c in frame.columns]
    columns += sorted(c for c in frame.columns if c not in leading_columns)
    ordered = frame.loc[:, columns]
    return ordered.sort_values(columns, kind="mergesort", na_position="last").reset_index(drop=True)


def canonical_csv_bytes(
    frame: pd.DataFrame, leading_columns: Sequence[str] = FLIGHT_COLUMNS
) -> bytes:
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
    frame: pd.DataFrame, snapshot_dir: Path, partition_key: str,
    leading_columns: Sequence[str] = FLIGHT_COLUMNS,
) -> StoredSnapshot:
    """Write the frame's canonical CSV, gzip'd, unless a file with that content id exists.

    The file is written to a temporary name in the target folder, flushed to disk, then renamed
    into place (``os.replace``), so a reader never sees half a snapshot. An existing snapshot file
    is never rewritten (its mtime does not change).

    Args:
        frame: the flights to snapshot.
        snapshot_dir: root of the snapshot store (``OpsSettings.snapshot_dir``); created if needed.
        partition_key: the partition, used as sub-folder (``2013-01-01``).
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
