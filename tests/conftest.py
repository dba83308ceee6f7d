"""Shared fixtures: migrated ops databases on real SQLite and real PostgreSQL.

PostgreSQL is required: the server named by ``OPSREL_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) must answer; a test that needs it errors
out, never skips, when it does not. Each test gets a fresh database created from that server.

``database_url`` logs in to PostgreSQL as the application role (``tests.support.pg_roles``):
it owns nothing and may not rewrite the audit log, as in a least-privilege deployment. Tests
that migrate or need the owner use ``owner_database_url`` (the same database, as the migration
role) or ``empty_database_url``.
"""

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.persistence import roles
from opsrel_core.persistence.engine import make_engine
from tests.support.catalog import upgrade_and_register
from tests.support.pg_roles import APP_ROLE, app_url

# The browser fixtures (chromium_browser, loopback_page; firefox) and the catalog's
# (flights_deadline) for every test folder.
pytest_plugins = ["tests.support.browser", "tests.support.firefox", "tests.support.catalog"]

PG_ADMIN_URL = os.environ.get(
    "OPSREL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_admin_engine() -> sa.Engine:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment failure
        pytest.fail(
            f"PostgreSQL is required for the tests and is not reachable at {PG_ADMIN_URL}: {exc}. "
            "Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set "
            "OPSREL_TEST_PG_URL.",
            pytrace=False,
        )
    return engine


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped after the test. Yields its SQLAlchemy URL."""
    admin = _pg_admin_engine()
    name = f"opsrel_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_database_url(tmp_path) -> str:
    """A fresh SQLite file in the test's temporary folder (not yet migrated)."""
    return f"sqlite:///{tmp_path / 'ops.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request) -> str:
    """An empty ops database on each backend in turn."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_database_url")
    return request.getfixturevalue("pg_database_url")


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Databases migrated to head once per session, copied for each test (fast and identical),
    with the flights job registered as ``opsrel db upgrade`` leaves it (``tests.support.catalog``).

    Under pytest-xdist each worker process has its own session, so its own pair (the random
    name keeps the templates apart); nothing stays connected to a template after this set-up,
    as ``CREATE DATABASE ... TEMPLATE`` refuses a template another session is using.

    Yields ``{"sqlite": path of a migrated SQLite file, "postgresql": template database name}``.
    """
    sqlite_path = tmp_path_factory.mktemp("template") / "ops.db"
    upgrade_and_register(f"sqlite:///{sqlite_path}")
    admin = _pg_admin_engine()
    name = f"opsrel_tmpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    template_url = sa.engine.make_url(PG_ADMIN_URL).set(database=name)
    upgrade_and_register(template_url.render_as_string(hide_password=False))
    # The grants are catalog rows of the template: every database copied from it has them.
    grantor = sa.create_engine(template_url, poolclass=sa.pool.NullPool)
    with grantor.begin() as conn:
        roles.apply_grants(conn, APP_ROLE, create_role=True)
    grantor.dispose()
    try:
        yield {"sqlite": str(sqlite_path), "postgresql": name}
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, migrated_templates) -> Iterator[str]:
    """A migrated ops database (head, the flights job registered) on each backend in turn,
    private to the test; on PostgreSQL logging in as the application role (``APP_ROLE``)."""
    if request.param == "sqlite":
        path = tmp_path / "ops.db"
        shutil.copyfile(migrated_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    admin = _pg_admin_engine()
    name = f"opsrel_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(
            sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgresql"]}"')
        )
    try:
        yield app_url(sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False
        ))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def owner_database_url(database_url) -> str:
    """The database of ``database_url`` as the migration role sees it: on PostgreSQL logging in
    as the server's admin login (the owner of schema ops), on SQLite the same file."""
    if database_url.startswith("sqlite"):
        return database_url
    admin = sa.engine.make_url(PG_ADMIN_URL)
    return sa.engine.make_url(database_url).set(
        username=admin.username, password=admin.password
    ).render_as_string(hide_password=False)


@pytest.fixture
def engine(database_url) -> Iterator[sa.Engine]:
    """An engine on the migrated ops database, disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


TIERS = {
    "unit": "unit",            # domain and services, no database server, seconds
    "integration": "core",     # the core on SQLite and PostgreSQL
    "dagster": "dagster",      # real Dagster instances (and processes) on the ops schema
    "api": "api",              # the admin API over HTTP
    "console": "console",      # the operator console, in real browsers
}


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Mark each test with its tier, named by its folder (``pytest -m unit``, ``-m core``...)."""
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        tier = TIERS.get(parts[1]) if len(parts) > 2 and parts[0] == "tests" else None
        item.add_marker(getattr(pytest.mark, tier or "suite"))
        # Across the tiers: the tests that start Dagster processes (webserver, daemon, a run
        # worker) and the tests that drive the `opsrel` commands.
        module = getattr(item, "module", None)
        names = vars(module) if module is not None else {}
        if any(n in names for n in ("dagster_webserver", "dagster_daemon", "run_worker")):
            item.add_marker(pytest.mark.e2e)
        if "CliRunner" in names or parts[-1].startswith("test_cli"):
            item.add_marker(pytest.mark.cli)
