"""The ops schema's migrations, initial data and constraints, on both backends.

Every test runs on a real SQLite file and on a real PostgreSQL database (see ``tests/conftest.py``).
"""

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from opsrel_core.domain import error_codes
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import (
    AuditLog,
    Base,
    BatchExecution,
    BatchJob,
    ErrorCode,
    ResultVersion,
)
from tests.support.catalog import register_flights

VERSION_TABLE = "ops_alembic_version"
CATEGORIES = ("INP", "EXT", "BAT", "DQ", "LOG", "SYS")
TABLE_NAMES = {t.name for t in Base.metadata.tables.values()}


def _is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def _schema(url: str) -> str | None:
    return "ops" if _is_pg(url) else None


def _ops_tables(url: str) -> set[str]:
    """Names of the tables holding ops data (the Alembic version table excluded)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        if _is_pg(url) and "ops" not in insp.get_schema_names():
            return set()
        return set(insp.get_table_names(schema=_schema(url))) - {VERSION_TABLE}
    finally:
        engine.dispose()


def _code_constants() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(error_codes).items()
        if isinstance(value, str) and re.fullmatch(r"[A-Z]{2,3}-\d{3}", value)
    }


# --- upgrade / downgrade -----------------------------------------------------------------------


def test_upgrade_downgrade_upgrade_round_trip(empty_database_url):
    url = empty_database_url
    assert migrate.current_revision(url) is None

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert _ops_tables(url) == TABLE_NAMES

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert _ops_tables(url) == set()

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert _ops_tables(url) == TABLE_NAMES
    # The initial data is back exactly once after the round trip; no job is seeded (0025: the
    # application registers the jobs it declares).
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n_codes = conn.scalar(sa.select(sa.func.count()).select_from(ErrorCode))
            n_distinct = conn.scalar(sa.select(sa.func.count(sa.distinct(ErrorCode.code))))
            n_jobs = conn.scalar(sa.select(sa.func.count()).select_from(BatchJob))
            assert (n_codes, n_jobs) == (n_distinct, 0) and n_codes > 0
    finally:
        engine.dispose()


def test_downgrade_to_base_leaves_no_ops_objects(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    assert _ops_tables(url) == set()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if _is_pg(url):
                leftovers = conn.execute(
                    sa.text(
                        "SELECT c.relname, c.relkind FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'ops' AND c.relname NOT LIKE :v"
                    ),
                    {"v": f"{VERSION_TABLE}%"},
                ).all()
                assert leftovers == []
                functions = conn.execute(
                    sa.text(
                        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
                        "ON n.oid = p.pronamespace WHERE n.nspname = 'ops'"
                    )
                ).all()
                assert functions == []
            else:
                leftovers = conn.execute(
                    sa.text(
                        "SELECT type, name FROM sqlite_master "
                        "WHERE name NOT LIKE :v AND name NOT LIKE 'sqlite_%'"
                    ),
                    {"v": f"{VERSION_TABLE}%"},
                ).all()
                assert leftovers == []
    finally:
        engine.dispose()


def test_head_revision_is_the_newest_script():
    assert migrate.head_revision() == sorted(
        p.name.split("_")[0] for p in (migrate.REPO_ROOT / "migrations" / "versions").glob("0*.py")
    )[-1]
    # ``ensure_current`` reads the head from the file names: each file's revision is its number
    # and revises the one before, so the newest file is Alembic's head.
    assert migrate.newest_revision_file() == migrate.head_revision()
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    for script in scripts.walk_revisions():
        number = int(script.revision)
        assert script.path.rsplit("/", 1)[1].startswith(f"{number:04d}_")
        assert script.down_revision == (None if number == 1 else f"{number - 1:04d}")


def test_a_read_at_head_checks_one_revision_and_loads_no_alembic(database_url):
    import subprocess
    import sys

    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        assert migrate.stored_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
    probe = ("import sys; from opsrel_core.persistence import migrate; "
             f"migrate.ensure_current({database_url!r}); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_read_on_an_empty_database_creates_the_schema(empty_database_url):
    migrate.ensure_current(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_postgres_tables_live_in_schema_ops(pg_database_url):
    migrate.upgrade(pg_database_url)
    engine = sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_name = ANY(:names)"
                ),
                {"names": sorted(TABLE_NAMES)},
            ).all()
            by_schema: dict[str, set[str]] = {}
            for schema, name in rows:
                by_schema.setdefault(schema, set()).add(name)
            assert by_schema == {"ops": TABLE_NAMES}
            version_schema = conn.scalar(
                sa.text(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = :t"
                ),
                {"t": VERSION_TABLE},
            )
            assert version_schema == "ops"
    finally:
        engine.dispose()


# --- the models match the migrated schema ------------------------------------------------------


def _include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    """PostgreSQL: only schema ``ops``; everywhere: not alembic's version table."""
    if type_ == "schema":
        return name == "ops"
    if type_ == "table":
        return name != VERSION_TABLE
    return True


