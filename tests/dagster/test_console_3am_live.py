"""The 3 a.m. path in the console, end to end on real data and real processes.

The first week of January 2013 runs through the real pipeline; a re-run of 2013-01-04 then
fails on an empty landing file (INP-001) and its alert is mailed to a real SMTP server with the
console link of the partition. The operator follows that link in a real browser (Debian's
chromium, nothing leaving loopback), signs in, lands on the partition page, types one reason and
clicks twice (preview, confirm). ``dagster-daemon`` runs the replay through the replay-launch
sensor, the path every replay requested through the admin API takes, and the page, reloading
itself, shows the recovery: the alert acknowledged with that reason, the new version active, the
old one kept. ``opsrel versions list`` and Dagster's runs agree, and the replay ran exactly once.

The screenshots of every console page in ``docs/console/`` are taken here, on this data
(``OPSREL_CONSOLE_SCREENSHOTS=1`` writes them there; otherwise into the test's tmp folder).
"""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from opsrel_core.config import AlertSettings
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.replays import ReplayService
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.app.runner import HeadlessRunner
from tests.support.api_server import seed_role_tokens, serve
from tests.support.browser import save_screenshot
from tests.support.console import console_app
from tests.support.dagster_processes import dagster_daemon
from tests.support.receivers import SmtpServer, free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
WEEK = [f"2013-01-0{d}" for d in range(1, 8)]
BROKEN = "2013-01-04"
REASON = "landing file was empty at 02:40; the vendor re-delivered it"
WAIT_SECONDS = 360
RESULT_ASSET = "ontime_performance"


def _shot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = DOCS if os.environ.get("OPSREL_CONSOLE_SCREENSHOTS") == "1" else tmp_path
    save_screenshot(page, target / f"{name}.png")


def _versions_cli(opsrel_env: dict[str, str], asset: str, partition: str) -> list[dict]:
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "opsrel"), "versions", "list", "--asset", asset,
         "--partition", partition, "--json"],
        env={**os.environ, **opsrel_env}, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


@pytest.fixture
def smtp(monkeypatch):
    server = SmtpServer(free_port())
    server.start()
    for key, value in {
        "OPSREL_SMTP_HOST": "127.0.0.1", "OPSREL_SMTP_PORT": str(server.port),
        "OPSREL_SMTP_SECURITY": "none", "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.org",
        "OPSREL_ALERT_EMAIL_TO": "oncall@example.org",
    }.items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_from_the_alert_link_to_a_verified_recovery_in_two_clicks(
        opsrel_env, smtp, monkeypatch, loopback_page, tmp_path):
    database_url = opsrel_env["OPSREL_DATABASE_URL"]
    HeadlessRunner.from_env().engine.dispose()  # migrates the ops schema
    tokens = seed_role_tokens(database_url)
    with serve(console_app(database_url, tmp_path)) as console:
        # the runner reads the alert settings (with the console's address) when it is built
        monkeypatch.setenv("OPSREL_CONSOLE_URL", console)
        opsrel_env = {**opsrel_env, "OPSREL_CONSOLE_URL": console}
        runner = HeadlessRunner.from_env()
        # The week runs; then a re-run of one day meets an empty landing file.
        week = runner.run_partitions(WEEK)
        assert [s.status for s in week] and {s.status for s in week} == {"SUCCESS"}
        landing = Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{BROKEN}.csv")
        landing.write_text("year,month,day\n")
        [failed] = runner.run_partitions([BROKEN])
        assert (failed.status, failed.error_code) == ("FAILED", "INP-001")
        runner.dispatch_alerts()
        alerts = OpsAlertService(runner.engine, AlertSettings.from_env())
        [alert] = alerts.list_alerts()
        [(_, mail)] = smtp.handler.messages
        link = re.search(re.escape(console) + r"/console/partitions/[^\s\"<>]+",
                         mail.get_content()).group(0)
        assert link.endswith(f"/flights_daily/{BROKEN}")
        before = _versions_cli(opsrel_env, RESULT_ASSET, BROKEN)
        assert [(v["version_number"], v["is_active"]) for v in before] == [(1, True)]
        # The vendor re-delivers the file; the operator is woken by the mail.
        package_flights_for_day(dt.date(2013, 1, 4)).to_csv(landing, index=False)

        with dagster_daemon(opsrel_env, tmp_path) as daemon:
            page = loopback_page.page
            page.goto(console + "/console/sign-in")
            _shot(page, "sign-in", tmp_path)
            page.goto(link)  # the alert's link: the sign-in page first, then back to it
            assert "/console/sign-in" in page.url
            page.fill("#token", tokens["operator"])
            page.click("button[type=submit]")  # signing in, not a click on a recovery form
            page.wait_for_url(link)
            _shot(page, "partition-failed", tmp_path)
            clicks = 0
            page.fill("#replay-reason", REASON)
            assert page.is_checked(f"input[name=acknowledge][value='{alert.alert_id}']")
            page.click("text=Preview the replay")
            clicks += 1
            assert BROKEN in page.inner_text("#replay-plan")
            assert f"acknowledges alert #{alert.alert_id}" in page.inner_text("#acknowledges")
            _shot(page, "replay-preview", tmp_path)
            page.click("text=Confirm the replay")
            clicks += 1
            # The page reloads itself every few seconds until the replay ends.
            deadline = time.monotonic() + WAIT_SECONDS
            while page.get_attribute("#replay-flash", "data-status") not in (
                    "SUCCESS", "FAILED", "STOPPED", "PARTIAL"):
                daemon.assert_alive()
                assert time.monotonic() < deadline, daemon.log_tail()
                page.wait_for_timeout(1000)
            flash = page.inner_text("#replay-flash")
            assert page.get_attribute("#replay-flash", "data-status") == "SUCCESS", flash
            assert clicks <= 4
            assert f"Acknowledged alert #{alert.alert_id}" in flash
            assert f"{RESULT_ASSET} v2" in flash and "earlier versions are kept" in flash
            rows = page.locator(f"h3:text-is('{RESULT_ASSET}') + table tr.version")
            assert rows.count() == 2  # newest first
            new, old = rows.nth(0).inner_text(), rows.nth(1).inner_text()
            assert new.startswith("v2") and "ACTIVE" in new and "replay #" in new
            assert old.startswith("v1") and "ACTIVE" not in old and "Restore v1" in old
            _shot(page, "partition", tmp_path)
            _walk_every_page(page, console, tmp_path, len(week) + 2, failed.run_id)
            stale = _restore_and_note(page, link, tmp_path)
        assert loopback_page.blocked == []

    # What the page showed is what opsrel recorded.
    after = _versions_cli(opsrel_env, RESULT_ASSET, BROKEN)
    assert [(v["version_number"], v["is_active"]) for v in after] == [(2, True), (1, False)]
    [replay] = ReplayService(runner.engine).list_replays()
    assert (replay.status.value, replay.reason, replay.operator_id) == (
        "SUCCESS", REASON, "operator-op")
    acknowledged = alerts.get_alert(alert.alert_id)
    assert acknowledged.acknowledged_by == "operator-op"
    # exactly once: one Dagster run for the replay, launched by the sensor, with the reason
    instance = dg.DagsterInstance.get()
    runs = instance.get_runs(dg.RunsFilter(tags={"opsrel/replay_id": str(replay.replay_id)}))
    assert [(r.tags["dagster/partition"], r.tags["opsrel/reason"],
             r.tags["dagster/sensor_name"]) for r in runs] == [
        (BROKEN, REASON, "opsrel_replay_launch_sensor")]
    assert after[0]["execution_id"] == runs[0].run_id
    # the restore: clean_flights v1 active again, v2 kept; the replay's downstream versions
    # were made from v2, so the page named them as older than their input
    clean = _versions_cli(opsrel_env, "clean_flights", BROKEN)
    assert [(v["version_number"], v["is_active"]) for v in clean] == [(2, False), (1, True)]
    assert f"carrier_daily_stats@{BROKEN}" in stale, stale
    runner.engine.dispose()


