"""Incidents on both backends, against a real SMTP server and a real Slack-like HTTP receiver on
loopback: thirty failing partitions of one job and error code are one alert and one message per
channel (plus bounded updates as partitions join), its replay by alert id requests exactly those
partitions, and it is resolved only when every partition of it has recovered.

Executions go through the projection (``ExecutionProjector.apply``), the path Dagster runs take;
time moves through an injected clock.
"""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, ConflictException, NotFoundException
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.persistence.tables import AuditLog
from opsrel_core.services.alert_incidents import IncidentService
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import ExecutionSpec, TriggerType
from opsrel_core.services.execution_projection import (
    ExecutionProjector, ObservedFailure, ObservedStatus, RunObservation,
)
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from tests.support.receivers import SlackServer, SmtpServer, free_port

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
JOB = "flights_daily"
DAYS = [f"2013-01-{d:02d}" for d in range(1, 31)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
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


class Rig:
    """Projection, alerts, incidents, replays and a dispatcher over one database and one clock."""

    def __init__(self, engine: sa.Engine, smtp: SmtpServer, slack: SlackServer) -> None:
        self.engine, self.clock = engine, Clock()
        self.settings = AlertSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, email_to=("oncall@example.com",),
            email_from="opsrel@example.com", slack_webhook_url=Secret(slack.url),
            smtp_timeout_seconds=5, slack_timeout_seconds=5)
        self.alerts = OpsAlertService(engine, self.settings, clock=self.clock)
        self.projector = ExecutionProjector(engine, alerts=self.alerts)
        self.projector.versions = ResultVersionService(engine, clock=self.clock)
        self.replays = ReplayService(engine, max_pending_per_operator=10)
        self.incidents = IncidentService(engine, self.replays)
        self.dispatcher = AlertDispatcher(
            engine, self.settings, email_sender=SmtpEmailSender(self.settings),
            slack_sender=SlackWebhookSender(self.settings), clock=self.clock,
            sleep=lambda _: None)
        self.smtp, self.slack = smtp, slack

    def fail(self, run_id: str, partition: str, code: str = error_codes.INP_EMPTY_FILE,
             job: str = JOB) -> RunObservation:
        at = self.clock()
        obs = RunObservation(
            spec=ExecutionSpec(execution_id=run_id, job_id=job, partition_key=partition),
            status=ObservedStatus.FAILED, created_at=at, started_at=at, ended_at=at,
            failure=ObservedFailure(code, f"landing file for {partition} has 0 rows",
                                    "raw_flights", partition))
        self.projector.apply(obs)
        return obs

    def succeed(self, run_id: str, partition: str) -> None:
        at = self.clock()
        spec = ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=partition,
                             trigger_type=TriggerType.MANUAL, operator_id="kim")
        self.projector.executions.register_execution(spec, at=at)
        for asset in ("raw_flights", "clean_flights"):
            self.projector.versions.create_version(
                asset_key=asset, partition_key=partition, execution_id=run_id,
                content_hash=f"sha256:{run_id}{asset}", row_count=10, storage_uri=None)
        self.projector.apply(RunObservation(spec=spec, status=ObservedStatus.SUCCESS,
                                            created_at=at, started_at=at, ended_at=at))

    def fail_days(self, days: list[str], dispatch_each: bool = False) -> None:
        for day in days:
            self.clock.advance(minutes=1)
            self.fail(f"run-{day}", day)
            if dispatch_each:
                self.dispatcher.dispatch_once()

    @property
    def mails(self):
        return [msg for _, msg in self.smtp.handler.messages]


@pytest.fixture
def rig(engine, smtp, slack) -> Rig:
    return Rig(engine, smtp, slack)


