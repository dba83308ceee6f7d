"""Bad input and security: the admin API through a real HTTP server, both backends.

Every mutating endpoint (read from the app's OpenAPI document, so a new one is covered too) is
called with no token, a wrong token, a revoked token and a role too low; every parameter gets SQL
metacharacters, oversized values and path traversal. Each answer is the right 4xx problem, no row
of the ops schema changes, and no answer leaks a stack trace, a secret, a token hash or another
operator's token. The audit log has no product path that alters it, and UPDATE/DELETE through the
database is refused by its triggers on SQLite and on PostgreSQL.
"""

import datetime as dt
import json
import urllib.parse

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.entrypoints.api import create_app
from opsrel_core.persistence.tables import ApiToken, AuditLog, Base
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.config import OpsSettings

JOB = "flights_daily"
MUTATING = {"post", "put", "patch", "delete"}
SQL_META = [
    "' OR '1'='1",
    "1; DROP TABLE audit_log; --",
    "x' UNION SELECT token_hash, operator_id FROM api_token --",
    '"); DELETE FROM batch_execution; --',
    "%' OR 1=1 --",
]
TRAVERSAL = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "..\\..\\windows\\win.ini", "/etc/passwd"]
OVERSIZED = "x" * 5000

# Valid bodies of the known mutating endpoints; the minimal role of each.
BODIES = {
    ("post", "/admin/batch/executions/{job_id}/start"): {"partition": "2013-01-02", "reason": "r"},
    ("post", "/admin/batch/executions/{execution_id}/stop"): {"reason": "stop it"},
    ("post", "/admin/replays/{replay_id}/stop"): {"reason": "stop it"},
    ("post", "/admin/batch/replay"): {
        "type": "single", "job_id": JOB, "partitions": ["2013-01-03"], "reason": "fix"},
    ("post", "/admin/alerts/{alert_id}/acknowledge"): {"reason": "seen"},
    ("post", "/admin/tokens"): {"operator_id": "dora", "role": "viewer", "reason": "new"},
}
ADMIN_ONLY = {("post", "/admin/tokens"), ("delete", "/admin/tokens/{token_id}")}


def _config_change(engine) -> None:
    AuditLogService(engine).log_config_change(
        operator_id="admin-op", reason="rotate", action="SET", target={"a": 1},
        mutate=lambda config: config.update(a=2), target_id="alert_settings")


def _openapi() -> dict:
    return create_app(OpsSettings(database_url="sqlite://", home=".")).openapi()


def _operations(mutating: bool) -> list[tuple[str, str, dict]]:
    spec = _openapi()
    return [(m, path, op) for path, ops in spec["paths"].items() for m, op in ops.items()
            if (m in MUTATING) == mutating]


def _fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    return path


