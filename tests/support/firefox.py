"""A second real browser for tests: Debian's Firefox ESR driven by Mozilla's Marionette client.

Playwright's Firefox is a downloaded build, and its WebDriver BiDi mode does not work with the
ESR that Debian ships, so the console's Firefox tests use ``marionette-driver`` (the client of
the remote protocol built into every Firefox) on ``/usr/bin/firefox-esr``.

Fixture (registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``):

- ``firefox`` (function): a ``FirefoxPage`` — headless Firefox ESR on a fresh, throw-away
  profile whose preferences turn off Firefox's own background connections (updates, telemetry,
  safe-browsing lists, prefetching, DNS over HTTPS, ...), closed and its profile deleted after
  the test. Missing Firefox FAILS the test, saying how to install it (``.ci/run`` does); it
  never skips.

Nothing here blocks a request: a page's requests are read back from the page itself
(``FirefoxPage.loaded_urls``) so a test can assert that none left loopback.
"""

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.browser import is_loopback

if TYPE_CHECKING:
    from marionette_driver.marionette import HTMLElement, Marionette

FIREFOX_ESR = "/usr/bin/firefox-esr"
# Firefox starts in about 4 s here; a loaded CI machine gets more.
STARTUP_SECONDS = 60
WAIT_SECONDS = 15

# On top of the preferences marionette-driver already sets for automation (no update checks,
# no data reporting, no remote-settings server, no captive-portal or connectivity probes): the
# remaining services that would reach the internet on their own while a test runs.
QUIET_PREFS: dict[str, Any] = {
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "app.update.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.update.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "captivedetect.canonicalURL": "",
    "extensions.blocklist.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.predictor.enabled": False,
    "network.prefetch-next": False,
    "network.trr.mode": 5,  # DNS over HTTPS off by choice: no resolver outside the machine
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
}


def firefox_path() -> str:
    """``/usr/bin/firefox-esr``; when it is missing the test FAILS with how to install it (as
    the chromium tests do: a skipped browser test would prove nothing in CI)."""
    if os.access(FIREFOX_ESR, os.X_OK):
        return FIREFOX_ESR
    pytest.fail(f"the Firefox tests need Debian's firefox-esr at {FIREFOX_ESR} and it is not "
                "installed: apt-get install -y firefox-esr (.ci/run installs it)", pytrace=False)


@dataclasses.dataclass
class FirefoxPage:
    """The one tab of a Marionette-driven Firefox, with the few calls the tests need.

    ``client`` is the ``marionette_driver.marionette.Marionette`` itself, for anything else.
    Navigation and clicks return once the page they lead to has loaded (Marionette waits)."""

    client: "Marionette"

    @property
    def url(self) -> str:
        """The current page's URL (after redirects)."""
        return self.client.get_url()

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for it (and its redirects) to finish loading."""
        self.client.navigate(url)

    def find(self, css: str) -> "HTMLElement":
        """The first element matching the CSS selector ``css``; raises Marionette's
        ``NoSuchElementException`` when there is none."""
        from marionette_driver.by import By

        return self.client.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list["HTMLElement"]:
        """Every element matching the CSS selector ``css`` (an empty list when none)."""
        from marionette_driver.by import By

        return list(self.client.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        """The rendered text of the first element matching ``css``."""
        return self.find(css).text

    def wait_for_url(self, predicate, message: str) -> str:  # type: ignore[no-untyped-def]
        """Wait (up to ``WAIT_SECONDS``) until ``predicate(current URL)`` is true; returns the
        URL, or raises Marionette's ``TimeoutException`` with ``message``."""
        from marionette_driver.wait import Wait

        return Wait(self.client, timeout=WAIT_SECONDS).until(
            lambda client: client.get_url() if predicate(client.get_url()) else None,
            message=message)

    def loaded_urls(self) -> list[str]:
        """Every URL the current page loaded: the document (its navigation entry) and each
        resource, from the page's Resource Timing entries, in load order without repeats.

        A URL fetched again from the cache appears once; redirects that led to the document
        are not listed (only where it ended)."""
        names = self.client.execute_script(
            "return performance.getEntriesByType('navigation')"
            ".concat(performance.getEntriesByType('resource')).map(e => e.name);")
        return list(dict.fromkeys(names))

    def off_loopback(self) -> list[str]:
        """The URLs of ``loaded_urls`` whose host is not loopback (``[]`` when all stayed on
        127.0.0.1 / localhost / ::1)."""
        return [url for url in self.loaded_urls() if not is_loopback(url)]


@pytest.fixture
def firefox(tmp_path: Path) -> Iterator[FirefoxPage]:
    """Headless Firefox ESR on a fresh profile (``QUIET_PREFS``), one per test; always shut
    down and its profile removed, also when the test fails. Firefox's own log is written to
    ``gecko.log`` in the test's temporary folder."""
    binary = firefox_path()
    try:
        from marionette_driver.marionette import Marionette
    except ImportError:
        pytest.fail("the Firefox tests need marionette-driver: pip install -e '.[dev]'",
                    pytrace=False)
    # port=0: a free port chosen now, so that pytest-xdist workers never share Marionette's
    # default 2828.
    client = Marionette(bin=binary, port=0, headless=True, app_args=["-no-remote"],
                        startup_timeout=STARTUP_SECONDS, prefs=QUIET_PREFS,
                        gecko_log=str(tmp_path / "gecko.log"))
    try:
        client.start_session()
        yield FirefoxPage(client)
    finally:
        # Explicitly, not from the client's __del__: that would run at interpreter exit and
        # print the profile clean-up's noise.
        client.cleanup()
