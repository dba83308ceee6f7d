"""The admin API authenticates before it works, brakes failed authentication, and answers the
documented errors: through the real FastAPI app, over real HTTP (uvicorn), on both databases.

- An anonymous request is a 401 before a byte of its body is read (a 100 MiB body included);
  malformed JSON from an anonymous client is a 401, not a 422.
- A body over ``OPSREL_API_MAX_BODY_BYTES`` is a 413 problem, with or without Content-Length.
- Failed authentication is limited per client IP (429 with ``Retry-After``), behind a proxy per
  forwarded address.
- ``since``/``until``/cursors outside years 1..9999 in UTC are 422 problems; the database down
  is SYS-002 with 503; a second acknowledgement by another operator is a 409 naming who.
"""

import asyncio
import concurrent.futures
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from typing import Any

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.entrypoints.api import create_app
from opsrel_core.entrypoints.api.limits import ApiLimits, FailedAuthLimiter
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import AuditLog, Replay
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.execution_queries import encode_cursor
from opsrel_core.config import OpsSettings
from tests.support.api_server import serve
from tests.support.private_pg import private_pg  # noqa: F401 - the private cluster fixture
from tests.support.receivers import free_port

JOB = "flights_daily"
MIB = 1024 * 1024
PROBLEM = "application/problem+json"
EXTREMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


