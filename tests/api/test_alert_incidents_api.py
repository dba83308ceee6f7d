"""An incident's partitions and its replay by alert id through the real admin API server, on
SQLite and PostgreSQL: the operator role, a required reason, the audited replay of exactly the
incident's partitions, the preview that records nothing, problems with their code."""

import datetime as dt

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.persistence.tables import AuditLog, Replay
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import ExecutionSpec
from opsrel_core.services.execution_projection import (
    ExecutionProjector, ObservedFailure, ObservedStatus, RunObservation,
)

JOB = "flights_daily"
DAYS = [f"2013-02-{d:02d}" for d in range(1, 13)]


def _problem(reply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    if code:
        assert reply.body["error_code"] == code


def _fail_days(engine, days: list[str]) -> OpsAlertService:
    alerts = OpsAlertService(engine, AlertSettings(smtp_host="127.0.0.1", smtp_port=9,
                                                   email_to=("oncall@example.com",)))
    projector = ExecutionProjector(engine, alerts=alerts)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=len(days) + 1)
    for i, day in enumerate(days):
        at = start + dt.timedelta(minutes=i)
        projector.apply(RunObservation(
            spec=ExecutionSpec(execution_id=f"run-{day}", job_id=JOB, partition_key=day),
            status=ObservedStatus.FAILED, created_at=at, started_at=at, ended_at=at,
            failure=ObservedFailure("INP-001", f"landing file for {day} has 0 rows",
                                    "raw_flights", day)))
    return alerts


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def test_an_incident_lists_its_partitions_and_its_replay_by_alert_id_runs_exactly_them(api, engine):
    [alert] = _fail_days(engine, DAYS).list_alerts()
    listed = api.call("GET", f"/admin/alerts/{alert.alert_id}/partitions", token="viewer")
    assert listed.status == 200, listed.body
    assert [p["partition_key"] for p in listed.body["items"]] == DAYS
    assert all(p["recovered_at"] is None for p in listed.body["items"])
    [shown] = api.call("GET", "/admin/alerts", token="viewer").body["items"]
    assert "12 partitions" in shown["title"] and "and 2 more" in shown["title"]

    path = f"/admin/alerts/{alert.alert_id}/replay"
    _problem(api.call("POST", path, token=None, body={"reason": "re-delivered"}), 401)
    _problem(api.call("POST", path, token="viewer", body={"reason": "re-delivered"}), 403)
    _problem(api.call("POST", path, token="operator", body={"reason": " "}), 422)
    _problem(api.call("POST", path, token="operator", body={}), 422)

    preview = api.call("POST", f"{path}/preview", token="operator",
                       body={"reason": "re-delivered"})
    assert preview.status == 200, preview.body
    assert preview.body["partitions"] == DAYS
    assert _count(engine, Replay) == 0 and _count(engine, AuditLog) == 0

    reply = api.call("POST", path, token="operator", body={"reason": "files re-delivered"},
                     headers={"Idempotency-Key": "incident-feb"})
    assert reply.status == 202, reply.body
    assert reply.body["replay"]["partition_keys"] == DAYS
    assert reply.body["replay"]["operator_id"] == "operator-op"
    with engine.connect() as conn:
        [record] = conn.execute(sa.select(AuditLog).where(AuditLog.action == "REPLAY")).all()
    assert reply.body["audit_id"] == record.audit_id
    assert record.target_id == str(reply.body["replay_id"])
    again = api.call("POST", path, token="operator", body={"reason": "files re-delivered"},
                     headers={"Idempotency-Key": "incident-feb"})
    assert again.status == 202 and again.body["replay_id"] == reply.body["replay_id"]
    assert _count(engine, Replay) == 1

    _problem(api.call("POST", "/admin/alerts/999999/replay", token="operator",
                      body={"reason": "x"}), 404, "BAT-011")
    _problem(api.call("GET", "/admin/alerts/999999/partitions", token="viewer"), 404, "BAT-011")


def test_an_alert_about_no_partitions_is_not_replayed(api, engine):
    alerts = OpsAlertService(engine, AlertSettings(smtp_host="127.0.0.1", smtp_port=9,
                                                   email_to=("oncall@example.com",)))
    other = alerts.send_alert("DQ_WARN_ACCUMULATED", severity="WARNING", title="warnings",
                              message="many", job_id=JOB)
    refused = api.call("POST", f"/admin/alerts/{other.alert_id}/replay", token="operator",
                       body={"reason": "x"})
    _problem(refused, 422, "BAT-009")
    assert "not about failed partitions" in refused.body["detail"]
    assert _count(engine, Replay) == 0
