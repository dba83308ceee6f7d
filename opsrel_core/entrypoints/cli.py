"""``opsrel`` command-line interface: the core commands (``opsrel db ...``).

Commands that need Dagster (``opsrel run``, ``opsrel sync``) are added to the same group by
``opsrel_dagster.cli``, which is the console script's entry point; this module never imports
dagster.
"""

import sys

import click

from opsrel_core.persistence import migrate
from opsrel_core.settings import OpsSettings


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


@click.group()
def cli() -> None:
    """opsrel: operational reliability for Dagster data platforms.

    The ops database is OPSREL_DATABASE_URL (a SQLAlchemy URL); by default a SQLite file
    .opsrel/ops.db under OPSREL_HOME (default ./.opsrel).
    """


@cli.group()
def db() -> None:
    """Manage the ops schema with its Alembic migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = OpsSettings.from_env()
    migrate.upgrade(settings.database_url, revision)
    click.echo(
        f"ops schema at {migrate.current_revision(settings.database_url)} "
        f"({_redacted(settings.database_url)})"
    )


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' reverts all)."""
    import sqlalchemy as sa

    settings = OpsSettings.from_env()
    try:
        migrate.downgrade(settings.database_url, revision)
    except sa.exc.IntegrityError as exc:
        # Nothing changed: the downgrade ran in one transaction and was rolled back.
        click.echo(
            f"downgrade to {revision} refused, nothing changed: recorded rows still refer to "
            f"data this downgrade would remove ({type(exc.orig).__name__}). Downgrading below "
            "0002 needs an ops database without executions.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"ops schema at {migrate.current_revision(settings.database_url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Say where the database stands against head; exit 1 when it is behind."""
    settings = OpsSettings.from_env()
    current = migrate.current_revision(settings.database_url)
    head = migrate.head_revision()
    state = "up to date" if current == head else "behind: run `opsrel db upgrade`"
    click.echo(f"current: {current or 'base'}  head: {head}  ({state})")
    if current != head:
        sys.exit(1)


@db.command("sql")
@click.option(
    "--dialect",
    type=click.Choice(["postgresql", "sqlite"]),
    default=None,
    help="Dialect to render for (default: the one of OPSREL_DATABASE_URL).",
)
@click.argument("revision_range", default="head")
def db_sql(dialect: str | None, revision_range: str) -> None:
    """Print the DDL of the migrations for review (Alembic offline mode); touches no database."""
    url = f"{dialect}://" if dialect else OpsSettings.from_env().database_url
    click.echo(migrate.offline_sql(url, revision_range), nl=False)


def main() -> None:
    """Run the core CLI (without the Dagster commands)."""
    cli()