def _call(base: str, method: str, path: str, *, token: str | None = None,
          body: bytes | None = None, chunked: bool = False,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """One request on a fresh connection; returns (status, lower-case headers, JSON or None)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    try:
        if chunked:
            def pieces():
                for i in range(0, len(body or b""), 8192):
                    yield (body or b"")[i:i + 8192]
            conn.request(method, path, body=pieces(), headers=all_headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        raw = resp.read()
        found = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    return resp.status, found, json.loads(raw) if raw else None


def _assert_problem(reply: tuple[int, dict[str, str], Any], status: int, code: str) -> dict:
    got, headers, body = reply
    assert got == status, reply
    assert headers["content-type"].startswith(PROBLEM)
    assert (body["status"], body["error_code"]) == (status, code), body
    assert set(body) >= {"type", "title", "detail"}
    return body


def _tokens(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        service = ApiTokenService(engine)
        return {role: service.create(f"{role}-op", role, by="setup", reason="test tokens")[0]
                for role in ("viewer", "operator", "admin")}
    finally:
        engine.dispose()


def _app(database_url: str, tmp_path, **limits: Any):
    return create_app(OpsSettings(database_url=database_url, home=tmp_path),
                      limits=ApiLimits(**limits) if limits else None)


# -- authenticate before work ----------------------------------------------------------------------


def _drive(app, headers: list[tuple[bytes, bytes]], total: int, piece: int = MIB):
    """Send ``total`` bytes of body to the ASGI app; returns (status, body, bytes it read)."""
    consumed = 0
    sent: list[dict] = []

    async def receive():
        nonlocal consumed
        if consumed >= total:
            await asyncio.sleep(3600)  # a client that waits for its answer
        chunk = b"x" * min(piece, total - consumed)
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": consumed < total}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/admin/batch/replay", "raw_path": b"",
             "root_path": "", "query_string": b"", "headers": headers,
             "client": ("198.51.100.4", 40000), "server": ("127.0.0.1", 8000)}
    async def with_lifespan() -> None:
        # startup (the services), the request, shutdown: what a server does around it
        events: asyncio.Queue = asyncio.Queue()
        said: asyncio.Queue = asyncio.Queue()
        await events.put({"type": "lifespan.startup"})
        task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                       events.get, said.put))
        assert (await said.get())["type"] == "lifespan.startup.complete"
        await asyncio.wait_for(app(scope, receive, send), 30)
        await events.put({"type": "lifespan.shutdown"})
        await task

    asyncio.run(with_lifespan())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), consumed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_anonymous_100_mib_body_is_refused_without_reading_a_byte(database_url, tmp_path,
                                                                     declared):
    app = _app(database_url, tmp_path)
    headers = [(b"host", b"x"), (b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(100 * MIB).encode()))
    status, body, consumed = _drive(app, headers, 100 * MIB)
    assert (status, body["error_code"]) == (401, "API-401")
    assert consumed == 0
    # a wrong token is refused as early: nothing read either
    status, body, consumed = _drive(app, [*headers, (b"authorization", b"Bearer nope")], 100 * MIB)
    assert (status, body["detail"], consumed) == (401, "the token is invalid or revoked", 0)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_an_anonymous_100_mib_body_over_http_leaves_server_memory_flat(tmp_path):
    """Found: an anonymous 100 MiB body raised server memory by 200 MB before a 422."""
    with serve(_app(f"sqlite:///{tmp_path / 'ops.db'}", tmp_path)) as base:
        port = int(base.rsplit(":", 1)[1])
        before = _rss_bytes()
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"POST /admin/batch/replay HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n"
                     + f"Content-Length: {100 * MIB}\r\n\r\n".encode())
        sent = 0

        def push() -> None:
            nonlocal sent
            chunk = b"x" * MIB
            try:
                while sent < 100 * MIB:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the server closed the connection: the rest is never sent

        pusher = threading.Thread(target=push, daemon=True)
        started = time.monotonic()
        pusher.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        pusher.join(timeout=30)
        sock.close()
        grown = _rss_bytes() - before
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 10
    assert sent < 50 * MIB, f"the server went on reading: {sent} bytes accepted"
    assert grown < 50 * MIB, f"server memory grew by {grown} bytes"


def test_malformed_json_from_an_anonymous_client_is_401_not_422(api):
    for token in (None, "not-a-token"):
        reply = _call(api.base, "POST", "/admin/batch/replay", token=token, body=b'{"type": ')
        _assert_problem(reply, 401, "API-401")
        assert reply[1]["www-authenticate"] == "Bearer"
    # parsed only once the caller is known: then it is the client's bad JSON
    reply = _call(api.base, "POST", "/admin/batch/replay", token=api.tokens["operator"],
                  body=b'{"type": ')
    _assert_problem(reply, 422, "API-422")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_body_over_the_limit_is_413_with_or_without_content_length(database_url, tmp_path):
    tokens = _tokens(database_url)
    limit = 16 * 1024
    ask = {"type": "single", "job_id": JOB, "partitions": ["2013-01-03"], "reason": "fix"}
    with serve(_app(database_url, tmp_path, max_body_bytes=limit)) as base:
        for chunked in (False, True):
            big = json.dumps({**ask, "pad": " " * limit}).encode()
            reply = _call(base, "POST", "/admin/batch/replay/preview", token=tokens["operator"],
                          body=big, chunked=chunked)
            body = _assert_problem(reply, 413, "API-413")
            assert str(limit) in body["detail"] and "OPSREL_API_MAX_BODY_BYTES" in body["detail"]
            # within the limit, chunked or not, the same request is served
            small = json.dumps(ask).encode() + b" " * (limit - 200)
            status, _, plan = _call(base, "POST", "/admin/batch/replay/preview",
                                    token=tokens["operator"], body=small, chunked=chunked)
            assert status == 200 and plan["partitions"] == ["2013-01-03"], plan
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:  # a preview and a refused body write nothing
            assert conn.scalar(sa.select(sa.func.count()).select_from(Replay)) == 0
    finally:
        engine.dispose()


def test_limits_come_from_the_environment():
    assert ApiLimits.from_env({}) == ApiLimits(max_body_bytes=MIB, auth_failures=10,
                                               auth_window_seconds=60.0)
    assert ApiLimits.from_env({"OPSREL_API_MAX_BODY_BYTES": "2048", "OPSREL_API_AUTH_FAILURES": "3",
                               "OPSREL_API_AUTH_WINDOW_SECONDS": "5"}) == ApiLimits(2048, 3, 5.0)
    for bad in ({"OPSREL_API_MAX_BODY_BYTES": "1MB"}, {"OPSREL_API_AUTH_FAILURES": "0"},
                {"OPSREL_API_AUTH_WINDOW_SECONDS": "-1"}):
        with pytest.raises(ValueError):
            ApiLimits.from_env(bad)


# -- brakes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_failed_authentication_is_braked_per_client_with_retry_after(database_url, tmp_path):
    """Found: 300 bad tokens in 9 s got 300 plain 401s. With the defaults (10 per 60 s)."""
    tokens = _tokens(database_url)
    with serve(_app(database_url, tmp_path)) as base:
        replies = [_call(base, "GET", "/admin/error-codes", token=f"opsrel_guess{i}")
                   for i in range(30)]
        assert [r[0] for r in replies] == [401] * 10 + [429] * 20
        body = _assert_problem(replies[-1], 429, "API-429")
        assert "too many failed authentication attempts" in body["detail"]
        assert 1 <= int(replies[-1][1]["retry-after"]) <= 60
        # locked out: a valid token from this address waits too (else guessing could go on)
        _assert_problem(_call(base, "GET", "/admin/error-codes", token=tokens["viewer"]), 429,
                        "API-429")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_behind_a_proxy_the_brake_counts_the_forwarded_address(database_url, tmp_path):
    """uvicorn ``--proxy-headers --forwarded-allow-ips``: one client's failures do not lock out
    the others behind the same proxy; the window slides, so the client may try again."""
    tokens = _tokens(database_url)
    app = _app(database_url, tmp_path, auth_failures=3, auth_window_seconds=1.5)
    with serve(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as base:
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        statuses = [_call(base, "GET", "/admin/alerts", token="bad", headers=attacker)[0]
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        other = {"X-Forwarded-For": "203.0.113.8"}
        assert _call(base, "GET", "/admin/alerts", token=tokens["viewer"], headers=other)[0] == 200
        assert _call(base, "GET", "/admin/alerts", token=tokens["viewer"])[0] == 200
        time.sleep(1.6)
        assert _call(base, "GET", "/admin/alerts", token=tokens["viewer"],
                     headers=attacker)[0] == 200


def test_the_failure_window_slides_and_memory_is_bounded():
    now = [0.0]
    limiter = FailedAuthLimiter(3, 60, clock=lambda: now[0], max_clients=100)
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        assert limiter.retry_after("a") is None
        limiter.record_failure("a")
    now[0] = 30.0
    assert limiter.retry_after("a") == 30  # the failure at 0 leaves the window at 60
    assert limiter.retry_after("b") is None
    now[0] = 60.5
    assert limiter.retry_after("a") is None
    for i in range(1000):  # a flood of addresses: the oldest are forgotten
        for _ in range(3):
            limiter.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert limiter.retry_after("10.0.3.231") is not None
    assert limiter.retry_after("10.0.0.0") is None
    assert len(limiter._failures) == 100


def test_200_concurrent_replays_of_one_partition_accept_exactly_one(api, engine, database_url):
    """Found: 200 concurrent replays of one partition were all accepted."""
    ask = json.dumps({"type": "single", "job_id": JOB, "partitions": ["2013-01-05"],
                      "reason": "race"}).encode()

    def one(_: int):
        return _call(api.base, "POST", "/admin/batch/replay", token=api.tokens["operator"],
                     body=ask)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(one, range(200)))
    statuses = sorted(r[0] for r in replies)
    assert statuses == [202] + [409] * 199, statuses
    refused = {r[2]["error_code"] for r in replies if r[0] == 409}
    assert refused == {"BAT-012"}
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Replay)) == 1
        assert conn.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_operator_limit_of_pending_replays_is_a_409_in_the_api(database_url, tmp_path):
    tokens = _tokens(database_url)
    settings = OpsSettings(database_url=database_url, home=tmp_path,
                           max_pending_replays_per_operator=2)
    with serve(create_app(settings)) as base:
        def ask(day: str):
            return _call(base, "POST", "/admin/batch/replay", token=tokens["operator"],
                         body=json.dumps({"type": "single", "job_id": JOB, "partitions": [day],
                                          "reason": "fix"}).encode())

        assert [ask(day)[0] for day in ("2013-01-03", "2013-01-04")] == [202, 202]
        body = _assert_problem(ask("2013-01-05"), 409, "BAT-014")
        assert "already has 2 replays pending or running (the limit is 2" in body["detail"]


# -- errors as documented ------------------------------------------------------------------------


def test_out_of_range_instants_are_422_problems(api):
    """Found: ``since``/``until``/a cursor at 9999-12-31T23:59:59-14:00 gave a 500."""
    for path in ("/admin/batch/executions", "/admin/audit-logs"):
        for name in ("since", "until"):
            for value in EXTREMES:
                query = urllib.parse.urlencode({name: value})
                body = _assert_problem(_call(api.base, "GET", f"{path}?{query}",
                                             token=api.tokens["viewer"]), 422, "API-422")
                assert "outside the range of times" in body["detail"], body
            for value in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59"):
                query = urllib.parse.urlencode({name: value})
                status, _, page = _call(api.base, "GET", f"{path}?{query}",
                                        token=api.tokens["viewer"])
                assert status == 200 and page["items"] == [], (path, name, value, page)
    for value in EXTREMES:
        cursor = encode_cursor({"c": value, "i": "e-1"})
        body = _assert_problem(_call(api.base, "GET", f"/admin/batch/executions?cursor={cursor}",
                                     token=api.tokens["viewer"]), 422, "API-422")
        assert body["detail"] == "invalid cursor"


def test_a_second_acknowledgement_by_another_operator_is_a_409_naming_who(api, engine):
    """Found: it returned 200 with the first operator's audit id."""
    alert = OpsAlertService(engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    path = f"/admin/alerts/{alert.alert_id}/acknowledge"
    status, _, first = _call(api.base, "POST", path, token=api.tokens["operator"],
                             body=b'{"reason": "mine"}')
    assert status == 200 and first["alert"]["acknowledged_by"] == "operator-op"
    body = _assert_problem(_call(api.base, "POST", path, token=api.tokens["admin"],
                                 body=b'{"reason": "me too"}'), 409, "BAT-013")
    assert "already acknowledged by operator-op" in body["detail"]
    # the same operator again: idempotent, the first acknowledgement's audit record
    status, _, again = _call(api.base, "POST", path, token=api.tokens["operator"],
                             body=b'{"reason": "again"}')
    assert (status, again["audit_id"], again["alert"]) == (200, first["audit_id"], first["alert"])
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 1


def test_database_down_is_503_sys_002(tmp_path):
    """A PostgreSQL URL at a closed port: found SYS-001 (500); now SYS-002 with 503."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/opsrel"
    with serve(_app(url, tmp_path)) as base:
        reply = _call(base, "GET", "/admin/batch/executions", token="opsrel_any")
        body = _assert_problem(reply, 503, "SYS-002")
        assert reply[1]["retry-after"] == "30"
        assert "127.0.0.1" not in body["detail"]  # the server log has the driver's message
        # no database needed to refuse an anonymous client
        _assert_problem(_call(base, "GET", "/admin/batch/executions"), 401, "API-401")


def test_database_that_stops_under_a_running_api_is_503_sys_002(private_pg, tmp_path):  # noqa: F811
    migrate.upgrade(private_pg.url)
    tokens = _tokens(private_pg.url)
    with serve(_app(private_pg.url, tmp_path)) as base:
        assert _call(base, "GET", "/admin/error-codes", token=tokens["viewer"])[0] == 200
        private_pg.stop()
        _assert_problem(_call(base, "GET", "/admin/error-codes", token=tokens["viewer"]), 503,
                        "SYS-002")
        private_pg.start()
        assert _call(base, "GET", "/admin/error-codes", token=tokens["viewer"])[0] == 200
