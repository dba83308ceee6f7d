"""Pure rules of alert deliveries and statuses: the stored tuples, the order of kinds, backoff."""

import pytest

from opsrel_core.domain import alert_delivery as rules
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain.alert_delivery import AlertChannel, DeliveryKind, DeliveryStatus
from opsrel_core.persistence import tables


def test_the_stored_tuples_are_the_enums_values_in_migration_order():
    assert tables.ALERT_STATUSES == ("OPEN", "ACKNOWLEDGED", "RESOLVED")
    assert tables.ALERT_CHANNELS == ("EMAIL", "SLACK", "PAGERDUTY")
    assert tables.DELIVERY_STATUSES == ("PENDING", "SENT", "RETRY", "FAILED", "SUPPRESSED")
    assert tables.DELIVERY_KINDS == ("ALERT", "ACKNOWLEDGE", "RECOVERY", "UPDATE")
    assert tables.ALERT_STATUSES == tuple(lifecycle.AlertStatus)
    assert tables.DELIVERY_STATUSES == tuple(DeliveryStatus)
    # Plain strings, as a check constraint and a Literal type need them.
    for value in (*tables.ALERT_STATUSES, *tables.DELIVERY_STATUSES, *tables.DELIVERY_KINDS,
                  *tables.ALERT_CHANNELS, *lifecycle.LIVE_STATUSES):
        assert type(value) is str


def test_every_channel_has_its_error_code():
    assert rules.CHANNEL_ERROR_CODES == {"EMAIL": "EXT-002", "SLACK": "EXT-003",
                                         "PAGERDUTY": "EXT-004"}
    assert set(rules.CHANNEL_ERROR_CODES) == set(AlertChannel)


@pytest.mark.parametrize(("kind", "due", "allowed"), [
    ("ALERT", {"ALERT", "ACKNOWLEDGE", "UPDATE", "RECOVERY"}, True),
    ("ACKNOWLEDGE", {"ALERT"}, False),
    ("ACKNOWLEDGE", {"ACKNOWLEDGE", "RECOVERY"}, True),
    ("UPDATE", {"ALERT"}, False),
    ("UPDATE", {"UPDATE"}, True),
    ("RECOVERY", {"ACKNOWLEDGE"}, False),
    ("RECOVERY", {"UPDATE"}, False),
    ("RECOVERY", {"RECOVERY"}, True),
    ("RECOVERY", set(), True),
])
def test_a_notice_waits_for_what_it_is_about(kind, due, allowed):
    assert rules.may_send(kind, frozenset(due)) is allowed


def test_every_kind_but_the_alert_waits_for_the_alert():
    assert set(rules.SENT_BEFORE) == set(DeliveryKind) - {DeliveryKind.ALERT}
    assert all(DeliveryKind.ALERT in before for before in rules.SENT_BEFORE.values())


def test_the_backoff_doubles_up_to_the_cap_and_honours_retry_after():
    delays = [rules.retry_delay(n, base_seconds=30, cap_seconds=200) for n in range(1, 6)]
    assert delays == [30, 60, 120, 200, 200]
    assert rules.retry_delay(1, base_seconds=30, cap_seconds=200, retry_after=0.2) == 1.0
    assert rules.retry_delay(1, base_seconds=30, cap_seconds=200, retry_after=7) == 7
    assert rules.retry_delay(1, base_seconds=30, cap_seconds=200, retry_after=9999) == 200


def test_a_failure_retries_until_the_last_attempt_then_fails_saying_so():
    assert rules.failure_outcome("SLACK", "HTTP 500", transient=True, attempt=1,
                                 max_attempts=3) == (DeliveryStatus.RETRY, "EXT-003: HTTP 500")
    assert rules.failure_outcome("SLACK", "HTTP 500", transient=True, attempt=3, max_attempts=3) \
        == (DeliveryStatus.FAILED, "EXT-003: HTTP 500 (gave up after 3 attempts)")
    assert rules.failure_outcome("EMAIL", "550 no such user", transient=False, attempt=1,
                                 max_attempts=3) == (DeliveryStatus.FAILED,
                                                     "EXT-002: 550 no such user")
    status, reason = rules.failure_outcome("PAGERDUTY", "x" * 5000, transient=False, attempt=1,
                                           max_attempts=3)
    assert status == "FAILED" and len(reason) == 2000 and reason.startswith("EXT-004: x")
