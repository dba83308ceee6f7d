"""What every table of the ops schema shares: the MetaData, its naming convention, the column
types and the helpers the models use.

One ``MetaData`` with schema ``ops`` and a constraint naming convention. On SQLite the engine
maps schema ``ops`` to none (``schema_translate_map``), so the same models serve both backends.
The DDL itself is owned by the Alembic migrations in ``migrations/versions``; the models must
match them, which ``tests/integration/test_migrations.py`` checks by comparing metadata.

All times are UTC. Integer keys are ``INTEGER PRIMARY KEY`` on SQLite (the row id) and BIGINT
identity on PostgreSQL.
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase

OPS_SCHEMA = "ops"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# None is stored as SQL NULL, not as the JSON text 'null'.
Json = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

# Shared by the error-code catalog and the alerts.
SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")


class UtcDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC timestamp on both backends.

    PostgreSQL returns aware values; SQLite stores no zone and returns naive ones, which are UTC
    by construction here. Reading through this type gives aware UTC datetimes either way, so no
    caller has to repair them.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


def in_list(column: str, values: tuple[str, ...]) -> str:
    """Render a CHECK expression ``column IN ('A', 'B')`` for a status column."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base carrying the ops schema's MetaData."""

    metadata = sa.MetaData(schema=OPS_SCHEMA, naming_convention=NAMING_CONVENTION)
