"""The alert lifecycle on both backends, against a real SMTP server and a real Slack-like HTTP
receiver on loopback: resolution by recovery with one threaded recovery notice per channel,
acknowledged alerts absorbing repeats, manual resolve, silences until their expiry.

Executions go through the projection (``ExecutionProjector.apply``), the path Dagster runs take;
time moves through an injected clock.
"""

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.errors import ConflictException
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.persistence.tables import AlertDelivery, AuditLog
from opsrel_core.services.alert_silences import SilenceService
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import ExecutionSpec, TriggerType
from opsrel_core.services.execution_projection import (
    ExecutionProjector, ObservedFailure, ObservedStatus, RunObservation,
)
from opsrel_core.services.results import ResultVersionService
from tests.support.receivers import SlackServer, SmtpServer, free_port

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
JOB = "flights_daily"
DAY = "2013-01-05"


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
    """Projection, alerts, silences and a dispatcher over one database and one clock."""

    def __init__(self, engine: sa.Engine, smtp: SmtpServer, slack: SlackServer) -> None:
        self.engine, self.clock = engine, Clock()
        self.settings = AlertSettings(
            smtp_host="127.0.0.1", smtp_port=smtp.port, email_to=("oncall@example.com",),
            email_from="opsrel@example.com", slack_webhook_url=Secret(slack.url),
            dagster_ui_url="http://dagster.local:3000", smtp_timeout_seconds=5,
            slack_timeout_seconds=5)
        self.alerts = OpsAlertService(engine, self.settings, clock=self.clock)
        self.silences = SilenceService(engine, clock=self.clock)
        self.projector = ExecutionProjector(engine, alerts=self.alerts)
        self.projector.versions = ResultVersionService(engine, clock=self.clock)
        self.dispatcher = AlertDispatcher(
            engine, self.settings, email_sender=SmtpEmailSender(self.settings),
            slack_sender=SlackWebhookSender(self.settings), clock=self.clock,
            sleep=lambda _: None)
        self.smtp, self.slack = smtp, slack

    def fail(self, run_id: str, partition: str = DAY, code: str = error_codes.INP_EMPTY_FILE,
             job: str = JOB):
        at = self.clock()
        self.projector.apply(RunObservation(
            spec=ExecutionSpec(execution_id=run_id, job_id=job, partition_key=partition),
            status=ObservedStatus.FAILED, created_at=at, started_at=at, ended_at=at,
            failure=ObservedFailure(code, f"landing file for {partition} has 0 rows",
                                    "raw_flights", partition)))
        return self.alert_of(run_id)

    def succeed(self, run_id: str, partition: str = DAY, parent: str | None = None,
                trigger: TriggerType = TriggerType.MANUAL):
        at = self.clock()
        spec = ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=partition,
                             trigger_type=trigger, parent_execution_id=parent, operator_id="kim")
        self.projector.executions.register_execution(spec, at=at)
        for asset in ("raw_flights", "clean_flights"):
            self.projector.versions.create_version(
                asset_key=asset, partition_key=partition, execution_id=run_id,
                content_hash=f"sha256:{run_id}{asset}", row_count=10, storage_uri=None)
        obs = RunObservation(spec=spec, status=ObservedStatus.SUCCESS, created_at=at,
                             started_at=at, ended_at=at)
        self.projector.apply(obs)
        return obs

    def alert_of(self, run_id: str):
        found = [a for a in self.alerts.list_alerts() if a.execution_id == run_id]
        return found[0] if found else None

    def dispatch(self) -> None:
        self.dispatcher.dispatch_once()

    @property
    def mails(self):
        return [msg for _, msg in self.smtp.handler.messages]

    def deliveries(self, alert_id: int) -> list[tuple[str, str, str]]:
        return [(d.kind, d.channel, d.status) for d in self.alerts.delivery_history(alert_id)]


@pytest.fixture
def rig(engine, smtp, slack) -> Rig:
    return Rig(engine, smtp, slack)


def _audits(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(AuditLog).where(AuditLog.action == action)
                            .order_by(AuditLog.audit_id)).all()