def test_thirty_failing_partitions_are_one_alert_and_one_message_per_channel(rig):
    rig.fail_days(DAYS)
    rig.dispatcher.dispatch_once()

    [alert] = rig.alerts.list_alerts()
    assert (alert.status, alert.occurrence_count, alert.job_id, alert.error_code) == (
        "OPEN", 30, JOB, error_codes.INP_EMPTY_FILE)
    assert alert.dedupe_key == f"EXECUTION_FAILED:{error_codes.INP_EMPTY_FILE}:{JOB}"
    listed = ", ".join(DAYS[:10])
    assert alert.title.endswith(f"in {JOB}: 30 partitions [{listed} and 20 more]")
    assert f"Partitions (30): {listed} and 20 more" in alert.message
    assert f'opsrel replay alert {alert.alert_id} --reason "..."' in alert.message
    assert alert.execution_id == "run-2013-01-30"  # the latest failure
    assert [p.partition_key for p in rig.incidents.partitions(alert.alert_id)] == DAYS

    # One message per channel, sent after all joined: it lists them; no update is needed.
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1
    assert "30 partitions" in rig.mails[0]["Subject"]
    assert "and 20 more" in rig.slack.posts[0]["text"]
    assert sorted((d.kind, d.channel, d.status) for d in rig.alerts.delivery_history(
        alert.alert_id)) == [("ALERT", "EMAIL", "SENT"), ("ALERT", "SLACK", "SENT")]

    # The same executions applied again (a sensor re-run) change nothing.
    for day in DAYS:
        rig.projector.apply(RunObservation(
            spec=ExecutionSpec(execution_id=f"run-{day}", job_id=JOB, partition_key=day),
            status=ObservedStatus.FAILED, created_at=T0, started_at=T0,
            ended_at=T0 + dt.timedelta(minutes=DAYS.index(day) + 1),
            failure=ObservedFailure(error_codes.INP_EMPTY_FILE, "0 rows", "raw_flights", day)))
    [again] = rig.alerts.list_alerts()
    assert again.occurrence_count == 30 and len(rig.incidents.partitions(alert.alert_id)) == 30


def test_updates_as_partitions_join_are_bounded_and_threaded(rig):
    rig.fail_days(DAYS, dispatch_each=True)

    [alert] = rig.alerts.list_alerts()
    # The alert, then one update per doubling of its partitions: at 2, 4, 8 and 16.
    subjects = [m["Subject"] for m in rig.mails]
    assert len(subjects) == 5 and len(rig.slack.posts) == 5
    assert not subjects[0].startswith("Update:")
    assert all(s.startswith("Update:") for s in subjects[1:])
    assert [f"{JOB}: {n} partitions" in s for n, s in zip((2, 4, 8, 16), subjects[1:])] == [
        True] * 4
    first_id = rig.mails[0]["Message-ID"]
    assert all(m["In-Reply-To"] == first_id for m in rig.mails[1:])
    assert len({m["Message-ID"] for m in rig.mails}) == 5
    assert all(p["text"].startswith("*Update*") for p in rig.slack.posts[1:])
    updates = [(d.channel, d.status) for d in rig.alerts.delivery_history(alert.alert_id)
               if d.kind == "UPDATE"]
    assert sorted(updates) == [("EMAIL", "SENT")] * 4 + [("SLACK", "SENT")] * 4


def test_other_codes_jobs_and_late_failures_are_other_incidents(rig):
    rig.fail_days(DAYS[:3])
    rig.clock.advance(minutes=1)
    rig.fail("run-other-code", DAYS[3], code=error_codes.INP_MALFORMED_FILE)
    # Quiet for more than the incident window (3600 s): the next failure is a new incident.
    rig.clock.advance(hours=2)
    rig.fail("run-late", DAYS[4])
    alerts = sorted(rig.alerts.list_alerts(), key=lambda a: a.alert_id)
    assert [(a.error_code, a.status, a.occurrence_count) for a in alerts] == [
        (error_codes.INP_EMPTY_FILE, "RESOLVED", 3),
        (error_codes.INP_MALFORMED_FILE, "OPEN", 1),
        (error_codes.INP_EMPTY_FILE, "OPEN", 1),
    ]
    assert alerts[2].title.endswith(f"in {JOB} [{DAYS[4]}]")  # one partition reads as always


