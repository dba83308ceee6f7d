"""Engine factory for the ops database: SQLite (embedded default) or PostgreSQL.

SQLite gets WAL journaling, a busy timeout and foreign keys on, so that concurrent writers wait
instead of failing with "database is locked"; the ``ops`` schema is mapped to the main database.
PostgreSQL gets pre-ping so that a restarted server does not leave dead pooled connections.
"""

from pathlib import Path

import sqlalchemy as sa

from opsrel_core.persistence.tables import OPS_SCHEMA

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str, **kwargs) -> sa.Engine:  # type: ignore[no-untyped-def]
    """Create an engine for the ops database.

    Args:
        database_url: SQLAlchemy URL. For SQLite the parent folder is created.
        **kwargs: passed to ``sqlalchemy.create_engine``.

    Returns:
        An engine whose connections address the ops tables correctly on either backend.
    """
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine.execution_options(schema_translate_map={OPS_SCHEMA: None})
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 1800)
    return sa.create_engine(url, **kwargs)
