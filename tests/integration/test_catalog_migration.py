"""Migration 0025: no core migration seeds a job; the seeded ``flights_daily`` row goes unless
something names it, and the downgrade puts it back as 0002, 0008 and 0019 left it.

Every test runs on a real SQLite file and on a real PostgreSQL database (``empty_database_url``).
"""

import datetime as dt

import sqlalchemy as sa

from opsrel_core.persistence import migrate
from opsrel_core.persistence.tables import BatchJob
from tests.support.catalog import FLIGHTS_JOB_ID, FLIGHTS_REGISTRATION, register_flights

BEFORE = "0024"
NOW = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
# The row as the seeding migrations left it (created_at aside: the time of the migration).
SEEDED = {
    "job_id": FLIGHTS_JOB_ID,
    "name": "NYC flights daily pipeline",
    "description": FLIGHTS_REGISTRATION.description,
    "asset_selection": list(FLIGHTS_REGISTRATION.asset_selection),
    "partitions": "daily",
    "is_active": True,
    "partition_start": "2013-01-01",
    "partition_end": "2013-12-31",
    "deadline_seconds": 6 * 3600,
    "deadline_timezone": "America/New_York",
}


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":
        return engine.execution_options(schema_translate_map={"ops": None})
    return engine


def _catalog(url: str) -> list[dict]:
    """Every catalog row, ``created_at`` checked for presence and left out."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(BatchJob.__table__)).mappings().all()
    finally:
        engine.dispose()
    assert all(row["created_at"] is not None for row in rows)
    return [{k: v for k, v in row.items() if k != "created_at"} for row in rows]


def _record_execution(url: str) -> None:
    """An execution of the seeded job, written at revision 0024 (before the application
    registered anything)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO ops.batch_execution (execution_id, job_id, status, trigger_type, "
                "run_tags, steps_total, steps_done, rows_written, created_at, updated_at) "
                "VALUES ('run-1', :job, 'SUCCESS', 'MANUAL', '{}', 0, 0, 0, :at, :at)"
                if url.startswith("postgresql") else
                "INSERT INTO batch_execution (execution_id, job_id, status, trigger_type, "
                "run_tags, steps_total, steps_done, rows_written, created_at, updated_at) "
                "VALUES ('run-1', :job, 'SUCCESS', 'MANUAL', '{}', 0, 0, 0, :at, :at)"),
                {"job": FLIGHTS_JOB_ID, "at": NOW})
    finally:
        engine.dispose()


def test_a_fresh_upgrade_seeds_no_job(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url, BEFORE)
    assert _catalog(url) == [SEEDED]
    migrate.upgrade(url)
    assert _catalog(url) == []


def test_a_database_with_an_execution_of_the_job_keeps_its_row(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url, BEFORE)
    _record_execution(url)
    migrate.upgrade(url)
    assert _catalog(url) == [SEEDED]
    # And the downgrade leaves the kept row as it is: one row, not two.
    migrate.downgrade(url, BEFORE)
    assert _catalog(url) == [SEEDED]


def test_a_job_the_application_registered_is_left_alone(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url, BEFORE)
    engine = _engine(url)
    try:
        register_flights(engine)  # its keys name the job: the row stays, as registered
    finally:
        engine.dispose()
    registered = _catalog(url)
    migrate.upgrade(url)
    assert _catalog(url) == registered


def test_the_downgrade_restores_the_seeded_row(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url)
    assert _catalog(url) == []
    migrate.downgrade(url, BEFORE)
    assert _catalog(url) == [SEEDED]
    # As 0002, 0008 and 0019 left it: the older revisions' downgrades find their row.
    migrate.downgrade(url, "0001")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(sa.table(
                "batch_job", schema="ops" if url.startswith("postgresql") else None))
            assert conn.execute(count).scalar_one() == 0
    finally:
        engine.dispose()
    migrate.upgrade(url)
    assert _catalog(url) == []
