"""A day that failed on a bad landing file and is then replayed: its alert is resolved by the
replay's execution and one recovery notice per channel follows, through the real pipeline."""

import datetime as dt
from pathlib import Path

import pytest

from opsrel_core.config import AlertSettings
from opsrel_core.services.alerts import OpsAlertService
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from tests.support.receivers import SlackServer, SmtpServer, free_port


@pytest.fixture
def receivers(opsrel_env, monkeypatch):
    smtp = SmtpServer(free_port())
    smtp.start()
    slack = SlackServer()
    for key, value in {
        "OPSREL_SMTP_HOST": "127.0.0.1", "OPSREL_SMTP_PORT": str(smtp.port),
        "OPSREL_SMTP_SECURITY": "none", "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.org",
        "OPSREL_ALERT_EMAIL_TO": "oncall@example.org", "OPSREL_SLACK_WEBHOOK_URL": slack.url,
        "OPSREL_DAGSTER_UI_URL": "http://dagster.example:3000",
    }.items():
        monkeypatch.setenv(key, value)
    yield smtp, slack
    smtp.stop()
    slack.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_replay_that_succeeds_resolves_the_alert_of_the_day(receivers, opsrel_env, runner):
    smtp, slack = receivers
    day = "2013-02-01"
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{day}.csv")
    landing.write_text("year,month,day\n")  # header only: INP-001
    [failed] = runner.run_partitions([day])
    runner.dispatch_alerts()
    assert (failed.status, failed.error_code) == ("FAILED", "INP-001")
    service = OpsAlertService(runner.engine, AlertSettings.from_env())
    [alert] = service.list_alerts()
    assert alert.status == "OPEN" and alert.partition_key == day
    assert len(smtp.handler.messages) == 1 and len(slack.posts) == 1

    package_flights_for_day(dt.date(2013, 2, 1)).to_csv(landing, index=False)
    replay, [summary] = runner.run_replay([day], kind="single", operator_id="erin",
                                          reason="landing file re-delivered by the source")
    runner.dispatch_alerts()
    assert replay.status == "SUCCESS" and summary.status == "SUCCESS"
    resolved = service.get_alert(alert.alert_id)
    assert (resolved.status, resolved.resolved_by_execution_id) == ("RESOLVED", summary.run_id)
    assert [a.alert_id for a in service.list_alerts()] == [alert.alert_id]
    [(_, first), (_, notice)] = smtp.handler.messages
    assert notice["Subject"].startswith("Resolved: ") and day in notice["Subject"]
    assert notice["In-Reply-To"] == first["Message-ID"] == notice["References"]
    assert f"http://dagster.example:3000/runs/{summary.run_id}" in notice.get_content()
    assert len(slack.posts) == 2
    assert summary.run_id in slack.posts[1]["text"] and "Resolved" in slack.posts[1]["text"]
