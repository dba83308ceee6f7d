"""AuditLogService on both backends.

Each ``log_*`` writes exactly one record whose before/after states are read from the database, not
passed by the caller; a missing or blank operator or reason is a coded error and writes nothing;
in the caller's transaction the action and its record land together or neither does; the
database itself refuses UPDATE and DELETE on ``audit_log``.
"""

import datetime as dt

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchExecution, BatchJob
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import (
    MISSING_REQUIRED_FIELD_CODE,
    AuditActionType,
    AuditLogService,
    EntityRef,
    audit_change,
    json_safe,
)
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

T0 = dt.datetime(2024, 3, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(minutes=1)
BLANKS = [None, "", "   ", "\t\n"]


@pytest.fixture
def audit(engine) -> AuditLogService:
    return AuditLogService(engine)


@pytest.fixture
def execution_id(engine) -> str:
    BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id="run-1", job_id="flights_daily", partition_key="2013-01-01"),
        at=T0,
    )
    return "run-1"


def _audit_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(AuditLog.__table__))


def _execution(engine: sa.Engine, execution_id: str) -> dict:
    table = BatchExecution.__table__
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(table).where(table.c.execution_id == execution_id))
            .mappings()
            .one()
        )


def _start(e: BatchExecution) -> None:
    e.status, e.started_at = "RUNNING", T1


# -- the three standalone methods ----------------------------------------------------------------


def test_log_batch_action_writes_one_record_with_states_from_the_row(engine, audit, execution_id):
    view = audit.log_batch_action(
        operator_id="kim", reason="manual start after fix", action="START_EXECUTION",
        target=EntityRef(BatchExecution, execution_id), mutate=_start,
    )
    assert _audit_count(engine) == 1
    assert (view.operator_id, view.reason, view.action_type, view.action) == (
        "kim", "manual start after fix", "BATCH_ACTION", "START_EXECUTION",
    )
    assert (view.target_type, view.target_id, view.execution_id) == (
        "batch_execution", "run-1", "run-1",
    )
    assert view.before_state["status"] == "READY"
    assert view.before_state["started_at"] is None
    assert view.before_state["created_at"] == "2024-03-01T10:00:00+00:00"
    assert view.after_state["status"] == "RUNNING"
    assert view.after_state["started_at"] == "2024-03-01T10:01:00+00:00"
    assert view.after_state["partition_key"] == "2013-01-01"
    assert set(view.before_state) == {c.key for c in BatchExecution.__table__.columns}
    assert view.occurred_at.tzinfo is not None
    assert _execution(engine, execution_id)["status"] == "RUNNING"
    assert audit.list_audit_logs() == [view]


def test_state_is_read_from_the_database_not_from_memory(engine, audit, execution_id):
    """A bulk UPDATE bypassing the ORM object still shows in after_state: the row is re-read."""

    def bulk_stop(e: BatchExecution) -> None:
        session = sa.inspect(e).session
        session.execute(
            sa.update(BatchExecution)
            .where(BatchExecution.execution_id == e.execution_id)
            .values(status="STOPPED", error_code="BAT-004")
            .execution_options(synchronize_session=False)
        )

    view = audit.log_batch_action(
        operator_id="kim", reason="stuck", action="STOP_EXECUTION",
        target=EntityRef(BatchExecution, execution_id), mutate=bulk_stop,
    )
    assert view.before_state["status"] == "READY"
    assert view.after_state["status"] == "STOPPED"
    assert view.after_state["error_code"] == "BAT-004"


def test_log_data_correction(engine, audit, execution_id):
    view = audit.log_data_correction(
        operator_id="lee", reason="row count was double counted", action="FIX_ROWS_WRITTEN",
        target=EntityRef(BatchExecution, execution_id),
        mutate=lambda e: setattr(e, "rows_written", 42),
    )
    assert _audit_count(engine) == 1
    assert view.action_type == "DATA_CORRECTION"
    assert (view.before_state["rows_written"], view.after_state["rows_written"]) == (0, 42)
    assert _execution(engine, execution_id)["rows_written"] == 42