@pytest.fixture
def world(api, engine):
    """A populated ops schema: executions, an alert, a token per role (from ``api``), audit rows."""
    executions = BatchExecutionService(engine)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    executions.register_execution(ExecutionSpec("e-1", JOB, partition_key="2013-01-01"), at=at)
    executions.register_execution(ExecutionSpec("e-2", JOB, partition_key="2013-01-02"), at=at)
    alert = OpsAlertService(engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    # Another operator's token: it must never appear in any answer, nor its hash.
    setup = {"by": "setup", "reason": "seed tokens"}
    other_token, other = ApiTokenService(engine).create("mallory", "operator", **setup)
    revoked_token, revoked = ApiTokenService(engine).create("rita", "admin", **setup)
    ApiTokenService(engine).revoke(revoked.token_id, by="admin-op", reason="left")
    _config_change(engine)
    ids = {"job_id": JOB, "execution_id": "e-2", "alert_id": str(alert.alert_id),
           "token_id": str(other.token_id), "replay_id": "1", "partition": "2013-01-01"}
    return {"ids": ids, "other_token": other_token, "revoked_token": revoked_token}


def _snapshot(engine) -> dict[str, int]:
    """Row counts of every ops table (the proof that nothing changed)."""
    counts = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = conn.execute(
                sa.select(sa.func.count()).select_from(table)).scalar_one()
    return counts


def _secrets(engine, world, api) -> list[str]:
    with engine.connect() as conn:
        hashes = list(conn.execute(sa.select(ApiToken.token_hash)).scalars())
    return [*hashes, world["other_token"], world["revoked_token"], *api.tokens.values()]


def _assert_clean(reply, secrets: list[str]) -> None:
    text = json.dumps(reply.body) + json.dumps(reply.headers)
    for marker in ("Traceback", 'File "/', "sqlalchemy", "psycopg", "sqlite3.", "postgresql://",
                   "[SQL:", "sqlalche.me", "root:x:0:0"):
        assert marker not in text, (marker, text[:500])
    for secret in secrets:
        assert secret not in text, "a token or token hash leaked"


def _assert_problem(reply, status: int) -> None:
    assert reply.status == status, (status, reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.body["status"] == status


# -- authentication and roles -----------------------------------------------------------------


def test_every_mutating_endpoint_refuses_missing_wrong_revoked_and_low_role_tokens(api, engine, world):
    operations = _operations(mutating=True)
    assert {(m, p) for m, p, _ in operations} >= set(BODIES) | ADMIN_ONLY
    secrets = _secrets(engine, world, api)
    before = _snapshot(engine)
    for method, template, _ in operations:
        path = _fill(template, world["ids"])
        if method == "delete":
            path += "?reason=attempt"
        body = BODIES.get((method, template), {})
        cases = [
            (None, 401), ("not-a-token", 401), ("opsrel_" + "0" * 40, 401),
            (world["revoked_token"], 401), ("viewer", 403),
        ]
        if (method, template) in ADMIN_ONLY:
            cases.append(("operator", 403))
        for token, status in cases:
            reply = api.call(method.upper(), path, token=token, body=body)
            _assert_problem(reply, status)
            _assert_clean(reply, secrets)
            if status == 401:
                assert reply.headers.get("www-authenticate") == "Bearer"
        # A malformed Authorization header is 401 too.
        reply = api.call(method.upper(), path, token=None, body=body,
                         headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        _assert_problem(reply, 401)
    assert _snapshot(engine) == before


# -- injection, oversized values, traversal ---------------------------------------------------


def _string_params(op: dict) -> list[tuple[str, str]]:
    return [(p["name"], p["in"]) for p in op.get("parameters", []) if p["in"] in ("path", "query")]


def test_sql_metacharacters_oversized_values_and_traversal_in_every_parameter(api, engine, world):
    secrets = _secrets(engine, world, api)
    before = _snapshot(engine)
    hostile = [*SQL_META, *TRAVERSAL, OVERSIZED]
    for method, template, op in _operations(mutating=False):
        for name, where in _string_params(op):
            for value in hostile:
                ids = dict(world["ids"])
                if where == "path":
                    ids[name] = value
                    path = _fill(template, ids)
                    query = {}
                else:
                    path = _fill(template, ids)
                    query = {name: value}
                if "{" in path:
                    continue
                reply = api.call("GET", path + ("?" + urllib.parse.urlencode(query) if query else ""))
                assert reply.status in (200, 400, 404, 414, 422), (path, name, value[:40], reply.status)
                if reply.status == 200 and isinstance(reply.body, dict) and "items" in reply.body:
                    # A filter is a bound parameter, never SQL: an equality filter matches
                    # nothing, a range bound compares as text.
                    items = reply.body["items"]
                    if name == "partition_from":
                        assert all(i["partition_key"] >= value for i in items)
                    elif name == "partition_to":
                        assert all(i["partition_key"] <= value for i in items)
                    else:
                        assert items == [], (path, name, value[:40])
                if reply.status != 200 and reply.body is not None:
                    _assert_problem(reply, reply.status)
                _assert_clean(reply, secrets)
    assert _snapshot(engine) == before


def test_hostile_values_in_every_mutating_body_field_are_4xx_and_change_nothing(api, engine, world):
    secrets = _secrets(engine, world, api)
    before = _snapshot(engine)
    role = {key: ("admin" if key in ADMIN_ONLY else "operator") for key in BODIES}
    hostile_body_values = [*TRAVERSAL, "\x00", OVERSIZED * 20, "", "   "]
    for (method, template), body in BODIES.items():
        path = _fill(template, world["ids"])
        for field in body:
            for value in hostile_body_values:
                if value in TRAVERSAL and "partition" not in field:
                    continue  # only partition keys name files; ids and reasons are free text
                reply = api.call(method.upper(), path, token=role[(method, template)],
                                 body={**body, field: value})
                assert 400 <= reply.status < 500, (template, field, value[:30], reply.status)
                _assert_problem(reply, reply.status)
                _assert_clean(reply, secrets)
            # A list field gets a hostile item too (the partitions of a replay).
            if isinstance(body[field], list):
                for value in TRAVERSAL:
                    reply = api.call(method.upper(), path, token=role[(method, template)],
                                     body={**body, field: [value]})
                    _assert_problem(reply, 422)
        # SQL metacharacters in an identifier that must exist: refused, no row written.
        if "job_id" in body:
            for value in SQL_META:
                reply = api.call(method.upper(), path, token="operator", body={**body, "job_id": value})
                _assert_problem(reply, 422)
                assert reply.body["error_code"] == "BAT-009"
    # Hostile path parameters of mutating endpoints.
    for method, template, op in _operations(mutating=True):
        for name, where in _string_params(op):
            if where != "path":
                continue
            for value in [*SQL_META, *TRAVERSAL, OVERSIZED]:
                path = _fill(template, {**world["ids"], name: value})
                if method == "delete":
                    path += "?reason=attempt"
                reply = api.call(method.upper(), path, token="admin",
                                 body=BODIES.get((method, template), {}))
                assert reply.status in (400, 404, 409, 414, 422), (template, name, value[:30],
                                                                   reply.status, reply.body)
                _assert_clean(reply, secrets)
    assert _snapshot(engine) == before


def test_stored_hostile_text_is_kept_verbatim_never_executed(api, engine, world):
    """A reason is free text: SQL in it is stored as written and read back as written."""
    reason = "1'); DROP TABLE audit_log; -- ../../etc/passwd"
    reply = api.call("POST", "/admin/batch/executions/e-2/stop", token="operator",
                     body={"reason": reason})
    assert reply.status == 202, reply.body
    logs = api.call("GET", "/admin/audit-logs?" + urllib.parse.urlencode({"operator_id": "operator-op"}))
    assert logs.status == 200
    assert [e["reason"] for e in logs.body["items"]] == [reason]
    with engine.connect() as conn:
        # the world's two token creations, its revocation, its config change, and this stop
        assert conn.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one() == 5


# -- the audit log is append-only ----------------------------------------------------------------


def test_audit_log_has_no_product_path_that_alters_it(api, engine, world):
    spec = _openapi()
    for path, ops in spec["paths"].items():
        if "audit" in path:
            assert set(ops) == {"get"}, (path, set(ops))
    assert not [n for n in dir(AuditLogService)
                if any(w in n.lower() for w in ("update", "delete", "remove", "purge", "edit"))]
    before = _snapshot(engine)
    with engine.connect() as conn:
        audit_id = conn.execute(sa.select(sa.func.min(AuditLog.audit_id))).scalar_one()
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/admin/audit-logs", f"/admin/audit-logs/{audit_id}"):
            reply = api.call(method, path, token="admin", body={"reason": "tamper"})
            assert reply.status in (404, 405), (method, path, reply.status)
    assert _snapshot(engine) == before


def test_audit_log_update_and_delete_through_the_database_are_refused(engine, database_url):
    _config_change(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(AuditLog)).mappings().one()
    statements = [
        sa.update(AuditLog).values(operator_id="mallory"),
        sa.update(AuditLog).where(AuditLog.audit_id == row["audit_id"]).values(reason="rewritten"),
        sa.delete(AuditLog),
        sa.delete(AuditLog).where(AuditLog.audit_id == row["audit_id"]),
    ]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            with engine.begin() as conn:
                conn.execute(statement)
        assert "append-only" in str(caught.value.orig).lower() or "audit" in str(caught.value.orig).lower()
    with engine.connect() as conn:
        after = conn.execute(sa.select(AuditLog)).mappings().one()
    assert dict(after) == dict(row)
    # The triggers are there by name on each backend.
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            names = set(conn.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'ops.audit_log'::regclass "
                "AND NOT tgisinternal")).scalars())
            assert names == {"audit_log_append_only", "audit_log_no_truncate"}
        else:
            names = set(conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            )).scalars())
            assert names == {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"}
