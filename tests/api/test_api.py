"""The admin API through a real HTTP server, on SQLite and PostgreSQL."""

import datetime as dt
import urllib.parse

import pytest
import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog, Replay
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.config import AlertSettings

JOB = "flights_daily"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _execution(engine, execution_id, *, partition="2013-01-01", at=None, **kw):
    return BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id=execution_id, job_id=JOB, partition_key=partition, **kw), at=at)


def _record_lineage(engine, execution_id, asset, partition, version):
    from opsrel_core.services.provenance import LineageService, NodeRef

    LineageService(engine).record_execution_lineage(execution_id, [(
        NodeRef.source("raw_flights", partition, "file:///landing.csv"),
        NodeRef.versioned("RESULT", asset, partition, version))])


def _audit_rows(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(AuditLog).order_by(AuditLog.audit_id)).mappings().all()


def _assert_problem(reply, status, code=None):
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail", "error_code"} <= set(reply.body)
    assert reply.body["status"] == status
    assert "Traceback" not in str(reply.body)
    if code:
        assert reply.body["error_code"] == code


# (method, path, minimal role, body)
READS = [
    ("GET", "/admin/batch/executions", None),
    ("GET", "/admin/batch/executions/e-1", None),
    ("GET", "/admin/audit-logs", None),
    ("GET", "/admin/alerts", None),
    ("GET", "/admin/error-codes", None),
    ("GET", "/admin/versions?asset=a&partition=2013-01-01", None),
    ("GET", "/admin/lineage/backtrace?asset=a&partition=2013-01-01&version=1", None),
]


def test_roles_per_endpoint(api, engine):
    _execution(engine, "e-1", at=T0)
    _record_lineage(engine, "e-1", "a", "2013-01-01", 1)
    _execution(engine, "e-2", at=T0)
    alert = OpsAlertService(engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    for method, path, _ in READS:
        for role in ("viewer", "operator", "admin"):
            assert api.call(method, path, token=role).status == 200, (path, role)
        _assert_problem(api.call(method, path, token=None), 401)
        _assert_problem(api.call(method, path, token="not-a-token"), 401)
    writes = [
        ("POST", f"/admin/batch/executions/{JOB}/start", "operator",
         {"partition": "2013-01-02", "reason": "manual"}, 202),
        ("POST", "/admin/batch/executions/e-2/stop", "operator", {"reason": "stop it"}, 202),
        ("POST", "/admin/batch/replay", "operator",
         {"type": "single", "job_id": JOB, "partitions": ["2013-01-03"], "reason": "fix"}, 202),
        ("POST", f"/admin/alerts/{alert.alert_id}/acknowledge", "operator", {"reason": "seen"},
         200),
        ("POST", "/admin/tokens", "admin",
         {"operator_id": "dora", "role": "viewer", "reason": "new"}, 201),
    ]
    for method, path, needed, body, ok in writes:
        _assert_problem(api.call(method, path, token=None, body=body), 401)
        _assert_problem(api.call(method, path, token="viewer", body=body), 403, "API-403")
        if needed == "admin":
            _assert_problem(api.call(method, path, token="operator", body=body), 403)
        assert api.call(method, path, token=needed, body=body).status == ok, path
    # The admin may do what an operator may (days without a replay in flight).
    assert api.call("POST", "/admin/batch/replay", token="admin", body={
        "type": "range", "job_id": JOB, "partition_start": "2013-01-04",
        "partition_end": "2013-01-06", "reason": "fix"}).status == 202


def test_revoked_token_is_401_and_delete_requires_admin(api):
    created = api.call("POST", "/admin/tokens", token="admin",
                       body={"operator_id": "eve", "role": "operator", "reason": "temp"})
    token, token_id = created.body["token"], created.body["token_id"]
    assert created.body["audit_id"] is not None
    assert api.call("GET", "/admin/alerts", token=token).status == 200
    _assert_problem(api.call("DELETE", f"/admin/tokens/{token_id}?reason=x", token="operator"), 403)
    _assert_problem(api.call("DELETE", f"/admin/tokens/{token_id}", token="admin"), 422)
    revoked = api.call("DELETE", f"/admin/tokens/{token_id}?reason=gone", token="admin")
    assert revoked.status == 200 and revoked.body["revoked_at"]
    _assert_problem(api.call("GET", "/admin/alerts", token=token), 401)


def test_pagination_has_no_gap_or_duplicate_while_rows_are_added(api, engine):
    for i in range(7):
        _execution(engine, f"old-{i}", at=T0 + dt.timedelta(minutes=i % 3))  # ties on created_at
    seen, cursor, added = [], None, 0
    while True:
        path = "/admin/batch/executions?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", path)
        assert page.status == 200
        seen += [e["execution_id"] for e in page.body["items"]]
        cursor = page.body["next_cursor"]
        _execution(engine, f"new-{added}")  # a row arrives between pages
        added += 1
        if cursor is None:
            break
    # Every row present at the first page, once each; rows added meanwhile sort before it.
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {f"old-{i}" for i in range(7)}
    _assert_problem(api.call("GET", "/admin/batch/executions?cursor=%%%"), 422)


