"""Fixtures for tests that run the real Dagster pipeline against a real ops database."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from opsrel_dagster.app.runner import HeadlessRunner
from opsrel_dagster.instance_config import dagster_postgres_yaml


@pytest.fixture
def opsrel_env(
    tmp_path: Path, monkeypatch, database_url: str, owner_database_url: str
) -> dict[str, str]:
    """Point opsrel at a migrated ops database and a fresh SQLite Dagster home in tmp_path.

    On the PostgreSQL leg of ``database_url`` Dagster's own storage goes to the same PostgreSQL
    database too (schema ``dagster``, owned by the application role, which creates Dagster's
    tables), as the README's PostgreSQL setup and docs/deployment.md's roles do.
    """
    home = tmp_path / "opsrel_home"
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True)
    if database_url.startswith("postgresql"):
        engine = sa.create_engine(owner_database_url)
        app_role = sa.engine.make_url(database_url).username
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS dagster AUTHORIZATION {app_role}"))
        engine.dispose()
        (dagster_home / "dagster.yaml").write_text(dagster_postgres_yaml(database_url))
    landing = tmp_path / "landing"
    landing.mkdir()
    env = {
        "OPSREL_HOME": str(home),
        "OPSREL_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(dagster_home),
        "OPSREL_LANDING_DIR": str(landing),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def runner(opsrel_env) -> HeadlessRunner:
    """A HeadlessRunner set up from the test environment (ops schema migrated)."""
    runner = HeadlessRunner.from_env()
    yield runner
    runner.engine.dispose()
