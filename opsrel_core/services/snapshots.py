"""The old home of ``SnapshotService``: its names, re-exported from ``opsrel_core.services.results``
so importers outside ``opsrel_core`` keep working."""

from opsrel_core.services.results import SnapshotRecord, SnapshotService

__all__ = ["SnapshotRecord", "SnapshotService"]
