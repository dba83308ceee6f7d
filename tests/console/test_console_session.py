"""Console sign-in and sign-out over real HTTP: the cookie's attributes, a session that ends at
sign-out and with its token, CSRF on every form, and the sign-in brake."""

import datetime as dt

import pytest
import requests
import sqlalchemy as sa

from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import ConsoleSession
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.console_sessions import ConsoleSessionService
from tests.support.api_server import seed_token, serve
from tests.support.console import ConsoleClient, ConsoleSite, console_app


def _client(site: ConsoleSite) -> ConsoleClient:
    return ConsoleClient(site, requests.Session())


def test_sign_in_sets_a_strict_httponly_cookie_and_stores_only_its_hash(console_site):
    client = _client(console_site)
    reply = client.sign_in(console_site.tokens["operator"])
    assert reply.status_code == 303 and reply.headers["location"] == "/console/inbox"
    cookie = reply.headers["set-cookie"]
    assert "opsrel_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https makes it Secure
    secret = client.http.cookies["opsrel_session"]
    engine = make_engine(console_site.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(ConsoleSession.session_hash)).scalars().all()
    finally:
        engine.dispose()
    assert len(stored) == 1 and secret not in stored[0] and len(stored[0]) == 64


def test_a_page_without_a_session_redirects_to_sign_in_and_back(console_site):
    reply = _client(console_site).get("/console/audit?operator_id=x", allow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == (
        "/console/sign-in?next=%2Fconsole%2Faudit%3Foperator_id%3Dx")


def test_a_wrong_token_is_refused_on_the_page_and_no_session_starts(console_site):
    client = _client(console_site)
    reply = client.sign_in("opsrel_wrong")
    assert reply.status_code == 401
    assert "the token is invalid or revoked" in reply.text
    assert "opsrel_session" not in client.http.cookies


def test_sign_in_without_its_csrf_token_is_refused(console_site):
    reply = requests.post(console_site.url("/console/sign-in"),
                          data={"token": console_site.tokens["operator"]},
                          allow_redirects=False, timeout=30)
    assert reply.status_code == 403 and "security token" in reply.text
    assert "set-cookie" not in reply.headers or "opsrel_session" not in reply.headers["set-cookie"]


def test_sign_out_ends_the_session_even_for_a_copied_cookie(console_site):
    client = console_site.signed_in("operator")
    secret = client.http.cookies["opsrel_session"]
    csrf = client.csrf_of("/console/sign-in")  # any page: the form token is the session's
    # A copy of the cookie, as an attacker who read it would hold.
    copy = _client(console_site)
    copy.http.cookies.set("opsrel_session", secret, path="/console")
    services = ConsoleSessionService(make_engine(console_site.database_url),
                                     ApiTokenService(make_engine(console_site.database_url)))
    assert services.find(secret) is not None
    session_csrf = services.find(secret).csrf_token
    assert csrf != session_csrf  # the sign-in page has its own token, not the session's
    refused = client.post("/console/sign-out", {}, allow_redirects=False)
    assert refused.status_code == 403  # no CSRF token: nothing ended
    assert services.find(secret) is not None
    out = client.post("/console/sign-out", {"csrf_token": session_csrf}, allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert services.find(secret) is None
    after = copy.get("/console/inbox", allow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/console/sign-in")


def test_a_revoked_token_ends_its_sessions(console_site):
    client = console_site.signed_in("admin")
    secret = client.http.cookies["opsrel_session"]
    engine = make_engine(console_site.database_url)
    tokens = ApiTokenService(engine)
    sessions = ConsoleSessionService(engine, tokens)
    found = sessions.find(secret)
    assert found is not None and found.operator_id == "admin-op"
    tokens.revoke(found.token.token_id, by="admin-op", reason="laptop lost")
    assert sessions.find(secret) is None
    engine.dispose()


def test_a_session_never_outlives_its_token(database_url, tmp_path):
    engine = make_engine(database_url)
    tokens = ApiTokenService(engine)
    plaintext, view = tokens.create(
        "night-op", "operator", by="admin-op", reason="night shift",
        expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30))
    sessions = ConsoleSessionService(engine, tokens)
    secret, session = sessions.sign_in(plaintext, lifetime_seconds=8 * 3600)
    assert session.expires_at == view.expires_at
    later = view.expires_at + dt.timedelta(seconds=1)
    assert sessions.find(secret, at=later) is None
    with pytest.raises(ValueError, match="at least 60 s"):
        sessions.sign_in(plaintext, lifetime_seconds=5)
    engine.dispose()


def test_wrong_sign_ins_meet_the_failed_authentication_brake(database_url, tmp_path):
    from opsrel_core.config import ConsoleSettings
    from opsrel_core.entrypoints.api import create_app
    from opsrel_core.entrypoints.api.limits import ApiLimits
    from opsrel_core.config import OpsSettings

    engine = make_engine(database_url)
    good = seed_token(engine, "operator-op", "operator")
    engine.dispose()
    app = create_app(OpsSettings(database_url=database_url, home=tmp_path),
                     limits=ApiLimits(auth_failures=3), console_settings=ConsoleSettings())
    with serve(app) as base:
        site = ConsoleSite(base, {"operator": good}, database_url)
        client = _client(site)
        assert [client.sign_in(f"opsrel_guess{i}").status_code for i in range(3)] == [401] * 3
        braked = client.sign_in(good)
        assert braked.status_code == 429 and "try again in" in braked.text
        # The API's own brake counts the console's failures: the same address is braked there.
        api = requests.get(base + "/admin/alerts", headers={"Authorization": f"Bearer {good}"},
                           timeout=30)
        assert api.status_code == 429


def test_session_lifetime_setting(database_url, tmp_path):
    with serve(console_app(database_url, tmp_path, session_seconds=600)) as base:
        engine = make_engine(database_url)
        token = seed_token(engine, "operator-op", "operator")
        engine.dispose()
        reply = _client(ConsoleSite(base, {}, database_url)).sign_in(token)
        assert reply.status_code == 303 and "Max-Age=600" in reply.headers["set-cookie"]
