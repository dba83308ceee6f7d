"""The batch-job catalog: which assets make up each job (read-only here; loaded by migration)."""

import dataclasses

import sqlalchemy as sa

from opsrel_core.persistence.tables import BatchJob
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.persistence.retry import retry_transient_methods


@dataclasses.dataclass(frozen=True)
class BatchJobView:
    """A job of the catalog: its id, name and asset selection (asset key strings)."""

    job_id: str
    name: str
    asset_selection: tuple[str, ...]
    partitions: str
    is_active: bool


@retry_transient_methods
class BatchJobCatalog:
    """Reads the batch-job catalog.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def list_jobs(self) -> list[BatchJobView]:
        """Return every job of the catalog, ordered by job id."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(sa.select(BatchJob).order_by(BatchJob.job_id)).all()
            return [
                BatchJobView(r.job_id, r.name, tuple(r.asset_selection), r.partitions, r.is_active)
                for r in rows
            ]

    def job_for_assets(self, asset_keys: set[str]) -> BatchJobView | None:
        """Return the active job whose selection shares most assets with ``asset_keys``.

        Args:
            asset_keys: asset key strings a run materializes or checks (``"raw_flights"``).

        Returns:
            The best-matching job, or None when no job owns any of these assets (the run is not
            one of ours).
        """
        best, best_overlap = None, 0
        for job in self.list_jobs():
            overlap = len(asset_keys & set(job.asset_selection))
            if job.is_active and overlap > best_overlap:
                best, best_overlap = job, overlap
        return best