def test_execution_filters(api, engine):
    svc = BatchExecutionService(engine)
    _execution(engine, "a", partition="2013-01-01", at=T0, operator_id="ann")
    _execution(engine, "b", partition="2013-01-05", at=T0 + dt.timedelta(days=1))
    _execution(engine, "c", partition="2013-01-09", at=T0 + dt.timedelta(days=2))
    svc.start_execution("b")
    svc.fail_execution("b", error_code="INP-001", error_message="empty")

    def ids(query):
        reply = api.call("GET", "/admin/batch/executions?" + urllib.parse.urlencode(query))
        assert reply.status == 200, reply.body
        return [e["execution_id"] for e in reply.body["items"]]

    assert ids({}) == ["c", "b", "a"]
    assert ids({"job_id": JOB}) == ["c", "b", "a"]
    assert ids({"job_id": "nope"}) == []
    assert ids({"status": "FAILED"}) == ["b"]
    assert ids({"error_code": "INP-001"}) == ["b"]
    assert ids({"operator_id": "ann"}) == ["a"]
    assert ids({"partition_from": "2013-01-04"}) == ["c", "b"]
    assert ids({"partition_to": "2013-01-05"}) == ["b", "a"]
    assert ids({"since": (T0 + dt.timedelta(days=1)).isoformat()}) == ["c", "b"]
    assert ids({"until": (T0 + dt.timedelta(days=1)).isoformat()}) == ["a"]
    _assert_problem(api.call("GET", "/admin/batch/executions?status=BOGUS"), 422, "API-422")
    item = api.call("GET", "/admin/batch/executions?status=FAILED").body["items"][0]
    assert item["created_at"].endswith("Z")  # UTC ISO 8601


def test_detail_404_and_409_problems(api, engine):
    _execution(engine, "e-1", at=T0)
    detail = api.call("GET", "/admin/batch/executions/e-1")
    assert detail.status == 200
    assert detail.body["execution_id"] == "e-1" and "history" in detail.body
    assert "context" in detail.body
    _assert_problem(api.call("GET", "/admin/batch/executions/nope"), 404, "BAT-002")
    _assert_problem(api.call("GET", "/admin/executions/e-1/context"), 404, "BAT-002")
    _assert_problem(api.call("GET", "/admin/replays/999"), 404, "BAT-010")
    _assert_problem(api.call("GET", "/admin/reports/daily/2013-01-01"), 404)
    _assert_problem(api.call("GET", "/admin/reports/replay/1"), 404)
    _assert_problem(api.call("POST", "/admin/alerts/999/acknowledge", token="operator",
                             body={"reason": "seen"}), 404, "BAT-011")
    _assert_problem(api.call("DELETE", "/admin/tokens/999?reason=gone", token="admin"), 404,
                    "BAT-011")
    svc = BatchExecutionService(engine)
    svc.start_execution("e-1")
    svc.complete_execution("e-1")
    _assert_problem(api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                             body={"reason": "late"}), 409, "BAT-001")
    _assert_problem(api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                             body={"reason": "  "}), 422)
    _assert_problem(api.call("POST", "/admin/batch/replay", token="operator", body={
        "type": "single", "job_id": "no-such-job", "partitions": ["2013-01-01"],
        "reason": "x"}), 422, "BAT-009")
    _assert_problem(api.call("POST", f"/admin/batch/executions/{JOB}/start", token="operator",
                             body={"reason": "x"}), 422)
    assert _audit_rows(engine) == []  # refused calls wrote nothing