def test_log_config_change_on_a_dict(engine, audit):
    config = {"warn_threshold": 3, "channels": ["EMAIL"], "since": T0}

    def raise_threshold(c: dict) -> None:
        c["warn_threshold"] = 5
        c["channels"].append("SLACK")

    view = audit.log_config_change(
        operator_id="park", reason="too many alerts", action="SET_WARN_THRESHOLD",
        target=config, target_id="alert_policy", mutate=raise_threshold,
    )
    assert _audit_count(engine) == 1
    assert (view.action_type, view.target_type, view.target_id, view.execution_id) == (
        "CONFIG_CHANGE", "config", "alert_policy", None,
    )
    assert view.before_state == {
        "warn_threshold": 3, "channels": ["EMAIL"], "since": "2024-03-01T10:00:00+00:00",
    }
    assert view.after_state == {
        "warn_threshold": 5, "channels": ["EMAIL", "SLACK"], "since": "2024-03-01T10:00:00+00:00",
    }
    assert config["warn_threshold"] == 5


def test_log_config_change_on_a_table_row(engine, audit):
    view = audit.log_config_change(
        operator_id="park", reason="pause the job", action="DEACTIVATE_JOB",
        target=EntityRef(BatchJob, "flights_daily"),
        mutate=lambda job: setattr(job, "is_active", False),
    )
    assert (view.target_type, view.target_id) == ("batch_job", "flights_daily")
    assert (view.before_state["is_active"], view.after_state["is_active"]) == (True, False)
    assert view.after_state["asset_selection"][0] == "raw_flights"


def test_unknown_target_is_an_error_and_writes_nothing(engine, audit):
    with pytest.raises(LookupError):
        audit.log_batch_action(
            operator_id="kim", reason="r", action="STOP_EXECUTION",
            target=EntityRef(BatchExecution, "no-such-run"), mutate=_start,
        )
    assert _audit_count(engine) == 0


# -- operator and reason are required ------------------------------------------------------------


@pytest.mark.parametrize("method", ["log_batch_action", "log_data_correction", "log_config_change"])
@pytest.mark.parametrize("field", ["operator_id", "reason"])
@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_blank_operator_or_reason_is_rejected_and_nothing_written(
    engine, audit, execution_id, method, field, blank
):
    before = _execution(engine, execution_id)
    called = []
    kwargs = {"operator_id": "kim", "reason": "because", field: blank}
    with pytest.raises(BatchExecutionException) as info:
        getattr(audit, method)(
            action="START_EXECUTION", target=EntityRef(BatchExecution, execution_id),
            mutate=lambda e: (called.append(1), _start(e)), **kwargs,
        )
    assert info.value.code == MISSING_REQUIRED_FIELD_CODE == "BAT-008"
    assert info.value.details == {"field": field}
    assert called == []
    assert _audit_count(engine) == 0
    assert _execution(engine, execution_id) == before


@pytest.mark.parametrize("field", ["operator_id", "reason"])
def test_omitted_operator_or_reason_is_rejected(engine, audit, field):
    config = {"k": 1}
    kwargs = {"operator_id": "kim", "reason": "because"}
    del kwargs[field]
    with pytest.raises(BatchExecutionException):
        audit.log_config_change(
            action="SET_K", target=config, target_id="cfg",
            mutate=lambda c: c.update(k=2), **kwargs,
        )
    assert config == {"k": 1}
    assert _audit_count(engine) == 0


def test_database_refuses_a_blank_reason_written_past_the_service(engine):
    with pytest.raises(sa.exc.IntegrityError), UnitOfWork(engine) as uow:
        uow.session.add(AuditLog(
            operator_id="kim", action_type="BATCH_ACTION", action="X", target_type="t",
            target_id="1", reason="   ",
        ))
        uow.commit()
    assert _audit_count(engine) == 0


# -- in the caller's transaction: both land or neither -------------------------------------------


def _record(uow: UnitOfWork, execution_id: str, mutate, **overrides):
    target = uow.session.get(BatchExecution, execution_id)
    kwargs = {
        "operator_id": "kim", "reason": "manual start", "action_type": "BATCH_ACTION",
        "action": "START_EXECUTION", "target": target, "mutate": lambda: mutate(target),
    }
    kwargs.update(overrides)
    return AuditLogService.record(uow.session, **kwargs)


