"""The set-aside runs of the projection (``ProjectionFailureService``) on SQLite and PostgreSQL:
insert and bump with backoff, due, cleared, summary, the one SYS-004 alert."""

import datetime as dt

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import error_codes
from opsrel_core.domain.set_aside import SetAsidePolicy
from opsrel_core.persistence.tables import Alert, AlertDelivery, ProjectionFailure
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.projection_failures import ProjectionFailureService, alert_key

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
POLICY = SetAsidePolicy(base_seconds=30, cap_seconds=3600, alert_after_attempts=3)


def _service(engine, **kw) -> ProjectionFailureService:
    alerts = OpsAlertService(engine, AlertSettings(slack_webhook_url=None))
    return ProjectionFailureService(engine, alerts, kw.get("policy", POLICY))


def _alerts(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            Alert.event_kind, Alert.error_code, Alert.dedupe_key, Alert.execution_id,
            Alert.job_id, Alert.occurrence_count, Alert.status))]


def test_setaside_service_inserts_then_bumps_with_backoff(engine):
    service = _service(engine)
    first = service.set_aside("run-a", error_codes.SYS_DATABASE_UNAVAILABLE, "  db down  ", T0)
    assert (first.attempts, first.error_code, first.error_message) == (1, "SYS-002", "db down")
    assert (first.first_failed_at, first.last_failed_at) == (T0, T0)
    assert first.next_attempt_at == T0 + dt.timedelta(seconds=30)
    later = T0 + dt.timedelta(seconds=31)
    second = service.set_aside("run-a", error_codes.SYS_UNEXPECTED, "KeyError: 'x'", later)
    assert (second.attempts, second.error_code, second.error_message) == (2, "SYS-001", "KeyError: 'x'")
    assert (second.first_failed_at, second.last_failed_at) == (T0, later)
    assert second.next_attempt_at == later + dt.timedelta(seconds=60)
    assert service.get("run-a") == second
    # a code outside the catalog is kept in the message under SYS-001
    odd = service.set_aside("run-b", "ZZZ-999", "weird", T0)
    assert (odd.error_code, odd.error_message) == ("SYS-001", "[ZZZ-999] weird")
    with pytest.raises(ValueError):
        service.set_aside(" ", "SYS-001", "x", T0)


def test_setaside_service_due_cleared_and_summary(engine):
    service = _service(engine)
    assert service.summary(T0).count == 0 and service.due(T0) == []
    service.set_aside("run-old", "SYS-001", "boom", T0)
    service.set_aside("run-new", "SYS-002", "down", T0 + dt.timedelta(seconds=10))
    assert service.due(T0 + dt.timedelta(seconds=29)) == []
    assert service.due(T0 + dt.timedelta(seconds=35)) == ["run-old"]
    assert service.due(T0 + dt.timedelta(seconds=45)) == ["run-old", "run-new"]
    assert service.due(T0 + dt.timedelta(seconds=45), limit=1) == ["run-old"]
    assert service.run_ids() == {"run-old", "run-new"}
    summary = service.summary(T0 + dt.timedelta(seconds=100))
    assert (summary.count, summary.oldest_run_id, summary.oldest_error_code) == (2, "run-old", "SYS-001")
    assert (summary.oldest_failed_at, summary.oldest_age_seconds) == (T0, 100.0)
    assert service.cleared("run-old") is True
    assert service.cleared("run-old") is False
    summary = service.summary(T0 + dt.timedelta(seconds=100))
    assert (summary.count, summary.oldest_run_id, summary.oldest_error_code) == (1, "run-new", "SYS-002")


def test_setaside_service_raises_exactly_one_sys004_alert(engine):
    service = _service(engine)
    now = T0
    views = []
    for _ in range(6):
        views.append(service.set_aside("run-x", "SYS-002", "db down", now))
        now += dt.timedelta(hours=2)  # past the alert's dedupe window too
    assert [v.attempts for v in views] == [1, 2, 3, 4, 5, 6]
    assert [v.alerted for v in views] == [False, False, True, True, True, True]
    # a run not recorded as an execution: the alert names no execution
    assert _alerts(engine) == [("RUN_SET_ASIDE", "SYS-004", alert_key("run-x"), None, None, 1, "OPEN")]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(ProjectionFailure.alerted)) is True
        assert conn.scalar(sa.select(sa.func.count()).select_from(AlertDelivery)) == 0  # no channel


def test_setaside_service_alert_names_a_recorded_execution(engine):
    BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id="run-rec", job_id="flights_daily", partition_key="2013-01-02"),
        at=T0,
    )
    service = _service(engine, policy=SetAsidePolicy(alert_after_attempts=1))
    assert service.set_aside("run-rec", "SYS-001", "KeyError: 'steps'", T0).alerted is True
    assert _alerts(engine) == [
        ("RUN_SET_ASIDE", "SYS-004", alert_key("run-rec"), "run-rec", "flights_daily", 1, "OPEN")]
    [alert] = OpsAlertService(engine, AlertSettings()).list_alerts()
    assert "KeyError: 'steps'" in alert.message and alert.partition_key == "2013-01-02"


def test_setaside_service_without_alerts_alerts_later(engine):
    ProjectionFailureService(engine, None, POLICY).set_aside("run-y", "SYS-001", "x", T0)
    for n in range(3):
        ProjectionFailureService(engine, None, POLICY).set_aside("run-y", "SYS-001", "x", T0)
    assert _alerts(engine) == []
    assert _service(engine).set_aside("run-y", "SYS-001", "x", T0).alerted is True
    assert len(_alerts(engine)) == 1
