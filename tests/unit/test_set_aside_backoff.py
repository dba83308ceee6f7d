"""The backoff and alert rule for runs set aside by the projection (pure)."""

import datetime as dt

import pytest

from opsrel_core.domain.set_aside import (
    SetAsidePolicy,
    alert_due,
    clip_message,
    next_attempt_at,
    retry_delay_seconds,
)

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)


def test_setaside_backoff_doubles_from_the_base_and_stops_at_the_cap():
    policy = SetAsidePolicy(base_seconds=30, cap_seconds=3600)
    assert [retry_delay_seconds(n, policy) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    # defaults: 30 s doubling, capped at an hour
    assert retry_delay_seconds(1) == 30 and retry_delay_seconds(8) == 3600
    # a run failing for ever does not overflow
    assert retry_delay_seconds(10_000, policy) == 3600


def test_setaside_backoff_next_attempt_is_failure_time_plus_delay():
    policy = SetAsidePolicy(base_seconds=10, cap_seconds=100)
    assert next_attempt_at(1, T0, policy) == T0 + dt.timedelta(seconds=10)
    assert next_attempt_at(3, T0, policy) == T0 + dt.timedelta(seconds=40)
    assert next_attempt_at(5, T0, policy) == T0 + dt.timedelta(seconds=100)


def test_setaside_backoff_alerts_once_after_the_bounded_attempts():
    policy = SetAsidePolicy(alert_after_attempts=3)
    assert [alert_due(n, False, policy) for n in range(1, 6)] == [False, False, True, True, True]
    assert not any(alert_due(n, True, policy) for n in range(1, 6))  # raised already: never again
    assert SetAsidePolicy().alert_after_attempts == 5


@pytest.mark.parametrize("kwargs", [
    {"base_seconds": 0}, {"base_seconds": -1}, {"base_seconds": 60, "cap_seconds": 30},
    {"alert_after_attempts": 0},
])
def test_setaside_backoff_refuses_a_bad_policy(kwargs):
    with pytest.raises(ValueError):
        SetAsidePolicy(**kwargs)


def test_setaside_backoff_refuses_attempts_below_one():
    with pytest.raises(ValueError, match="attempts must be >= 1"):
        retry_delay_seconds(0)


def test_setaside_message_is_stripped_cut_and_never_empty():
    assert clip_message("  boom \n") == "boom"
    assert clip_message("") == "no message"
    cut = clip_message("x" * 5000)
    assert len(cut) == 2000 and cut.endswith("\u2026")
    assert clip_message("abcdef", limit=4) == "abc\u2026"