# -- resolution by recovery --------------------------------------------------------------------


def test_failure_then_successful_retry_gives_one_alert_and_one_threaded_recovery_notice(rig):
    alert = rig.fail("run-bad")
    rig.dispatch()
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1
    alert_message_id = rig.mails[0]["Message-ID"]
    assert alert_message_id == f"<opsrel-alert-{alert.alert_id}-email@opsrel>"

    rig.clock.advance(minutes=20)
    obs = rig.succeed("run-good", parent="run-bad", trigger=TriggerType.RETRY)
    resolved = rig.alerts.get_alert(alert.alert_id)
    assert (resolved.status, resolved.resolved_by_execution_id, resolved.resolved_at) == (
        "RESOLVED", "run-good", rig.clock())
    assert resolved.resolved_by == "opsrel:recovery"
    assert sorted(rig.deliveries(alert.alert_id)) == [
        ("ALERT", "EMAIL", "SENT"), ("ALERT", "SLACK", "SENT"),
        ("RECOVERY", "EMAIL", "PENDING"), ("RECOVERY", "SLACK", "PENDING")]

    rig.dispatch()
    rig.projector.apply(obs)  # the same success seen again (a sensor re-run) changes nothing
    rig.dispatch()
    assert len(rig.mails) == 2 and len(rig.slack.posts) == 2
    notice = rig.mails[1]
    assert notice["Subject"].startswith("Resolved: ")
    assert notice["In-Reply-To"] == alert_message_id
    assert notice["References"] == alert_message_id
    assert notice["Message-ID"] != alert_message_id
    assert "run-good" in notice.get_content()
    post = rig.slack.posts[1]["text"]
    assert "Resolved" in post and f"alert {alert.alert_id}" in post and "run-good" in post
    assert len(rig.alerts.list_alerts()) == 1


def test_recovery_waits_for_the_alert_of_its_channel_and_ends_acknowledged_alerts(rig):
    alert = rig.fail("run-bad")
    rig.alerts.acknowledge_alert(alert.alert_id, operator_id="kim", reason="looking")
    rig.clock.advance(minutes=5)
    rig.succeed("run-rerun", trigger=TriggerType.SENSOR)  # resolved before anything was sent
    assert rig.alerts.get_alert(alert.alert_id).status == "RESOLVED"
    rig.dispatch()
    # The alert first, then its notice: never a "resolved" for a message nobody received.
    assert [m["Subject"].startswith("Resolved: ") for m in rig.mails] == [False, True]
    assert ["Resolved" in p["text"] for p in rig.slack.posts] == [False, True]


def test_an_older_success_seen_again_does_not_resolve_a_later_failure(rig):
    old = rig.succeed("run-old")
    rig.clock.advance(hours=1)
    alert = rig.fail("run-bad")
    rig.projector.apply(old)  # catch-up of the earlier run: its version is still the active one
    assert rig.alerts.get_alert(alert.alert_id).status == "OPEN"
    # A success of another partition resolves nothing either.
    rig.clock.advance(minutes=1)
    rig.succeed("run-other-day", partition="2013-01-06")
    assert rig.alerts.get_alert(alert.alert_id).status == "OPEN"


# -- acknowledged means known ------------------------------------------------------------------


def test_an_acknowledged_alert_absorbs_the_next_three_repeats_without_a_message(rig):
    alert = rig.fail("run-1")
    rig.dispatch()
    rig.alerts.acknowledge_alert(alert.alert_id, operator_id="kim", reason="on it")
    for n in (2, 3, 4):
        rig.clock.advance(hours=2)  # beyond the storm window: an OPEN alert would be news
        rig.fail(f"run-{n}")
    rig.dispatch()
    after = rig.alerts.get_alert(alert.alert_id)
    assert (after.status, after.occurrence_count, after.last_seen_at) == (
        "ACKNOWLEDGED", 4, rig.clock())
    assert len(rig.alerts.list_alerts()) == 1
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1

    # Resolved: the next repeat is news again.
    rig.alerts.resolve_alert(alert.alert_id, operator_id="kim", reason="feed fixed upstream")
    rig.clock.advance(minutes=10)
    rig.fail("run-5")
    rig.dispatch()
    alerts = rig.alerts.list_alerts()
    assert [a.status for a in alerts] == ["OPEN", "RESOLVED"]
    assert len(rig.mails) == 2 and len(rig.slack.posts) == 2


