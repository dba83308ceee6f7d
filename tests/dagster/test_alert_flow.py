"""A failing partition alerts once by email and Slack, through the real pipeline."""

import json
from pathlib import Path

import pytest
import dagster as dg
from click.testing import CliRunner

from opsrel_core.config import AlertSettings
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_dagster.app.cli import cli
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.projection.apply import RunProjection
from tests.support.receivers import SlackServer, SmtpServer, free_port


@pytest.fixture
def receivers(opsrel_env, monkeypatch):
    smtp = SmtpServer(free_port())
    smtp.start()
    slack = SlackServer()
    env = {
        "OPSREL_SMTP_HOST": "127.0.0.1",
        "OPSREL_SMTP_PORT": str(smtp.port),
        "OPSREL_SMTP_SECURITY": "none",
        "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.org",
        "OPSREL_ALERT_EMAIL_TO": "oncall@example.org,data-team@example.org",
        "OPSREL_SLACK_WEBHOOK_URL": slack.url,
        "OPSREL_DAGSTER_UI_URL": "http://dagster.example:3000",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield smtp, slack
    smtp.stop()
    slack.close()


def test_failing_partition_alerts_once_and_is_acknowledged(runner, opsrel_env, receivers):
    smtp, slack = receivers
    day = "2013-06-01"
    Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{day}.csv").write_text("year,month,day\n")
    cli_runner = CliRunner()

    first = cli_runner.invoke(cli, ["run", "--from", day, "--to", day, "--json"])
    assert first.exit_code == 1, first.output
    [(recipients, message)] = smtp.handler.messages
    assert recipients == ["oncall@example.org", "data-team@example.org"]
    assert "INP-001" in message["Subject"] and day in message["Subject"]
    body = message.get_content()
    assert "INP-001" in body and "raw_flights" in body
    run_id = json.loads(first.stdout)[0]["run_id"]
    assert f"http://dagster.example:3000/runs/{run_id}" in body
    [post] = slack.posts
    assert "INP-001" in post["text"] and f"/runs/{run_id}" in post["text"]

    # the same partition fails again within the window: nothing new is sent, the counter grows
    second = cli_runner.invoke(cli, ["run", "--from", day, "--to", day])
    assert second.exit_code == 1
    assert len(smtp.handler.messages) == 1 and len(slack.posts) == 1
    service = OpsAlertService(runner.engine, AlertSettings.from_env())
    [alert] = service.list_alerts()
    assert (alert.error_code, alert.occurrence_count, alert.status) == ("INP-001", 2, "OPEN")
    assert [d.status for d in service.delivery_history(alert.alert_id)] == ["SENT", "SENT"]

    ack = cli_runner.invoke(cli, ["alerts", "ack", str(alert.alert_id), "--operator", "hana",
                                  "--reason", "looking into it"])
    assert ack.exit_code == 0 and "ACKNOWLEDGED by hana" in ack.output
    again = cli_runner.invoke(cli, ["alerts", "ack", str(alert.alert_id), "--operator", "hana",
                                    "--reason", "looking into it"])
    assert again.exit_code == 0
    records = AuditLogService(runner.engine).list_audit_logs(operator_id="hana")
    assert [r.target_type for r in records] == ["alert"]
    assert records[0].before_state["status"] == "OPEN"
    assert records[0].after_state["status"] == "ACKNOWLEDGED"


def test_a_failure_whose_code_does_not_alert_sends_nothing(runner, opsrel_env, receivers):
    smtp, slack = receivers
    day = "2013-06-02"
    [first] = runner.run_partitions([day])
    assert first.status == "SUCCESS"
    # BAT-007 (an unattributed re-run) does not auto-alert
    bare = dg.materialize(FLIGHT_ASSETS, partition_key=day, instance=runner.instance,
                          resources=dict(flights_defs.resources), raise_on_error=False)
    execution = RunProjection(runner.instance, runner.engine).project_run(bare.run_id)
    assert execution.error_code == "BAT-007"
    runner.dispatch_alerts()
    assert smtp.handler.messages == [] and slack.posts == []
