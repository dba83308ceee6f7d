"""The console in a second real browser: Debian's Firefox ESR through Marionette
(``tests.support.firefox``), with every URL each page loaded checked to be on loopback. An
operator signs in, acknowledges an open alert with a reason (read back through the alert and
audit services), opens the partition and every list page, and signs out; a viewer sees no
action controls. SQLite only: the pages are the same on both backends, which the Chromium and
HTTP tests cover, and Firefox adds seconds to each test."""

import pytest

from opsrel_core.config import AlertSettings
from opsrel_core.domain import console_links, error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService
from tests.support.console_seed import seed_failure

JOB = "flights_daily"
DAY = "2013-01-09"
RUN = "run-ff-1"
REASON = "landing file re-delivered; acknowledged from Firefox"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _open_alert(database_url: str) -> int:
    return seed_failure(database_url, RUN, DAY)


def _sign_in(firefox, site, role: str) -> None:  # type: ignore[no-untyped-def]
    firefox.goto(site.url("/console/inbox"))
    # No session yet: the sign-in page, which leads back to the inbox.
    assert firefox.url.startswith(site.url("/console/sign-in")), firefox.url
    assert firefox.text("main h1") == "Sign in"
    firefox.find("#token").send_keys(site.tokens[role])
    firefox.find("main form button[type=submit]").click()
    firefox.wait_for_url(lambda url: url == site.url("/console/inbox"),
                         "signing in did not land on the inbox")


def _assert_stayed_on_loopback(firefox, site) -> None:  # type: ignore[no-untyped-def]
    loaded = firefox.loaded_urls()
    # The page itself and its stylesheet are there: the list is what the page loaded.
    assert firefox.url in loaded, (firefox.url, loaded)
    assert site.url("/console/static/console.css") in loaded, loaded
    assert firefox.off_loopback() == [], loaded


def _assert_page(firefox, site, path: str, heading: str, shown: str) -> None:  # type: ignore[no-untyped-def]
    assert firefox.url == site.url(path), (path, firefox.url)
    assert firefox.text("main h1") == heading, path
    assert shown in firefox.text("main"), (path, shown)
    _assert_stayed_on_loopback(firefox, site)


def test_an_operator_acknowledges_then_reads_every_page_and_signs_out(console_site, firefox):
    site = console_site
    alert_id = _open_alert(site.database_url)
    _sign_in(firefox, site, "operator")
    assert firefox.text("main h1") == "Inbox"
    assert firefox.find("header .operator").get_attribute("data-role") == "operator"
    assert "operator-op" in firefox.text("header")
    _assert_stayed_on_loopback(firefox, site)

    row = f"#alert-{alert_id}"
    group = f"#open-alerts .alert-group[data-code='{error_codes.INP_EMPTY_FILE}']"
    assert firefox.text(f"{group} {row} td.partitions") == DAY
    firefox.find(f"{row} form.ack-form textarea[name=reason]").send_keys(REASON)
    firefox.find(f"{row} form.ack-form button[type=submit]").click()
    firefox.wait_for_url(
        lambda url: url == site.url(f"/console/inbox?acknowledged={alert_id}"),
        "acknowledging did not come back to the inbox")
    assert f"Alert #{alert_id} acknowledged." in firefox.text("main")
    assert firefox.find_all("form.ack-form") == []  # it was the only open alert
    assert "acknowledged by operator-op" in firefox.text(f"#acknowledged-alerts {row}")
    _assert_stayed_on_loopback(firefox, site)

    engine = make_engine(site.database_url)
    try:
        alert = OpsAlertService(engine, AlertSettings.from_env({})).get_alert(alert_id)
        records = AuditLogService(engine).list_audit_logs(target_type="alert",
                                                          target_id=str(alert_id))
    finally:
        engine.dispose()
    assert (alert.status, alert.acknowledged_by) == ("ACKNOWLEDGED", "operator-op")
    assert [(r.action, r.operator_id, r.reason) for r in records] == [
        ("ACKNOWLEDGE_ALERT", "operator-op", REASON)]

    # The alert's partition, through its link in the inbox.
    firefox.find(f"#acknowledged-alerts {row} td.partitions a").click()
    _assert_page(firefox, site, console_links.partition_path(JOB, DAY), f"{JOB} · {DAY}", RUN)
    on_partition = firefox.text(f"main tr[data-alert-id='{alert_id}']")
    assert "ACKNOWLEDGED" in on_partition and "operator-op" in on_partition, on_partition
    # Each list page: its path, its heading, and a value from the data that it must show.
    pages = [
        ("/console/executions", "Executions", RUN),
        ("/console/replays", "Replays", "No replay matches."),
        ("/console/audit", "Audit log", REASON),
        ("/console/quality?job=flights_daily&month=2013-01", "Data quality · January 2013",
         "no report"),
    ]
    for path, heading, shown in pages:
        firefox.goto(site.url(path))
        _assert_page(firefox, site, path, heading, shown)

    firefox.find("header form[action='/console/sign-out'] button[type=submit]").click()
    firefox.wait_for_url(lambda url: url.startswith(site.url("/console/sign-in")),
                         "signing out did not lead to the sign-in page")
    assert firefox.find_all("header .operator") == []
    firefox.goto(site.url("/console/inbox"))
    assert firefox.url.startswith(site.url("/console/sign-in")), firefox.url  # session ended
    assert firefox.text("main h1") == "Sign in"
    _assert_stayed_on_loopback(firefox, site)


def test_a_viewer_sees_no_action_controls_in_firefox(console_site, firefox):
    site = console_site
    alert_id = _open_alert(site.database_url)
    _sign_in(firefox, site, "viewer")
    assert firefox.find("header .operator").get_attribute("data-role") == "viewer"
    # The open alert is listed, with nothing to act on it.
    assert firefox.find(f"#alert-{alert_id}").get_attribute("data-alert-id") == str(alert_id)
    assert firefox.find_all("form.ack-form") == []
    assert firefox.find_all("main textarea") == []
    _assert_stayed_on_loopback(firefox, site)

    firefox.goto(site.url(console_links.partition_path(JOB, DAY)))
    assert firefox.text("main h1") == f"{JOB} · {DAY}"
    assert RUN in firefox.text("#executions")
    assert firefox.find_all("#replay-action") == []
    assert firefox.find_all("main textarea") == []
    buttons = [button.text for button in firefox.find_all("main button")]
    assert "Preview the replay" not in buttons, buttons
    assert firefox.find_all("main form[method=post]") == []
    _assert_stayed_on_loopback(firefox, site)
