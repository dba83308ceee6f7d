"""The alert dispatcher and the alert reads over the in-memory repository: claims, outcomes,
backoff, a lost outcome, the order of kinds, and errors redacted on read. No database server:
the unit of work runs on an empty in-memory SQLite the fake never queries."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.errors import NotFoundException
from opsrel_core.notifiers import DeliveryError, EmailMessageSpec
from opsrel_core.persistence.repositories.alerts import AlertRepository
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from tests.support.fakes.alerts import AlertStore, FakeAlertRepository

T0 = dt.datetime(2024, 3, 1, 2, 0, tzinfo=dt.timezone.utc)
PASSWORD = "pw-Zq81-very-secret"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


class Mailbox:
    """An email sender that keeps what it is given, or fails with the queued errors first."""

    def __init__(self) -> None:
        self.sent: list[EmailMessageSpec] = []
        self.errors: list[Exception] = []

    def send(self, message: EmailMessageSpec) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> AlertStore:
    s = AlertStore()
    s.error_codes["DQ-001"] = {"operator_message": "check the rule", "operator_action": "",
                               "severity": "ERROR", "title": "rule failed", "auto_alert": True}
    return s


SETTINGS = AlertSettings(smtp_host="127.0.0.1", smtp_port=2525, smtp_user="ops",
                         smtp_password=Secret(PASSWORD), email_to=("oncall@example.com",),
                         max_attempts=3, backoff_base_seconds=30, backoff_cap_seconds=100)


def _alert(store: AlertStore, **kw) -> int:
    return store.add_alert(**{
        "event_kind": "DQ_FAIL", "severity": "ERROR", "dedupe_key": "k", "error_code": "DQ-001",
        "job_id": "flights_daily", "partition_key": "2013-01-05", "title": "rule failed",
        "message": "3 rows", "first_seen_at": T0, "last_seen_at": T0, **kw})


def _dispatcher(engine, store, mailbox, clock) -> AlertDispatcher:
    return AlertDispatcher(engine, SETTINGS, email_sender=mailbox, clock=clock,
                           sleep=lambda s: None, repository=store.repository)


def test_the_fake_has_every_method_of_the_repository():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeAlertRepository) == public(AlertRepository)


def test_a_due_email_is_sent_once_and_recorded(engine, store):
    clock, mailbox = Clock(), Mailbox()
    alert_id = _alert(store)
    delivery_id = store.add_delivery(alert_id, "EMAIL", at=T0)
    report = _dispatcher(engine, store, mailbox, clock).dispatch_once()
    assert (report.claimed, report.sent, report.outcomes) == (1, 1, [(delivery_id, "EMAIL", "SENT")])
    assert [m.message_id for m in mailbox.sent] == [f"<opsrel-alert-{alert_id}-email@opsrel>"]
    assert "check the rule" in mailbox.sent[0].body  # the catalog's operator message
    d = store.deliveries[delivery_id]
    assert (d["status"], d["attempts"], d["sent_at"], d["last_error"]) == ("SENT", 1, T0, None)
    assert [(a["succeeded"], a["error"]) for a in store.attempts] == [(True, None)]
    assert _dispatcher(engine, store, mailbox, clock).dispatch_once().claimed == 0


def test_transient_failures_back_off_then_fail_after_the_last_attempt(engine, store):
    clock, mailbox = Clock(), Mailbox()
    mailbox.errors = [DeliveryError(True, f"421 busy (login ops/{PASSWORD})") for _ in range(3)]
    delivery_id = store.add_delivery(_alert(store), "EMAIL", at=T0)
    dispatcher = _dispatcher(engine, store, mailbox, clock)
    assert dispatcher.dispatch_once().outcomes == [(delivery_id, "EMAIL", "RETRY")]
    d = store.deliveries[delivery_id]
    assert d["next_attempt_at"] == T0 + dt.timedelta(seconds=30)
    assert d["last_error"] == "EXT-002: 421 busy (login ops/***)"  # redacted where recorded
    assert dispatcher.dispatch_once().claimed == 0  # not due before its backoff
    clock.now = d["next_attempt_at"]
    assert dispatcher.dispatch_once().retried == 1
    assert store.deliveries[delivery_id]["next_attempt_at"] == clock.now + dt.timedelta(seconds=60)
    clock.now = store.deliveries[delivery_id]["next_attempt_at"]
    assert dispatcher.dispatch_once().failed == 1
    assert store.deliveries[delivery_id]["last_error"] == (
        "EXT-002: 421 busy (login ops/***) (gave up after 3 attempts)")
    assert [a["succeeded"] for a in store.attempts] == [False, False, False]
    assert mailbox.sent == []


def test_a_claim_whose_outcome_was_lost_is_recorded_as_unknown_and_sent_again(engine, store):
    clock, mailbox = Clock(), Mailbox()
    # Claimed once (attempts 1) by a dispatcher that died before recording anything.
    delivery_id = store.add_delivery(_alert(store), "EMAIL", at=T0, attempts=1)
    report = _dispatcher(engine, store, mailbox, clock).dispatch_once()
    assert report.sent == 1 and len(mailbox.sent) == 1
    assert [(a["succeeded"], (a["error"] or "")[:28]) for a in store.attempts] == [
        (False, "outcome of attempt 1 unknown"), (True, "")]
    assert store.deliveries[delivery_id]["attempts"] == 2


def test_a_recovery_notice_waits_until_its_alert_is_done(engine, store):
    clock, mailbox = Clock(), Mailbox()
    alert_id = _alert(store, status="RESOLVED", resolved_at=T0, resolved_by_execution_id="run-2")
    # The notice is due first, but the alert it is about is still to be sent.
    recovery_id = store.add_delivery(alert_id, "EMAIL", at=T0 - dt.timedelta(minutes=5),
                                     kind="RECOVERY")
    alert_delivery = store.add_delivery(alert_id, "EMAIL", at=T0)
    report = _dispatcher(engine, store, mailbox, clock).dispatch_once()
    assert [o[0] for o in report.outcomes] == [alert_delivery, recovery_id]
    notice = mailbox.sent[1]
    assert notice.in_reply_to == mailbox.sent[0].message_id


def test_an_unexpected_sender_error_is_a_transient_failure(engine, store):
    clock, mailbox = Clock(), Mailbox()
    mailbox.errors = [RuntimeError("boom")]
    delivery_id = store.add_delivery(_alert(store), "EMAIL", at=T0)
    assert _dispatcher(engine, store, mailbox, clock).dispatch_once().retried == 1
    assert store.deliveries[delivery_id]["last_error"].startswith("EXT-002: unexpected ")


def test_a_channel_without_a_sender_keeps_its_deliveries_pending(engine, store):
    delivery_id = store.add_delivery(_alert(store), "SLACK", at=T0)
    assert _dispatcher(engine, store, Mailbox(), Clock()).dispatch_once().claimed == 0
    assert store.deliveries[delivery_id]["status"] == "PENDING"


def test_the_history_redacts_errors_on_read_and_an_unknown_alert_is_bat_011(engine, store):
    alerts = OpsAlertService(engine, SETTINGS, clock=Clock(), repository=store.repository)
    alert_id = _alert(store)
    delivery_id = store.add_delivery(alert_id, "EMAIL", at=T0, status="RETRY", attempts=1)
    store.deliveries[delivery_id]["last_error"] = f"EXT-002: refused {PASSWORD}"
    store.repository().add_attempt(delivery_id, T0, succeeded=False,
                                   error=f"EXT-002: refused {PASSWORD}")
    [view] = alerts.delivery_history(alert_id)
    assert (view.status, view.last_error) == ("RETRY", "EXT-002: refused ***")
    assert [a.error for a in view.attempt_history] == ["EXT-002: refused ***"]
    with pytest.raises(NotFoundException) as caught:
        alerts.get_alert(alert_id + 100)
    assert caught.value.code == "BAT-011"


def test_alerts_are_listed_newest_first_by_keyset_and_limits_are_checked(engine, store):
    alerts = OpsAlertService(engine, SETTINGS, clock=Clock(), repository=store.repository)
    ids = [_alert(store, dedupe_key=f"k{n}", status=s)
           for n, s in enumerate(("OPEN", "RESOLVED", "OPEN"))]
    assert [a.alert_id for a in alerts.list_alerts()] == ids[::-1]
    assert [a.alert_id for a in alerts.list_alerts(status="OPEN")] == [ids[2], ids[0]]
    assert [a.alert_id for a in alerts.list_alerts(limit=1, before_alert_id=ids[2])] == [ids[1]]
    with pytest.raises(ValueError, match="unknown alert status"):
        alerts.list_alerts(status="open")
    with pytest.raises(ValueError, match="limit must be 1..1000"):
        alerts.list_alerts(limit=0)
