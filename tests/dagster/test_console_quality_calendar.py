"""The console's data-quality calendar on real data: February 2013 of the flights pipeline run
headless, then the month read in the console. The blizzard days (2013-02-08 and 2013-02-09),
and no other day, carry the ``cancelled_share_max`` warning; they are outlined as news, while a
day that warns only on rules that warn every day is not."""

import re

import pytest

from tests.support.api_server import seed_role_tokens, serve
from tests.support.console import ConsoleSite, console_app

FEBRUARY = [f"2013-02-{d:02d}" for d in range(1, 29)]


def _cells(html: str) -> dict[str, tuple[set[str], str]]:
    """day -> (classes of its cell, its text)."""
    found = {}
    for match in re.finditer(r'<div class="cell([^"]*)" data-day="([0-9-]+)">(.*?)</div>\s*(?=<div class="cell|</div>)',
                             html, re.S):
        found[match.group(2)] = (set(match.group(1).split()), match.group(3))
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_february_2013_marks_the_blizzard_days_as_new_warnings(runner, database_url, tmp_path,
                                                                loopback_page):
    summaries = runner.run_partitions(FEBRUARY)
    assert {s.status for s in summaries} == {"SUCCESS"}
    tokens = seed_role_tokens(database_url)
    with serve(console_app(database_url, tmp_path)) as base:
        site = ConsoleSite(base, tokens, database_url)
        client = site.signed_in("viewer")
        page = client.get("/console/quality?job=flights_daily&month=2013-02")
        assert page.status_code == 200
        cells = _cells(page.text)
        assert sorted(cells) == FEBRUARY
        blizzard = sorted(day for day, (_, text) in cells.items()
                          if "cancelled_share_max" in text)
        assert blizzard == ["2013-02-08", "2013-02-09"]
        news = sorted(day for day, (classes, _) in cells.items() if "news" in classes)
        assert {"2013-02-08", "2013-02-09"} <= set(news)
        # A day that warns, but only on rules that warn on most days, is not news.
        routine = [day for day, (classes, _) in cells.items()
                   if "WARN" in classes and "news" not in classes]
        assert routine, "expected days that warn only on everyday rules"
        assert not set(routine) & {"2013-02-08", "2013-02-09"}

        # The same month in the browser, with nothing leaving loopback.
        browser = loopback_page.page
        browser.goto(site.url("/console/sign-in"))
        browser.fill("#token", tokens["viewer"])
        browser.click("button[type=submit]")
        browser.wait_for_url("**/console/inbox")
        browser.goto(site.url("/console/quality?job=flights_daily&month=2013-02"))
        assert "news" in (browser.get_attribute("[data-day='2013-02-08']", "class") or "")
        assert loopback_page.blocked == []