def _include_name_sqlite(name, type_, parent_names):  # type: ignore[no-untyped-def]
    # SQLite has one (default) schema; filtering schemas here would hide every table.
    return not (type_ == "table" and name == VERSION_TABLE)


def _sqlite_metadata() -> sa.MetaData:
    """The models' metadata without a schema, as the tables exist on SQLite."""
    md = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(md, schema=None)
    return md


def test_migrated_schema_matches_the_models(database_url):
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if _is_pg(database_url):
                ctx = MigrationContext.configure(
                    conn,
                    opts={
                        "compare_type": True,
                        "include_schemas": True,
                        "include_name": _include_name,
                    },
                )
                diff = compare_metadata(ctx, Base.metadata)
            else:
                # alembic compares on Table.schema and does not apply schema_translate_map to
                # the metadata side (with only the map, every table shows as added in "ops" and
                # removed from the default schema), so SQLite compares a schema-less copy.
                translated = conn.execution_options(schema_translate_map={"ops": None})
                ctx = MigrationContext.configure(
                    translated, opts={"compare_type": True, "include_name": _include_name_sqlite}
                )
                diff = compare_metadata(ctx, _sqlite_metadata())
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


# --- initial data ------------------------------------------------------------------------------


def test_error_code_catalog_is_complete(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ErrorCode.__table__)).mappings().all()
    assert rows
    by_category: dict[str, list] = {}
    for row in rows:
        by_category.setdefault(row["category"], []).append(row)
        assert row["code"].startswith(row["category"] + "-")
        assert row["title"].strip()
        assert row["user_message"].strip()
        assert row["operator_message"].strip()
        assert row["user_message"] != row["operator_message"]
        assert row["severity"] in ("INFO", "WARNING", "ERROR", "CRITICAL")
        assert isinstance(row["retryable"], bool)
        assert isinstance(row["auto_alert"], bool)
    for category in CATEGORIES:
        assert len(by_category.get(category, [])) >= 3, category
    assert set(by_category) == set(CATEGORIES)


def test_every_code_named_in_the_domain_exists_in_the_catalog(engine):
    constants = _code_constants()
    assert len(constants) >= 18
    with engine.connect() as conn:
        catalog = set(conn.scalars(sa.select(ErrorCode.code)))
    missing = {name: code for name, code in constants.items() if code not in catalog}
    assert missing == {}
    for code in constants.values():
        assert error_codes.category_of(code) in CATEGORIES


def test_batch_job_flights_daily_exists(engine):
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(BatchJob.__table__).where(BatchJob.job_id == "flights_daily")
        ).mappings().one()
    assert row["is_active"] is True
    assert row["partitions"] == "daily"
    assert isinstance(row["asset_selection"], list)
    assert "raw_flights" in row["asset_selection"]
    assert row["created_at"] is not None


# --- offline SQL -------------------------------------------------------------------------------


def test_offline_sql_for_postgresql_renders_the_ddl(capsys):
    # offline_sql must *return* the SQL (``opsrel db sql`` / a DBA review), not only print it.
    sql = migrate.offline_sql("postgresql://")
    capsys.readouterr()
    assert "CREATE TABLE ops.batch_execution" in sql
    assert re.search(
        r"CREATE UNIQUE INDEX uq_result_version_one_active ON ops\.result_version "
        r"\(asset_key, partition_key\) WHERE is_active",
        sql,
    )
    assert "INSERT INTO ops.error_code" in sql


# --- constraints hold in the database ----------------------------------------------------------

