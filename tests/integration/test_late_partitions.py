"""Late partitions on both backends with a controlled clock, against a real SMTP server and a real
Slack-like HTTP receiver on loopback: a missed deadline alerts once however often it is checked,
and the version arriving resolves it with one recovery notice; a version in time never alerts.

``flights_daily`` declares (the deadline migration 0019 gave it, set by the ``flights_deadline``
fixture) that day D must have an active version by D+1 06:00 America/New_York; its partitions
start on 2013-01-01, so on 2013-01-02 only that day is checked.
Versions arrive through the projection (``ExecutionProjector.apply``), the path Dagster runs take.
"""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.persistence.tables import BatchJob, ResultVersion
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import ExecutionSpec, TriggerType
from opsrel_core.services.execution_projection import (
    ExecutionProjector, ObservedStatus, RunObservation,
)
from opsrel_core.services.late_partitions import LatePartitionService
from opsrel_core.services.results import ResultVersionService
from tests.support.receivers import SlackServer, SmtpServer, free_port

UTC = dt.timezone.utc
JOB = "flights_daily"
DAY = "2013-01-01"
DUE = dt.datetime(2013, 1, 2, 11, 0, tzinfo=UTC)  # 06:00 EST on 2013-01-02


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

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
    """The late-partition check, the projection and a dispatcher over one database and clock."""

    def __init__(self, engine: sa.Engine, smtp: SmtpServer, slack: SlackServer) -> None:
        self.engine, self.clock = engine, Clock(DUE - dt.timedelta(minutes=5))
        settings = AlertSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, email_to=("oncall@example.com",),
            email_from="opsrel@example.com", slack_webhook_url=Secret(slack.url),
            dagster_ui_url="http://dagster.local:3000", smtp_timeout_seconds=5,
            slack_timeout_seconds=5)
        self.alerts = OpsAlertService(engine, settings, clock=self.clock)
        self.late = LatePartitionService(engine, settings, clock=self.clock)
        self.projector = ExecutionProjector(engine, alerts=self.alerts)
        self.projector.versions = ResultVersionService(engine, clock=self.clock)
        self.dispatcher = AlertDispatcher(
            engine, settings, email_sender=SmtpEmailSender(settings),
            slack_sender=SlackWebhookSender(settings), clock=self.clock, sleep=lambda _: None)
        self.smtp, self.slack = smtp, slack

    def succeed(self, run_id: str, partition: str = DAY) -> None:
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

    @property
    def mails(self):
        return [msg for _, msg in self.smtp.handler.messages]


@pytest.fixture
def rig(engine, flights_deadline, smtp, slack) -> Rig:
    return Rig(engine, smtp, slack)


def test_the_catalog_declares_the_example_jobs_deadline(engine):
    with engine.connect() as conn:
        row = conn.execute(sa.select(BatchJob.deadline_seconds, BatchJob.deadline_timezone)
                           .where(BatchJob.job_id == JOB)).one()
    assert tuple(row) == (6 * 3600, "America/New_York")


def test_a_missed_deadline_alerts_once_and_resolves_when_the_version_arrives(rig):
    before = rig.late.check()
    assert (before.raised, before.resolved) == ([], [])
    assert before.jobs[0].late == ()
    assert before.summary() == (
        "flights_daily (due 06:00 America/New_York the day after the partition): 0 late; "
        "raised 0, resolved 0")

    rig.clock.now = DUE
    report = rig.late.check()
    assert [(a.partition_key, a.error_code, a.event_kind, a.severity, a.status)
            for a in report.raised] == [(DAY, "BAT-015", "PARTITION_LATE", "WARNING", "OPEN")]
    alert = report.raised[0]
    assert alert.title == f"Partition late in {JOB} [{DAY}]"
    assert "due at 2013-01-02T11:00:00+00:00" in alert.message
    assert report.jobs[0].late == (DAY,)
    rig.dispatcher.dispatch_once()
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1
    assert "BAT-015" in rig.mails[0]["Subject"] + rig.mails[0].get_content()

    # The sensor's every-five-minutes checks, for longer than the storm window: nothing more.
    for _ in range(15):
        rig.clock.advance(minutes=5)
        again = rig.late.check()
        assert again.raised == [] and again.jobs[0].late == (DAY,)
    rig.dispatcher.dispatch_once()
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1
    [only] = rig.alerts.list_alerts()
    assert (only.alert_id, only.occurrence_count, only.status) == (alert.alert_id, 1, "OPEN")

    # The version arrives: the activation resolves the alert, one threaded notice per channel.
    rig.clock.advance(minutes=3)
    rig.succeed("run-late")
    resolved = rig.alerts.get_alert(alert.alert_id)
    assert (resolved.status, resolved.resolved_by, resolved.resolved_by_execution_id,
            resolved.resolved_at) == ("RESOLVED", "opsrel:recovery", "run-late", rig.clock())
    rig.dispatcher.dispatch_once()
    assert len(rig.mails) == 2 and len(rig.slack.posts) == 2
    assert rig.mails[1]["Subject"].startswith("Resolved: ")
    assert rig.mails[1]["In-Reply-To"] == rig.mails[0]["Message-ID"]

    rig.clock.advance(minutes=5)
    after = rig.late.check()
    assert (after.raised, after.resolved, after.jobs[0].late) == ([], [], ())
    assert len(rig.alerts.list_alerts()) == 1


