"""Defects found by trying to break the trust and alert-lifecycle work (each test failed before
its fix): SQLite only, in-process (``TestClient``), fast."""

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from opsrel_core.domain.alert_lifecycle import SilenceMatchers
from opsrel_core.entrypoints.api import create_app
from opsrel_core.entrypoints.api.limits import ApiLimits
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alert_silences import SilenceService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.config import OpsSettings
from tests.api.conftest import seed_token

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# A plaintext token's shape (``opsrel_`` and 43 URL-safe characters), not a real one.
PASTED_TOKEN = "opsrel_" + "Ab3-_x" * 7 + "Q"


@pytest.fixture
def engine(database_url) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tokens(engine) -> dict[str, str]:
    return {role: seed_token(engine, f"{role}-op", role) for role in ("viewer", "operator", "admin")}


def _client(database_url, tmp_path, **limits) -> TestClient:
    app = create_app(OpsSettings(database_url=database_url, home=tmp_path),
                     limits=ApiLimits(**limits))
    return TestClient(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@SQLITE
@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00"])
def test_silence_expiry_outside_the_utc_range_is_a_422_not_a_500(
        database_url, tmp_path, tokens, expires_at):
    # Before: OverflowError in astimezone, a 500 SYS-001 (and a traceback in the server log).
    with _client(database_url, tmp_path) as client:
        reply = client.post("/admin/silences", headers=_bearer(tokens["operator"]),
                            json={"job_id": "j", "reason": "r", "expires_at": expires_at})
    assert reply.status_code == 422, reply.text
    assert "outside the range of times" in reply.json()["detail"]


@SQLITE
def test_silence_service_refuses_an_instant_outside_the_utc_range(engine):
    far = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-10)))
    with pytest.raises(ValueError, match="outside the range of times"):
        SilenceService(engine).create_silence(operator_id="kim", reason="r", job_id="j",
                                              expires_at=far)


@SQLITE
def test_failed_tokens_on_metrics_meet_the_failed_auth_brake(
        database_url, tmp_path, tokens, monkeypatch):
    # Before: /metrics checked tokens in its route, outside the middleware's brake: an attacker
    # could guess tokens there without end (each a database lookup), never meeting a 429.
    monkeypatch.delenv("OPSREL_METRICS_AUTH", raising=False)
    with _client(database_url, tmp_path, auth_failures=3) as client:
        statuses = [client.get("/metrics", headers=_bearer(f"opsrel_guess{i}")).status_code
                    for i in range(5)]
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3:] == [429, 429]
        # The address is braked on /admin too, even with a valid token, as after /admin failures.
        assert client.get("/admin/silences", headers=_bearer(tokens["viewer"])).status_code == 429


@SQLITE
def test_a_valid_token_still_scrapes_metrics(database_url, tmp_path, tokens, monkeypatch):
    monkeypatch.delenv("OPSREL_METRICS_AUTH", raising=False)
    with _client(database_url, tmp_path, auth_failures=3) as client:
        assert client.get("/metrics", headers=_bearer(tokens["viewer"])).status_code == 200
        assert client.get("/metrics").status_code == 401


@SQLITE
def test_a_credential_pasted_into_a_reason_is_masked_in_the_audit_log_and_the_silence(
        database_url, tmp_path, tokens, engine):
    # Before: states were masked but the reason column kept the token verbatim in the
    # append-only log, readable by any viewer (GET /admin/audit-logs, GET /admin/silences).
    reason = (f"rotated {PASTED_TOKEN} after the leak; db was "
              "postgresql://ops:hunter2@db.internal/ops")
    with _client(database_url, tmp_path) as client:
        created = client.post("/admin/silences", headers=_bearer(tokens["operator"]),
                              json={"job_id": "j", "reason": reason, "duration": "1h"})
        assert created.status_code == 201, created.text
        listed = client.get("/admin/silences", headers=_bearer(tokens["viewer"]))
        audit = client.get("/admin/audit-logs", headers=_bearer(tokens["viewer"]))
    for text in (created.text, listed.text, audit.text):
        assert PASTED_TOKEN not in text and "hunter2" not in text
    [record] = audit.json()["items"]
    assert record["reason"] == ("rotated [redacted] after the leak; db was "
                                "postgresql://ops:[redacted]@db.internal/ops")


@SQLITE
def test_a_reason_stored_before_the_rule_is_masked_when_read(engine):
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_log (occurred_at, operator_id, action_type, action, target_type,"
            " target_id, reason) VALUES (:at, 'kim', 'CONFIG_CHANGE', 'X', 't', '1', :reason)"),
            {"at": dt.datetime.now(dt.timezone.utc), "reason": f"old {PASTED_TOKEN}"})
    [view] = AuditLogService(engine).list_audit_logs()
    assert view.reason == "old [redacted]"


