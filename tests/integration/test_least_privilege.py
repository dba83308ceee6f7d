"""Least privilege: the application role cannot rewrite the audit log, and no login can through
a rewrite path the triggers miss (REPLACE, upsert, TRUNCATE).

``database_url`` logs in as the application role (``tests.support.pg_roles.APP_ROLE``), granted
by ``roles.apply_grants`` exactly as ``opsrel db grant`` does; ``owner_database_url`` is the same
database as the migration role.
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.entrypoints.cli import cli
from opsrel_core.persistence import migrate, roles
from opsrel_core.persistence.engine import make_engine
from tests.support.pg_roles import APP_ROLE, app_url

INSERT = (
    "INSERT INTO ops.audit_log (occurred_at, operator_id, action_type, action, target_type, "
    "target_id, reason) VALUES (:at, 'alice', 'CONFIG_CHANGE', 'token_create', 'api_token', '1', "
    "'first')"
)
UPSERT = (
    "INSERT INTO ops.audit_log (audit_id, occurred_at, operator_id, action_type, action, "
    "target_type, target_id, reason) VALUES (:id, :at, 'mallory', 'CONFIG_CHANGE', 'x', 'x', "
    "'x', 'rewritten') ON CONFLICT (audit_id) DO UPDATE SET reason = 'rewritten'"
)


def _sql(engine: sa.Engine, sql: str) -> sa.TextClause:
    """``sql`` for ``engine``'s backend: SQLite has no schema ``ops`` (text is not translated)."""
    return sa.text(sql.replace("ops.", "") if engine.dialect.name == "sqlite" else sql)


def _append(engine: sa.Engine) -> dict:
    """Append one audit row through ``engine``; returns the row as read back."""
    with engine.begin() as conn:
        conn.execute(_sql(engine, INSERT), {"at": dt.datetime.now(dt.timezone.utc)})
    with engine.connect() as conn:
        return dict(conn.execute(_sql(
            engine, "SELECT * FROM ops.audit_log ORDER BY audit_id DESC LIMIT 1")).mappings().one())


def _rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(_sql(
            engine, "SELECT * FROM ops.audit_log ORDER BY audit_id")).mappings()]


