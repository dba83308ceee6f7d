"""ResultVersionService: never overwrite, exactly one active version, both backends."""

import threading

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import AuditLog, ResultVersion
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import ResultVersionService

ASSET, DAY = "ontime_performance", "2013-01-01"


def _run(engine, execution_id: str, outcome: str = "SUCCESS", content: str | None = None):
    """An execution that produced a version of ASSET/DAY, then ended with ``outcome``."""
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(execution_id, "flights_daily", partition_key=DAY, operator_id="op"))
    executions.start_execution(execution_id)
    version = ResultVersionService(engine).create_version(
        asset_key=ASSET, partition_key=DAY, execution_id=execution_id,
        content_hash=f"sha256:{content or execution_id}", row_count=14,
        storage_uri=f"file:///results/{execution_id}.pkl",
    )
    if outcome == "SUCCESS":
        executions.complete_execution(execution_id)
    elif outcome == "FAILED":
        executions.fail_execution(execution_id, "SYS-001", error_message="boom")
    else:
        executions.stop_execution(execution_id)
    ResultVersionService(engine).activate_execution_versions(execution_id)
    return version


def _active_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(ResultVersion).where(ResultVersion.is_active)
        ).scalar_one()


def test_versions_accumulate_and_exactly_one_is_active(engine):
    service = ResultVersionService(engine)
    for n in range(1, 4):
        _run(engine, f"run-{n}")
    history = service.get_version_history(ASSET, DAY)
    assert [(v.version_number, v.is_active, v.execution_id) for v in history] == [
        (3, True, "run-3"), (2, False, "run-2"), (1, False, "run-1"),
    ]
    assert history[1].deactivated_by_execution_id == "run-3"
    assert service.get_active_version(ASSET, DAY).version_number == 3
    assert service.get_version(ASSET, DAY, 1).storage_uri == "file:///results/run-1.pkl"
    assert _active_count(engine) == 1


@pytest.mark.parametrize("outcome", ["FAILED", "STOPPED"])
def test_failed_or_stopped_run_never_replaces_the_active_version(engine, outcome):
    _run(engine, "good")
    bad = _run(engine, "bad", outcome=outcome)
    service = ResultVersionService(engine)
    assert service.get_active_version(ASSET, DAY).execution_id == "good"
    assert service.versions_of_execution("bad")[0].version_id == bad.version_id
    assert not service.versions_of_execution("bad")[0].is_active


def test_an_older_version_never_displaces_a_newer_active_one(engine):
    executions = BatchExecutionService(engine)
    service = ResultVersionService(engine)
    for run in ("slow", "fast"):
        executions.register_execution(ExecutionSpec(run, "flights_daily", partition_key=DAY,
                                                    operator_id="op"))
        executions.start_execution(run)
        service.create_version(asset_key=ASSET, partition_key=DAY, execution_id=run,
                               content_hash=f"sha256:{run}", row_count=1, storage_uri=None)
    executions.complete_execution("fast")
    service.activate_execution_versions("fast")  # version 2 active
    executions.complete_execution("slow")
    service.activate_execution_versions("slow")  # version 1 finishes later: stays inactive
    assert service.get_active_version(ASSET, DAY).execution_id == "fast"


def test_the_same_execution_recording_twice_gets_one_version(engine):
    first = _run(engine, "run-1")
    again = ResultVersionService(engine).create_version(
        asset_key=ASSET, partition_key=DAY, execution_id="run-1", content_hash="sha256:x",
        row_count=1, storage_uri=None,
    )
    assert again.version_id == first.version_id
    assert len(ResultVersionService(engine).get_version_history(ASSET, DAY)) == 1


def test_deactivate_version_restores_the_previous_good_one_with_an_audit_record(engine):
    _run(engine, "run-1")
    _run(engine, "run-2", outcome="FAILED")
    latest = _run(engine, "run-3")
    service = ResultVersionService(engine)
    out = service.deactivate_version(latest.version_id, operator_id="dana", reason="wrong carrier map")
    assert not out.is_active
    assert service.get_active_version(ASSET, DAY).execution_id == "run-1"  # run-2 failed
    [record] = AuditLogService(engine).list_audit_logs(target_type="result_version")
    assert (record.operator_id, record.action_type, record.action) == (
        "dana", "DATA_CORRECTION", "DEACTIVATE_VERSION"
    )
    assert record.before_state["is_active"] is True and record.after_state["is_active"] is False


def test_deactivate_without_reason_changes_nothing(engine):
    latest = _run(engine, "run-1")
    with pytest.raises(BatchExecutionException) as info:
        ResultVersionService(engine).deactivate_version(latest.version_id, operator_id="dana", reason=" ")
    assert info.value.code == "BAT-008"
    assert ResultVersionService(engine).get_active_version(ASSET, DAY).version_id == latest.version_id
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one() == 0


def test_the_database_itself_refuses_a_second_active_version(engine):
    _run(engine, "run-1")
    _run(engine, "run-2", outcome="FAILED")
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            conn.execute(
                sa.update(ResultVersion).where(ResultVersion.execution_id == "run-2")
                .values(is_active=True)
            )


def test_concurrent_activations_leave_exactly_one_active(database_url):
    """Eight writers, each with its own engine, finish runs of the same partition at once."""
    setup = make_engine(database_url)
    executions = BatchExecutionService(setup)
    runs = [f"run-{n}" for n in range(8)]
    for run in runs:
        executions.register_execution(ExecutionSpec(run, "flights_daily", partition_key=DAY,
                                                    operator_id="op"))
        executions.start_execution(run)
    barrier = threading.Barrier(len(runs))
    errors = []

    def finish(run: str) -> None:
        engine = make_engine(database_url)
        try:
            service = ResultVersionService(engine)
            barrier.wait()
            service.create_version(asset_key=ASSET, partition_key=DAY, execution_id=run,
                                   content_hash=f"sha256:{run}", row_count=1, storage_uri=None)
            BatchExecutionService(engine).complete_execution(run)
            service.activate_execution_versions(run)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=finish, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = ResultVersionService(setup).get_version_history(ASSET, DAY)
    assert sorted(v.version_number for v in history) == list(range(1, 9))  # none lost or doubled
    assert [v.version_number for v in history if v.is_active] == [8]  # the newest won
    assert _active_count(setup) == 1
    setup.dispose()