NOW = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _insert_execution(conn: sa.Connection, execution_id: str, status: str = "READY") -> None:
    conn.execute(
        sa.insert(BatchExecution.__table__).values(
            execution_id=execution_id,
            job_id="flights_daily",
            status=status,
            trigger_type="MANUAL",
            run_tags={},
            steps_total=0,
            steps_done=0,
            rows_written=0,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def _result_version(execution_id: str, number: int, active: bool) -> dict:
    return dict(
        asset_key="ontime_performance",
        partition_key="2013-01-01",
        version_number=number,
        execution_id=execution_id,
        content_hash=f"h{number}",
        row_count=10,
        is_active=active,
        created_at=NOW,
    )


def test_two_active_result_versions_for_one_partition_are_refused(engine):
    table = ResultVersion.__table__
    with engine.begin() as conn:
        for eid in ("e1", "e2", "e3"):
            _insert_execution(conn, eid)
        conn.execute(sa.insert(table).values(**_result_version("e1", 1, active=True)))
        # An inactive version next to the active one is fine.
        conn.execute(sa.insert(table).values(**_result_version("e2", 2, active=False)))
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(sa.insert(table).values(**_result_version("e3", 3, active=True)))
    with engine.connect() as conn:
        n_active = conn.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.is_active)
        )
        n_all = conn.scalar(sa.select(sa.func.count()).select_from(table))
    assert (n_active, n_all) == (1, 2)
    # Another partition may have its own active version.
    with engine.begin() as conn:
        values = _result_version("e3", 1, active=True) | {"partition_key": "2013-01-02"}
        conn.execute(sa.insert(table).values(**values))


def test_batch_execution_status_check(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            _insert_execution(conn, "bogus", status="BOGUS")
    with engine.begin() as conn:
        _insert_execution(conn, "fine", status="RUNNING")


def test_batch_execution_job_must_exist(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(
                sa.insert(BatchExecution.__table__).values(
                    execution_id="orphan",
                    job_id="no_such_job",
                    status="READY",
                    trigger_type="MANUAL",
                    run_tags={},
                    steps_total=0,
                    steps_done=0,
                    rows_written=0,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def _audit_row(**overrides) -> dict:
    values = dict(
        occurred_at=NOW,
        operator_id="alice",
        action_type="BATCH_ACTION",
        action="STOP",
        target_type="batch_execution",
        target_id="e1",
        reason="operator stopped a stuck run",
        before_state={"status": "RUNNING"},
        after_state={"status": "STOPPED"},
    )
    values.update(overrides)
    return values


@pytest.mark.parametrize("reason", ["", "   "])
def test_audit_log_blank_reason_is_refused(engine, reason):
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(sa.insert(AuditLog.__table__).values(**_audit_row(reason=reason)))


def test_audit_log_blank_operator_is_refused(engine):
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(sa.insert(AuditLog.__table__).values(**_audit_row(operator_id=" ")))


def test_audit_log_is_append_only(owner_database_url):
    # As the owner: the application role (``engine``) is refused by privilege before the
    # triggers are reached (test_least_privilege.py).
    from opsrel_core.persistence.engine import make_engine

    engine = make_engine(owner_database_url)
    table = AuditLog.__table__
    with engine.begin() as conn:
        audit_id = conn.execute(
            sa.insert(table).values(**_audit_row()).returning(table.c.audit_id)
        ).scalar_one()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(
                sa.update(table).where(table.c.audit_id == audit_id).values(reason="rewritten")
            )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.audit_id == audit_id))
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.audit_id == audit_id)).mappings().one()
    engine.dispose()
    assert row["reason"] == "operator stopped a stuck run"


def test_data_downgrade_refuses_while_rows_reference_the_catalog(empty_database_url):
    """Downgrading below the initial data with executions recorded fails on both backends
    instead of leaving dangling references (SQLite enforces foreign keys in migrations too)."""
    from opsrel_core.persistence.engine import make_engine
    from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    register_flights(engine)
    BatchExecutionService(engine).register_execution(ExecutionSpec("run-1", "flights_daily"))
    with engine.connect() as conn:
        codes_before = conn.execute(sa.select(sa.func.count()).select_from(ErrorCode)).scalar_one()
    with pytest.raises(sa.exc.IntegrityError):
        migrate.downgrade(empty_database_url, "0001")
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    with engine.connect() as conn:  # the whole downgrade rolled back, later revisions' data too
        codes_after = conn.execute(sa.select(sa.func.count()).select_from(ErrorCode)).scalar_one()
    assert codes_after == codes_before
    engine.dispose()
