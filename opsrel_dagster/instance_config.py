"""The Dagster instance configuration opsrel documents for PostgreSQL (README, "Switch to PostgreSQL")."""

import sqlalchemy as sa


def dagster_postgres_yaml(url: str) -> str:
    """Render a ``dagster.yaml`` that keeps Dagster's runs, events and schedules in PostgreSQL.

    Dagster's tables go to schema ``dagster`` of the database named by ``url`` (next to the
    ``ops`` schema when both share one database), through psycopg2, the driver dagster-postgres
    ships (the default ``postgresql://`` scheme would need psycopg 3, which it does not
    install). Telemetry is off.

    Args:
        url: a SQLAlchemy PostgreSQL URL, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/opsrel``;
            its user, password, host, port (default 5432) and database are used.

    Returns:
        The YAML text. The schema ``dagster`` must exist (``CREATE SCHEMA IF NOT EXISTS dagster``).
    """
    parsed = sa.engine.make_url(url)
    return f"""\
telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      username: {parsed.username}
      password: "{parsed.password or ''}"
      hostname: {parsed.host}
      port: {parsed.port or 5432}
      db_name: {parsed.database}
      scheme: postgresql+psycopg2
      params:
        options: "-csearch_path=dagster"
"""