def test_manual_resolve_is_audited_and_resolving_again_is_refused(rig, engine):
    alert = rig.fail("run-1")
    resolved = rig.alerts.resolve_alert(alert.alert_id, operator_id="kim",
                                        reason="the file was re-delivered by hand")
    assert (resolved.status, resolved.resolved_by, resolved.resolve_reason) == (
        "RESOLVED", "kim", "the file was re-delivered by hand")
    [record] = _audits(engine, "RESOLVE_ALERT")
    assert (record.operator_id, record.target_id, record.before_state["status"],
            record.after_state["status"]) == ("kim", str(alert.alert_id), "OPEN", "RESOLVED")
    with pytest.raises(ConflictException) as refused:
        rig.alerts.resolve_alert(alert.alert_id, operator_id="lee", reason="again")
    assert refused.value.code == error_codes.BAT_INVALID_TRANSITION
    assert len(_audits(engine, "RESOLVE_ALERT")) == 1
    # No recovery notice for a manual resolve (the one who resolves knows).
    assert all(kind == "ALERT" for kind, _, _ in rig.deliveries(alert.alert_id))


# -- silences ----------------------------------------------------------------------------------


def test_a_silence_suppresses_delivery_until_its_expiry_and_is_audited(rig, engine):
    silence = rig.silences.create_silence(
        operator_id="kim", reason="January landing files are re-sent tomorrow", job_id=JOB,
        error_code=error_codes.INP_EMPTY_FILE, partition_pattern="2013-01-*",
        duration_seconds=4 * 3600)
    [created] = _audits(engine, "CREATE_SILENCE")
    assert (created.target_type, created.target_id, created.operator_id) == (
        "alert_silence", str(silence.silence_id), "kim")

    muted = rig.fail("run-jan-05")
    other = rig.fail("run-feb-01", partition="2013-02-01")  # outside the pattern: delivered
    rig.dispatch()
    assert muted.silenced_by == silence.silence_id and other.silenced_by is None
    assert sorted(rig.deliveries(muted.alert_id)) == [("ALERT", "EMAIL", "SUPPRESSED"),
                                                      ("ALERT", "SLACK", "SUPPRESSED")]
    assert len(rig.mails) == 1 and "2013-02-01" in rig.mails[0]["Subject"]
    assert [s.silence_id for s in rig.silences.list_silences()] == [silence.silence_id]

    rig.clock.now = silence.expires_at - dt.timedelta(seconds=1)
    rig.fail("run-jan-06", partition="2013-01-06")
    rig.dispatch()
    assert len(rig.mails) == 1  # still silenced one second before the expiry

    rig.clock.now = silence.expires_at  # lifted at its expiry, without anyone acting
    assert rig.silences.list_silences() == []
    delivered = rig.fail("run-jan-07", partition="2013-01-07")
    rig.dispatch()
    assert delivered.silenced_by is None
    assert len(rig.mails) == 2 and "2013-01-07" in rig.mails[1]["Subject"]
    assert len(rig.slack.posts) == 2


def test_ending_a_silence_early_is_audited_and_its_alert_is_delivered_on_the_next_repeat(rig, engine):
    silence = rig.silences.create_silence(
        operator_id="kim", reason="noisy while the vendor fixes the feed", job_id=JOB,
        duration_seconds=3600)
    muted = rig.fail("run-1")
    rig.dispatch()
    assert len(rig.mails) == 0
    rig.clock.advance(minutes=10)
    ended = rig.silences.end_silence(silence.silence_id, operator_id="lee", reason="feed fixed")
    assert (ended.active, ended.ended_by) == (False, "lee")
    assert [r.operator_id for r in _audits(engine, "END_SILENCE")] == ["lee"]
    with pytest.raises(ConflictException) as refused:
        rig.silences.end_silence(silence.silence_id, operator_id="lee", reason="again")
    assert refused.value.code == error_codes.BAT_INVALID_TRANSITION

    rig.clock.advance(minutes=5)
    rig.fail("run-2")  # the condition outlasted its silence: the alert is heard now
    rig.dispatch()
    after = rig.alerts.get_alert(muted.alert_id)
    assert after.occurrence_count == 2
    assert len(rig.mails) == 1 and len(rig.slack.posts) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(AlertDelivery)
                           .where(AlertDelivery.status == "SUPPRESSED")) == 0