def test_stop_writes_one_audit_row_and_is_idempotent(api, engine):
    _execution(engine, "e-1", at=T0)
    first = api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                     body={"reason": "runaway"})
    assert first.status == 202 and first.body["already_requested"] is False
    again = api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                     body={"reason": "runaway"})
    assert again.body == {**first.body, "already_requested": True}
    rows = _audit_rows(engine)
    assert len(rows) == 1
    row = rows[0]
    assert (row["audit_id"], row["operator_id"], row["reason"], row["action"], row["target_id"]) \
        == (first.body["audit_id"], "operator-op", "runaway", "STOP_EXECUTION", "e-1")
    assert api.call("GET", "/admin/batch/executions/e-1").body["stop_requested_at"]


def test_replay_audit_and_idempotency_key(api, engine):
    body = {"type": "range", "job_id": JOB, "partitions": ["2013-01-01", "2013-01-02"],
            "reason": "late data"}
    key = {"Idempotency-Key": "req-42"}
    first = api.call("POST", "/admin/batch/replay", token="operator", body=body, headers=key)
    second = api.call("POST", "/admin/batch/replay", token="operator", body=body, headers=key)
    assert first.status == second.status == 202
    assert first.body["replay_id"] == second.body["replay_id"]
    assert first.body["audit_id"] == second.body["audit_id"] is not None
    assert first.body["status"] == "REQUESTED"
    rows = _audit_rows(engine)
    assert [(r["audit_id"], r["operator_id"], r["reason"], r["action"]) for r in rows] == [
        (first.body["audit_id"], "operator-op", "late data", "REPLAY")]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Replay)) == 1
    history = api.call("GET", f"/admin/replays/{first.body['replay_id']}")
    assert history.status == 200 and history.body["replay"]["request_key"] == "req-42"
    start = api.call("POST", f"/admin/batch/executions/{JOB}/start", token="operator",
                     body={"partition_start": "2013-01-04", "partition_end": "2013-01-06",
                           "reason": "backfill"})
    assert start.status == 202 and start.body["replay"]["partition_end"] == "2013-01-06"
    assert start.body["replay"]["replay_type"] == "RANGE"


