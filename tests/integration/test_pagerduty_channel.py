"""The PagerDuty channel on both backends, against a real Events API v2 receiver on loopback
that checks every event as PagerDuty does: an alert triggers an incident, its acknowledgement
and its resolution (by recovery or by hand) are mirrored with the same ``dedup_key``, through the
outbox with its retries and delivery history; the routing key stays out of the ops database and
the logs.
"""

import datetime as dt
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.log_redaction import redactor_from_env
from opsrel_core.notifiers.pagerduty import PagerDutyEventsSender
from opsrel_core.persistence.tables import AlertTemplate, Base
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import ExecutionSpec, TriggerType
from opsrel_core.services.execution_projection import (
    ExecutionProjector, ObservedFailure, ObservedStatus, RunObservation,
)
from opsrel_core.services.results import ResultVersionService
from tests.support.receivers import PagerDutyServer

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
JOB = "flights_daily"
DAY = "2013-01-05"
ROUTING_KEY = "R0ut1ngKey5f3c9a7e2b14d08c6e9f1a2b"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyServer]:
    server = PagerDutyServer(ROUTING_KEY)
    yield server
    server.close()


class Rig:
    """Projection, alerts and a PagerDuty-only dispatcher over one database and one clock."""

    def __init__(self, engine: sa.Engine, pagerduty: PagerDutyServer) -> None:
        self.engine, self.clock, self.pd = engine, Clock(), pagerduty
        # Built from the environment, as the sensor and the CLI do.
        self.settings = AlertSettings.from_env({
            "OPSREL_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "OPSREL_PAGERDUTY_EVENTS_URL": pagerduty.url,
            "OPSREL_PAGERDUTY_TIMEOUT_SECONDS": "5",
            "OPSREL_CONSOLE_URL": "http://console.local:8000",
        })
        self.alerts = OpsAlertService(engine, self.settings, clock=self.clock)
        self.projector = ExecutionProjector(engine, alerts=self.alerts)
        self.projector.versions = ResultVersionService(engine, clock=self.clock)
        self.dispatcher = AlertDispatcher(
            engine, self.settings, clock=self.clock, sleep=lambda _: None,
            pagerduty_sender=PagerDutyEventsSender(self.settings))

    def fail(self, run_id: str, code: str = error_codes.INP_EMPTY_FILE):
        at = self.clock()
        self.projector.apply(RunObservation(
            spec=ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=DAY),
            status=ObservedStatus.FAILED, created_at=at, started_at=at, ended_at=at,
            failure=ObservedFailure(code, f"landing file for {DAY} has 0 rows",
                                    "raw_flights", DAY)))
        return next(a for a in self.alerts.list_alerts() if a.execution_id == run_id)

    def succeed(self, run_id: str, parent: str) -> None:
        at = self.clock()
        spec = ExecutionSpec(execution_id=run_id, job_id=JOB, partition_key=DAY,
                             trigger_type=TriggerType.REPLAY, parent_execution_id=parent,
                             operator_id="kim")
        self.projector.executions.register_execution(spec, at=at)
        for asset in ("raw_flights", "clean_flights"):
            self.projector.versions.create_version(
                asset_key=asset, partition_key=DAY, execution_id=run_id,
                content_hash=f"sha256:{run_id}{asset}", row_count=10, storage_uri=None)
        self.projector.apply(RunObservation(spec=spec, status=ObservedStatus.SUCCESS,
                                            created_at=at, started_at=at, ended_at=at))

    def deliveries(self, alert_id: int) -> list[tuple[str, str, str]]:
        return sorted((d.kind, d.channel, d.status) for d in self.alerts.delivery_history(alert_id))

    def actions(self) -> list[str]:
        return [e["event_action"] for e in self.pd.events]


@pytest.fixture
def rig(engine, pagerduty) -> Rig:
    return Rig(engine, pagerduty)


