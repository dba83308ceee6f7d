"""Alembic environment for the ops schema.

On PostgreSQL the tables live in schema ``ops`` (created here if missing); on SQLite they live in
the main database. Alembic's own version table is ``ops_alembic_version``, kept apart from
Dagster's ``alembic_version`` when both share one database.

The database URL comes from ``config.attributes["url"]`` (set by ``opsrel db``), else from
``sqlalchemy.url`` in the config, else from ``OPSREL_DATABASE_URL``. A caller may inject an open
connection as ``config.attributes["connection"]``.
"""

import os
import sqlite3

import sqlalchemy as sa
from alembic import context

from opsrel_core.persistence.tables import OPS_SCHEMA, Base

VERSION_TABLE = "ops_alembic_version"

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("OPSREL_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set OPSREL_DATABASE_URL")
    return url


def _schema_for(dialect_name: str) -> str | None:
    return OPS_SCHEMA if dialect_name == "postgresql" else None


def run_migrations_offline() -> None:
    """Print the DDL instead of applying it (``opsrel db sql``)."""
    url = _url()
    schema = _schema_for(sa.engine.make_url(url).get_dialect().name)
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        if schema:
            context.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        context.run_migrations()


def _run(connection: sa.Connection) -> None:
    schema = _schema_for(connection.dialect.name)
    if schema:
        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    if connection.dialect.name == "sqlite":
        connection = connection.execution_options(schema_translate_map={OPS_SCHEMA: None})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        include_schemas=schema is not None,
        include_name=lambda name, type_, parent: (
            type_ != "schema" or name == schema
        ),
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _check_foreign_keys(connection: sa.Connection) -> None:
    # SQLite rebuilds a table to alter it (create, copy, drop, rename). With foreign keys
    # enforced, dropping a table that other rows reference fails, so the migrations run with
    # them off; this check, in the same transaction, refuses a result with a dangling reference
    # (a data downgrade that would orphan rows), and the whole upgrade or downgrade is undone.
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        first = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in dangling[:5])
        message = (f"the migration would leave {len(dangling)} dangling reference(s) ({first}); "
                   "nothing was changed")
        # The same error type a foreign key violation raises on PostgreSQL.
        raise sa.exc.IntegrityError("PRAGMA foreign_key_check", None, sqlite3.IntegrityError(message))


def _transactional_sqlite(engine: sa.Engine) -> None:
    """Run every migration of one ``opsrel db`` call in one SQLite transaction, DDL included.

    The sqlite3 driver begins a transaction only before data statements, so a migration's
    ``ALTER TABLE`` would commit on its own and a later failure would leave the schema half
    changed under the old revision. Here the driver begins nothing and SQLAlchemy's begin is an
    explicit ``BEGIN IMMEDIATE``; foreign keys are off while tables are rebuilt (checked before
    the commit, see ``_check_foreign_keys``).
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def run_migrations_online() -> None:
    """Apply migrations on an injected connection or on a new engine for the URL."""
    injected = config.attributes.get("connection")
    if injected is not None:
        _run(injected)
        return
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":
        _transactional_sqlite(engine)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
