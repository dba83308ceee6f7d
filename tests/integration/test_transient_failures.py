"""Transient database failures are retried, then raised as SYS-002: a locked SQLite
file or a dropped PostgreSQL connection costs a retry, never a lost write."""

import pytest
import sqlalchemy as sa

from opsrel_core.errors import SystemException
from opsrel_core.persistence import retry
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(retry, "BACKOFF_SECONDS", (0.0, 0.0, 0.0))


def test_backend_killed_mid_transaction_is_retried_and_nothing_doubles(pg_database_url, no_backoff):
    from tests.support.catalog import upgrade_and_register

    upgrade_and_register(pg_database_url)
    engine = make_engine(pg_database_url)
    killed = []

    @retry.retry_transient
    def record(execution_id: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO ops.projection_cursor (name, cursor, updated_at) "
                    "VALUES (:n, 'x', now())"
                ),
                {"n": execution_id},
            )
            if not killed:
                killed.append(True)
                # The server drops this very connection mid-transaction (as on a restart).
                conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))

    record("after-kill")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name FROM ops.projection_cursor")).scalars().all()
    assert killed == [True]
    assert rows == ["after-kill"]  # the killed attempt rolled back, the retry landed once
    # and the service layer keeps working on the same engine, no restart needed
    service = BatchExecutionService(engine)
    assert service.register_execution(ExecutionSpec("run-1", "flights_daily")).status.value == "READY"
    engine.dispose()


def test_a_database_that_stays_down_raises_sys_002(tmp_path, no_backoff):
    # A SQLite path inside a regular file can never be opened: every attempt fails.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    engine = sa.create_engine(f"sqlite:///{blocker}/ops.db")
    service = BatchExecutionService(engine)
    with pytest.raises(SystemException) as info:
        service.find_execution("run-1")
    assert info.value.code == "SYS-002"
    assert "BatchExecutionService.find_execution failed after 4 attempts" in info.value.operator_message


def test_non_transient_errors_are_not_retried(engine, no_backoff):
    calls = []

    @retry.retry_transient
    def broken() -> None:
        calls.append(1)
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table_anywhere"))

    with pytest.raises(sa.exc.DBAPIError):
        broken()
    # a missing table is a bug, not an outage (SQLite reports it as OperationalError too)
    assert len(calls) == 1