def _refused(engine: sa.Engine, sql: str, params: dict | None = None) -> sa.exc.DBAPIError:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        with engine.begin() as conn:
            conn.execute(_sql(engine, sql), params or {})
    return caught.value


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_application_role_appends_and_reads_but_can_neither_rewrite_nor_unguard(
    database_url, owner_database_url
):
    app = make_engine(database_url)
    try:
        with app.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == APP_ROLE
        first = _append(app)
        second = _append(app)
        assert [r["audit_id"] for r in _rows(app)] == [first["audit_id"], second["audit_id"]]
        # Granting itself more is a no-op (PostgreSQL only warns without a grant option) ...
        with app.begin() as conn:
            conn.execute(sa.text(f"GRANT UPDATE, DELETE, TRUNCATE ON ops.audit_log TO {APP_ROLE}"))
        # ... and every rewrite fails with 42501 insufficient_privilege: no privilege on the
        # table, or not its owner.
        attempts = [
            "UPDATE ops.audit_log SET reason = 'rewritten'",
            "DELETE FROM ops.audit_log",
            "TRUNCATE ops.audit_log",
            UPSERT,
            "SELECT audit_id FROM ops.audit_log FOR UPDATE",
            "DROP TRIGGER audit_log_append_only ON ops.audit_log",
            "ALTER TABLE ops.audit_log DISABLE TRIGGER audit_log_append_only",
            "ALTER TABLE ops.audit_log DISABLE TRIGGER ALL",
            "DROP TABLE ops.audit_log",
            "ALTER TABLE ops.audit_log RENAME TO audit_log_old",
            "DROP FUNCTION ops.audit_log_append_only() CASCADE",
            "CREATE OR REPLACE FUNCTION ops.audit_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER t BEFORE INSERT ON ops.audit_log FOR EACH ROW "
            "EXECUTE FUNCTION ops.audit_log_append_only()",
            f"ALTER TABLE ops.audit_log OWNER TO {APP_ROLE}",
            "SET session_replication_role = replica",  # would skip every trigger
            "CREATE TABLE ops.shadow (x int)",
            "DROP SCHEMA ops CASCADE",
        ]
        messages = {}
        for sql in attempts:
            error = _refused(app, sql, {"id": first["audit_id"], "at": first["occurred_at"]})
            assert error.orig.sqlstate == "42501", (sql, str(error.orig))
            messages[sql] = str(error.orig).splitlines()[0]
        assert messages["TRUNCATE ops.audit_log"] == "permission denied for table audit_log"
        assert messages["DROP TRIGGER audit_log_append_only ON ops.audit_log"] == (
            "must be owner of relation audit_log")
        assert messages["DROP TABLE ops.audit_log"] == "must be owner of table audit_log"
        assert _rows(app) == [first, second]
    finally:
        app.dispose()
    # The triggers are still there and enabled: nothing above touched them.
    owner = sa.create_engine(owner_database_url, poolclass=sa.pool.NullPool)
    with owner.connect() as conn:
        triggers = dict(conn.execute(sa.text(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'ops.audit_log'::regclass "
            "AND NOT tgisinternal")).all())
    owner.dispose()
    assert triggers == {"audit_log_append_only": "O", "audit_log_no_truncate": "O"}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_no_rewrite_path_gets_past_the_triggers_even_for_the_owner(owner_database_url):
    engine = make_engine(owner_database_url)
    try:
        row = _append(engine)
        other = _append(engine)
        key = {"id": row["audit_id"], "at": row["occurred_at"]}
        replace_cols = ("(audit_id, occurred_at, operator_id, action_type, action, target_type, "
                        "target_id, reason) VALUES (:id, :at, 'mallory', 'CONFIG_CHANGE', 'x', "
                        "'x', 'x', 'rewritten')")
        attempts = [
            "UPDATE ops.audit_log SET reason = 'rewritten' WHERE audit_id = :id",
            "DELETE FROM ops.audit_log WHERE audit_id = :id",
            UPSERT,
        ]
        if engine.dialect.name == "sqlite":
            attempts += [
                f"INSERT OR REPLACE INTO ops.audit_log {replace_cols}",
                f"REPLACE INTO ops.audit_log {replace_cols}",
                "UPDATE OR REPLACE ops.audit_log SET audit_id = :id "
                f"WHERE audit_id = {other['audit_id']}",
                "INSERT INTO ops.audit_log SELECT * FROM ops.audit_log WHERE audit_id = :id "
                "AND :at IS NOT NULL ON CONFLICT (audit_id) DO UPDATE SET reason = 'rewritten'",
            ]
        else:
            attempts += ["TRUNCATE ops.audit_log", "TRUNCATE ops.audit_log CASCADE"]
        for sql in attempts:
            error = _refused(engine, sql, key)
            assert "audit_log is append-only" in str(error.orig), (sql, str(error.orig))
        assert _rows(engine) == [row, other]
    finally:
        engine.dispose()


def _privileges(conn: sa.Connection, role: str) -> dict[str, set[str]]:
    names = conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'ops'")).scalars().all()
    return {
        name: {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
                           "TRIGGER")
               if conn.execute(sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                               {"r": role, "t": f"ops.{name}", "p": p}).scalar()}
        for name in names
    }


def _owned_by(conn: sa.Connection, role: str) -> list[str]:
    return conn.execute(sa.text(
        "SELECT relname FROM pg_class "
        "WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r) "
        "UNION ALL SELECT nspname FROM pg_namespace WHERE nspowner = "
        "(SELECT oid FROM pg_roles WHERE rolname = :r)"), {"r": role}).scalars().all()