def test_a_silence_needs_a_matcher_and_a_bounded_expiry(rig, engine):
    with pytest.raises(ValueError, match="at least one matcher"):
        rig.silences.create_silence(operator_id="kim", reason="r", duration_seconds=60)
    with pytest.raises(ValueError, match="90 days"):
        rig.silences.create_silence(operator_id="kim", reason="r", job_id=JOB,
                                    expires_at=rig.clock() - dt.timedelta(minutes=1))
    with pytest.raises(ValueError, match="not in the catalog"):
        rig.silences.create_silence(operator_id="kim", reason="r", error_code="NOPE-1",
                                    duration_seconds=60)
    assert rig.silences.list_silences(active_only=False) == []
    assert _audits(engine, "CREATE_SILENCE") == []


# -- migration 0016 ----------------------------------------------------------------------------


def test_upgrade_keeps_one_live_alert_per_key_and_downgrade_drops_recovery_notices(
        empty_database_url):
    from opsrel_core.persistence import migrate
    from opsrel_core.persistence.engine import make_engine

    migrate.upgrade(empty_database_url, "0010")
    engine = make_engine(empty_database_url)
    prefix = "ops." if engine.dialect.name == "postgresql" else ""
    row = ("INSERT INTO {p}alert (event_kind, severity, status, dedupe_key, title, message, "
           "occurrence_count, first_seen_at, last_seen_at) VALUES ('K', 'ERROR', '{s}', 'k', 't', "
           "'m', 1, :at, :at)")
    with engine.begin() as conn:
        # Before 0016 an acknowledged alert did not absorb: a repeat opened a second live alert.
        for status in ("ACKNOWLEDGED", "OPEN"):
            conn.execute(sa.text(row.format(p=prefix, s=status)), {"at": T0})
        # A delivery with an attempt: both survive the rebuild of their tables (SQLite).
        first = conn.scalar(sa.text(f"SELECT min(alert_id) FROM {prefix}alert"))
        conn.execute(sa.text(
            f"INSERT INTO {prefix}alert_delivery (alert_id, channel, status, attempts, "
            f"next_attempt_at, created_at) VALUES (:a, 'SLACK', 'SENT', 1, :at, :at)"),
            {"a": first, "at": T0})
        conn.execute(sa.text(
            f"INSERT INTO {prefix}alert_delivery_attempt (delivery_id, attempted_at, succeeded) "
            f"SELECT delivery_id, :at, true FROM {prefix}alert_delivery"), {"at": T0})
    engine.dispose()
    migrate.upgrade(empty_database_url, "0016")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT alert_id, status, resolved_by FROM {prefix}alert ORDER BY alert_id")).all()
    assert [(r.status, r.resolved_by) for r in rows] == [
        ("RESOLVED", "opsrel:migration-0016"), ("OPEN", None)]
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            f"SELECT alert_id, kind, status FROM {prefix}alert_delivery")).all() == [
            (rows[0].alert_id, "ALERT", "SENT")]
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {prefix}alert_delivery_attempt")) == 1
    with engine.begin() as conn:
        for kind in ("ALERT", "RECOVERY"):
            conn.execute(sa.text(
                f"INSERT INTO {prefix}alert_delivery (alert_id, channel, kind, status, attempts, "
                f"next_attempt_at, created_at) VALUES (:a, 'EMAIL', :k, 'PENDING', 0, :at, :at)"),
                {"a": rows[1].alert_id, "k": kind, "at": T0})
    engine.dispose()
    migrate.downgrade(empty_database_url, "0010")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {prefix}alert_delivery")) == 2
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {prefix}alert_delivery_attempt")) == 1
    engine.dispose()