@SQLITE
@pytest.mark.parametrize("pattern", ["*", "**", "?*", "*?*"])
def test_a_wildcard_only_partition_pattern_is_refused(pattern, database_url, tmp_path, tokens):
    # Before: ``partition_pattern: "*"`` was accepted alone, muting every partitioned alert
    # although a silence "must not mute every alert".
    with pytest.raises(ValueError, match="matches every partition"):
        SilenceMatchers(partition_pattern=pattern).validate()
    with _client(database_url, tmp_path) as client:
        reply = client.post("/admin/silences", headers=_bearer(tokens["operator"]),
                            json={"partition_pattern": pattern, "reason": "r", "duration": "1h"})
    assert reply.status_code == 422, reply.text


def test_a_partition_pattern_naming_some_partitions_still_works():
    assert SilenceMatchers(partition_pattern="2013-01-*").validate().matches(
        job_id="j", error_code=None, rule_id=None, partition_key="2013-01-05")
    assert SilenceMatchers(partition_pattern="??").validate().partition_pattern == "??"


@pytest.mark.parametrize("url", ["http://user:s3cretpw@marquez.internal/api/v1/lineage",
                                 "https://s3cretpw@marquez.internal:5000/"])
def test_an_openlineage_url_with_a_password_is_refused_without_echoing_it(url):
    # Before: accepted; every send failed with ``InvalidURL: nonnumeric port:
    # 's3cretpw@marquez.internal'`` (or a DNS query for it), which the outbox stored in
    # lineage_event.last_error / lineage_event_attempt.error and logged with a traceback: the
    # API key is redacted there, a URL's password was not.
    from opsrel_core.config import OpenLineageSettings

    with pytest.raises(ValueError) as refused:
        OpenLineageSettings.from_env({"OPSREL_OPENLINEAGE_URL": url})
    assert "must not carry a user or password" in str(refused.value)
    assert "s3cretpw" not in str(refused.value)


@pytest.mark.parametrize("raw", ["inf", "1e10", "3601"])
def test_a_metrics_cache_too_long_for_the_background_timer_is_refused(raw):
    # Before: accepted; the background reader's ``Event.wait(1e10)`` raised OverflowError, the
    # thread died still registered, and every scrape served the first read as fresh for ever.
    from opsrel_core.services.metrics import MetricsSettings

    with pytest.raises(ValueError, match="OPSREL_METRICS_CACHE_SECONDS must be 0..3600"):
        MetricsSettings.from_env({"OPSREL_METRICS_CACHE_SECONDS": raw})
    assert MetricsSettings.from_env({"OPSREL_METRICS_CACHE_SECONDS": "3600"}).cache_seconds == 3600


@pytest.mark.parametrize("raw", ["nan", "inf"])
def test_a_failed_auth_window_that_is_not_a_finite_number_is_refused(raw):
    # Before: accepted (nan <= 0 is False); once an address was braked, ``retry_after`` took
    # ``math.ceil(nan)`` / ``math.ceil(inf)`` and every request from it was a 500.
    with pytest.raises(ValueError, match="must be positive"):
        ApiLimits.from_env({"OPSREL_API_AUTH_WINDOW_SECONDS": raw})


def _asgi_call(path: str, chunks: list[bytes], app_reads: bool = False):
    """Run ``TrustMiddleware`` alone on one request sent as ``chunks`` (chunked: no
    Content-Length); returns (receive calls before the app ran, what the app read, statuses)."""
    import asyncio

    from opsrel_core.entrypoints.api.limits import TrustMiddleware

    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]
    calls = {"receive": 0, "before_app": None}
    read: list[dict] = []
    sent: list[int] = []

    async def receive():
        calls["receive"] += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def app(scope, receive_, send_):
        calls["before_app"] = calls["receive"]
        while app_reads:
            message = await receive_()
            read.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send_({"type": "http.response.start", "status": 404, "headers": []})
        await send_({"type": "http.response.body", "body": b""})

    middleware = TrustMiddleware(app, ApiLimits(max_body_bytes=100),
                                 authenticate=lambda _app, token: None)
    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "client": ("1.2.3.4", 1)}
    asyncio.run(middleware(scope, receive, send))
    return calls["before_app"], read, sent


def test_an_anonymous_body_outside_admin_is_not_read_ahead():
    # Before: the middleware buffered up to OPSREL_API_MAX_BODY_BYTES of every request outside
    # /admin (POST /nowhere, POST /metrics) from anyone before the route ran, although "an
    # anonymous client cannot make the server buffer a large body".
    before_app, _, sent = _asgi_call("/nowhere", [b"a" * 60, b"a" * 30])
    assert before_app == 0 and sent == [404]


def test_a_route_outside_admin_that_reads_gets_at_most_the_limit():
    _, read, _ = _asgi_call("/nowhere", [b"a" * 60, b"a" * 60, b"a" * 60], app_reads=True)
    assert [m["type"] for m in read] == ["http.request", "http.disconnect"]


def test_an_admin_body_is_still_read_only_after_authentication():
    before_app, _, sent = _asgi_call("/admin/silences", [b"a" * 60])
    assert before_app is None and sent == [401]
