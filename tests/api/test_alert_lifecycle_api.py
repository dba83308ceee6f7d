"""Manual resolve and silences through the real admin API server, on SQLite and PostgreSQL:
roles, audit records, conflicts as 409 problems with their code, validation as 422."""

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.persistence.tables import AuditLog
from opsrel_core.services.alerts import OpsAlertService

JOB = "flights_daily"


def _problem(reply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in str(reply.body)
    if code:
        assert reply.body["error_code"] == code


def _audits(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(AuditLog).where(AuditLog.action == action)).all()


def _alerts(engine) -> OpsAlertService:
    # One channel, so a silenced alert shows its SUPPRESSED delivery.
    return OpsAlertService(engine, AlertSettings(smtp_host="127.0.0.1", smtp_port=9,
                                                 email_to=("oncall@example.com",)))


def _raise(engine, partition: str = "2013-01-05"):
    return _alerts(engine).send_alert(
        "EXECUTION_FAILED", severity="ERROR", title="Empty file", message="0 rows",
        error_code="INP-001", job_id=JOB, partition_key=partition)


def test_resolve_needs_the_operator_role_is_audited_and_a_second_resolve_is_a_409(api, engine):
    alert = _raise(engine)
    path = f"/admin/alerts/{alert.alert_id}/resolve"
    _problem(api.call("POST", path, token=None, body={"reason": "fixed"}), 401)
    _problem(api.call("POST", path, token="viewer", body={"reason": "fixed"}), 403)
    _problem(api.call("POST", path, token="operator", body={"reason": "  "}), 422)
    assert _audits(engine, "RESOLVE_ALERT") == []

    reply = api.call("POST", path, token="operator", body={"reason": "file re-delivered"})
    assert reply.status == 200, reply.body
    assert reply.body["alert"]["status"] == "RESOLVED"
    assert reply.body["alert"]["resolved_by"] == "operator-op"
    assert reply.body["alert"]["resolve_reason"] == "file re-delivered"
    [record] = _audits(engine, "RESOLVE_ALERT")
    assert reply.body["audit_id"] == record.audit_id and record.reason == "file re-delivered"

    again = api.call("POST", path, token="admin", body={"reason": "again"})
    _problem(again, 409, "BAT-001")
    assert "already resolved" in again.body["detail"]
    assert len(_audits(engine, "RESOLVE_ALERT")) == 1
    _problem(api.call("POST", "/admin/alerts/999999/resolve", token="operator",
                      body={"reason": "x"}), 404, "BAT-011")
    listed = api.call("GET", "/admin/alerts?status=RESOLVED").body["items"]
    assert [a["alert_id"] for a in listed] == [alert.alert_id]


def test_silences_are_created_listed_and_ended_by_operators_and_mute_matching_alerts(api, engine):
    body = {"job_id": JOB, "error_code": "INP-001", "partition_pattern": "2013-01-*",
            "duration": "4h", "reason": "January files are re-sent tomorrow"}
    _problem(api.call("POST", "/admin/silences", token="viewer", body=body), 403)
    created = api.call("POST", "/admin/silences", token="operator", body=body)
    assert created.status == 201, created.body
    silence = created.body["silence"]
    assert (silence["active"], silence["created_by"], silence["partition_pattern"]) == (
        True, "operator-op", "2013-01-*")
    [record] = _audits(engine, "CREATE_SILENCE")
    assert created.body["audit_id"] == record.audit_id

    listed = api.call("GET", "/admin/silences", token="viewer")
    assert [s["silence_id"] for s in listed.body["items"]] == [silence["silence_id"]]

    muted = _raise(engine, "2013-01-05")
    heard = _raise(engine, "2013-02-05")
    assert (muted.silenced_by, heard.silenced_by) == (silence["silence_id"], None)
    alerts = {a["alert_id"]: a for a in api.call("GET", "/admin/alerts").body["items"]}
    assert alerts[muted.alert_id]["silenced_by"] == silence["silence_id"]
    assert [d.status for d in _alerts(engine).delivery_history(muted.alert_id)] == ["SUPPRESSED"]
    assert [d.status for d in _alerts(engine).delivery_history(heard.alert_id)] == ["PENDING"]

    end_path = f"/admin/silences/{silence['silence_id']}/end"
    _problem(api.call("POST", end_path, token="viewer", body={"reason": "done"}), 403)
    ended = api.call("POST", end_path, token="operator", body={"reason": "files arrived"})
    assert ended.status == 200, ended.body
    assert ended.body["silence"]["active"] is False
    assert ended.body["silence"]["ended_by"] == "operator-op"
    assert len(_audits(engine, "END_SILENCE")) == 1
    _problem(api.call("POST", end_path, token="operator", body={"reason": "again"}), 409,
             "BAT-001")
    assert api.call("GET", "/admin/silences").body["items"] == []
    everything = api.call("GET", "/admin/silences?include_ended=true").body["items"]
    assert [s["silence_id"] for s in everything] == [silence["silence_id"]]
    assert _raise(engine, "2013-01-09").silenced_by is None  # lifted: delivered again
    _problem(api.call("POST", "/admin/silences/999999/end", token="operator",
                      body={"reason": "x"}), 404, "BAT-011")


def test_a_silence_without_matcher_or_expiry_is_a_422_and_writes_nothing(api, engine):
    for body in (
        {"duration": "4h", "reason": "everything"},  # no matcher
        {"job_id": JOB, "reason": "forever"},  # no expiry
        {"job_id": JOB, "duration": "4h", "expires_at": "2030-01-01T00:00:00Z", "reason": "r"},
        {"job_id": JOB, "duration": "soon", "reason": "r"},
        {"job_id": JOB, "duration": "100d", "reason": "r"},
        {"job_id": JOB, "duration": "4h", "reason": " "},
        {"job_id": JOB, "error_code": "NOPE-9", "duration": "4h", "reason": "r"},
    ):
        _problem(api.call("POST", "/admin/silences", token="operator", body=body), 422)
    assert api.call("GET", "/admin/silences?include_ended=true").body["items"] == []
    assert _audits(engine, "CREATE_SILENCE") == []