def test_audit_log_and_alert_lists(api, engine):
    alerts = OpsAlertService(engine, AlertSettings.from_env({}))
    ids = [alerts.send_alert("execution_failed", severity="ERROR", title=f"t{i}", message="m",
                             dedupe_key=f"k{i}").alert_id for i in range(3)]
    ack = api.call("POST", f"/admin/alerts/{ids[0]}/acknowledge", token="operator",
                   body={"reason": "looking"})
    assert ack.status == 200 and ack.body["alert"]["status"] == "ACKNOWLEDGED"
    rows = _audit_rows(engine)
    assert [(r["audit_id"], r["operator_id"], r["reason"]) for r in rows] == [
        (ack.body["audit_id"], "operator-op", "looking")]
    assert [a["alert_id"] for a in api.call("GET", "/admin/alerts?status=OPEN").body["items"]] \
        == ids[:0:-1]
    page1 = api.call("GET", "/admin/alerts?limit=2").body
    page2 = api.call("GET", f"/admin/alerts?limit=2&cursor={page1['next_cursor']}").body
    assert [a["alert_id"] for a in page1["items"] + page2["items"]] == ids[::-1]
    _execution(engine, "e-1")
    api.call("POST", "/admin/batch/executions/e-1/stop", token="admin", body={"reason": "r"})

    def audit(query):
        reply = api.call("GET", "/admin/audit-logs?" + urllib.parse.urlencode(query))
        assert reply.status == 200
        return [(a["operator_id"], a["target_type"]) for a in reply.body["items"]]

    assert audit({}) == [("admin-op", "batch_execution"), ("operator-op", "alert")]
    assert audit({"operator_id": "admin-op"}) == [("admin-op", "batch_execution")]
    assert audit({"target_type": "alert"}) == [("operator-op", "alert")]
    assert audit({"target_type": "batch_execution", "target_id": "e-1"}) == [
        ("admin-op", "batch_execution")]
    assert audit({"since": "2999-01-01T00:00:00Z"}) == []
    assert len(audit({"until": "2999-01-01T00:00:00Z"})) == 2
    p1 = api.call("GET", "/admin/audit-logs?limit=1").body
    p2 = api.call("GET", f"/admin/audit-logs?limit=1&cursor={p1['next_cursor']}").body
    assert p1["items"][0]["audit_id"] > p2["items"][0]["audit_id"]


def test_openapi_served_and_exported(api, tmp_path):
    from opsrel_core.entrypoints.api import openapi_export

    served = api.call("GET", "/openapi.json", token=None)
    assert served.status == 200 and "/admin/batch/replay" in served.body["paths"]
    path = openapi_export.main(tmp_path / "openapi.json")
    assert path.read_text() == openapi_export.render()


@pytest.mark.parametrize("path, body", [
    ("/admin/batch/replay",
     {"type": "single", "job_id": JOB, "partitions": ["2013-13-45"], "reason": "check"}),
    ("/admin/batch/replay",
     {"type": "range", "job_id": JOB, "partition_start": "2013-12-30",
      "partition_end": "2014-01-02", "reason": "check"}),
    ("/admin/batch/replay",
     {"type": "full", "job_id": JOB, "partitions": ["2013-01-01", "banana"], "reason": "check"}),
    ("/admin/batch/replay/preview",
     {"type": "single", "job_id": JOB, "partitions": ["banana"], "reason": "check"}),
    ("/admin/batch/replay/preview",
     {"type": "range", "job_id": JOB, "partition_start": "2013-12-30",
      "partition_end": "2014-01-02", "reason": "check"}),
    ("/admin/batch/replay/preview",
     {"type": "single", "job_id": JOB, "partitions": ["20130101"], "reason": "check"}),
    (f"/admin/batch/executions/{JOB}/start", {"partition": "2012-12-31", "reason": "check"}),
])
def test_replay_outside_the_partition_set_is_refused_and_writes_nothing(api, engine, path, body):
    reply = api.call("POST", path, token="operator", body=body)
    _assert_problem(reply, 422, "BAT-009")
    assert "partition set" in reply.body["detail"]
    assert _audit_rows(engine) == []
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Replay)) == 0


def test_replay_preview_of_the_last_day_of_the_partition_set_is_allowed(api):
    reply = api.call("POST", "/admin/batch/replay/preview", token="operator", body={
        "type": "range", "job_id": JOB, "partition_start": "2013-12-30",
        "partition_end": "2013-12-31", "reason": "check"})
    assert reply.status == 200, reply.body
    assert reply.body["partitions"] == ["2013-12-30", "2013-12-31"]


