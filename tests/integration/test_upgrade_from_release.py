"""An ops database written by the previous release upgrades to head, whole or not at all.

The fixture ``tests/support/fixtures/ops-0010-populated.db`` was written by opsrel at revision
0010 (the release before this one) on SQLite: ``opsrel run --from 2013-01-01 --to 2013-01-03``,
a token created, an alert acknowledged and one replay of 2013-01-02. Its rows reference each
other (executions, versions, rule results, alerts, audit records), which is what made SQLite's
table rebuilds fail with foreign keys enforced.
"""

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService

FIXTURE = Path(__file__).parent.parent / "support" / "fixtures" / "ops-0010-populated.db"
COUNTED = ("batch_execution", "result_version", "validation_result", "alert", "audit_log",
           "replay", "api_token", "execution_event")


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in COUNTED}
    finally:
        engine.dispose()


def _copy(tmp_path) -> str:
    path = tmp_path / "ops.db"
    shutil.copyfile(FIXTURE, path)
    return f"sqlite:///{path}"


def test_a_populated_database_of_the_previous_release_upgrades_to_head(tmp_path):
    url = _copy(tmp_path)
    assert migrate.current_revision(url) == "0010"
    before = _counts(url)
    assert before["batch_execution"] == 4 and before["result_version"] == 28
    assert before["audit_log"] == 6 and before["alert"] == 2

    migrate.upgrade(url)

    assert migrate.current_revision(url) == migrate.head_revision()
    assert _counts(url) == before  # nothing lost, nothing added
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            active = conn.exec_driver_sql(
                "SELECT count(*) FROM result_version WHERE is_active").scalar_one()
            triggers = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")}
        assert active == 21  # the replay's versions replaced the day's; still one per partition
        # The catalog row its executions name stays as the release left it (0025 removes only
        # a seeded row nothing names), with the bounds and deadline of 0008 and 0019.
        with engine.connect() as conn:
            jobs = conn.exec_driver_sql(
                "SELECT job_id, partition_start, partition_end, deadline_seconds, "
                "deadline_timezone FROM batch_job").all()
        assert [tuple(r) for r in jobs] == [("flights_daily", "2013-01-01", "2013-12-31", 21600, "America/New_York")]
        assert {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"} <= triggers
        # The services of this release read what the previous one wrote.
        alerts = {a.alert_id: a.status for a in
                  OpsAlertService(engine, AlertSettings()).list_alerts()}
        assert alerts == {1: "ACKNOWLEDGED", 2: "OPEN"}
        records = AuditLogService(engine).list_audit_logs()
        assert len(records) == 6 and all(r.principal is None for r in records)
    finally:
        engine.dispose()


def test_an_upgrade_that_fails_part_way_changes_nothing(tmp_path):
    """Each ``opsrel db upgrade`` is one transaction on SQLite too: when a later migration fails,
    the earlier ones of the same call (here 0011's new column) are undone with it."""
    url = _copy(tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a table in the way of migration 0016
        conn.exec_driver_sql("CREATE TABLE alert_silence (x INTEGER)")
    engine.dispose()
    with pytest.raises(sa.exc.OperationalError, match="alert_silence"):
        migrate.upgrade(url)
    assert migrate.current_revision(url) == "0010"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(audit_log)")}
        assert "principal" not in columns
    finally:
        engine.dispose()
    # With the obstacle gone, the same upgrade runs through.
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alert_silence")
    engine.dispose()
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
