"""``opsrel db upgrade|downgrade|current|sql|grant``: the ops schema and its Alembic migrations."""

import sys
from collections.abc import Callable

import click

from opsrel_core.entrypoints.cli.group import cli
from opsrel_core.entrypoints.cli.output import _redacted
from opsrel_core.config import OpsSettings


@cli.group()
def db() -> None:
    """Manage the ops schema with its Alembic migrations."""


AFTER_UPGRADE: list[Callable[[str], str]] = []
"""Called with the database URL after ``opsrel db upgrade`` reaches head; each returns a line to
print. The application registers its declared jobs in the batch-job catalog here (the core
knows no code location)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head); at head, register the code location's
    declared jobs in the batch-job catalog."""
    from opsrel_core.persistence import migrate

    settings = OpsSettings.from_env()
    migrate.upgrade(settings.database_url, revision)
    click.echo(
        f"ops schema at {migrate.current_revision(settings.database_url)} "
        f"({_redacted(settings.database_url)})"
    )
    if revision == "head":
        for hook in AFTER_UPGRADE:
            click.echo(hook(settings.database_url))


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' reverts all).

    Exit 1, nothing changed, when the downgrade would drop or strip audit records (the audit
    log is never destroyed) or orphan recorded executions."""
    import sqlalchemy as sa

    from opsrel_core.persistence import migrate

    settings = OpsSettings.from_env()
    try:
        migrate.downgrade(settings.database_url, revision)
    except migrate.DowngradeRefused as exc:
        # Refused before anything ran: the audit log is never dropped or stripped.
        click.echo(f"downgrade to {revision} refused, nothing changed: {exc}", err=True)
        sys.exit(1)
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
    from opsrel_core.persistence import migrate

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
    from opsrel_core.persistence import migrate

    url = f"{dialect}://" if dialect else OpsSettings.from_env().database_url
    click.echo(migrate.offline_sql(url, revision_range), nl=False)


@db.command("grant")
@click.option("--app-role", required=True, help="The application role (owns nothing).")
@click.option("--create-role", is_flag=True,
              help="Create it (LOGIN, no password) when it does not exist.")
@click.option("--sql", "as_sql", is_flag=True,
              help="Print the statements for a DBA instead; touches no database.")
def db_grant(app_role: str, create_role: bool, as_sql: bool) -> None:
    """Give APP_ROLE the application's privileges on schema ops (PostgreSQL), run as the
    migration role: the ordinary tables read and written, the audit log only read and appended
    to. Safe to run again; `opsrel db upgrade` re-applies it to roles that hold it. Exit 2 when
    refused (nothing changed)."""
    import sqlalchemy as sa

    from opsrel_core.persistence import roles
    from opsrel_core.entrypoints import bootstrap

    try:
        if as_sql:
            click.echo(roles.render_sql(app_role), nl=False)
            return
        engine = bootstrap.engine_for(OpsSettings.from_env(), poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                ran = roles.apply_grants(conn, app_role, create_role=create_role)
        finally:
            engine.dispose()
    except roles.RoleGrantError as exc:
        click.echo(f"grant refused, nothing changed: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{len(ran)} statements applied: {app_role} may read and write schema ops, "
               "and only read and append to ops.audit_log")
