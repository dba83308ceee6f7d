"""Input snapshots: immutable, content-addressed copies of source data.

A snapshot's id is the hash of its content (``sha256:<hex>``), so the same content read twice is
one snapshot: registering it again leaves the stored one as it is, with the run that first
produced it.
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.repositories.snapshots import SnapshotRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork

Repository = Callable[[Session], SnapshotRepository]


@dataclasses.dataclass(frozen=True)
class SnapshotRecord:
    """A snapshot as stored: ``snapshot_id`` is the content hash (``sha256:<hex>``)."""

    snapshot_id: str
    asset_key: str
    partition_key: str
    source_uri: str
    storage_uri: str
    row_count: int
    first_execution_id: str | None


@retry_transient_methods
class SnapshotService:
    """Registers and reads snapshots.

    Args:
        engine: engine of the ops database.
        repository: the snapshot SQL over a session (``SnapshotRepository``); injectable so the
            fast tests keep snapshots in an in-memory fake.
    """

    def __init__(self, engine: sa.Engine, *, repository: Repository = SnapshotRepository):
        self._engine = engine
        self._repository = repository

    def record_snapshot(self, record: SnapshotRecord) -> SnapshotRecord:
        """Register a snapshot once; a snapshot with the same id is left as it is.

        Args:
            record: the snapshot; ``first_execution_id`` is the run that first produced it.

        Returns:
            The stored record (the earlier one when the content was seen before).
        """
        return self.record_snapshots([record])[0]

    def record_snapshots(self, records: Sequence[SnapshotRecord]) -> list[SnapshotRecord]:
        """Register the snapshots of a run's partitions in one transaction (a range run's every
        day or hour at once); each is registered once, one with a known id is left as it is.

        Returns:
            The stored records, in the order given (the earlier one for content seen before).
        """
        if not records:
            return []
        ids = list(dict.fromkeys(r.snapshot_id for r in records))
        try:
            with UnitOfWork(self._engine) as uow:
                repo = self._repository(uow.session)
                stored = {row.snapshot_id: _record(row) for row in repo.find(ids)}
                for record in records:
                    if record.snapshot_id not in stored:
                        repo.add(dataclasses.asdict(record))
                        stored[record.snapshot_id] = record
                uow.commit()
        except sa.exc.IntegrityError:
            # A concurrent run registered some of the same content first: theirs stands.
            with UnitOfWork(self._engine) as uow:
                stored = {row.snapshot_id: _record(row)
                          for row in self._repository(uow.session).find(ids)}
            missing = [r for r in records if r.snapshot_id not in stored]
            for record in missing:
                stored[record.snapshot_id] = self.record_snapshot(record)
        return [stored[r.snapshot_id] for r in records]

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        """Return the snapshot with this id, or None."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).get(snapshot_id)
            return None if row is None else _record(row)


def _record(row: Any) -> SnapshotRecord:
    return SnapshotRecord(
        **{f.name: getattr(row, f.name) for f in dataclasses.fields(SnapshotRecord)})
