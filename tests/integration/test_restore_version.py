"""ResultVersionService.restore_version: an earlier version back in service, audited, both
backends; every refusal changes nothing."""

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException, ConflictException, NotFoundException
from opsrel_core.persistence.tables import AuditLog, ResultVersion
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import ResultVersionService
from tests.support import restore_history

DAY, CLEAN, STATS, RESULT = restore_history.DAY, restore_history.CLEAN, restore_history.STATS, \
    restore_history.RESULT
_run = restore_history.record_run


def _audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one()


def _state(engine, asset=CLEAN):
    return [(v.version_number, v.is_active) for v in
            ResultVersionService(engine).get_version_history(asset, DAY)]


def test_restore_makes_the_version_active_keeps_the_old_one_and_audits(engine):
    _run(engine, "run-1")
    _run(engine, "run-2")
    service = ResultVersionService(engine)
    out = service.restore_version(CLEAN, DAY, 1, operator_id="dana", reason="v2 used a bad map")
    assert (out.restored.version_number, out.restored.is_active) == (1, True)
    assert (out.replaced.version_number, out.replaced.is_active) == (2, False)
    assert not out.already_active
    assert _state(engine) == [(2, False), (1, True)]
    [record] = AuditLogService(engine).list_audit_logs(target_type="result_version")
    assert (record.audit_id, record.operator_id, record.action_type, record.action,
            record.reason, record.execution_id) == (
        out.audit_id, "dana", "DATA_CORRECTION", "RESTORE_VERSION", "v2 used a bad map", "run-1")
    assert record.target_id == str(out.restored.version_id)
    assert (record.before_state["is_active"], record.after_state["is_active"]) == (False, True)
    assert (record.before_state["partition_active_version"],
            record.after_state["partition_active_version"]) == (2, 1)
    # Downstream actives were made from clean_flights v2: older than their input now.
    assert [(s.asset_key, s.partition_key, s.active_version, s.made_from_versions)
            for s in out.stale_downstream] == [(STATS, DAY, 2, (2,)), (RESULT, DAY, 2, (2,))]
    with engine.connect() as conn:
        actives = conn.execute(sa.select(sa.func.count()).select_from(ResultVersion).where(
            ResultVersion.asset_key == CLEAN, ResultVersion.is_active)).scalar_one()
    assert actives == 1


def test_restoring_the_active_version_changes_nothing_and_writes_no_record(engine):
    _run(engine, "run-1")
    _run(engine, "run-2")
    out = ResultVersionService(engine).restore_version(CLEAN, DAY, 2, operator_id="dana",
                                                       reason="again")
    assert (out.already_active, out.audit_id, out.replaced) == (True, None, None)
    assert out.restored.version_number == 2 and out.stale_downstream == []
    assert _state(engine) == [(2, True), (1, False)]
    assert _audit_count(engine) == 0


def test_a_restore_of_the_upstream_only_names_what_was_made_from_another_version(engine):
    _run(engine, "run-1")
    _run(engine, "run-2", assets=(CLEAN,))  # clean v2 only; stats/result v1 from clean v1
    out = ResultVersionService(engine).restore_version(CLEAN, DAY, 1, operator_id="dana",
                                                       reason="back to v1")
    assert out.stale_downstream == []


@pytest.mark.parametrize("operator_id, reason", [("dana", " "), (None, "why"), ("", "why")])
def test_restore_without_operator_or_reason_changes_nothing(engine, operator_id, reason):
    _run(engine, "run-1")
    _run(engine, "run-2")
    with pytest.raises(BatchExecutionException) as info:
        ResultVersionService(engine).restore_version(CLEAN, DAY, 1, operator_id=operator_id,
                                                     reason=reason)
    assert info.value.code == "BAT-008"
    assert _state(engine) == [(2, True), (1, False)] and _audit_count(engine) == 0


def test_an_unknown_version_is_not_found(engine):
    _run(engine, "run-1")
    for asset, number in ((CLEAN, 7), ("nope", 1)):
        with pytest.raises(NotFoundException) as info:
            ResultVersionService(engine).restore_version(asset, DAY, number, operator_id="dana",
                                                         reason="why")
        assert info.value.code == "BAT-010"
    assert _state(engine) == [(1, True)] and _audit_count(engine) == 0


def test_a_version_of_a_failed_execution_is_refused(engine):
    _run(engine, "run-1")
    _run(engine, "run-2", outcome="FAILED")
    with pytest.raises(ConflictException) as info:
        ResultVersionService(engine).restore_version(CLEAN, DAY, 2, operator_id="dana",
                                                     reason="why")
    assert info.value.code == "BAT-001" and "FAILED" in info.value.operator_message
    assert _state(engine) == [(2, False), (1, True)] and _audit_count(engine) == 0


def test_a_version_the_gate_refused_for_a_failed_blocking_check_is_refused(engine):
    from opsrel_core.domain.activation import CheckOutcome
    from opsrel_core.services.results import CheckEvidence

    _run(engine, "run-1")
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec("run-2", "flights_daily", partition_key=DAY,
                                                operator_id="op"))
    executions.start_execution("run-2")
    service = ResultVersionService(engine)
    service.create_version(asset_key=CLEAN, partition_key=DAY, execution_id="run-2",
                           content_hash="sha256:x", row_count=1, storage_uri=None)
    executions.complete_execution("run-2")
    service.activate_execution_versions("run-2", CheckEvidence(
        {CLEAN: frozenset({"carrier_known"})}, {(CLEAN, "carrier_known"): CheckOutcome(False)}))
    assert "failed" in service.get_version(CLEAN, DAY, 2).inactive_reason
    with pytest.raises(ConflictException) as info:
        service.restore_version(CLEAN, DAY, 2, operator_id="dana", reason="why")
    assert info.value.code == "BAT-001" and "carrier_known" in info.value.operator_message
    assert _state(engine) == [(2, False), (1, True)] and _audit_count(engine) == 0
