"""A real admin API server (uvicorn in a thread, loopback, free port) on a migrated database,
shared by the API's and the console's tests (``api`` fixture, ``serve``, ``seed_token``)."""

import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn

from opsrel_core.entrypoints.api import create_app
from opsrel_core.entrypoints.api.limits import ApiLimits
from opsrel_core.services.api_tokens import TOKEN_PREFIX, ApiToken, hash_token
from opsrel_core.config import OpsSettings
from tests.support.receivers import free_port


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclasses.dataclass
class Api:
    base: str
    tokens: dict[str, str]

    def call(self, method: str, path: str, *, token: str | None = "viewer", body: Any = None,
             headers: dict[str, str] | None = None) -> Reply:
        """Send a request; ``token`` is a role name (its token), a raw token, or None."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, resp_headers, raw = err.code, dict(err.headers), err.read()
        return Reply(status, {k.lower(): v for k, v in resp_headers.items()},
                     json.loads(raw) if raw else None)


def seed_token(engine: sa.Engine, operator_id: str, role: str) -> str:
    """A token stored as an earlier deployment left it (no audit record, so that a test starts
    with an empty audit log); returns its plaintext. Tokens a test creates itself go through
    ``ApiTokenService.create``, which audits them."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sa.insert(ApiToken.__table__).values(
            operator_id=operator_id, role=role, token_hash=hash_token(plaintext),
            created_at=dt.datetime.now(dt.timezone.utc)))
    return plaintext


@contextlib.contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL.
    ``config``: more ``uvicorn.Config`` options, e.g. ``proxy_headers=True``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def seed_role_tokens(database_url: str) -> dict[str, str]:
    """A token per role (operators ``viewer-op``, ``operator-op``, ``admin-op``)."""
    from opsrel_core.persistence.engine import make_engine

    engine = make_engine(database_url)
    try:
        return {role: seed_token(engine, f"{role}-op", role)
                for role in ("viewer", "operator", "admin")}
    finally:
        engine.dispose()


@pytest.fixture
def api(database_url, tmp_path) -> Iterator[Api]:
    """The API served over HTTP on the migrated ``database_url``, with a token per role."""
    tokens = seed_role_tokens(database_url)
    settings = OpsSettings(database_url=database_url, home=tmp_path)
    # These tests send many wrong tokens on purpose: the failed-authentication brake (tested in
    # test_trust_limits.py) is set far above what they send.
    app = create_app(settings, limits=ApiLimits(auth_failures=100_000))
    with serve(app) as base:
        yield Api(base, tokens)