def test_grants_are_idempotent_exact_and_cover_tables_of_later_migrations(pg_database_url):
    migrate.upgrade(pg_database_url, "0009")  # projection_failure (0010) does not exist yet
    owner = sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool)
    try:
        for _ in range(2):  # the second run changes nothing
            with owner.begin() as conn:
                roles.apply_grants(conn, APP_ROLE, create_role=True)
        migrate.upgrade(pg_database_url)  # 0010 adds projection_failure; grants re-applied
        with owner.begin() as conn:  # a table a migration role creates by hand: default privileges
            conn.execute(sa.text("CREATE TABLE ops.later_table (x int)"))
        with owner.connect() as conn:
            granted = _privileges(conn, APP_ROLE)
            assert roles.granted_roles(conn) == [APP_ROLE]
            assert _owned_by(conn, APP_ROLE) == []
        dml = {"SELECT", "INSERT", "UPDATE", "DELETE"}
        assert granted.pop("audit_log") == {"SELECT", "INSERT"}
        assert granted.pop("ops_alembic_version") == {"SELECT"}
        assert {"projection_failure", "later_table", "batch_execution"} <= set(granted)
        assert {t: p for t, p in granted.items() if p != dml} == {}
        # At head the application role's own start-up upgrade is a no-op; behind, it is refused
        # with a message saying who must migrate.
        migrate.upgrade(app_url(pg_database_url))
        migrate.downgrade(pg_database_url, "0010")
        with pytest.raises(migrate.MigrationPrivilegeError, match="run `opsrel db upgrade` as the "
                           "migration role") as caught:
            migrate.upgrade(app_url(pg_database_url))
        assert "is at 0010" in str(caught.value) and APP_ROLE in str(caught.value)
    finally:
        owner.dispose()


def test_db_grant_command_prints_applies_and_refuses(pg_database_url, sqlite_database_url,
                                                    monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("OPSREL_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    printed = runner.invoke(cli, ["db", "grant", "--app-role", "opsrel_app", "--sql"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert "GRANT SELECT, INSERT ON ops.audit_log TO opsrel_app;" in lines
    assert "REVOKE ALL ON ops.audit_log FROM opsrel_app;" in lines
    assert not [line for line in lines if "audit_log" in line and "UPDATE" in line]
    bad = runner.invoke(cli, ["db", "grant", "--app-role", "app; DROP TABLE x", "--sql"])
    assert bad.exit_code == 2 and "not a plain PostgreSQL name" in bad.output

    migrate.upgrade(pg_database_url)
    engine = sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool)
    script = runner.invoke(cli, ["db", "grant", "--app-role", APP_ROLE, "--sql"]).output
    with engine.connect() as conn:  # what a DBA pastes into psql as the migration role
        # The role is cluster-wide and may be created by a parallel test process at this moment:
        # a check-then-create would race, so a duplicate is ignored instead.
        conn.exec_driver_sql(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        conn.exec_driver_sql(script)
        conn.commit()
        assert _privileges(conn, APP_ROLE)["audit_log"] == {"SELECT", "INSERT"}
        assert _privileges(conn, APP_ROLE)["batch_execution"] == {"SELECT", "INSERT", "UPDATE",
                                                                  "DELETE"}
    monkeypatch.setenv("OPSREL_DATABASE_URL", pg_database_url)
    missing = runner.invoke(cli, ["db", "grant", "--app-role", "opsrel_no_such_role"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    superuser = runner.invoke(cli, ["db", "grant", "--app-role", "postgres"])
    assert superuser.exit_code == 2 and "could drop the audit log's triggers" in superuser.output
    for _ in range(2):
        done = runner.invoke(cli, ["db", "grant", "--app-role", APP_ROLE, "--create-role"])
        assert done.exit_code == 0, done.output
    as_app = runner.invoke(cli, ["db", "grant", "--app-role", APP_ROLE],
                           env={"OPSREL_DATABASE_URL": app_url(pg_database_url)})
    assert as_app.exit_code == 2 and "run as the migration role postgres" in as_app.output
    with engine.connect() as conn:
        assert _privileges(conn, APP_ROLE)["audit_log"] == {"SELECT", "INSERT"}
    engine.dispose()

    migrate.upgrade(sqlite_database_url)
    sqlite = runner.invoke(cli, ["db", "grant", "--app-role", APP_ROLE],
                           env={"OPSREL_DATABASE_URL": sqlite_database_url})
    assert sqlite.exit_code == 2 and "only on PostgreSQL" in sqlite.output
