"""The operator console served for tests: a real API server with the console on a migrated
database, a token per role, and HTTP sessions that sign in the way a browser does."""

import dataclasses
import re
from collections.abc import Iterator

import pytest
import requests

from opsrel_core.config import ConsoleSettings
from opsrel_core.entrypoints.api import create_app
from opsrel_core.entrypoints.api.limits import ApiLimits
from opsrel_core.config import OpsSettings
from tests.support.api_server import seed_role_tokens, serve

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass
class ConsoleSite:
    """A served console: its base URL, a token per role, and its database."""

    base: str
    tokens: dict[str, str]
    database_url: str

    def url(self, path: str) -> str:
        return self.base + path

    def signed_in(self, role: str) -> "ConsoleClient":
        """An HTTP client signed in with the token of ``role`` (viewer, operator, admin)."""
        client = ConsoleClient(self, requests.Session())
        reply = client.sign_in(self.tokens[role])
        assert reply.status_code == 303 and reply.headers["location"] == "/console/inbox", (
            reply.status_code, reply.text)
        return client


@dataclasses.dataclass
class ConsoleClient:
    """A browser-like HTTP client (cookies, forms with the page's CSRF token)."""

    site: ConsoleSite
    http: requests.Session

    def get(self, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        return self.http.get(self.site.url(path), timeout=30, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        return self.http.post(self.site.url(path), data=data, timeout=30, **kwargs)

    def csrf_of(self, path: str) -> str:
        """The CSRF token of the forms on the page at ``path``."""
        page = self.get(path)
        found = _CSRF.search(page.text)
        assert found, f"no form with a CSRF token on {path}"
        return found.group(1)

    def sign_in(self, token: str) -> requests.Response:
        csrf = self.csrf_of("/console/sign-in")
        return self.post("/console/sign-in", {"token": token, "csrf_token": csrf,
                                              "next": "/console/inbox"}, allow_redirects=False)


def console_app(database_url: str, home, **console) -> object:  # type: ignore[no-untyped-def]
    """The API application with its console, as ``opsrel api serve`` builds it."""
    settings = OpsSettings(database_url=database_url, home=home)
    return create_app(settings, limits=ApiLimits(auth_failures=100_000),
                      console_settings=ConsoleSettings(**console))


@pytest.fixture
def console_site(database_url, tmp_path) -> Iterator[ConsoleSite]:
    """The console served over HTTP on the migrated ``database_url``, with a token per role."""
    tokens = seed_role_tokens(database_url)
    with serve(console_app(database_url, tmp_path)) as base:
        yield ConsoleSite(base, tokens, database_url)
