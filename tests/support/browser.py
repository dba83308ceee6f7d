"""A real browser for tests: Playwright (sync API) driving Debian's chromium, kept on loopback.

Fixtures (registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``):

- ``chromium_browser`` (session): headless chromium at ``shutil.which("chromium")`` or
  ``/usr/bin/chromium``; never a downloaded browser. Missing chromium FAILS the test with how to
  install it (``apt-get install chromium``; ``.ci/run`` does it), it never skips.
- ``loopback_page`` (function): a ``LoopbackPage`` — a new context and page whose every request
  to a host other than 127.0.0.1 / localhost / ::1 is aborted and recorded in ``.blocked``; at
  teardown the fixture fails the test if anything tried to leave loopback.

``save_screenshot(page, path)`` writes a full-page PNG (parent folders created).
"""

import dataclasses
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
FALLBACK_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str:
    """The chromium executable, or a test failure saying how to install it."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.access(FALLBACK_CHROMIUM, os.X_OK):
        return FALLBACK_CHROMIUM
    pytest.fail("the browser tests need Debian's chromium and none is installed: "
                "apt-get install -y chromium (.ci/run installs it). "
                "Playwright's own browser downloads are not used.", pytrace=False)


@dataclasses.dataclass
class LoopbackPage:
    """A page whose requests stay on loopback. ``blocked`` lists the URLs it tried to fetch
    elsewhere (each aborted), in order."""

    page: "Page"
    blocked: list[str] = dataclasses.field(default_factory=list)


def is_loopback(url: str) -> bool:
    """Whether ``url`` names a loopback host; ``data:``, ``blob:`` and ``about:`` URLs (no
    network) count as loopback."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    return (parsed.hostname or "") in LOOPBACK_HOSTS


def save_screenshot(page: "Page", path: str | os.PathLike[str]) -> Path:
    """Save a full-page PNG screenshot of ``page`` at ``path``; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


@pytest.fixture
def chromium_browser() -> Iterator["Browser"]:
    """Headless chromium (sync Playwright API); ``--no-sandbox`` because the tests run as root.

    One per test, not per session: Playwright's sync API keeps an asyncio event loop running
    in the test thread while it is open, which would make every later test in the same worker
    that calls ``asyncio.run`` fail."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def loopback_page(chromium_browser: "Browser") -> Iterator[LoopbackPage]:
    """A fresh context and page; requests off loopback are aborted, recorded, and fail the test
    at teardown."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    result = LoopbackPage(page=context.new_page())

    def gate(route) -> None:
        url = route.request.url
        if is_loopback(url):
            route.continue_()
        else:
            result.blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", gate)
    try:
        yield result
    finally:
        context.close()
    if result.blocked:
        pytest.fail(f"the page tried to leave loopback: {result.blocked}", pytrace=False)
