"""Apply, revert and inspect the ops schema's Alembic migrations (``opsrel db ...``).

Alembic is imported only where a migration runs or is rendered: a command that reads the ops
schema checks the stored revision with one query (``ensure_current``) and never loads Alembic
or the migration scripts (about half a second).
"""

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from opsrel_core.persistence import roles
from opsrel_core.persistence.engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSION_TABLE = roles.VERSION_TABLE
VERSIONS_DIR = REPO_ROOT / "migrations" / "versions"
# Each migration file is ``NNNN_name.py`` with revision ``NNNN``, revising the one before it
# (``tests/integration/test_migrations.py`` keeps the chain so): the newest file names the head.
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(database_url: str, stdout: io.TextIOBase | None = None) -> "Config":
    """Build the Alembic config for the ops schema.

    Args:
        database_url: SQLAlchemy URL of the ops database.
        stdout: where offline SQL and messages go (default: the process's stdout).

    Returns:
        A Config whose ``script_location`` is the repository's ``migrations/`` folder.
    """
    from alembic.config import Config

    if stdout is not None:
        cfg = Config(str(REPO_ROOT / "alembic.ini"), output_buffer=stdout, stdout=stdout)
    else:
        cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.attributes["url"] = database_url
    return cfg


class MigrationPrivilegeError(RuntimeError):
    """The login may not migrate the ops schema (the application role owns nothing): the
    message names the revisions and says to run ``opsrel db upgrade`` as the migration role."""


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (default: the newest).

    A database already at head is left alone, without DDL: so the application role, which may
    not migrate, can call this at start-up. After migrations ran on PostgreSQL, the application
    roles' grants are re-applied (``roles.reapply_grants``) so that new tables are covered.

    Raises:
        MigrationPrivilegeError: the schema is behind and this login may not migrate it.
    """
    if database_url.startswith("sqlite"):
        make_engine(database_url).dispose()  # creates the SQLite file's folder
    if revision == "head":
        current = current_revision(database_url)
        if current == head_revision():
            return
    from alembic import command

    try:
        command.upgrade(alembic_config(database_url), revision)
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        user = sa.engine.make_url(database_url).username
        raise MigrationPrivilegeError(
            f"the ops schema is at {current_revision(database_url) or 'base'}, head is "
            f"{head_revision()}, and the login {user!r} may not migrate it: run `opsrel db "
            "upgrade` as the migration role (the owner of schema ops)"
        ) from exc
    if not database_url.startswith("sqlite"):
        engine = make_engine(database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                roles.reapply_grants(conn)
        finally:
            engine.dispose()


# A migration whose downgrade would destroy what the audit log holds defines this function:
# ``audit_rows_lost(connection, schema) -> int``, the number of audit records its downgrade would
# drop or strip (0: nothing is lost). ``downgrade`` asks every revision it would revert first.
AUDIT_LOSS_HOOK = "audit_rows_lost"


class DowngradeRefused(RuntimeError):
    """A downgrade refused before anything changed, because it would destroy audit records.

    Attributes:
        revision: the migration whose downgrade would destroy them.
        records: how many audit records would be lost.
    """

    def __init__(self, revision: str, records: int):
        super().__init__(
            f"the audit log holds {records} record(s) that reverting migration {revision} would "
            "destroy; the audit log is append-only and no downgrade removes it. Reverting "
            f"migration {revision} needs an ops database whose audit log holds no such record."
        )
        self.revision = revision
        self.records = records


def refuse_audit_loss(revision: str, connection, schema: str | None) -> None:  # type: ignore[no-untyped-def]
    """Raise ``DowngradeRefused`` when reverting ``revision`` would destroy audit records.

    Called by ``downgrade`` for every revision it would revert (before anything runs) and by the
    migrations' own ``downgrade()`` (so ``alembic downgrade`` run by hand is refused too).

    Args:
        revision: a revision id of ``migrations/versions``.
        connection: an open connection to the ops database.
        schema: ``"ops"`` on PostgreSQL, None on SQLite.
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    hook = getattr(script.module, AUDIT_LOSS_HOOK, None) if script is not None else None
    lost = hook(connection, schema) if hook is not None else 0
    if lost:
        raise DowngradeRefused(revision, lost)


def downgrade(database_url: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (``base`` reverts all).

    Raises:
        DowngradeRefused: a reverted migration would destroy audit records (its
            ``audit_rows_lost`` counts them); checked before anything runs, nothing changes.
        sqlalchemy.exc.IntegrityError: recorded rows still refer to data the downgrade would
            remove; the downgrade ran in one transaction and was rolled back.
    """
    from alembic.script import ScriptDirectory

    current = current_revision(database_url)
    if current is not None:
        scripts = ScriptDirectory.from_config(alembic_config(database_url))
        # From the current revision down to, not including, the target (ids or ``-1``).
        reverted = [s.revision for s in scripts.iterate_revisions(current, revision)]
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                schema = "ops" if conn.dialect.name == "postgresql" else None
                for rev in reverted:
                    refuse_audit_loss(rev, conn, schema)
        finally:
            engine.dispose()
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The newest revision id in ``migrations/versions`` (Alembic's head)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def newest_revision_file() -> str:
    """The head revision read from the migration file names alone (no Alembic): the largest
    ``NNNN`` of ``migrations/versions/NNNN_*.py``."""
    revisions = [m.group(1) for p in VERSIONS_DIR.iterdir() if (m := _REVISION_FILE.match(p.name))]
    return max(revisions)


def stored_revision(engine: sa.Engine) -> str | None:
    """The revision in the ops schema's version table, by one query; None when the table does
    not exist yet (nothing migrated)."""
    schema = "ops" if engine.dialect.name == "postgresql" else None
    table = sa.table(VERSION_TABLE, sa.column("version_num"), schema=schema)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE, schema=schema):
            return None
        return conn.execute(sa.select(table.c.version_num)).scalar()


def ensure_current(database_url: str, engine: sa.Engine | None = None) -> None:
    """Migrate only when the schema is behind: at head (the usual case) this costs one query
    and loads no Alembic. A database not yet created or behind is upgraded (``upgrade``), so a
    first command on the embedded default still finds its schema.

    Raises:
        MigrationPrivilegeError: the schema is behind and this login may not migrate it.
    """
    own = engine is None
    engine = engine or make_engine(database_url)
    try:
        current = stored_revision(engine)
    finally:
        if own:
            engine.dispose()
    if current != newest_revision_file():
        upgrade(database_url)


def current_revision(database_url: str) -> str | None:
    """The revision the database stands at, or None when no migration was applied."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            schema = "ops" if conn.dialect.name == "postgresql" else None
            ctx = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
            )
            return ctx.get_current_revision()
    finally:
        engine.dispose()


def offline_sql(database_url: str, revision_range: str = "head") -> str:
    """Render the DDL of the migrations without a database (Alembic offline mode).

    Args:
        database_url: only its dialect matters (``postgresql://`` or ``sqlite://``).
        revision_range: ``head`` for all, or ``FROM:TO``.

    Returns:
        The SQL text a DBA can review.
    """
    from alembic import command

    buffer = io.StringIO()
    command.upgrade(alembic_config(database_url, stdout=buffer), revision_range, sql=True)
    return buffer.getvalue()