def test_trigger_acknowledge_resolve_mirror_the_alert_with_one_dedup_key(rig: Rig):
    alert = rig.fail("run-1")
    assert rig.deliveries(alert.alert_id) == [("ALERT", "PAGERDUTY", "PENDING")]
    # An acknowledgement before the trigger went out waits for it: PagerDuty sees them in order.
    rig.alerts.acknowledge_alert(alert.alert_id, operator_id="kim", reason="on it")
    assert rig.deliveries(alert.alert_id) == [
        ("ACKNOWLEDGE", "PAGERDUTY", "PENDING"), ("ALERT", "PAGERDUTY", "PENDING")]
    report = rig.dispatcher.dispatch_once()
    assert (report.sent, report.failed) == (2, 0)
    assert rig.actions() == ["trigger", "acknowledge"]

    rig.clock.advance(minutes=10)
    rig.succeed("run-2", parent="run-1")  # the replay recovers the partition
    assert rig.alerts.get_alert(alert.alert_id).status == "RESOLVED"
    rig.dispatcher.dispatch_once()
    assert rig.actions() == ["trigger", "acknowledge", "resolve"]
    assert rig.pd.invalid == []
    assert {e["routing_key"] for e in rig.pd.events} == {ROUTING_KEY}
    assert {e["dedup_key"] for e in rig.pd.events} == {f"opsrel-alert-{alert.alert_id}"}

    trigger = rig.pd.events[0]
    payload = trigger["payload"]
    assert payload["severity"] == "error"  # INP-001 is an ERROR in the catalog
    assert payload["summary"].startswith(f"opsrel alert {alert.alert_id}: ")
    assert (payload["source"], payload["group"], payload["component"], payload["class"]) == (
        JOB, JOB, "raw_flights", "INP-001")
    details = payload["custom_details"]
    assert details["alert_id"] == str(alert.alert_id)
    assert (details["error_code"], details["job"], details["partition"]) == ("INP-001", JOB, DAY)
    assert details["operator_action"].startswith("Open the landing file")
    assert details["console_link"] == f"http://console.local:8000/console/partitions/{JOB}/{DAY}"
    assert details["dedupe_key"] == alert.dedupe_key
    assert all("payload" not in e for e in rig.pd.events[1:])
    assert rig.deliveries(alert.alert_id) == [
        ("ACKNOWLEDGE", "PAGERDUTY", "SENT"), ("ALERT", "PAGERDUTY", "SENT"),
        ("RECOVERY", "PAGERDUTY", "SENT")]


def test_manual_resolve_resolves_the_incident(rig: Rig, engine):
    with engine.begin() as conn:  # the summary follows the PAGERDUTY template of the kind
        conn.execute(sa.insert(AlertTemplate.__table__).values(
            event_kind="EXECUTION_FAILED", channel="PAGERDUTY", subject_template=None,
            body_template="[$error_code] $job_id $partition_key (alert $alert_id)"))
    alert = rig.fail("run-1", code=error_codes.SYS_UNEXPECTED)
    rig.dispatcher.dispatch_once()
    assert rig.pd.events[0]["payload"]["summary"] == (
        f"[SYS-001] {JOB} {DAY} (alert {alert.alert_id})")
    rig.alerts.resolve_alert(alert.alert_id, operator_id="kim", reason="fixed the mount by hand")
    rig.dispatcher.dispatch_once()
    assert rig.actions() == ["trigger", "resolve"]
    assert rig.pd.events[0]["payload"]["severity"] == "critical"  # SYS-001 is CRITICAL
    assert rig.pd.events[0]["dedup_key"] == rig.pd.events[1]["dedup_key"]
    # Resolved: a later acknowledgement is recorded in opsrel, PagerDuty is not told.
    rig.alerts.acknowledge_alert(alert.alert_id, operator_id="kim")
    assert rig.dispatcher.dispatch_once().claimed == 0
    assert rig.deliveries(alert.alert_id) == [
        ("ALERT", "PAGERDUTY", "SENT"), ("RECOVERY", "PAGERDUTY", "SENT")]


def test_a_503_is_retried_and_the_history_shows_both_attempts(rig: Rig):
    rig.pd.script.append((503, {"Content-Type": "text/plain"}, b"upstream busy"))
    alert = rig.fail("run-1")
    report = rig.dispatcher.dispatch_once()
    assert (report.retried, report.sent) == (1, 0)
    [delivery] = rig.alerts.delivery_history(alert.alert_id)
    assert delivery.status == "RETRY"
    assert delivery.last_error == "EXT-004: PagerDuty Events API answered HTTP 503: upstream busy"
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=rig.settings.backoff_base_seconds)

    assert rig.dispatcher.dispatch_once().claimed == 0  # not due yet
    rig.clock.advance(seconds=rig.settings.backoff_base_seconds)
    assert rig.dispatcher.dispatch_once().sent == 1
    [delivery] = rig.alerts.delivery_history(alert.alert_id)
    assert (delivery.status, delivery.attempts) == ("SENT", 2)
    assert [(a.succeeded, a.error) for a in delivery.attempt_history] == [
        (False, "EXT-004: PagerDuty Events API answered HTTP 503: upstream busy"), (True, None)]
    # The retry is the same event: PagerDuty folds it into the same incident.
    assert len(rig.pd.posts) == 2 and rig.pd.posts[0] == rig.pd.posts[1]
    assert rig.actions() == ["trigger"]


