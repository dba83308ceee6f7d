"""The example's batch-job catalog row, registered the way the code location registers it.

No migration seeds a job (migration 0025): ``opsrel db upgrade``, ``opsrel run`` and the code
location register each declared job (``opsrel_dagster.registration.register_jobs``). A test of the
core, which has no Dagster, registers the flights job through the core's ``BatchJobCatalog`` with
the values its declaration gives (``FLIGHTS_REGISTRATION``; ``tests/dagster/test_job_keys.py``
keeps the two equal). A Dagster test registers from the declaration itself
(``register_declared``).

``upgrade_and_register`` is what ``opsrel db upgrade`` leaves: the migrated schema with the job
in the catalog; the ``database_url`` fixture's databases are made by it. The fixture
``flights_deadline`` (registered for the whole suite by ``pytest_plugins`` in
``tests/conftest.py``) makes sure the job has its declared deadline (the one the seeding
migration 0019 gave the old seeded row), also in a database a test registered otherwise.
"""

import datetime as dt

import pytest
import sqlalchemy as sa

from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import BatchJob
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_jobs import BatchJobCatalog, JobRegistration

FLIGHTS_JOB_ID = "flights_daily"
FLIGHTS_ASSETS = ("raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
                  "ontime_performance", "delay_explanation", "delay_simulation")
FLIGHTS_KEYS = tuple((dt.date(2013, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(365))
FLIGHTS_REGISTRATION = JobRegistration(
    job_id=FLIGHTS_JOB_ID,
    name="NYC flights daily pipeline",
    description="SOURCE raw_flights -> SNAPSHOT flights_snapshot -> TRANSFORM clean_flights -> "
                "AGGREGATION carrier_daily_stats -> RESULTS ontime_performance, "
                "delay_explanation, delay_simulation; daily partitions 2013-01-01..2013-12-31.",
    asset_selection=FLIGHTS_ASSETS,
    partitions="daily",
    partition_keys=FLIGHTS_KEYS,
    deadline_seconds=6 * 3600,
    deadline_timezone="America/New_York",
)
"""What ``registration_of(FLIGHTS)`` gives for the example's flights job."""

# The flights declaration's partition deadline (as migration 0019 gave the seeded row): day D by
# D+1 06:00 New York time.
FLIGHTS_DEADLINE = (6 * 3600, "America/New_York")


def register_flights(engine: sa.Engine) -> None:
    """Register the flights job in the catalog through the core's service, as the code location
    does (idempotent)."""
    BatchJobCatalog(engine).register(FLIGHTS_REGISTRATION)


def register_declared(engine: sa.Engine) -> list[str]:
    """Register every job ``definitions.py`` declares, from the declarations (Dagster tests).

    Returns:
        The ids of the jobs whose catalog row or keys changed (``register_jobs``).
    """
    from opsrel_dagster.definitions import JOBS
    from opsrel_dagster.registration import register_jobs

    return register_jobs(engine, JOBS.values())


def declare_flights_deadline(engine: sa.Engine) -> None:
    """Give the registered flights job its declared partition deadline (``FLIGHTS_DEADLINE``)."""
    seconds, timezone = FLIGHTS_DEADLINE
    with UnitOfWork(engine) as uow:
        job = uow.session.get_one(BatchJob, FLIGHTS_JOB_ID)
        job.deadline_seconds, job.deadline_timezone = seconds, timezone
        uow.commit()


def upgrade_and_register(url: str) -> None:
    """Migrate the ops database at ``url`` to head and register the flights job: what
    ``opsrel db upgrade`` leaves."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        register_flights(engine)
    finally:
        engine.dispose()


@pytest.fixture
def flights_deadline(engine: sa.Engine) -> tuple[int, str]:
    """The flights job of ``engine``'s catalog with the deadline of 0019 (``FLIGHTS_DEADLINE``),
    for the late-partition tests; returns ``(seconds, timezone)``."""
    declare_flights_deadline(engine)
    return FLIGHTS_DEADLINE