def test_record_in_the_callers_transaction_lands_with_the_action(engine, execution_id):
    with UnitOfWork(engine) as uow:
        result = _record(uow, execution_id, lambda e: (_start(e), "started")[1])
        assert result == "started"
        assert _audit_count(engine) == 0  # not visible before the caller's single commit
        uow.commit()
    assert _execution(engine, execution_id)["status"] == "RUNNING"
    [row] = AuditLogService(engine).list_audit_logs()
    assert (row.before_state["status"], row.after_state["status"]) == ("READY", "RUNNING")


def test_without_the_callers_commit_neither_lands(engine, execution_id):
    with UnitOfWork(engine) as uow:
        _record(uow, execution_id, _start)
    assert _execution(engine, execution_id)["status"] == "READY"
    assert _audit_count(engine) == 0


@pytest.mark.parametrize("field", ["operator_id", "reason"])
@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_blank_field_in_transaction_blocks_the_action_too(engine, execution_id, field, blank):
    before = _execution(engine, execution_id)
    called = []
    with pytest.raises(BatchExecutionException), UnitOfWork(engine) as uow:
        _record(uow, execution_id, lambda e: (called.append(1), _start(e)), **{field: blank})
        uow.commit()
    assert called == []
    assert _execution(engine, execution_id) == before
    assert _audit_count(engine) == 0


def test_failing_mutate_leaves_target_unchanged_and_no_record(engine, execution_id):
    before = _execution(engine, execution_id)

    def half_then_fail(e: BatchExecution) -> None:
        _start(e)
        sa.inspect(e).session.flush()  # the change reached the database ...
        raise RuntimeError("boom")  # ... and then the action failed

    with pytest.raises(RuntimeError, match="boom"), UnitOfWork(engine) as uow:
        _record(uow, execution_id, half_then_fail)
        uow.commit()
    assert _execution(engine, execution_id) == before
    assert _audit_count(engine) == 0


def test_action_refused_by_the_database_writes_no_record(engine, execution_id):
    before = _execution(engine, execution_id)
    with pytest.raises(sa.exc.IntegrityError), UnitOfWork(engine) as uow:
        _record(uow, execution_id, lambda e: setattr(e, "status", "BOGUS"))
        uow.commit()
    assert _execution(engine, execution_id) == before
    assert _audit_count(engine) == 0


def test_audit_change_context_manager_records_creation(engine):
    job = BatchJob(
        job_id="weather_daily", name="Weather", description="d", asset_selection=["raw_weather"],
        partitions="daily", is_active=True, created_at=T0,
    )
    with UnitOfWork(engine) as uow:
        with audit_change(
            uow.session, operator_id="park", reason="new job",
            action_type=AuditActionType.CONFIG_CHANGE, action="CREATE_JOB", target=job, at=T1,
        ) as pending:
            uow.session.add(job)
        uow.commit()
    [row] = AuditLogService(engine).list_audit_logs()
    assert row.audit_id == pending.audit_id
    assert (row.target_type, row.target_id) == ("batch_job", "weather_daily")
    assert row.before_state is None
    assert row.after_state["asset_selection"] == ["raw_weather"]
    assert row.occurred_at == T1


def test_deletion_records_after_state_none(engine, audit):
    # A job nothing names (no keys, no executions): the registered flights job has its keys.
    with UnitOfWork(engine) as uow:
        uow.session.add(BatchJob(job_id="retired_daily", name="Retired", description="retired",
                                 asset_selection=["raw_flights"], partitions="daily"))
        uow.commit()
    view = audit.log_config_change(
        operator_id="park", reason="job retired", action="DELETE_JOB",
        target=EntityRef(BatchJob, "retired_daily"),
        mutate=lambda job: sa.inspect(job).session.delete(job),
    )
    assert view.before_state["job_id"] == "retired_daily"
    assert view.after_state is None
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(BatchJob.__table__)
                           .where(BatchJob.job_id == "retired_daily")) == 0


