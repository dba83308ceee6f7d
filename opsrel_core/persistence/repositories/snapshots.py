"""The SQL of input snapshots, over the session of the caller's unit of work.

``SnapshotRepository`` reads and adds ``snapshot`` rows. A snapshot is immutable and its id is
its content hash, so nothing here updates or deletes: registering known content is a read. It
never commits: the caller's unit of work does.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.tables import Snapshot


class SnapshotRepository:
    """Reads and adds snapshots in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    def get(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot with this id (``sha256:<hex>``), or None."""
        return self._session.get(Snapshot, snapshot_id)

    def find(self, snapshot_ids: Sequence[str]) -> list[Snapshot]:
        """The stored snapshots among ``snapshot_ids`` (one query; unknown ids are left out)."""
        return list(self._session.scalars(
            sa.select(Snapshot).where(Snapshot.snapshot_id.in_(list(snapshot_ids)))))

    def add(self, values: dict[str, Any]) -> None:
        """Add a new snapshot with these column values; written at the next flush.

        Raises (at the flush or commit):
            sqlalchemy.exc.IntegrityError: a snapshot with this id exists (a concurrent run
                registered the same content first).
        """
        self._session.add(Snapshot(**values))