def test_a_400_fails_permanently_and_the_routing_key_stays_out_of_db_and_logs(
        rig: Rig, engine, caplog):
    # PagerDuty's answer echoes the key it refused, in part and encoded.
    echo = (f'{{"status":"invalid event","message":"Event object is invalid","errors":'
            f'["unknown routing_key {ROUTING_KEY}", "key {ROUTING_KEY[4:20]}"]}}').encode()
    rig.pd.script.append((400, {"Content-Type": "application/json"}, echo))
    # No log filter installed: the dispatcher's own redaction keeps the key out of its records.
    alert = rig.fail("run-1")
    rig.alerts.acknowledge_alert(alert.alert_id, operator_id="kim")
    with caplog.at_level(logging.DEBUG):
        report = rig.dispatcher.dispatch_once()
    # The trigger is refused once and for all; the acknowledgement still goes (it is valid).
    assert (report.failed, report.sent, report.retried) == (1, 1, 0)
    history = {d.kind: d for d in rig.alerts.delivery_history(alert.alert_id)}
    trigger = history["ALERT"]
    assert (trigger.status, trigger.attempts, len(trigger.attempt_history)) == ("FAILED", 1, 1)
    assert trigger.last_error.startswith("EXT-004: PagerDuty Events API answered HTTP 400: ")
    assert "***" in trigger.last_error
    assert rig.pd.posts[0]["routing_key"] == ROUTING_KEY  # it was sent, where it belongs

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "EXT-004" in logged  # the failure was logged...
    fragments = {ROUTING_KEY[i:i + 8] for i in range(len(ROUTING_KEY) - 7)}
    assert not any(f.lower() in logged.lower() for f in fragments)  # ...without the key
    with engine.connect() as conn:
        stored = [
            str(value) for table in Base.metadata.sorted_tables
            for row in conn.execute(sa.select(table)) for value in row if value is not None
        ]
    assert stored and not any(f.lower() in v.lower() for v in stored for f in fragments)


def test_settings_from_the_environment_and_the_events_url_default():
    settings = AlertSettings.from_env({"OPSREL_PAGERDUTY_ROUTING_KEY": ROUTING_KEY})
    assert settings.channels == ("PAGERDUTY",)
    assert settings.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
    assert settings.pagerduty_routing_key == Secret(ROUTING_KEY)
    assert ROUTING_KEY not in repr(settings)
    assert settings.redact(f"key={ROUTING_KEY}") == "key=***"
    # The entry points' log filter knows the variable as a secret too.
    env_redactor = redactor_from_env({"OPSREL_PAGERDUTY_ROUTING_KEY": ROUTING_KEY})
    assert env_redactor.redact(f"routing_key {ROUTING_KEY[3:15]}") == "routing_key ***"
    with pytest.raises(ValueError, match="OPSREL_PAGERDUTY_ROUTING_KEY is a placeholder"):
        AlertSettings.from_env({"OPSREL_PAGERDUTY_ROUTING_KEY": "changeme"})
    with pytest.raises(ValueError, match="OPSREL_PAGERDUTY_EVENTS_URL must be an http"):
        AlertSettings(pagerduty_routing_key=Secret(ROUTING_KEY), pagerduty_events_url="ftp://x")


def test_a_quiet_window_resolves_the_old_incident_and_a_new_alert_triggers_its_own(rig: Rig):
    first = rig.fail("run-1")
    rig.dispatcher.dispatch_once()
    rig.clock.advance(seconds=rig.settings.dedupe_window_seconds + 60)
    second = rig.fail("run-2")  # quiet for a whole window: a new incident of the same key
    assert second.alert_id != first.alert_id and second.dedupe_key == first.dedupe_key
    assert rig.alerts.get_alert(first.alert_id).status == "RESOLVED"
    rig.dispatcher.dispatch_once()
    assert [(e["event_action"], e["dedup_key"]) for e in rig.pd.events] == [
        ("trigger", f"opsrel-alert-{first.alert_id}"),
        ("resolve", f"opsrel-alert-{first.alert_id}"),
        ("trigger", f"opsrel-alert-{second.alert_id}"),
    ]


def test_a_429_waits_for_retry_after(rig: Rig):
    rig.pd.script.append((429, {"Retry-After": "7"}, b'{"status":"throttle event"}'))
    alert = rig.fail("run-1")
    assert rig.dispatcher.dispatch_once().retried == 1
    [delivery] = rig.alerts.delivery_history(alert.alert_id)
    assert delivery.status == "RETRY"
    assert delivery.last_error.startswith("EXT-004: PagerDuty Events API answered HTTP 429")
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=7)
    rig.clock.advance(seconds=7)
    assert rig.dispatcher.dispatch_once().sent == 1
    assert rig.actions() == ["trigger"]


def test_the_dispatch_sensor_path_sends_pagerduty_events(rig: Rig, engine):
    from opsrel_dagster.sensors.alert_dispatch import dispatch_alerts  # what the sensor and the CLI call

    alert = rig.fail("run-1")
    report = dispatch_alerts(engine, rig.settings)
    assert (report.sent, report.outcomes[0][1]) == (1, "PAGERDUTY")
    assert rig.pd.events[0]["dedup_key"] == f"opsrel-alert-{alert.alert_id}"