def test_alert_acknowledge_requires_a_reason_and_writes_nothing_without_one(api, engine):
    alert = OpsAlertService(engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    path = f"/admin/alerts/{alert.alert_id}/acknowledge"
    for body in (None, {}, {"reason": None}, {"reason": "   "}):
        _assert_problem(api.call("POST", path, token="operator", body=body), 422)
    assert _audit_rows(engine) == []
    assert api.call("GET", "/admin/alerts?status=OPEN").body["items"][0]["alert_id"] \
        == alert.alert_id


def test_lineage_of_a_version_never_recorded_is_a_404_problem(api, engine):
    _execution(engine, "e-1", at=T0)
    _record_lineage(engine, "e-1", "delay_simulation", "2013-02-08", 1)
    found = api.call("GET", "/admin/lineage/backtrace?asset=delay_simulation"
                            "&partition=2013-02-08&version=1")
    assert found.status == 200 and found.body["roots"][0]["version_ref"] == "v1"
    assert [n["node"]["node_type"] for n in found.body["nodes"]] == ["SOURCE"]
    missing = api.call("GET", "/admin/lineage/backtrace?asset=delay_simulation"
                              "&partition=2013-02-08&version=2")
    _assert_problem(missing, 404, "BAT-010")
    assert "v2" in missing.body["detail"]


def test_listing_cli_lists_the_range_runs_over_a_day_as_the_api_does(
    api, engine, database_url, tmp_path, monkeypatch
):
    import json

    from click.testing import CliRunner

    from opsrel_core.entrypoints.cli import cli

    day = "2013-01-05"
    _execution(engine, "single", partition=day, at=T0)
    _execution(engine, "range-over", partition=None, partition_range=("2013-01-01", "2013-01-07"),
               at=T0 + dt.timedelta(minutes=1))
    _execution(engine, "range-after", partition=None,
               partition_range=("2013-01-06", "2013-01-08"), at=T0 + dt.timedelta(minutes=2))
    _execution(engine, "other-day", partition="2013-01-09", at=T0 + dt.timedelta(minutes=3))
    svc = BatchExecutionService(engine)
    svc.start_execution("range-over")
    svc.fail_execution("range-over", error_code="INP-001", error_message="empty")
    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))

    def listed(*args: str) -> list[str]:
        result = CliRunner().invoke(cli, ["executions", "list", *args, "--json"])
        assert result.exit_code == 0, result.output
        return [e["execution_id"] for e in json.loads(result.stdout)]

    def api_ids(query: dict[str, str]) -> list[str]:
        reply = api.call("GET", "/admin/batch/executions?" + urllib.parse.urlencode(query))
        assert reply.status == 200, reply.body
        return [e["execution_id"] for e in reply.body["items"]]

    assert listed("--partition", day) == ["range-over", "single"]
    assert listed("--partition", day) == api_ids({"partition_from": day, "partition_to": day})
    assert listed("--partition", day, "--status", "FAILED") == ["range-over"] == api_ids(
        {"partition_from": day, "partition_to": day, "status": "FAILED"})
    assert listed("--partition", "2013-01-08") == ["range-after"]
    assert listed("--limit", "2") == ["other-day", "range-after"]
    table = CliRunner().invoke(cli, ["executions", "list", "--partition", day]).stdout
    assert "2013-01-01..2013-01-07" in table.splitlines()[1]
    refused = CliRunner().invoke(cli, ["executions", "list", "--limit", "0"])
    assert refused.exit_code == 2


@pytest.mark.parametrize("kind", ["range", "full"])
def test_a_body_listing_two_days_previews_and_records_two(api, kind):
    """The preview is the plan the replay records: two days, not every day between."""
    body = {"type": kind, "job_id": JOB, "partitions": ["2013-03-01", "2013-03-31"],
            "reason": "two days only"}
    preview = api.call("POST", "/admin/batch/replay/preview", token="operator", body=body)
    assert preview.status == 200, preview.body
    assert preview.body["partitions"] == ["2013-03-01", "2013-03-31"]
    assert preview.body["parents"] == {"2013-03-01": None, "2013-03-31": None}
    reply = api.call("POST", "/admin/batch/replay", token="operator", body=body)
    assert reply.status == 202, reply.body
    assert reply.body["replay"]["partition_keys"] == preview.body["partitions"]
    shown = api.call("GET", f"/admin/replays/{reply.body['replay_id']}")
    assert shown.body["replay"]["partition_keys"] == ["2013-03-01", "2013-03-31"]


