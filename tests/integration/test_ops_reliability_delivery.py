"""Alert delivery under a misbehaving Slack or SMTP peer, both backends: never a duplicate storm,
never a lost alert, never a stalled pipeline.

Real peers on loopback: the HTTP Slack stand-in of ``tests/support/receivers.py`` (scripted 429
with ``Retry-After``, 500, reset after reading the body) and raw TCP SMTP stubs (one that accepts
and never speaks, one that greets and drops the session). Time moves through injected clocks: the
dispatcher's UTC clock for retry schedules and a virtual monotonic clock for Slack pacing, which
only ``sleep`` advances, so the pacing schedule is read exactly, never measured.
"""

import datetime as dt
import socket
import threading
from collections.abc import Iterator

import pytest

from opsrel_core.domain import error_codes
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.services.alerts import AlertDispatcher
from tests.integration.test_alert_delivery import (  # noqa: F401 - fixtures
    T0,
    WEBHOOK_TOKEN,
    Clock,
    Rig,
    _all_stored_text,
    _fail_execution,
    _settings,
    clock,
    slack,
)


class VirtualPace:
    """A monotonic clock that only ``sleep`` advances; records the time of every Slack post."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _dispatcher(rig: Rig, pace: VirtualPace) -> AlertDispatcher:
    s = rig.settings
    return AlertDispatcher(
        rig.engine, s, clock=rig.clock, sleep=pace.sleep, monotonic=pace.monotonic,
        email_sender=SmtpEmailSender(s) if s.email_enabled else None,
        slack_sender=SlackWebhookSender(s) if s.slack_enabled else None,
    )


# -- Slack rate limits and ambiguous failures -------------------------------------------------


def test_slack_429_retried_once_5xx_and_reset_bounded_burst_paced_email_unblocked(
    engine, slack, clock
):
    """Slack 429 with Retry-After, an ambiguous 5xx / reset, and a burst of 50."""
    from tests.support.receivers import SlackServer, SmtpServer, free_port

    # Stub 1: 429 with Retry-After: 2 once, then 200. A burst of 50 alerts goes through it.
    slack.script = [(429, {"Retry-After": "2"}, b"rate_limited")]
    settings = _settings(slack_url=slack.url, max_attempts=3)
    rig = Rig(engine, settings, clock)
    pace = VirtualPace()
    dispatcher = _dispatcher(rig, pace)
    alerts = [rig.alert(partition=f"2013-01-{i:02d}" if i < 32 else f"p{i}") for i in range(1, 51)]
    first = dispatcher.dispatch_once()
    assert (first.claimed, first.sent, first.retried, first.failed) == (50, 49, 1, 0)
    limited = rig.delivery(alerts[0].alert_id, "SLACK")
    # The 429 is retried after the capped Retry-After (2 s), not the 30 s backoff.
    assert limited.status == "RETRY" and limited.attempts == 1
    assert limited.next_attempt_at == T0 + dt.timedelta(seconds=2)
    assert limited.last_error == "EXT-003: Slack webhook answered HTTP 429: rate_limited"
    # Pacing: one post per second exactly, read from the dispatcher's schedule.
    assert pace.sleeps == [1.0] * 49 and pace.now == 49.0
    clock.advance(1)
    assert dispatcher.dispatch_once().claimed == 0  # the Retry-After is honoured
    clock.advance(1)
    second = dispatcher.dispatch_once()
    assert (second.claimed, second.sent) == (1, 1)
    assert dispatcher.dispatch_once().claimed == 0
    # Every alert delivered exactly once: 51 posts = 50 messages + the one 429'd post.
    assert len(slack.posts) == 51
    texts = [p["text"] for p in slack.posts]
    assert len(set(texts)) == 50 and texts.count(texts[0]) == 2
    for alert in alerts:
        d = rig.delivery(alert.alert_id, "SLACK")
        assert d.status == "SENT"
    history = rig.delivery(alerts[0].alert_id, "SLACK")
    # Every attempt is recorded: (attempt number, succeeded, error).
    assert [(n, a.succeeded, a.error) for n, a in enumerate(history.attempt_history, 1)] == [
        (1, False, "EXT-003: Slack webhook answered HTTP 429: rate_limited"),
        (2, True, None),
    ]
    assert history.attempts == 2

    # Stub 2: accepts the body, then 500 / then resets the connection: ambiguous. The documented
    # policy is a bounded retry (max_attempts = 3 here), never SENT when every attempt failed,
    # FAILED with EXT-003; the email channel is delivered meanwhile.
    ambiguous = SlackServer(WEBHOOK_TOKEN)
    smtp = SmtpServer(free_port())
    smtp.start()
    try:
        ambiguous.script = [(500, {}, b"internal_error"), ("reset",), (500, {}, b"internal_error")]
        rig2 = Rig(engine, _settings(smtp.port, ambiguous.url, max_attempts=3), clock)
        dispatcher2 = _dispatcher(rig2, VirtualPace())
        alert = rig2.alert(partition="2013-02-01")
        outcomes = []
        for _ in range(10):  # far more rounds than attempts: the policy must stop by itself
            outcomes.append(dispatcher2.dispatch_once().outcomes)
            clock.advance(3600)
        channel_outcomes = [(ch, st) for round_ in outcomes for _, ch, st in round_]
        assert channel_outcomes == [
            ("EMAIL", "SENT"), ("SLACK", "RETRY"), ("SLACK", "RETRY"), ("SLACK", "FAILED"),
        ]
        assert len(ambiguous.posts) == 3  # every body reached the receiver: never more
        assert len(smtp.handler.messages) == 1
        d = rig2.delivery(alert.alert_id, "SLACK")
        assert (d.status, d.attempts, d.sent_at) == ("FAILED", 3, None)
        assert d.last_error.startswith("EXT-003: Slack webhook answered HTTP 500: internal_error")
        assert d.last_error.endswith("(gave up after 3 attempts)")
        errors = [a.error for a in d.attempt_history]
        assert [a.succeeded for a in d.attempt_history] == [False, False, False]
        assert errors[0] == "EXT-003: Slack webhook answered HTTP 500: internal_error"
        assert errors[1].startswith("EXT-003: Slack webhook: ") and (
            "reset" in errors[1].lower() or "closed" in errors[1].lower()
            or "disconnected" in errors[1].lower()
        ), errors[1]
        assert rig2.delivery(alert.alert_id, "EMAIL").status == "SENT"
        assert error_codes.EXT_WEBHOOK_FAILED == "EXT-003"
        assert WEBHOOK_TOKEN not in _all_stored_text(engine)
    finally:
        ambiguous.close()
        smtp.stop()


# -- an SMTP server that hangs or drops the session -------------------------------------------


class SmtpStub:
    """A raw TCP SMTP peer on loopback.

    ``mode="silent"`` accepts connections and never sends a byte; ``mode="drop"`` greets (220),
    reads the client's first command and closes the session mid-conversation.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.accepted = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self.mode == "silent":
                self._open.append(conn)  # held open, never answered
                continue
            try:
                conn.sendall(b"220 stub.local ESMTP\r\n")
                conn.settimeout(2)
                conn.recv(1024)  # EHLO
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._sock.close()


