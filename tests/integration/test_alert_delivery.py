"""AlertDispatcher against real receivers on loopback, on both backends.

A real SMTP server (aiosmtpd) and a real HTTP server standing in for Slack run in the test
process. Faults: SMTP down then back, SMTP that never answers, SMTP 5xx, webhook 500 / timeout /
429 / 400, the dispatcher killed between send and record, two dispatchers at once. Time moves
through an injected clock; nothing sleeps for backoff. A rate-limited or hanging peer never
duplicates, loses or blocks an alert (see docs/failure-reports.md).
"""

import datetime as dt
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.domain import error_codes
from opsrel_core.notifiers import EmailMessageSpec
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.persistence.tables import AlertDelivery, AlertDeliveryAttempt, AlertTemplate
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
PASSWORD = "pw-Zq81-very-secret"
WEBHOOK_TOKEN = "T0001/B0001/hooktokenSECRET42"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


from tests.support.receivers import MailHandler, SlackServer, SmtpServer, free_port as _free_port  # noqa: E402,F401


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port with no server yet (connection refused); ``start()`` brings it up."""
    server = SmtpServer(_free_port())
    yield server
    server.stop()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer(WEBHOOK_TOKEN)
    yield server
    server.close()


# -- wiring ----------------------------------------------------------------------------------


class Rig:
    """The service, a dispatcher and the clock over one database."""

    def __init__(self, engine, settings: AlertSettings, clock: Clock, **dispatcher_kw) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self.sleeps: list[float] = []
        self.alerts = OpsAlertService(engine, settings, clock=clock)
        self.dispatcher = self.make_dispatcher(**dispatcher_kw)

    def make_dispatcher(self, **kw) -> AlertDispatcher:
        s = self.settings
        kw.setdefault("email_sender", SmtpEmailSender(s) if s.email_enabled else None)
        kw.setdefault("slack_sender", SlackWebhookSender(s) if s.slack_enabled else None)
        return AlertDispatcher(self.engine, s, clock=self.clock, sleep=self.sleeps.append, **kw)

    def alert(self, kind: str = "DQ_FAIL", partition: str = "2013-01-05", **kw):
        return self.alerts.send_alert(
            kind, severity="ERROR", title="rule failed", message="3 rows with null carrier",
            error_code="DQ-001", job_id="flights_daily", asset_key="clean_flights",
            partition_key=partition, **kw,
        )

    def delivery(self, alert_id: int, channel: str):
        return next(d for d in self.alerts.delivery_history(alert_id) if d.channel == channel)


def _settings(smtp_port: int | None = None, slack_url: str | None = None, **kw) -> AlertSettings:
    base: dict = dict(dagster_ui_url="http://dagster.local:3000", smtp_timeout_seconds=2,
                      slack_timeout_seconds=2, email_from="opsrel@example.com")
    if smtp_port is not None:
        base.update(smtp_host="127.0.0.1", smtp_port=smtp_port,
                    email_to=("oncall@example.com", "lead@example.com"))
    if slack_url is not None:
        base.update(slack_webhook_url=Secret(slack_url))
    base.update(kw)
    return AlertSettings(**base)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _fail_execution(engine, run_id: str, partition: str = "2013-01-05", at: dt.datetime = T0):
    executions = BatchExecutionService(engine)
    executions.register_execution(
        ExecutionSpec(execution_id=run_id, job_id="flights_daily", partition_key=partition), at=at
    )
    executions.start_execution(run_id, at=at)
    return executions.fail_execution(
        run_id, error_codes.INP_EMPTY_FILE, error_message=f"landing file for {partition} has 0 rows",
        failed_asset_key="raw_flights", failed_partition_key=partition, at=at,
    )


# -- acceptance: one failure, one email and one Slack message; a repeat sends nothing -------------


def test_failing_partition_sends_one_email_and_one_slack_message(engine, smtp, slack, clock):
    rig = Rig(engine, _settings(smtp.port, slack.url), clock)
    alert = rig.alerts.raise_for_failed_execution(_fail_execution(engine, "run-1"))
    report = rig.dispatcher.dispatch_once()
    assert (report.claimed, report.sent, report.retried, report.failed) == (2, 2, 0, 0)

    (rcpts, msg), = smtp.handler.messages
    assert rcpts == ["oncall@example.com", "lead@example.com"]
    assert msg["From"] == "opsrel@example.com"
    assert msg["Message-ID"] == f"<opsrel-alert-{alert.alert_id}-email@opsrel>"
    assert "INP-001" in msg["Subject"] and "flights_daily" in msg["Subject"]
    body = msg.get_content()
    for part in ("INP-001", "raw_flights", "2013-01-05", "http://dagster.local:3000/runs/run-1",
                 "Re-deliver the file", "has 0 rows"):
        assert part in body, part

    (post,) = slack.posts
    assert set(post) == {"text"}
    for part in ("INP-001", "raw_flights", "2013-01-05", "<http://dagster.local:3000/runs/run-1|run run-1>"):
        assert part in post["text"], part

    for channel in ("EMAIL", "SLACK"):
        d = rig.delivery(alert.alert_id, channel)
        assert (d.status, d.attempts, d.sent_at, d.last_error) == ("SENT", 1, T0, None)
        assert [(a.succeeded, a.error) for a in d.attempt_history] == [(True, None)]

    # The same partition fails again within the window: counter 2, nothing new is sent.
    clock.advance(600)
    again = rig.alerts.raise_for_failed_execution(
        _fail_execution(engine, "run-2", at=T0 + dt.timedelta(minutes=10))
    )
    assert again.alert_id == alert.alert_id and again.occurrence_count == 2
    assert rig.dispatcher.dispatch_once().claimed == 0
    assert len(smtp.handler.messages) == 1 and len(slack.posts) == 1


def test_a_landing_file_alert_says_what_re_delivery_does(engine, smtp, slack, clock):
    """The alert must not send the operator to replay a day the landing sensor reruns itself."""
    rig = Rig(engine, _settings(smtp.port, slack.url), clock)
    rig.alerts.raise_for_failed_execution(_fail_execution(engine, "run-1"))
    rig.dispatcher.dispatch_once()
    (_rcpts, msg), = smtp.handler.messages
    (post,) = slack.posts
    for text in (msg.get_content(), post["text"]):
        assert "the landing sensor reruns the day by itself; do not also replay it" in text
        assert "BAT-012" in text


# -- SMTP faults -----------------------------------------------------------------------------


def test_smtp_down_is_retried_with_backoff_and_arrives_once_the_server_is_back(engine, smtp_down, clock):
    rig = Rig(engine, _settings(smtp_down.port), clock)
    alert = rig.alert()
    assert rig.dispatcher.dispatch_once().retried == 1
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert d.status == "RETRY" and d.attempts == 1
    assert d.next_attempt_at == T0 + dt.timedelta(seconds=30)
    assert d.last_error.startswith("EXT-002: SMTP 127.0.0.1:") and "Connection" in d.last_error

    assert rig.dispatcher.dispatch_once().claimed == 0  # not due yet
    smtp_down.start()
    clock.advance(29)
    assert rig.dispatcher.dispatch_once().claimed == 0
    clock.advance(1)
    assert rig.dispatcher.dispatch_once().sent == 1
    assert len(smtp_down.handler.messages) == 1
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert (d.status, d.attempts) == ("SENT", 2)
    assert [a.succeeded for a in d.attempt_history] == [False, True]


def test_backoff_doubles_and_the_delivery_fails_after_max_attempts(engine, smtp_down, clock):
    rig = Rig(engine, _settings(smtp_down.port, max_attempts=3), clock)
    alert = rig.alert()
    for expected_delay in (30, 60):
        rig.dispatcher.dispatch_once()
        d = rig.delivery(alert.alert_id, "EMAIL")
        assert d.status == "RETRY"
        assert d.next_attempt_at == clock.now + dt.timedelta(seconds=expected_delay)
        clock.advance(expected_delay)
    assert rig.dispatcher.dispatch_once().failed == 1
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert d.status == "FAILED" and "gave up after 3 attempts" in d.last_error
    assert d.last_error.startswith("EXT-002")
    clock.advance(10_000)
    assert rig.dispatcher.dispatch_once().claimed == 0  # bounded: never retried again


def test_smtp_server_that_never_answers_times_out_and_slack_is_still_sent(engine, slack, clock):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts connections, never speaks
    try:
        rig = Rig(engine, _settings(silent.getsockname()[1], slack.url, smtp_timeout_seconds=0.5), clock)
        alert = rig.alert()
        started = time.monotonic()
        report = rig.dispatcher.dispatch_once()
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    assert (report.sent, report.retried) == (1, 1)
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert d.status == "RETRY" and "no answer within 0.5 s" in d.last_error
    assert rig.delivery(alert.alert_id, "SLACK").status == "SENT" and len(slack.posts) == 1


def test_smtp_5xx_fails_permanently_and_4xx_is_retried(engine, smtp, clock):
    rig = Rig(engine, _settings(smtp.port), clock)
    smtp.handler.rcpt_reply = "550 5.1.1 mailbox unavailable"
    alert = rig.alert(partition="p1")
    assert rig.dispatcher.dispatch_once().failed == 1
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert d.status == "FAILED" and "550" in d.last_error and d.last_error.startswith("EXT-002")

    smtp.handler.rcpt_reply = "451 4.3.0 try again later"
    alert = rig.alert(partition="p2")
    assert rig.dispatcher.dispatch_once().retried == 1
    assert "451" in rig.delivery(alert.alert_id, "EMAIL").last_error
    assert smtp.handler.messages == []


def test_smtp_login_failure_never_records_the_password(engine, smtp_down, clock):
    def deny(server, session, envelope, mechanism, auth_data) -> AuthResult:
        return AuthResult(success=False, handled=False)

    smtp_down.start(authenticator=deny, auth_require_tls=False)
    # The receiver has no TLS: a login over it must be allowed explicitly.
    settings = _settings(smtp_down.port, smtp_user="bot", smtp_password=Secret(PASSWORD),
                         smtp_security="none", smtp_allow_insecure_auth=True)
    rig = Rig(engine, settings, clock)
    alert = rig.alert()
    assert rig.dispatcher.dispatch_once().failed == 1
    d = rig.delivery(alert.alert_id, "EMAIL")
    assert "535" in d.last_error
    stored = _all_stored_text(engine) + repr(settings) + repr(d)
    assert PASSWORD not in stored


# -- Slack faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("step, fragment", [
    ((500, {}, b"internal_error"), "HTTP 500"),
    (("hang", 1.5), "no answer within 0.5 s"),
])
def test_webhook_500_or_timeout_is_retried_then_delivered(engine, slack, clock, step, fragment):
    slack.script = [step]
    rig = Rig(engine, _settings(slack_url=slack.url, slack_timeout_seconds=0.5), clock)
    alert = rig.alert()
    assert rig.dispatcher.dispatch_once().retried == 1
    d = rig.delivery(alert.alert_id, "SLACK")
    assert d.status == "RETRY" and fragment in d.last_error and d.last_error.startswith("EXT-003")
    assert d.next_attempt_at == T0 + dt.timedelta(seconds=30)
    clock.advance(30)
    assert rig.dispatcher.dispatch_once().sent == 1
    d = rig.delivery(alert.alert_id, "SLACK")
    assert d.status == "SENT" and [a.succeeded for a in d.attempt_history] == [False, True]


def test_webhook_429_honours_capped_retry_after_and_is_delivered_once(engine, slack, clock):
    slack.script = [(429, {"Retry-After": "2"}, b"rate_limited")]
    rig = Rig(engine, _settings(slack_url=slack.url), clock)
    alert = rig.alert()
    rig.dispatcher.dispatch_once()
    d = rig.delivery(alert.alert_id, "SLACK")
    assert d.status == "RETRY" and d.next_attempt_at == T0 + dt.timedelta(seconds=2)
    clock.advance(2)
    assert rig.dispatcher.dispatch_once().sent == 1
    assert len(slack.posts) == 2 and rig.delivery(alert.alert_id, "SLACK").status == "SENT"


def test_webhook_400_fails_with_the_reason_and_never_records_the_url(engine, slack, clock):
    # A receiver that echoes the request path would leak the token if it were not redacted.
    slack.script = [(400, {}, f"invalid_payload for /services/{WEBHOOK_TOKEN}".encode())]
    rig = Rig(engine, _settings(slack_url=slack.url), clock)
    alert = rig.alert()
    assert rig.dispatcher.dispatch_once().failed == 1
    d = rig.delivery(alert.alert_id, "SLACK")
    assert d.status == "FAILED"
    assert d.last_error.startswith("EXT-003: Slack webhook answered HTTP 400: invalid_payload")
    clock.advance(10_000)
    assert rig.dispatcher.dispatch_once().claimed == 0
    assert WEBHOOK_TOKEN not in _all_stored_text(engine) + repr(rig.settings) + repr(d)


def test_slack_posts_are_paced(engine, slack, clock):
    rig = Rig(engine, _settings(slack_url=slack.url), clock)
    for p in ("p1", "p2", "p3"):
        rig.alert(partition=p)
    assert rig.dispatcher.dispatch_once().sent == 3
    assert len(rig.sleeps) == 2 and all(0 < s <= 1.0 for s in rig.sleeps)


# -- crash between send and record: at least once ---------------------------------------------------


class SimulatedCrash(BaseException):
    """Stands in for the process dying (SIGKILL): nothing after it runs."""


class CrashAfterSend:
    """Wraps a real sender: the message is really sent, then the process 'dies'."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def send(self, message) -> None:
        self.inner.send(message)
        raise SimulatedCrash()