def test_request_key_reuse_over_the_api(api, engine):
    body = {"type": "single", "job_id": JOB, "partitions": ["2013-02-01"], "reason": "fix"}
    key = {"Idempotency-Key": "ticket-9"}
    first = api.call("POST", "/admin/batch/replay", token="operator", body=body, headers=key)
    assert first.status == 202
    # the same operator, the same key, another request: a conflict, nothing written
    for other in ({**body, "reason": "another reason"}, {**body, "partitions": ["2013-02-02"]},
                  {**body, "type": "range"}):
        refused = api.call("POST", "/admin/batch/replay", token="operator", body=other,
                           headers=key)
        _assert_problem(refused, 409, "BAT-009")
        assert f"replay {first.body['replay_id']}" in refused.body["detail"]
    # another operator's request under the same key is their own replay, never the first one
    theirs = api.call("POST", "/admin/batch/replay", token="admin",
                      body={**body, "partitions": ["2013-02-03"]}, headers=key)
    assert theirs.status == 202 and theirs.body["replay_id"] != first.body["replay_id"]
    assert theirs.body["replay"]["operator_id"] == "admin-op"
    # the first operator's retry still gets the first replay
    again = api.call("POST", "/admin/batch/replay", token="operator", body=body, headers=key)
    assert (again.status, again.body["replay_id"]) == (202, first.body["replay_id"])
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Replay)) == 2
    assert len(_audit_rows(engine)) == 2


def test_a_busy_partition_is_a_409_bat_012_and_writes_nothing(api, engine):
    _execution(engine, "e-run", partition="2013-04-02")
    reply = api.call("POST", "/admin/batch/replay", token="operator", body={
        "type": "range", "job_id": JOB, "partition_start": "2013-04-01",
        "partition_end": "2013-04-03", "reason": "overlaps a run"})
    _assert_problem(reply, 409, "BAT-012")
    assert "2013-04-02" in reply.body["detail"] and "execution e-run (READY)" in reply.body["detail"]
    start = api.call("POST", f"/admin/batch/executions/{JOB}/start", token="operator",
                     body={"partition": "2013-04-02", "reason": "again"})
    _assert_problem(start, 409, "BAT-012")
    assert _audit_rows(engine) == []