# -- append-only in the database -----------------------------------------------------------------


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_update_and_delete_on_audit_log_fail_in_the_database(engine, audit, statement):
    written = audit.log_config_change(
        operator_id="park", reason="r", action="SET_K", target={"k": 1}, target_id="cfg",
        mutate=lambda c: c.update(k=2),
    )
    table = AuditLog.__table__
    sql = (
        sa.update(table).values(reason="rewritten")
        if statement == "update"
        else sa.delete(table)
    ).where(table.c.audit_id == written.audit_id)
    # The application role (PostgreSQL) lacks the privilege before the trigger is reached;
    # the triggers themselves are tested as the owner in test_least_privilege.py.
    refused = "append-only|permission denied for table audit_log"
    with pytest.raises(sa.exc.DBAPIError, match=refused):
        with engine.begin() as conn:
            conn.execute(sql)
    raw = "UPDATE {t} SET reason = 'x'" if statement == "update" else "DELETE FROM {t}"
    name = "ops.audit_log" if engine.dialect.name == "postgresql" else "audit_log"
    with pytest.raises(sa.exc.DBAPIError, match=refused):
        with engine.begin() as conn:
            conn.execute(sa.text(raw.format(t=name)))
    assert audit.list_audit_logs() == [written]


# -- listing -------------------------------------------------------------------------------------


@pytest.fixture
def five_records(audit) -> list[int]:
    ids = []
    for i, (operator, target_id) in enumerate(
        [("kim", "a"), ("lee", "a"), ("kim", "b"), ("lee", "b"), ("kim", "a")]
    ):
        view = audit.log_config_change(
            operator_id=operator, reason=f"change {i}", action="SET_K", target={"k": i},
            target_id=target_id, mutate=lambda c: c.update(k=c["k"] + 1),
            at=T0 + dt.timedelta(hours=i),
        )
        ids.append(view.audit_id)
    return ids


def test_listing_is_newest_first_and_filters(audit, five_records):
    ids = five_records
    assert [v.audit_id for v in audit.list_audit_logs()] == ids[::-1]
    by_kim = audit.list_audit_logs(operator_id="kim")
    assert [v.audit_id for v in by_kim] == [ids[4], ids[2], ids[0]]
    assert [v.audit_id for v in audit.list_audit_logs(target_type="config", target_id="b")] == [
        ids[3], ids[2],
    ]
    assert audit.list_audit_logs(target_type="batch_execution") == []
    hour = dt.timedelta(hours=1)
    window = audit.list_audit_logs(since=T0 + hour, until=T0 + 3 * hour)
    assert [v.audit_id for v in window] == [ids[2], ids[1]]
    assert [v.reason for v in window] == ["change 2", "change 1"]
    kst = dt.timezone(dt.timedelta(hours=9))
    since_kst = (T0 + 4 * hour).astimezone(kst)  # the same instant in another zone
    assert [v.audit_id for v in audit.list_audit_logs(since=since_kst)] == [ids[4]]


def test_listing_pages_by_keyset(audit, five_records):
    ids = five_records
    first = audit.list_audit_logs(limit=2)
    second = audit.list_audit_logs(limit=2, before_audit_id=first[-1].audit_id)
    third = audit.list_audit_logs(limit=2, before_audit_id=second[-1].audit_id)
    assert [v.audit_id for v in first + second + third] == ids[::-1]
    assert audit.list_audit_logs(operator_id="lee", before_audit_id=ids[3]) == [
        v for v in audit.list_audit_logs() if v.audit_id == ids[1]
    ]
    for bad in (0, -1, 1001):
        with pytest.raises(ValueError):
            audit.list_audit_logs(limit=bad)


def test_json_safe_converts_times_to_utc_iso():
    kst = dt.timezone(dt.timedelta(hours=9))
    value = {"t": dt.datetime(2024, 3, 1, 19, 0, tzinfo=kst), "n": dt.datetime(2024, 3, 1)}
    assert json_safe(value) == {
        "t": "2024-03-01T10:00:00+00:00", "n": "2024-03-01T00:00:00+00:00",
    }
    assert json_safe((dt.date(2024, 3, 1), AuditActionType.BATCH_ACTION)) == [
        "2024-03-01", "BATCH_ACTION",
    ]
