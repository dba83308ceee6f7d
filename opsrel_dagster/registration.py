"""Register the declared jobs in the batch-job catalog, so that the core knows their partitions.

The core never imports Dagster: the admin API, the console and the replay service validate and
expand partition keys through the catalog (``BatchJobCatalog.partition_set``). The application
registers each declaration's ordered keys there: ``opsrel run`` and the replay commands before
they run, ``opsrel db upgrade`` after migrating, and the projection sensor on its first tick in
each code-location process (so a deployment that only runs the daemon registers too).
"""

from collections.abc import Iterable

import sqlalchemy as sa

from opsrel_dagster.jobs import OpsrelJob

_REGISTERED: set[tuple[str, str]] = set()


def registration_of(job: OpsrelJob):  # type: ignore[no-untyped-def]
    """The catalog registration of a declaration (``batch_jobs.JobRegistration``): its id,
    name, description, asset keys (upstream first), partitions kind, every key in order and its
    partition deadline (seconds after the partition ends, timezone; None when it declares none)."""
    from opsrel_core.services.batch_jobs import JobRegistration

    return JobRegistration(
        job_id=job.job_id,
        name=job.name or job.job_id,
        description=job.description,
        asset_selection=tuple(a.key.to_user_string() for a in job.assets()),
        partitions=job.partitions_kind(),
        partition_keys=tuple(job.partition_keys()),
        deadline_seconds=(None if job.partition_deadline is None else
                          int(job.partition_deadline.after_partition_end.total_seconds())),
        deadline_timezone=(None if job.partition_deadline is None else
                           job.partition_deadline.timezone),
    )


def register_jobs(engine: sa.Engine, jobs: Iterable[OpsrelJob]) -> list[str]:
    """Register ``jobs`` in the ops database's catalog (idempotent: an unchanged job writes
    nothing); once per process and database for each job.

    Returns:
        The ids of the jobs whose catalog row or keys changed.
    """
    from opsrel_core.services.batch_jobs import BatchJobCatalog

    catalog = BatchJobCatalog(engine)
    changed = []
    for job in jobs:
        memo = (str(engine.url), job.job_id)
        if memo in _REGISTERED:
            continue
        if catalog.register(registration_of(job)):
            changed.append(job.job_id)
        _REGISTERED.add(memo)
    return changed


def upgrade_and_register(database_url: str, jobs: Iterable[OpsrelJob]) -> list[str]:
    """Make the ops database at ``database_url`` as ``opsrel db upgrade`` leaves it: the schema
    migrated to head and ``jobs`` registered in its catalog (no migration seeds a job). For a
    scratch database (``opsrel reproduce``, the benchmarks).

    Returns:
        The ids of the jobs whose catalog row or keys changed (``register_jobs``).
    """
    from opsrel_core.persistence import migrate
    from opsrel_core.persistence.engine import make_engine

    migrate.upgrade(database_url)
    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        return register_jobs(engine, jobs)
    finally:
        engine.dispose()