def test_stop_response_says_final_and_the_audit_shows_the_request(api, engine):
    """The stop's 202 says the stop is final and where its delivery stands; the execution's
    detail shows it; the audit record's before and after differ by the stop request."""
    _execution(engine, "e-1", at=T0)
    BatchExecutionService(engine).start_execution("e-1")
    reply = api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                     body={"reason": "runaway"})
    assert reply.status == 202, reply.body
    stop = reply.body["stop"]
    assert (stop["status"], stop["final_status"], stop["results_become_active"]) == (
        "RUNNING", "STOPPED", False)
    assert stop["delivery"] == "PENDING" and stop["delivered_at"] is None
    assert "ends STOPPED" in stop["message"] and "none of its results" in stop["message"]
    detail = api.call("GET", "/admin/batch/executions/e-1").body
    assert detail["stop"] == stop
    [row] = _audit_rows(engine)
    before, after = row["before_state"], row["after_state"]
    assert (before["status"], after["status"]) == ("RUNNING", "RUNNING")
    assert (before["stop_requested"], after["stop_requested"]) == (False, True)
    assert (before["final_status"], after["final_status"]) == (None, "STOPPED")
    assert before["stop_requested_at"] is None
    assert after["stop_requested_at"] == detail["stop_requested_at"].replace("Z", "+00:00")
    assert before != after

    # what Dagster did, once the sensor delivered the stop, shows in the detail
    from opsrel_core.domain.stop import StopDelivery
    from opsrel_core.services.execution_commands import ExecutionCommands

    assert ExecutionCommands(engine).record_stop_delivery("e-1", StopDelivery.NOT_TERMINATED)
    assert not ExecutionCommands(engine).record_stop_delivery("e-1", StopDelivery.TERMINATED)
    detail = api.call("GET", "/admin/batch/executions/e-1").body
    assert detail["stop"]["delivery"] == "NOT_TERMINATED"
    assert "could not terminate the worker" in detail["stop"]["delivery_detail"]
    assert [h["event_key"] for h in detail["history"]] == [
        "status:READY", "status:RUNNING", "stop_delivery:NOT_TERMINATED"]
    again = api.call("POST", "/admin/batch/executions/e-1/stop", token="operator",
                     body={"reason": "runaway"})
    assert (again.body["already_requested"], again.body["stop"]["delivery"]) == (
        True, "NOT_TERMINATED")
    assert api.call("GET", "/admin/batch/executions/e-1").body["status"] == "RUNNING"


def test_stop_a_replay_as_a_whole(api, engine):
    """POST /admin/replays/{id}/stop: operator role, reason required, audited once; a repeat
    returns the same audit record; unknown is 404 BAT-010; a replay that ended is 409."""
    replay = api.call("POST", "/admin/batch/replay", token="operator", body={
        "type": "single", "job_id": JOB, "partitions": ["2013-01-05"], "reason": "fix"}).body
    rid = replay["replay_id"]
    _assert_problem(api.call("POST", f"/admin/replays/{rid}/stop", token="viewer",
                             body={"reason": "wrong day"}), 403)
    _assert_problem(api.call("POST", f"/admin/replays/{rid}/stop", token="operator",
                             body={"reason": " "}), 422)
    _assert_problem(api.call("POST", f"/admin/replays/{rid}/stop", token="operator", body={}), 422)
    assert len(_audit_rows(engine)) == 1  # the replay's own record: the refusals wrote nothing
    first = api.call("POST", f"/admin/replays/{rid}/stop", token="operator",
                     body={"reason": "wrong day"})
    assert first.status == 202, first.body
    assert (first.body["replay_id"], first.body["status"], first.body["already_requested"]) == (
        rid, "STOPPING", False)
    assert "end STOPPED" in first.body["message"]
    again = api.call("POST", f"/admin/replays/{rid}/stop", token="admin",
                     body={"reason": "again"})
    assert again.status == 202
    assert (again.body["audit_id"], again.body["already_requested"]) == (
        first.body["audit_id"], True)
    stops = [r for r in _audit_rows(engine) if r["action"] == "STOP_REPLAY"]
    assert [(r["audit_id"], r["operator_id"], r["reason"], r["target_id"]) for r in stops] == [
        (first.body["audit_id"], "operator-op", "wrong day", str(rid))]
    assert api.call("GET", f"/admin/replays/{rid}").body["replay"]["status"] == "STOPPING"
    _assert_problem(api.call("POST", "/admin/replays/999/stop", token="operator",
                             body={"reason": "x"}), 404, "BAT-010")
    ended = api.call("POST", "/admin/batch/replay", token="operator", body={
        "type": "single", "job_id": JOB, "partitions": ["2013-01-06"], "reason": "fix"}).body
    with engine.begin() as conn:
        conn.execute(sa.update(Replay).where(Replay.replay_id == ended["replay_id"])
                     .values(status="SUCCESS"))
    _assert_problem(api.call("POST", f"/admin/replays/{ended['replay_id']}/stop",
                             token="operator", body={"reason": "late"}), 409, "BAT-001")
