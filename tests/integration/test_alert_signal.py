"""Alerts that carry a signal, on both backends: DQ-002 against each rule's own baseline read
from the stored results, titles that follow the counter, and messages that lead somewhere
(alert id, console link, the acknowledge command, the code's operator action) as the real SMTP
and HTTP receivers get them; the catalog's operator actions through the service and the API.
"""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.errors import KNOWN_CODES
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import WarnPolicy, evaluate_warn_policy
from opsrel_core.services.error_codes import ErrorCodeService
from opsrel_core.services.quality import ValidationService
from tests.api.conftest import api  # noqa: F401 - fixture (the admin API over HTTP)
from tests.support.receivers import SlackServer, SmtpServer, free_port

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
JOB = "flights_daily"
ASSET = "clean_flights"
CONSOLE = "https://console.example.com/ops"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer()
    yield server
    server.close()


def _settings(smtp: SmtpServer, slack: SlackServer, **kw) -> AlertSettings:
    return AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, email_to=("oncall@example.com",),
                         email_from="opsrel@example.com", slack_webhook_url=Secret(slack.url),
                         dagster_ui_url="http://dagster.local:3000", smtp_timeout_seconds=2,
                         slack_timeout_seconds=2, slack_min_interval_seconds=0, **kw)


def _dispatcher(engine, settings: AlertSettings, clock: Clock) -> AlertDispatcher:
    return AlertDispatcher(engine, settings, SmtpEmailSender(settings), SlackWebhookSender(settings),
                           clock=clock, sleep=lambda _s: None)


def _failed(engine, run_id: str, partition: str):
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(execution_id=run_id, job_id=JOB,
                                                partition_key=partition), at=T0)
    executions.start_execution(run_id, at=T0)
    return executions.fail_execution(run_id, error_codes.INP_EMPTY_FILE,
                                     error_message=f"landing file for {partition} has 0 rows",
                                     failed_asset_key="raw_flights", failed_partition_key=partition,
                                     at=T0)


# -- the catalog -----------------------------------------------------------------------------


def test_every_error_code_has_an_operator_action_in_the_service_and_the_api(engine, database_url, api):
    codes = ErrorCodeService(engine).list_codes()
    assert {c.code for c in codes} == set(KNOWN_CODES)
    blank = [c.code for c in codes if len(c.operator_action.strip()) < 20]
    assert blank == []
    assert ErrorCodeService(engine).get("INP-001").operator_action.startswith(
        "Open the landing file of the partition")
    reply = api.call("GET", "/admin/error-codes")
    assert reply.status == 200
    by_code = {c["code"]: c for c in reply.body}
    assert {code: c["operator_action"] for code, c in by_code.items()} == {
        c.code: c.operator_action for c in codes}


# -- messages that lead somewhere ------------------------------------------------------------


def test_both_channels_carry_the_alert_id_console_link_ack_command_and_operator_action(
        engine, smtp, slack):
    clock = Clock()
    settings = _settings(smtp, slack, console_url=CONSOLE + "/")
    alert = OpsAlertService(engine, settings, clock=clock).raise_for_failed_execution(
        _failed(engine, "run-1", "2013-01-05"))
    report = _dispatcher(engine, settings, clock).dispatch_once()
    assert (report.sent, report.failed) == (2, 0)
    action = ErrorCodeService(engine).get("INP-001").operator_action
    command = f'opsrel alerts ack {alert.alert_id} --reason "..."'
    link = f"{CONSOLE}/console/partitions/{JOB}/2013-01-05"

    [(_rcpts, msg)] = smtp.handler.messages
    body = msg.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert f"Alert:       {alert.alert_id}\n" in body
    assert f"Console:     {link}\n" in body
    assert f"First step: {action}" in " ".join(body.split())
    assert body.rstrip().endswith(f"Acknowledge alert {alert.alert_id}: {command}")

    [post] = slack.posts
    text = post["text"]
    first_line = text.splitlines()[0]
    assert first_line.endswith(f"(alert {alert.alert_id})")
    assert f"<{link}|console>" in text
    assert f"_First step:_ {action}" in text
    assert text.splitlines()[-1] == f"Acknowledge: `{command}`"


