"""Least privilege on PostgreSQL: the application role's grants on schema ops (``opsrel db grant``).

Two roles share an ops database:

- the **migration role** owns schema ``ops`` and every object in it; it runs ``opsrel db
  upgrade`` and nothing else;
- the **application role** (the login of the code location, the run workers, the daemon and
  ``opsrel api serve``) owns nothing. It may SELECT, INSERT, UPDATE and DELETE the ordinary
  tables, only SELECT and INSERT the audit log, only SELECT the migration version table, and
  use the sequences. Without UPDATE, DELETE and TRUNCATE on ``ops.audit_log`` and without
  ownership (so no DROP TRIGGER, ALTER TABLE ... DISABLE TRIGGER or DROP TABLE) it cannot
  rewrite the audit log, whatever SQL it sends.

Default privileges of the migration role cover tables a later migration creates, and
``migrate.upgrade`` re-applies these grants to every role that already holds them, so that a new
append-only table, or a table created by another role, is never left out or over-granted.
SQLite has no roles: see ``docs/deployment.md`` for what a file-based database cannot protect.
"""

import re

import sqlalchemy as sa

from opsrel_core.persistence.tables import OPS_SCHEMA

VERSION_TABLE = "ops_alembic_version"
APPEND_ONLY_TABLES = ("audit_log",)
"""Tables the application role may only SELECT and INSERT."""
READ_ONLY_TABLES = (VERSION_TABLE,)
"""Tables the application role may only SELECT (it reads where the schema stands)."""

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleGrantError(ValueError):
    """The grants cannot be applied as asked: a bad role name, a role that does not exist, one
    that would keep the power to rewrite the audit log (owner, superuser, member of the owner),
    or a database that is not PostgreSQL. The message says what to do."""


def check_role_name(name: str) -> str:
    """Return ``name`` if it is a plain PostgreSQL role name (lower-case letters, digits and
    ``_``, not starting with a digit, at most 63 characters).

    Raises:
        RoleGrantError: any other name (quoted identifiers are not supported on purpose: the
            printed SQL must be safe to paste).
    """
    if not _ROLE_NAME.match(name):
        raise RoleGrantError(
            f"role name {name!r} is not a plain PostgreSQL name: use lower-case letters, digits "
            "and _ (not starting with a digit), at most 63 characters"
        )
    return name