def _walk_every_page(page, console: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                     executions: int, failed_run_id: str) -> None:
    """Every list and detail page on this week's data, each checked for what it must show:
    ``executions`` rows (the week's runs, the failed re-run, the replay's run)."""
    page.goto(console + "/console/inbox")
    assert "No open alert" in page.inner_text("main") or "None." in page.inner_text("main")
    _shot(page, "inbox", tmp_path)
    page.goto(console + "/console/executions?job_id=flights_daily")
    assert page.locator("table#executions tbody tr").count() == executions
    _shot(page, "executions", tmp_path)
    page.click(f"tr[data-execution='{failed_run_id}'] td:first-child a")
    assert "INP-001" in page.inner_text("main")
    _shot(page, "execution", tmp_path)
    page.goto(console + "/console/replays")
    assert page.locator("table#replays tbody tr").count() == 1
    _shot(page, "replays", tmp_path)
    page.click("table#replays tbody tr a")
    assert BROKEN in page.inner_text("main") and "SUCCESS" in page.inner_text("main")
    _shot(page, "replay", tmp_path)
    page.goto(console + "/console/audit")
    assert "ACKNOWLEDGE_ALERT" in page.inner_text("main") and "REPLAY" in page.inner_text("main")
    _shot(page, "audit", tmp_path)
    page.goto(console + "/console/quality?job=flights_daily&month=2013-01")
    assert page.locator("a[href^='/console/reports/2013-01-0']").count() == 7
    _shot(page, "quality", tmp_path)
    page.goto(console + f"/console/reports/{BROKEN}")
    assert BROKEN in page.inner_text("main")
    _shot(page, "report", tmp_path)


def _restore_and_note(page, link: str, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """Restore clean_flights v1 (made from the file first delivered) and add a note, on the partition page;
    returns the restore's flash."""
    page.goto(link)
    form = page.locator("form.restore-form:has(input[name=asset][value=clean_flights])").first
    form.locator("input[name=reason]").fill("keep the first delivery until the vendor confirms")
    form.locator("button").click()
    page.wait_for_url("**restored=*")
    flash = page.inner_text("#restored-flash")
    assert "Restored clean_flights v1" in flash
    page.fill("#note-body", "vendor asked to confirm which delivery of 2013-01-04 is final")
    page.click("text=Add note")
    page.wait_for_url("**/console/partitions/**")
    assert "which delivery of 2013-01-04 is final" in page.inner_text("#notes")
    _shot(page, "partition-restored", tmp_path)
    page.goto(page.url.split("/console/")[0] + "/console/audit")
    assert "RESTORE_VERSION" in page.inner_text("main") and "ADD_NOTE" in page.inner_text("main")
    return flash