def test_a_partition_with_its_version_in_time_never_alerts(rig):
    rig.clock.now = DUE - dt.timedelta(hours=2)
    rig.succeed("run-day-1")
    rig.clock.now = DUE + dt.timedelta(hours=20)
    rig.succeed("run-day-2", partition="2013-01-02")  # due 2013-01-03 11:00Z
    for _ in range(6):
        report = rig.late.check()
        assert report.raised == [] and report.jobs[0].late == ()
        rig.clock.advance(minutes=5)
    assert rig.alerts.list_alerts() == []


def test_the_check_resolves_a_late_alert_whose_version_is_already_active(rig, engine, monkeypatch):
    # A version activated without the activation's resolution (by a release before late alerts
    # resolved there): the next check ends the alert by that version.
    rig.clock.now = DUE
    [alert] = rig.late.check().raised
    rig.clock.advance(minutes=1)
    with monkeypatch.context() as patched:
        patched.setattr("opsrel_core.services.results.activating.resolve_recovered_alerts",
                        lambda *args, **kwargs: [])
        rig.succeed("run-quiet")
    assert rig.alerts.get_alert(alert.alert_id).status == "OPEN"
    rig.clock.advance(minutes=4)
    report = rig.late.check()
    assert report.resolved == [alert.alert_id] and report.raised == []
    done = rig.alerts.get_alert(alert.alert_id)
    assert (done.status, done.resolved_by_execution_id) == ("RESOLVED", "run-quiet")
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ResultVersion)
                           .where(ResultVersion.is_active.is_(True))) == 2


def test_a_late_alert_resolved_by_hand_is_not_raised_again_and_bounds_hold(rig):
    rig.clock.now = DUE
    [alert] = rig.late.check().raised
    rig.alerts.resolve_alert(alert.alert_id, operator_id="kim", reason="the feed skipped that day")
    rig.clock.advance(hours=1)
    assert rig.late.check().raised == []
    # The last day of the set is checked; the day after the set's end never is.
    rig.clock.now = dt.datetime(2014, 1, 2, 12, tzinfo=UTC)
    late = rig.late.check()
    assert late.jobs[0].late == tuple(f"2013-12-{d}" for d in range(26, 32))
    assert [a.partition_key for a in late.raised] == list(late.jobs[0].late)
    assert all(a.error_code == error_codes.BAT_PARTITION_LATE for a in late.raised)


def test_opsrel_alerts_late_shows_each_jobs_deadline_and_late_partitions(database_url, monkeypatch,
                                                                        flights_deadline):
    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli

    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["alerts", "late"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["job", "deadline", "late", "partitions"]
    # Today is years after the example's last partition: nothing is late.
    assert " ".join(lines[1].split()) == (
        "flights_daily 06:00 America/New_York the day after the partition none")
    assert lines[-1] == "raised 0 alert(s), resolved 0"
    as_json = CliRunner().invoke(cli, ["alerts", "late", "--json"])
    assert as_json.exit_code == 0 and '"late": []' in as_json.output