# -- the pure rules ----------------------------------------------------------------------------


def test_the_lifecycle_rules():
    from opsrel_core.domain import alert_lifecycle as lc

    assert lc.next_status("OPEN", lc.ACKNOWLEDGE) == "ACKNOWLEDGED"
    assert lc.next_status("RESOLVED", lc.RECOVER) == "RESOLVED"
    assert [lc.can_resolve(s) for s in ("OPEN", "ACKNOWLEDGED", "RESOLVED")] == [True, True, False]
    late = T0 + dt.timedelta(days=3)
    assert lc.absorbs_repeat("ACKNOWLEDGED", T0, late, 3600)
    assert not lc.absorbs_repeat("OPEN", T0, late, 3600)
    assert lc.absorbs_repeat("OPEN", T0, T0 + dt.timedelta(seconds=3600), 3600)
    assert [lc.parse_duration(t) for t in ("4h", "90m", "1d12h", "2w")] == [
        14400, 5400, 129600, 1209600]
    for bad in ("", "4", "h", "0m", "91d", "4 hours"):
        with pytest.raises(ValueError):
            lc.parse_duration(bad)
    jan = lc.SilenceMatchers(job_id=JOB, partition_pattern="2013-01-*").validate()
    facts = dict(job_id=JOB, error_code="INP-001", rule_id=None)
    assert jan.matches(partition_key="2013-01-31", **facts)
    assert not jan.matches(partition_key="2013-02-01", **facts)
    assert not jan.matches(partition_key=None, **facts)
    assert not jan.matches(partition_key="2013-01-31", **{**facts, "job_id": "other"})
    assert lc.SilenceMatchers(rule_id="dest_known").validate().matches(
        job_id=JOB, error_code="DQ-002", rule_id="dest_known", partition_key=None)
    with pytest.raises(ValueError):
        lc.SilenceMatchers(job_id="  ").validate()
    assert lc.silence_holds(late, None, late - dt.timedelta(seconds=1))
    assert not lc.silence_holds(late, None, late)
    assert not lc.silence_holds(late, T0, T0)


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_resolves_and_silences_with_exit_statuses(rig, database_url, monkeypatch, engine):
    from click.testing import CliRunner

    from opsrel_core.entrypoints.cli import cli
    from opsrel_core.entrypoints.cli.alerts import alerts_resolve

    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    alert = rig.fail("run-1")
    run = CliRunner().invoke
    done = run(alerts_resolve, [str(alert.alert_id), "--operator", "kim", "--reason", "fixed"])
    assert done.exit_code == 0 and "RESOLVED by kim" in done.output
    again = run(alerts_resolve, [str(alert.alert_id), "--operator", "kim", "--reason", "fixed"])
    assert again.exit_code == 2 and "[BAT-001]" in again.output
    assert run(alerts_resolve, ["999999", "--reason", "x"]).exit_code == 1

    created = run(cli, ["silences", "create", "--job", JOB, "--partition", "2013-01-*",
                        "--for", "4h", "--operator", "kim", "--reason", "vendor re-sends"])
    assert created.exit_code == 0, created.output
    listed = run(cli, ["silences", "list", "--json"])
    [silence] = json.loads(listed.output)
    assert (silence["job_id"], silence["active"], silence["created_by"]) == (JOB, True, "kim")
    assert run(cli, ["silences", "create", "--for", "4h", "--reason", "all"]).exit_code == 2
    assert run(cli, ["silences", "create", "--job", JOB, "--reason", "r"]).exit_code == 2
    ended = run(cli, ["silences", "end", str(silence["silence_id"]), "--reason", "arrived"])
    assert ended.exit_code == 0, ended.output
    assert run(cli, ["silences", "end", str(silence["silence_id"]), "--reason", "x"]).exit_code == 2
    assert run(cli, ["silences", "end", "999999", "--reason", "x"]).exit_code == 1
    assert [r.operator_id for r in _audits(engine, "CREATE_SILENCE")] == ["kim"]
    assert len(_audits(engine, "END_SILENCE")) == 1