def test_replay_by_alert_id_requests_exactly_those_thirty_partitions(rig, engine):
    rig.fail_days(DAYS)
    [alert] = rig.alerts.list_alerts()

    plan = rig.incidents.preview(alert.alert_id, operator_id="kim", reason="files re-delivered")
    assert list(plan.partitions) == DAYS
    replay = rig.incidents.replay(alert.alert_id, operator_id="kim",
                                  reason="files re-delivered", request_key="incident-1")
    assert list(replay.partition_keys) == DAYS
    assert (replay.job_id, replay.operator_id, replay.reason) == (JOB, "kim", "files re-delivered")
    again = rig.incidents.replay(alert.alert_id, operator_id="kim",
                                 reason="files re-delivered", request_key="incident-1")
    assert again.replay_id == replay.replay_id
    with engine.connect() as conn:
        audits = conn.execute(sa.select(AuditLog).where(AuditLog.action == "REPLAY")).all()
    assert [(a.target_id, a.operator_id) for a in audits] == [(str(replay.replay_id), "kim")]

    with pytest.raises(NotFoundException) as missing:
        rig.incidents.replay(999999, operator_id="kim", reason="x")
    assert missing.value.code == error_codes.BAT_RECORD_NOT_FOUND
    not_partitions = rig.alerts.send_alert("DQ_WARN_ACCUMULATED", severity="WARNING",
                                           title="warnings", message="many")
    with pytest.raises(BatchExecutionException) as invalid:
        rig.incidents.replay(not_partitions.alert_id, operator_id="kim", reason="x")
    assert invalid.value.code == error_codes.BAT_REPLAY_INVALID


def test_partial_recovery_keeps_the_incident_open_and_full_recovery_resolves_it(rig):
    rig.fail_days(DAYS[:3])
    rig.dispatcher.dispatch_once()
    [alert] = rig.alerts.list_alerts()

    rig.clock.advance(minutes=5)
    rig.succeed("fix-1", DAYS[0])
    rig.succeed("fix-2", DAYS[1])
    open_ = rig.alerts.get_alert(alert.alert_id)
    assert open_.status == "OPEN"
    recovered = {p.partition_key: p.recovered_by_execution_id
                 for p in rig.incidents.partitions(alert.alert_id)}
    assert recovered == {DAYS[0]: "fix-1", DAYS[1]: "fix-2", DAYS[2]: None}
    # The replay offered now runs only the partition still failing.
    ask = rig.incidents.replay_ask(alert.alert_id, operator_id="kim", reason="the last one")
    assert (ask.kind, ask.partitions) == ("single", (DAYS[2],))
    rig.dispatcher.dispatch_once()
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1  # no notice yet

    rig.succeed("fix-3", DAYS[2])
    done = rig.alerts.get_alert(alert.alert_id)
    assert (done.status, done.resolved_by_execution_id) == ("RESOLVED", "fix-3")
    rig.dispatcher.dispatch_once()
    assert len(rig.mails) == 2 and len(rig.slack.posts) == 2
    assert rig.mails[1]["Subject"].startswith("Resolved:")
    assert rig.mails[1]["In-Reply-To"] == rig.mails[0]["Message-ID"]
    with pytest.raises(ConflictException) as nothing:
        rig.incidents.replay(alert.alert_id, operator_id="kim", reason="again")
    assert nothing.value.code == error_codes.BAT_INVALID_TRANSITION


def test_a_partition_failing_again_after_its_recovery_keeps_the_incident_open(rig):
    rig.fail_days(DAYS[:2])
    [alert] = rig.alerts.list_alerts()
    rig.clock.advance(minutes=1)
    rig.succeed("fix-1", DAYS[0])
    rig.clock.advance(minutes=1)
    rig.fail("run-again", DAYS[0])
    rig.clock.advance(minutes=1)
    rig.succeed("fix-2", DAYS[1])
    after = rig.alerts.get_alert(alert.alert_id)
    assert (after.status, after.occurrence_count) == ("OPEN", 3)
    failing = [p.partition_key for p in rig.incidents.partitions(alert.alert_id)
               if p.recovered_at is None]
    assert failing == [DAYS[0]]


def test_opsrel_replay_alert_refuses_an_unknown_alert_and_one_about_no_partitions(
        rig, database_url, monkeypatch):
    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli

    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    monkeypatch.delenv("OPSREL_DAGSTER_URL", raising=False)
    unknown = CliRunner().invoke(cli, ["replay", "alert", "999999", "--reason", "x"])
    assert unknown.exit_code == 2, unknown.output
    assert "BAT-011" in unknown.output and "no alert with id 999999" in unknown.output
    warning = rig.alerts.send_alert("DQ_WARN_ACCUMULATED", severity="WARNING", title="warnings",
                                    message="many")
    refused = CliRunner().invoke(cli, ["replay", "alert", str(warning.alert_id), "--reason", "x"])
    assert refused.exit_code == 2 and "BAT-009" in refused.output
    assert rig.replays.list_replays() == []