def grant_sql(app_role: str, owner_role: str | None = None) -> list[str]:
    """The statements that give ``app_role`` exactly the application's privileges on schema ops.

    Idempotent: every statement can be run again; privileges the role holds beyond these on
    the append-only and read-only tables are revoked.

    Args:
        app_role: the application role (checked by ``check_role_name``).
        owner_role: the role whose default privileges are set (the owner of schema ops). None:
            the role that runs the statements, which must then be the migration role.

    Returns:
        SQL statements, in order, without trailing semicolons.

    Raises:
        RoleGrantError: a role name that is not plain.
    """
    app = check_role_name(app_role)
    for_role = f"FOR ROLE {check_role_name(owner_role)} " if owner_role else ""
    s = OPS_SCHEMA
    statements = [
        f"GRANT USAGE ON SCHEMA {s} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {app}",
    ]
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"REVOKE ALL ON {s}.{table} FROM PUBLIC",
            f"REVOKE ALL ON {s}.{table} FROM {app}",
            f"GRANT SELECT, INSERT ON {s}.{table} TO {app}",
        ]
    for table in READ_ONLY_TABLES:
        statements += [
            f"REVOKE ALL ON {s}.{table} FROM {app}",
            f"GRANT SELECT ON {s}.{table} TO {app}",
        ]
    statements += [
        f"ALTER DEFAULT PRIVILEGES {for_role}IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES {for_role}IN SCHEMA {s} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    return statements


def render_sql(app_role: str) -> str:
    """``grant_sql(app_role)`` as a script for a DBA to run as the migration role (``--sql``)."""
    header = (
        f"-- opsrel: privileges of the application role {check_role_name(app_role)} on schema "
        f"{OPS_SCHEMA}.\n-- Run as the migration role (the owner of schema {OPS_SCHEMA}) after "
        "`opsrel db upgrade`; safe to run again.\n"
    )
    body = "".join(f"{stmt};\n" for stmt in grant_sql(app_role))
    return f"{header}BEGIN;\n{body}COMMIT;\n"


def _schema_owner(conn: sa.Connection) -> str:
    owner = conn.execute(
        sa.text("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s"),
        {"s": OPS_SCHEMA},
    ).scalar()
    if owner is None:
        raise RoleGrantError(
            f"schema {OPS_SCHEMA} does not exist here: run `opsrel db upgrade` as the migration "
            "role first"
        )
    return owner


def apply_grants(conn: sa.Connection, app_role: str, create_role: bool = False) -> list[str]:
    """Give ``app_role`` the application's privileges on schema ops, on an open connection of
    the migration role (or a superuser); the caller commits.

    Args:
        conn: a PostgreSQL connection in a transaction.
        app_role: the application role.
        create_role: create it (``LOGIN``, no password: set one with ``ALTER ROLE ... PASSWORD``)
            when it does not exist.

    Returns:
        The statements run (``CREATE ROLE`` first when one was created).

    Raises:
        RoleGrantError: not PostgreSQL; schema ops missing; the role does not exist (and
            ``create_role`` is false); the role owns schema ops, is a member of its owner, or is
            a superuser (it would keep the power to rewrite the audit log); this login may
            not grant (it is not the migration role).
    """
    if conn.dialect.name != "postgresql":
        raise RoleGrantError(
            "database roles exist only on PostgreSQL; a SQLite ops database is protected by its "
            "file's permissions (docs/deployment.md, 'What a SQLite file cannot protect')"
        )
    app = check_role_name(app_role)
    owner = _schema_owner(conn)
    if not conn.execute(sa.text(
        "SELECT pg_has_role(current_user, :o, 'USAGE') OR rolsuper FROM pg_roles "
        "WHERE rolname = current_user"), {"o": owner}).scalar():
        # A GRANT without grant options only warns: refuse up front rather than half-grant.
        raise RoleGrantError(
            f"this login may not grant on schema {OPS_SCHEMA}: run as the migration role {owner}"
        )
    ran: list[str] = []
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app}).scalar()
    if not exists:
        if not create_role:
            raise RoleGrantError(
                f"role {app} does not exist: create it first (CREATE ROLE {app} LOGIN PASSWORD "
                "'...') or pass --create-role"
            )
        ran.append(f"CREATE ROLE {app} LOGIN")
        # Roles are cluster-wide: another session may create the same one at this moment.
        conn.execute(sa.text(
            f"DO $$ BEGIN {ran[-1]}; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
    if app == owner or conn.execute(
        sa.text("SELECT pg_has_role(:a, :o, 'USAGE') OR rolsuper FROM pg_roles WHERE rolname = :a"),
        {"a": app, "o": owner},
    ).scalar():
        raise RoleGrantError(
            f"role {app} owns schema {OPS_SCHEMA}, is a member of its owner {owner} or is a "
            "superuser: it could drop the audit log's triggers. Use a role that owns nothing."
        )
    for stmt in grant_sql(app, owner):
        try:
            conn.execute(sa.text(stmt))
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
                raise
            raise RoleGrantError(
                f"this login may not grant on schema {OPS_SCHEMA} ({stmt}): run as the migration "
                f"role {owner}"
            ) from exc
        ran.append(stmt)
    return ran


def granted_roles(conn: sa.Connection) -> list[str]:
    """Roles other than the owner that hold USAGE on schema ops (the application roles), sorted;
    empty on SQLite or when the schema does not exist."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(sa.text(
        "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_namespace n, aclexplode(n.nspacl) a "
        "WHERE n.nspname = :s AND a.privilege_type = 'USAGE' AND a.grantee <> n.nspowner "
        "AND a.grantee <> 0"
    ), {"s": OPS_SCHEMA}).scalars()
    return sorted(r for r in rows if _ROLE_NAME.match(r))


def reapply_grants(conn: sa.Connection) -> list[str]:
    """Re-apply ``grant_sql`` for every role in ``granted_roles`` (after an upgrade, so that the
    tables of a new migration are covered and an append-only table loses what the default
    privileges gave). Returns the roles re-granted."""
    roles = granted_roles(conn)
    for role in roles:
        apply_grants(conn, role)
    return roles