def test_without_a_console_url_the_link_is_left_out_and_the_ack_command_works(
        engine, database_url, smtp, slack, monkeypatch, tmp_path):
    clock = Clock()
    settings = _settings(smtp, slack)
    assert settings.console_link(JOB, "2013-01-06") is None
    alert = OpsAlertService(engine, settings, clock=clock).raise_for_failed_execution(
        _failed(engine, "run-2", "2013-01-06"))
    _dispatcher(engine, settings, clock).dispatch_once()
    [(_rcpts, msg)] = smtp.handler.messages
    assert "Console:" not in msg.get_content() and "/partitions/" not in msg.get_content()
    assert "console>" not in slack.posts[0]["text"]

    # The command the message prints is the real one: it acknowledges the alert.
    from opsrel_dagster.app.cli import cli

    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    result = CliRunner().invoke(cli, ["alerts", "ack", str(alert.alert_id), "--reason",
                                      "looking at the landing file", "--operator", "dana"])
    assert result.exit_code == 0, result.output
    assert OpsAlertService(engine, settings).get_alert(alert.alert_id).status == "ACKNOWLEDGED"


def test_console_url_must_be_http():
    with pytest.raises(ValueError, match="OPSREL_CONSOLE_URL must be an http"):
        AlertSettings.from_env({"OPSREL_CONSOLE_URL": "javascript:alert(1)"})
    assert AlertSettings.from_env({"OPSREL_CONSOLE_URL": CONSOLE}).console_link(
        JOB, "2013-01-01..2013-01-07") == (
            f"{CONSOLE}/console/partitions/{JOB}/2013-01-01..2013-01-07")
    # The Dagster side reads the same setting, by the same rule.
    from opsrel_core.config import OpsSettings

    assert OpsSettings.from_env({"OPSREL_CONSOLE_URL": CONSOLE + "/"}).console_url == CONSOLE
    assert OpsSettings.from_env({}).console_url is None
    with pytest.raises(ValueError, match="OPSREL_CONSOLE_URL must be an http"):
        OpsSettings.from_env({"OPSREL_CONSOLE_URL": "ops.example.com"})
    # A partition key holding ``:`` or ``/`` stays one path segment.
    assert AlertSettings.from_env({"OPSREL_CONSOLE_URL": CONSOLE}).console_link(
        "hourly", "2013-11-03-01:00") == f"{CONSOLE}/console/partitions/hourly/2013-11-03-01%3A00"


# -- DQ-002 against the baseline, from stored results -----------------------------------------


class Rules:
    """Four WARN rules with a stored history, one execution per day."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.validation = ValidationService(engine)
        self.executions = BatchExecutionService(engine)
        self.versions = {
            rule: self.validation.register_rule(rule, ASSET, "WARN", f"{rule} holds",
                                                {"kind": "row", "rule": rule}, alert_policy=policy)
            for rule, policy in (("noisy", "baseline"), ("rare", "baseline"),
                                 ("muted", "never"), ("loud", "always"))
        }

    def day(self, day: str, results: dict[str, tuple[str, int]]) -> str:
        """Record one day's execution with ``{rule: (status, failing_rows of 1000)}``."""
        run_id = f"run-{day}"
        self.executions.register_execution(
            ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=day), at=T0)
        self.executions.start_execution(run_id, at=T0)
        for rule, (status, failing) in results.items():
            self.validation.record_result(
                execution_id=run_id, rule_version_id=self.versions[rule].rule_version_id,
                asset_key=ASSET, partition_key=day, status=status, total_rows=1000,
                failing_rows=failing)
        self.executions.complete_execution(run_id, at=T0)
        return run_id


def _day(n: int) -> str:
    return (dt.date(2013, 1, 1) + dt.timedelta(days=n)).isoformat()


