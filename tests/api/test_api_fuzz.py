"""Property-based fuzz of the admin API from its OpenAPI document (schemathesis): no 500s,
and every response conforms to the document (status codes, content types, response schemas), as
each role (viewer, operator, admin) and as an anonymous client, datetime extremes included.

The API refuses some values the document allows (an unparseable cursor, a reversed range) with a
422 problem: schemathesis' ``positive_data_acceptance`` would call that a failure, so it is not
one of the checks here; the checks are the acceptance's "no 500, no response outside the schema".
Every endpoint's success response has a model (``opsrel_core/entrypoints/api/responses.py``), and
the database holds executions, a replay, its audit record and an alert, so lists and details are
checked against those schemas with rows in them.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opsrel_core.config import AlertSettings
from opsrel_core.entrypoints.api import create_app
from opsrel_core.entrypoints.api.limits import ApiLimits
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.execution_queries import encode_cursor
from opsrel_core.services.replays import ReplayService
from opsrel_core.config import OpsSettings
from tests.api.test_api import JOB, T0, _execution


def test_every_endpoint_documents_its_success_response():
    document = create_app(None).openapi()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            [ok] = [code for code in operation["responses"] if code.startswith("2")]
            schema = operation["responses"][ok]["content"]["application/json"]["schema"]
            ref = schema.get("$ref") or schema["items"]["$ref"]
            named = schemas[ref.rsplit("/", 1)[-1]]
            assert named["properties"] and named["required"], (method, path, named)
    # always present, null on the last page
    assert schemas["ExecutionPage"]["required"] == ["items", "next_cursor"]
    assert {"type": "null"} in schemas["ExecutionPage"]["properties"]["next_cursor"]["anyOf"]
    assert set(schemas["ReplayAccepted"]["properties"]) == {
        "replay_id", "status", "audit_id", "replay", "status_url"}


def test_the_committed_openapi_document_is_current():
    from opsrel_core.entrypoints.api import openapi_export

    committed = openapi_export.DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == openapi_export.render(), (
        "docs/openapi.json is stale: regenerate it with `opsrel api openapi`")


OPERATIONS = [
    "GET /admin/batch/executions", "GET /admin/batch/executions/{execution_id}",
    "POST /admin/batch/executions/{job_id}/start", "POST /admin/batch/executions/{execution_id}/stop",
    "POST /admin/batch/replay", "POST /admin/batch/replay/preview", "GET /admin/audit-logs",
    "GET /admin/alerts", "POST /admin/alerts/{alert_id}/acknowledge", "POST /admin/tokens",
    "DELETE /admin/tokens/{token_id}", "GET /admin/ingestion", "GET /admin/error-codes",
    "GET /admin/replays/{replay_id}", "POST /admin/replays/{replay_id}/stop",
    "GET /admin/executions/{execution_id}/context",
    "GET /admin/lineage/backtrace", "GET /admin/reports/daily/{partition}",
    "GET /admin/reports/partitions/{job_id}/{partition_key}", "GET /admin/reports/days/{job_id}/{day}",
    "GET /admin/reports/replay/{replay_id}", "GET /admin/versions",
    "POST /admin/alerts/{alert_id}/resolve", "POST /admin/silences", "GET /admin/silences",
    "POST /admin/silences/{silence_id}/end",
    "GET /admin/alerts/{alert_id}/partitions", "POST /admin/alerts/{alert_id}/replay",
    "POST /admin/alerts/{alert_id}/replay/preview",
    "POST /admin/versions/restore", "POST /admin/notes", "GET /admin/notes",
]


def _seed(engine) -> None:
    """Rows for the lists and details to return, so their responses are checked too."""
    _execution(engine, "e-1", at=T0)
    _execution(engine, "e-2", partition="2013-01-02", at=T0)
    ReplayService(engine).replay_single(job_id=JOB, partition_key="2013-01-03", operator_id="o",
                                        reason="r")
    OpsAlertService(engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")


# Examples per operation for each caller: every role and an anonymous client (no token), so
# each role's answers (200s, 403s, 409s) and the 401s are checked against the document too.
# Together about 20 per operation, on each database: the fuzz stays well under a minute.
EXAMPLES_BY_ROLE = {"anonymous": 3, "viewer": 4, "operator": 5, "admin": 8}
# Instants that fall outside years 1..9999 once in UTC, and the limits themselves.
DATETIME_EXTREMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                     "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _extreme_cases(operation):
    """Explicit cases with the datetime extremes in every instant and cursor parameter."""
    names = {p.name for p in operation.query}
    cases = [operation.Case(query={name: value})
             for name in ("since", "until") if name in names for value in DATETIME_EXTREMES]
    if "cursor" in names:
        cases += [operation.Case(query={"cursor": encode_cursor({"c": value, "i": "e-1"})})
                  for value in DATETIME_EXTREMES]
    return cases


def test_api_never_errors_and_conforms(database_url, tmp_path):
    engine = make_engine(database_url)
    service = ApiTokenService(engine)
    tokens = {role: service.create(f"fuzz-{role}", role, by="setup", reason="fuzz")[0]
              for role in ("viewer", "operator", "admin")}
    _seed(engine)
    engine.dispose()
    # The failed-authentication brake would answer the anonymous fuzz with 429s (documented,
    # tested in test_trust_limits.py); set above what it sends, the 401s are checked here.
    app = create_app(OpsSettings(database_url=database_url, home=tmp_path),
                     limits=ApiLimits(auth_failures=100_000))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # every routed operation: a new endpoint is
    # fuzzed as soon as it is routed, and this list says which ones were meant to be
    assert sorted(f"{op.method.upper()} {op.path}" for op in operations) == sorted(OPERATIONS)
    extremes = 0

    # Lower roles first: the admin's fuzz may revoke tokens (its own included) as it goes.
    for role, examples in EXAMPLES_BY_ROLE.items():
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
        for operation in operations:
            for case in _extreme_cases(operation):
                response = case.call_and_validate(headers=headers, checks=CHECKS)
                expected = (401,) if role == "anonymous" else (200, 422)
                assert response.status_code in expected, (role, case.query, response.text)
                extremes += 1
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=examples, deadline=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            check()
    # since and until of two lists, two cursors, by four callers
    assert extremes == 4 * (2 * 2 * 4 + 3 * 4)


def test_found_by_the_fuzz_nul_bytes_and_huge_ids_are_422_not_500(api, database_url):
    """Regressions the fuzz found: PostgreSQL refuses NUL in text; SQLite ints stop at 2**63-1."""
    nul = api.call("GET", "/admin/audit-logs?operator_id=%00")
    if database_url.startswith("postgresql"):
        assert nul.status == 422
        assert nul.headers["content-type"].startswith("application/problem+json")
        assert nul.body["status"] == 422
    else:  # SQLite stores and searches NUL like any character: nothing matches
        assert (nul.status, nul.body["items"]) == (200, [])
    huge = api.call("GET", f"/admin/replays/{2**64}")
    assert huge.status == 422
    cursor = api.call("GET", "/admin/alerts?cursor=not-a-cursor")
    assert cursor.status == 422 and cursor.body["detail"] == "invalid cursor"
