"""The admin API's restore and notes over a live HTTP server, both backends."""

from opsrel_core.persistence.engine import make_engine
from tests.support.restore_history import CLEAN, DAY, STATS, record_run


def _history(database_url) -> None:
    engine = make_engine(database_url)
    record_run(engine, "run-1")
    record_run(engine, "run-2")
    record_run(engine, "run-3", outcome="FAILED")
    engine.dispose()


def test_restore_over_http(api, database_url):
    _history(database_url)
    body = {"asset": CLEAN, "partition": DAY, "version": 1, "reason": "v2 used a bad map"}
    assert api.call("POST", "/admin/versions/restore", body=body).status == 403  # viewer
    reply = api.call("POST", "/admin/versions/restore", token="operator", body=body)
    assert reply.status == 200, reply.body
    assert (reply.body["restored"]["version_number"], reply.body["restored"]["is_active"],
            reply.body["replaced"]["version_number"], reply.body["already_active"]) == (
        1, True, 2, False)
    assert reply.body["stale_downstream"][0] == {
        "asset_key": STATS, "partition_key": DAY, "active_version": 2, "made_from_versions": [2]}
    audit = api.call("GET", "/admin/audit-logs?target_type=result_version").body["items"]
    assert [(a["audit_id"], a["action"], a["operator_id"]) for a in audit] == [
        (reply.body["audit_id"], "RESTORE_VERSION", "operator-op")]
    versions = api.call("GET", f"/admin/versions?asset={CLEAN}&partition={DAY}").body
    assert {v["version_number"]: v["is_active"] for v in versions} == {1: True, 2: False, 3: False}
    again = api.call("POST", "/admin/versions/restore", token="operator", body=body)
    assert (again.status, again.body["audit_id"], again.body["already_active"]) == (200, None, True)
    missing = api.call("POST", "/admin/versions/restore", token="operator",
                       body={**body, "version": 9})
    assert (missing.status, missing.body["error_code"]) == (404, "BAT-010")
    failed = api.call("POST", "/admin/versions/restore", token="operator",
                      body={**body, "version": 3})
    assert (failed.status, failed.body["error_code"]) == (409, "BAT-001")
    blank = api.call("POST", "/admin/versions/restore", token="operator",
                     body={**body, "reason": " "})
    assert blank.status == 422
    after = api.call("GET", f"/admin/versions?asset={CLEAN}&partition={DAY}").body
    assert {v["version_number"]: v["is_active"] for v in after} == {1: True, 2: False, 3: False}


def test_notes_over_http(api):
    note = {"job_id": "flights_daily", "partition": DAY, "body": "input re-delivered"}
    assert api.call("POST", "/admin/notes", body=note).status == 403
    created = api.call("POST", "/admin/notes", token="operator", body=note)
    assert created.status == 201, created.body
    assert (created.body["body"], created.body["operator_id"]) == ("input re-delivered",
                                                                   "operator-op")
    api.call("POST", "/admin/notes", token="operator", body={**note, "body": "replayed"})
    listed = api.call("GET", f"/admin/notes?job_id=flights_daily&partition={DAY}")
    assert listed.status == 200
    assert [n["body"] for n in listed.body["items"]] == ["replayed", "input re-delivered"]
    unknown = api.call("POST", "/admin/notes", token="operator", body={**note, "job_id": "nope"})
    assert (unknown.status, unknown.body["error_code"]) == (404, "BAT-011")
    assert api.call("POST", "/admin/notes", token="operator",
                    body={**note, "body": "x" * 4001}).status == 422