def test_dq002_fires_above_the_baseline_and_its_title_follows_the_counter(engine, smtp, slack):
    clock = Clock()
    settings = _settings(smtp, slack, console_url=CONSOLE)
    alerts = OpsAlertService(engine, settings, clock=clock)
    rules = Rules(engine)
    policy = WarnPolicy.from_env({})

    def run(n: int, results: dict[str, tuple[str, int]]) -> list:
        run_id = rules.day(_day(n), results)
        return evaluate_warn_policy(rules.validation, alerts, run_id, JOB, policy)

    # 14 days: "noisy" warns every day (20 rows of 1000), the others pass. The first days have
    # no baseline: even "loud" (declared always) is the only one to alert.
    raised = {}
    for n in range(14):
        got = run(n, {"noisy": ("WARN", 20), "rare": ("PASS", 0), "muted": ("WARN", 500),
                      "loud": ("WARN" if n == 0 else "PASS", 1)})
        raised[n] = sorted(a.dedupe_key.split(":")[-1] for a in got)
    assert raised == {n: (["loud"] if n == 0 else []) for n in range(14)}

    # Day 14: noisy at its usual level stays quiet; rare alerts; muted never alerts.
    got = run(14, {"noisy": ("WARN", 25), "rare": ("WARN", 3), "muted": ("WARN", 900),
                   "loud": ("PASS", 0)})
    [rare] = got
    assert rare.dedupe_key == f"DQ_WARN_ACCUMULATED:{JOB}:rare"
    assert rare.title == "DQ-002 rare warned once above its baseline, latest 2013-01-15"
    assert "the rule seldom warns: warned on 0 of the previous 14 partitions" in rare.message

    # Day 15: noisy rises to 3x+ its median (20): it alerts; rare warns again: the same alert
    # counts it and its title, message and partition follow.
    got = {a.dedupe_key.split(":")[-1]: a for a in run(
        15, {"noisy": ("WARN", 80), "rare": ("WARN", 5), "muted": ("PASS", 0),
             "loud": ("PASS", 0)})}
    assert set(got) == {"noisy", "rare"}
    assert "above its baseline: 0.08 is more than 3 times its median 0.02" in got["noisy"].message
    again = got["rare"]
    assert (again.alert_id, again.occurrence_count) == (rare.alert_id, 2)
    assert again.title == "DQ-002 rare warned 2 times above its baseline, latest 2013-01-16"
    assert (again.partition_key, again.execution_id) == ("2013-01-16", "run-2013-01-16")
    assert "latest partition 2013-01-16: 5 of 1000 rows" in again.message

    # Sent after the repeat: both channels show the current count and the latest partition.
    _dispatcher(engine, settings, clock).dispatch_once()
    subjects = [m["Subject"] for _r, m in smtp.handler.messages]
    assert any(s.endswith("DQ-002 rare warned 2 times above its baseline, latest 2013-01-16")
               for s in subjects)
    rare_post = next(p["text"] for p in slack.posts if "rare warned" in p["text"])
    assert "rare warned 2 times above its baseline, latest 2013-01-16" in rare_post
    assert f"{CONSOLE}/console/partitions/{JOB}/2013-01-16" in rare_post
    assert "_First step:_ Open the data-quality report" in rare_post

    # The stored alerts: loud, rare, noisy; nothing for muted.
    with engine.connect() as conn:
        from opsrel_core.persistence.tables import Alert

        keys = conn.scalars(sa.select(Alert.dedupe_key).order_by(Alert.alert_id)).all()
    assert [k.split(":")[-1] for k in keys] == ["loud", "rare", "noisy"]


def test_the_declared_policy_is_kept_on_the_rule_and_refused_when_unknown(engine):
    validation = ValidationService(engine)
    validation.register_rule("r", ASSET, "WARN", "d", {"kind": "row"}, alert_policy="never")
    assert validation.alert_policy_of("r") == "never"
    validation.register_rule("r", ASSET, "WARN", "d", {"kind": "row"})  # re-declared: baseline
    assert validation.alert_policy_of("r") == "baseline"
    assert validation.alert_policy_of("unknown_rule") == "baseline"
    with pytest.raises(ValueError, match="alert policy must be one of"):
        validation.register_rule("r", ASSET, "WARN", "d", {"kind": "row"}, alert_policy="loud")