@pytest.fixture(params=["silent", "drop"])
def smtp_stub(request) -> Iterator[SmtpStub]:
    stub = SmtpStub(request.param)
    yield stub
    stub.close()


def test_hanging_or_dropping_smtp_fails_delivery_ext_bounded_slack_sent_execution_final(
    engine, slack, clock, smtp_stub
):
    """An SMTP server that never replies, or drops the session, blocks nothing."""
    settings = _settings(smtp_stub.port, slack.url, smtp_timeout_seconds=0.5, max_attempts=2)
    rig = Rig(engine, settings, clock)
    # The execution's terminal state is committed first; raising the alert only writes the outbox.
    failed = _fail_execution(engine, "run-rb23")
    assert failed.status == "FAILED" and failed.error_code == error_codes.INP_EMPTY_FILE
    alert = rig.alerts.raise_for_failed_execution(failed)
    assert smtp_stub.accepted == 0  # nothing was sent while recording the failure

    dispatcher = _dispatcher(rig, VirtualPace())
    first = dispatcher.dispatch_once()  # returns: the SMTP timeout bounds the send
    assert sorted((ch, st) for _, ch, st in first.outcomes) == [("EMAIL", "RETRY"), ("SLACK", "SENT")]
    clock.advance(settings.backoff_base_seconds)
    second = dispatcher.dispatch_once()
    assert [(ch, st) for _, ch, st in second.outcomes] == [("EMAIL", "FAILED")]
    clock.advance(100_000)
    assert dispatcher.dispatch_once().claimed == 0  # bounded: never retried again
    assert smtp_stub.accepted == 2  # one connection per attempt

    email = rig.delivery(alert.alert_id, "EMAIL")
    assert (email.status, email.attempts, email.sent_at) == ("FAILED", 2, None)
    fragment = (
        "no answer within 0.5 s" if smtp_stub.mode == "silent"
        else "SMTPServerDisconnected: Connection unexpectedly closed"
    )
    assert email.last_error == (
        f"EXT-002: SMTP 127.0.0.1:{smtp_stub.port}: {fragment} (gave up after 2 attempts)"
    )
    assert [(a.succeeded, a.error) for a in email.attempt_history] == [
        (False, f"EXT-002: SMTP 127.0.0.1:{smtp_stub.port}: {fragment}"),
        (False, f"EXT-002: SMTP 127.0.0.1:{smtp_stub.port}: {fragment} (gave up after 2 attempts)"),
    ]
    # Slack is still attempted and delivered, once.
    slack_delivery = rig.delivery(alert.alert_id, "SLACK")
    assert (slack_delivery.status, slack_delivery.attempts) == ("SENT", 1)
    assert len(slack.posts) == 1 and "INP-001" in slack.posts[0]["text"]
    # The execution's own terminal state is untouched by the delivery failure.
    from opsrel_core.services.batch_execution import BatchExecutionService

    after = BatchExecutionService(engine).find_execution("run-rb23")
    assert (after.status, after.error_code, after.ended_at) == (
        "FAILED", error_codes.INP_EMPTY_FILE, failed.ended_at
    )
