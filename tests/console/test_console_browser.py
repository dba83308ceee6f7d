"""The console in a real browser (Debian's chromium through Playwright), with every request
that would leave loopback aborted and failing the test: sign-in and sign-out, the 3 a.m. path
from the inbox to a requested replay, and a viewer who sees no action controls. Screenshots go to
each test's folder (the ones in ``docs/console/`` are taken on real data by
``tests/dagster/test_console_3am_live.py``)."""

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import console_links
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import Replay
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService
from tests.support.console_seed import DAY, JOB, alert_of, seed_failure
from tests.support.browser import save_screenshot

def _shot(page, name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Seeded data: kept in the test's folder. docs/console holds the screenshots taken on real
    # data by tests/dagster/test_console_3am_live.py.
    save_screenshot(page, tmp_path / f"{name}.png")


def _sign_in(page, site, role: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site.url("/console/inbox"))
    assert "/console/sign-in" in page.url  # no session: the sign-in page, and back after it
    page.fill("#token", site.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url("**/console/inbox")


def test_sign_in_then_sign_out_in_the_browser(console_site, loopback_page, tmp_path):
    page = loopback_page.page
    page.goto(console_site.url("/console/sign-in"))
    _shot(page, "sign-in", tmp_path)
    page.fill("#token", "opsrel_not-a-token")
    page.click("button[type=submit]")
    assert "the token is invalid or revoked" in page.content()
    _sign_in(page, console_site, "operator")
    assert "operator-op" in page.inner_text("header")
    page.click("text=Sign out")
    page.wait_for_url("**/console/sign-in")
    page.goto(console_site.url("/console/inbox"))
    assert "/console/sign-in" in page.url  # the session ended
    assert loopback_page.blocked == []


def test_the_3am_path_acknowledge_then_replay_with_a_reason(console_site, loopback_page,
                                                            tmp_path):
    alert_id = seed_failure(console_site.database_url, earlier_success="run-ok-1")
    page = loopback_page.page
    _sign_in(page, console_site, "operator")
    _shot(page, "inbox", tmp_path)
    clicks = 0
    row = page.locator(f"#alert-{alert_id}")
    row.locator("textarea[name=reason]").fill("landing file was empty; re-delivered")
    row.locator("button", has_text="Acknowledge").click()
    clicks += 1
    page.wait_for_url("**/console/inbox?acknowledged=*")
    page.click(f"a[href='{console_links.partition_path(JOB, DAY)}']")
    clicks += 1
    page.wait_for_url("**/console/partitions/**")
    _shot(page, "partition", tmp_path)
    page.fill("#replay-reason", "re-delivered landing file")
    page.click("text=Preview the replay")
    clicks += 1
    _shot(page, "replay-preview", tmp_path)
    assert DAY in page.inner_text("main")
    page.click("text=Confirm the replay")
    clicks += 1
    page.wait_for_url("**/console/partitions/**replayed=*")
    assert clicks <= 4
    assert loopback_page.blocked == []

    engine = make_engine(console_site.database_url)
    try:
        alert = OpsAlertService(engine, AlertSettings.from_env({})).get_alert(alert_id)
        assert alert.status == "ACKNOWLEDGED" and alert.acknowledged_by == "operator-op"
        with engine.connect() as conn:
            replays = conn.execute(sa.select(Replay.replay_id, Replay.reason, Replay.status,
                                             Replay.partition_keys)).all()
        # Exactly one replay, of exactly that partition, with the reason typed: what the
        # launch sensor runs, as for a replay requested through the API.
        assert len(replays) == 1
        assert replays[0].reason == "re-delivered landing file"
        assert list(replays[0].partition_keys) == [DAY]
        actions = [r.action for r in AuditLogService(engine).list_audit_logs(limit=10)]
        assert "ACKNOWLEDGE_ALERT" in actions and "REPLAY" in actions
    finally:
        engine.dispose()


def test_a_viewer_sees_no_action_controls(console_site, loopback_page, tmp_path):
    seed_failure(console_site.database_url)
    page = loopback_page.page
    _sign_in(page, console_site, "viewer")
    assert page.locator("form.ack-form").count() == 0
    page.goto(console_site.url(console_links.partition_path(JOB, DAY)))
    assert page.locator("text=Preview the replay").count() == 0
    assert page.locator("textarea").count() == 0
    assert loopback_page.blocked == []



def test_forged_posts_from_the_browser_session_are_refused(console_site, loopback_page):
    """POSTs sent with the browser's own session cookie (``page.request`` shares the context's
    cookies): a viewer's, even with a valid CSRF token, and an operator's without one."""
    alert_id = seed_failure(console_site.database_url)
    page = loopback_page.page
    ack = console_site.url(f"/console/alerts/{alert_id}/acknowledge")
    replay = console_site.url(console_links.partition_path(JOB, DAY) + "/replay")
    _sign_in(page, console_site, "viewer")
    csrf = page.get_attribute("form[action='/console/sign-out'] input[name=csrf_token]", "value")
    assert csrf
    for url, form in ((ack, {"csrf_token": csrf, "reason": "forged"}),
                      (replay, {"csrf_token": csrf, "reason": "forged", "request_key": "k"})):
        reply = page.request.post(url, form=form, max_redirects=0)
        assert reply.status == 403, (url, reply.status)
    page.click("text=Sign out")
    page.wait_for_url("**/console/sign-in")
    _sign_in(page, console_site, "operator")
    for url, form in ((ack, {"reason": "no token"}),
                      (replay, {"reason": "no token", "request_key": "k"})):
        reply = page.request.post(url, form=form, max_redirects=0)
        assert reply.status == 403, (url, reply.status)
    assert alert_of(console_site.database_url, alert_id).status == "OPEN"
    engine = make_engine(console_site.database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(Replay)).scalar() == 0
        assert AuditLogService(engine).list_audit_logs(limit=10) == []
    finally:
        engine.dispose()


def test_restore_an_earlier_version_and_add_a_note(console_site, loopback_page, tmp_path):
    from click.testing import CliRunner

    from opsrel_core.services.results import ResultVersionService
    from tests.support.restore_history import CLEAN, STATS, record_run
    from tests.support.restore_history import DAY as RDAY

    engine = make_engine(console_site.database_url)
    try:
        record_run(engine, "run-v1")
        record_run(engine, "run-v2")
        history = ResultVersionService(engine).get_version_history(CLEAN, RDAY)
        assert [(v.version_number, v.is_active) for v in history] == [(2, True), (1, False)]
    finally:
        engine.dispose()
    page = loopback_page.page
    _sign_in(page, console_site, "operator")
    page.goto(console_site.url(console_links.partition_path(JOB, RDAY)))
    form = page.locator(f"form.restore-form:has(input[name=asset][value={CLEAN}])").first
    form.locator("input[name=reason]").fill("v2 was computed from a bad file")
    form.locator("button").click()
    page.wait_for_url("**restored=*")
    flash = page.inner_text("#restored-flash")
    assert "it is the active version now" in flash
    assert f"{STATS}@{RDAY}" in flash  # made from v2, now older than its input
    page.fill("#note-body", "carrier feed late again; restored v1 until it is fixed")
    page.click("text=Add note")
    page.wait_for_url("**/console/partitions/**")
    assert "carrier feed late again" in page.inner_text("#notes")
    _shot(page, "partition-restored", tmp_path)
    assert loopback_page.blocked == []

    engine = make_engine(console_site.database_url)
    try:
        history = ResultVersionService(engine).get_version_history(CLEAN, RDAY)
        assert [v.version_number for v in history if v.is_active] == [1]
        assert len(history) == 2  # the replaced version is kept
        records = AuditLogService(engine).list_audit_logs(limit=10)
        correction = [r for r in records if r.action == "RESTORE_VERSION"]
        assert len(correction) == 1 and correction[0].action_type == "DATA_CORRECTION"
        assert correction[0].operator_id == "operator-op"
        assert correction[0].reason == "v2 was computed from a bad file"
        assert any(r.action == "ADD_NOTE" for r in records)
    finally:
        engine.dispose()
    from opsrel_dagster.app.cli import cli

    env = {"OPSREL_DATABASE_URL": console_site.database_url}
    listed = CliRunner().invoke(cli, ["versions", "list", "--asset", CLEAN, "--partition", RDAY, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    import json
    active = [v["version_number"] for v in json.loads(listed.output) if v["is_active"]]
    assert active == [1]


def test_every_list_page_renders_offline_with_the_data(console_site, loopback_page, tmp_path):
    """Executions, an execution, replays, a replay, the audit log and the data-quality
    calendar, each in the browser with nothing leaving loopback."""
    seed_failure(console_site.database_url, earlier_success="run-ok-1")
    page = loopback_page.page
    _sign_in(page, console_site, "operator")
    # A replay through the partition page, so that the replay and audit pages have one.
    page.goto(console_site.url(console_links.partition_path(JOB, DAY)))
    page.fill("#replay-reason", "re-delivered landing file")
    page.click("text=Preview the replay")
    page.click("text=Confirm the replay")
    page.wait_for_url("**replayed=*")
    pages = {
        "executions": ("/console/executions", "run-fail-1"),
        "execution": (console_links.execution_path("run-fail-1"), "INP-001"),
        "replays": ("/console/replays", "re-delivered landing file"),
        "replay": (console_links.replay_path(1), DAY),
        "audit": ("/console/audit", "REPLAY"),
        "quality": ("/console/quality?job=flights_daily&month=2013-01", "January 2013"),
    }
    for name, (path, expected) in pages.items():
        reply = page.goto(console_site.url(path))
        assert reply is not None and reply.status == 200, (path, reply and reply.status)
        assert expected in page.inner_text("main"), (path, expected)
        _shot(page, name, tmp_path)
    assert loopback_page.blocked == []
