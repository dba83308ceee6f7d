"""The batch-job catalog: which assets make up each job and every partition key of it.

The application registers each job it declares (``register``: its assets, its partitions kind
and every key in its partitions definition's order); the core reads the catalog and, through
``partition_set``, checks and expands keys of any kind without knowing how they are made.
"""

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.deadlines import PartitionDeadline
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.persistence.tables import BatchJob, BatchJobPartition
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.persistence.retry import retry_transient_methods

MAX_KEY_LENGTH = 100  # batch_job_partition.partition_key
MAX_KIND_LENGTH = 50  # batch_job.partitions
_REGISTER_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class BatchJobView:
    """A job of the catalog: its id, name and asset selection (asset key strings)."""

    job_id: str
    name: str
    asset_selection: tuple[str, ...]
    partitions: str
    is_active: bool


@dataclasses.dataclass(frozen=True)
class JobRegistration:
    """A job as the application declares it, for ``BatchJobCatalog.register``.

    Attributes:
        job_id: the catalog id, e.g. ``"weather_hourly"`` (at most 100 characters).
        name, description: for people.
        asset_selection: the asset key strings the job materializes.
        partitions: the kind of its partitions: ``"daily"``, ``"hourly"``, ``"monthly"``,
            ``"static"``, ... (at most 50 characters).
        partition_keys: every key, in the partitions definition's order (each at most 100
            characters, no duplicates, at least one).
        deadline_seconds, deadline_timezone: the declared partition deadline (seconds after a
            partition ends, IANA timezone; ``domain.deadlines.PartitionDeadline``); None: the
            job declares none and the catalog's deadline is left as it is.
    """

    job_id: str
    name: str
    description: str
    asset_selection: tuple[str, ...]
    partitions: str
    partition_keys: tuple[str, ...]
    deadline_seconds: int | None = None
    deadline_timezone: str | None = None


@retry_transient_methods
class BatchJobCatalog:
    """Reads and registers the batch-job catalog.

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

    def partition_set(self, job_id: str) -> PartitionSet | None:
        """The job's partition set: kind, bounds and its registered keys in order (``listed``
        None when none are registered); None for a job not in the catalog."""
        with UnitOfWork(self._engine) as uow:
            job = uow.session.get(BatchJob, job_id)
            return None if job is None else partition_set_of(uow.session, job)

    def register(self, registration: JobRegistration) -> bool:
        """Create or update the job's catalog row and its partition keys, in one transaction.

        Updates name, description, asset selection, partitions kind and the bounds (the first
        and last key), and the deadline when the registration declares one; keeps ``is_active``,
        ``created_at`` and, when it declares none, the catalog's deadline. The keys are
        replaced only when the list differs from the registered one. Safe to call on every
        load: a second call with the same registration changes nothing.

        Returns:
            True when anything was written, False when the catalog already held exactly this.

        Raises:
            ValueError: an empty ``partition_keys``, a duplicate, blank or over-long key, a
                blank job id, or an over-long kind; nothing is written.
        """
        _check(registration)
        for attempt in range(_REGISTER_ATTEMPTS):
            try:
                return self._register(registration)
            except sa.exc.IntegrityError:
                # A concurrent registration of the same job committed first: compare again.
                if attempt == _REGISTER_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _register(self, r: JobRegistration) -> bool:
        keys = tuple(r.partition_keys)
        values = {"name": r.name, "description": r.description,
                  "asset_selection": list(r.asset_selection), "partitions": r.partitions,
                  "partition_start": keys[0], "partition_end": keys[-1]}
        if r.deadline_seconds is not None:
            values["deadline_seconds"] = r.deadline_seconds
            values["deadline_timezone"] = r.deadline_timezone
        with UnitOfWork(self._engine) as uow:
            session = uow.session
            job = session.scalar(sa.select(BatchJob).where(BatchJob.job_id == r.job_id)
                                 .with_for_update())
            changed = False
            if job is None:
                session.add(BatchJob(job_id=r.job_id, is_active=True, **values))
                session.flush()
                changed = True
            else:
                current = {k: getattr(job, k) for k in values}
                current["asset_selection"] = list(current["asset_selection"] or [])
                if current != values:
                    for name, value in values.items():
                        setattr(job, name, value)
                    changed = True
            if _registered_keys(session, r.job_id) != keys:
                table = BatchJobPartition.__table__
                session.execute(sa.delete(table).where(table.c.job_id == r.job_id))
                session.execute(sa.insert(table), [
                    {"job_id": r.job_id, "position": i, "partition_key": k}
                    for i, k in enumerate(keys)])
                changed = True
            if changed:
                uow.commit()
            return changed


def partition_set_of(session: Session | sa.Connection, job: "BatchJob | sa.Row[Any]"
                     ) -> PartitionSet:
    """The partition set of a catalog row (ORM or Core row of ``batch_job``) with its
    registered keys (``listed`` None when none are), read in the caller's transaction."""
    keys = _registered_keys(session, job.job_id)
    return PartitionSet(job.partitions, job.partition_start, job.partition_end,
                        listed=keys or None)


def _registered_keys(session: Session | sa.Connection, job_id: str) -> tuple[str, ...]:
    table = BatchJobPartition.__table__
    return tuple(session.scalars(sa.select(table.c.partition_key)
                                 .where(table.c.job_id == job_id).order_by(table.c.position)))


def _check(r: JobRegistration) -> None:
    if not isinstance(r.job_id, str) or not r.job_id.strip():
        raise ValueError(f"a job registration needs a job id, got {r.job_id!r}")
    if not r.partition_keys:
        raise ValueError(f"job {r.job_id!r} registers no partition key: give every key of its "
                         "partitions definition, in its order")
    if not r.partitions or len(r.partitions) > MAX_KIND_LENGTH:
        raise ValueError(f"job {r.job_id!r}: the partitions kind must be 1 to {MAX_KIND_LENGTH} "
                         f"characters, got {r.partitions!r}")
    bad = [k for k in r.partition_keys
           if not isinstance(k, str) or not k.strip() or len(k) > MAX_KEY_LENGTH]
    if bad:
        raise ValueError(f"job {r.job_id!r}: partition keys must be non-blank text of at most "
                         f"{MAX_KEY_LENGTH} characters, got {bad[:5]!r}")
    if len(set(r.partition_keys)) != len(r.partition_keys):
        seen: set[str] = set()
        twice = [k for k in r.partition_keys if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
        raise ValueError(f"job {r.job_id!r}: partition keys must be distinct, {twice[:5]!r} "
                         "appear more than once")
    if r.deadline_seconds is not None:
        # The same bounds and timezone check the late-partition sensor applies when it reads it.
        PartitionDeadline.of(r.deadline_seconds, r.deadline_timezone)