def test_killed_between_send_and_record_resends_exactly_once_after_the_lease(engine, smtp, slack, clock):
    """Documented behaviour: at least once. The message that was sent but not recorded is sent
    once more by the next dispatcher after the claim lease ends; the lost attempt is recorded as
    "outcome unknown". Email repeats the same Message-ID (clients can collapse it); Slack's
    webhook has no idempotency key, so the channel shows the message twice."""
    settings = _settings(smtp.port, slack.url)
    rig = Rig(engine, settings, clock)
    alert = rig.alert()
    crashing = rig.make_dispatcher(email_sender=CrashAfterSend(SmtpEmailSender(settings)),
                                   slack_sender=CrashAfterSend(SlackWebhookSender(settings)))
    with pytest.raises(SimulatedCrash):
        crashing.dispatch_once()  # EMAIL sent, then dies
    with pytest.raises(SimulatedCrash):
        crashing.dispatch_once()  # SLACK sent, then dies (a restarted process, same fault)
    assert len(smtp.handler.messages) == 1 and len(slack.posts) == 1

    restarted = rig.make_dispatcher()
    assert restarted.dispatch_once().claimed == 0  # still leased to the dead dispatcher
    clock.advance(settings.claim_lease_seconds)
    assert restarted.dispatch_once().sent == 2
    assert restarted.dispatch_once().claimed == 0

    assert len(smtp.handler.messages) == 2 and len(slack.posts) == 2  # exactly one duplicate each
    ids = {msg["Message-ID"] for _, msg in smtp.handler.messages}
    assert ids == {f"<opsrel-alert-{alert.alert_id}-email@opsrel>"}
    for channel in ("EMAIL", "SLACK"):
        d = rig.delivery(alert.alert_id, channel)
        assert (d.status, d.attempts) == ("SENT", 2)
        assert [a.succeeded for a in d.attempt_history] == [False, True]
        assert "outcome of attempt 1 unknown" in d.attempt_history[0].error


