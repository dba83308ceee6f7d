"""Input snapshots: immutable, content-addressed copies of source data."""

import dataclasses

import sqlalchemy as sa

from opsrel_core.persistence.tables import Snapshot
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.persistence.retry import retry_transient_methods


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
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def record_snapshot(self, record: SnapshotRecord) -> SnapshotRecord:
        """Register a snapshot once; a snapshot with the same id is left as it is.

        Args:
            record: the snapshot; ``first_execution_id`` is the run that first produced it.

        Returns:
            The stored record (the earlier one when the content was seen before).
        """
        with UnitOfWork(self._engine) as uow:
            existing = uow.session.get(Snapshot, record.snapshot_id)
            if existing is None:
                uow.session.add(Snapshot(**dataclasses.asdict(record)))
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    # A concurrent run registered the same content first: theirs stands.
                    uow.session.rollback()
                    existing = uow.session.get(Snapshot, record.snapshot_id)
            if existing is None:
                return record
            return SnapshotRecord(
                **{f.name: getattr(existing, f.name) for f in dataclasses.fields(SnapshotRecord)}
            )

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        """Return the snapshot with this id, or None."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(Snapshot, snapshot_id)
            if row is None:
                return None
            return SnapshotRecord(
                **{f.name: getattr(row, f.name) for f in dataclasses.fields(SnapshotRecord)}
            )
