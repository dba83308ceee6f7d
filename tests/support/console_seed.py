"""Seeded console data: a failed partition of ``flights_daily`` with its open alert, written
through the services as the projection would record it."""

from opsrel_core.config import AlertSettings
from opsrel_core.domain import error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import ResultVersionService

JOB = "flights_daily"
DAY = "2013-01-05"


def seed_failure(database_url: str, run_id: str = "run-fail-1", partition: str = DAY,
                 *, earlier_success: str | None = None) -> int:
    """A partition whose run failed with INP-001 and its alert (now, so it is OPEN); with
    ``earlier_success``, a successful run before it whose result version is active. Returns
    the alert id."""
    engine = make_engine(database_url)
    try:
        executions = BatchExecutionService(engine)
        if earlier_success:
            versions = ResultVersionService(engine)
            executions.register_execution(ExecutionSpec(
                execution_id=earlier_success, job_id=JOB, partition_key=partition))
            executions.start_execution(earlier_success)
            versions.create_version(asset_key="raw_flights", partition_key=partition,
                                    execution_id=earlier_success, content_hash="sha256:ok",
                                    row_count=10, storage_uri=None)
            executions.complete_execution(earlier_success)
            versions.activate_execution_versions(earlier_success)
        executions.register_execution(
            ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=partition))
        executions.start_execution(run_id)
        failed = executions.fail_execution(
            run_id, error_codes.INP_EMPTY_FILE, error_message=f"landing file for {partition} has 0 rows",
            failed_asset_key="raw_flights", failed_partition_key=partition)
        alert = OpsAlertService(engine, AlertSettings.from_env({})).raise_for_failed_execution(failed)
        assert alert is not None and alert.status == "OPEN"
        return alert.alert_id
    finally:
        engine.dispose()


def alert_of(database_url: str, alert_id: int):  # type: ignore[no-untyped-def]
    """The alert as the service reads it now."""
    engine = make_engine(database_url)
    try:
        return OpsAlertService(engine, AlertSettings.from_env({})).get_alert(alert_id)
    finally:
        engine.dispose()


def replays_of(database_url: str, job_id: str = JOB) -> list:  # type: ignore[type-arg]
    """The job's replays, newest first."""
    from opsrel_core.services.replays import ReplayService

    engine = make_engine(database_url)
    try:
        return ReplayService(engine).list_replays(job_id=job_id)
    finally:
        engine.dispose()


def audit_records(database_url: str, **filters) -> list:  # type: ignore[no-untyped-def,type-arg]
    """Audit records, newest first (``AuditLogService.list_audit_logs`` filters)."""
    from opsrel_core.services.audit_log import AuditLogService

    engine = make_engine(database_url)
    try:
        return AuditLogService(engine).list_audit_logs(**filters)
    finally:
        engine.dispose()