def test_killed_after_claim_before_send_sends_once_after_the_lease(engine, smtp, clock):
    class CrashBeforeSend:
        def send(self, message) -> None:
            raise SimulatedCrash()

    settings = _settings(smtp.port)
    rig = Rig(engine, settings, clock)
    rig.alert()
    with pytest.raises(SimulatedCrash):
        rig.make_dispatcher(email_sender=CrashBeforeSend()).dispatch_once()
    clock.advance(settings.claim_lease_seconds)
    assert rig.dispatcher.dispatch_once().sent == 1
    assert len(smtp.handler.messages) == 1


def test_two_dispatchers_never_send_one_delivery_twice(engine, slack, clock):
    rig = Rig(engine, _settings(slack_url=slack.url, slack_min_interval_seconds=0), clock)
    for i in range(12):
        rig.alert(partition=f"p{i}")
    dispatchers = [rig.make_dispatcher() for _ in range(3)]
    barrier = threading.Barrier(3)
    reports = []

    def run(d: AlertDispatcher) -> None:
        barrier.wait()
        reports.append(d.dispatch_once())

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in reports) == 12
    assert len(slack.posts) == 12
    assert len({p["text"] for p in slack.posts}) == 12


# -- templates from the alert_template table ---------------------------------------------------


def test_alert_template_rows_override_the_built_in_text(engine, smtp, slack, clock):
    with engine.begin() as conn:
        conn.execute(sa.insert(AlertTemplate), [
            {"event_kind": "DQ_FAIL", "channel": "EMAIL", "subject_template": "DQ $error_code on $partition_key",
             "body_template": "Check $asset_key: $run_link"},
            {"event_kind": "DQ_FAIL", "channel": "SLACK", "subject_template": None,
             "body_template": "DQ $error_code $partition_key"},
        ])
    rig = Rig(engine, _settings(smtp.port, slack.url), clock)
    rig.alert()
    rig.dispatcher.dispatch_once()
    (_, msg), = smtp.handler.messages
    assert msg["Subject"] == "DQ DQ-001 on 2013-01-05"
    assert msg.get_content().strip() == "Check clean_flights: -"
    assert slack.posts == [{"text": "DQ DQ-001 2013-01-05"}]


def test_email_sender_builds_a_plain_text_message():
    settings = _settings(2525)
    msg = SmtpEmailSender(settings).build(EmailMessageSpec("a\nb", "body", "<x@y>"))
    assert msg["Subject"] == "a b" and msg["To"] == "oncall@example.com, lead@example.com"
    assert msg.get_content_type() == "text/plain"


def _all_stored_text(engine) -> str:
    with engine.connect() as conn:
        rows = [*conn.execute(sa.select(AlertDelivery)), *conn.execute(sa.select(AlertDeliveryAttempt))]
    return " ".join(repr(tuple(r)) for r in rows)
