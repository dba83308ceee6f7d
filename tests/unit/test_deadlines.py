"""The partition-deadline rule: wall-clock deadlines in the job's timezone, DST, bounds and
look-back."""

import datetime as dt

import pytest

from opsrel_core.domain.deadlines import PartitionDeadline, deadline_of, overdue_partitions
from opsrel_core.domain.partitions import PartitionSet

UTC = dt.timezone.utc
NY_6H = PartitionDeadline(dt.timedelta(hours=6), "America/New_York")
DAILY = PartitionSet("daily")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_deadline_is_six_in_the_morning_new_york_time_in_winter_and_summer():
    assert deadline_of("2013-01-15", NY_6H) == utc(2013, 1, 16, 11)  # EST, UTC-5
    assert deadline_of("2013-07-15", NY_6H) == utc(2013, 7, 16, 10)  # EDT, UTC-4


def test_deadline_on_the_days_daylight_saving_time_starts_and_ends():
    # 2013-03-10 02:00 EST -> 03:00 EDT; 2013-11-03 02:00 EDT -> 01:00 EST.
    assert deadline_of("2013-03-09", NY_6H) == utc(2013, 3, 10, 10)  # 06:00 EDT on the short day
    assert deadline_of("2013-03-10", NY_6H) == utc(2013, 3, 11, 10)
    assert deadline_of("2013-11-02", NY_6H) == utc(2013, 11, 3, 11)  # 06:00 EST on the long day
    # A wall-clock time the clock skips falls an hour later; a repeated one is the first.
    skipped = PartitionDeadline(dt.timedelta(hours=2, minutes=30), "America/New_York")
    assert deadline_of("2013-03-09", skipped) == utc(2013, 3, 10, 7, 30)  # 03:30 EDT
    repeated = PartitionDeadline(dt.timedelta(hours=1, minutes=30), "America/New_York")
    assert deadline_of("2013-11-02", repeated) == utc(2013, 11, 3, 5, 30)  # 01:30 EDT


def test_overdue_starts_exactly_at_the_deadline():
    assert overdue_partitions(utc(2013, 1, 16, 10, 59), NY_6H, DAILY)[-1] == "2013-01-14"
    assert overdue_partitions(utc(2013, 1, 16, 11), NY_6H, DAILY)[-1] == "2013-01-15"


def test_overdue_keeps_to_the_look_back_and_is_ordered():
    now = utc(2013, 1, 20, 12)
    assert overdue_partitions(now, NY_6H, DAILY) == [
        "2013-01-13", "2013-01-14", "2013-01-15", "2013-01-16", "2013-01-17", "2013-01-18",
        "2013-01-19",
    ]
    assert overdue_partitions(now, NY_6H, DAILY, lookback_days=2) == ["2013-01-18", "2013-01-19"]


def test_overdue_keeps_to_the_partition_bounds():
    bounded = PartitionSet("daily", "2013-01-17", "2013-01-18")
    assert overdue_partitions(utc(2013, 1, 20, 12), NY_6H, bounded) == [
        "2013-01-17", "2013-01-18"]
    # A fresh install years after the set ended alerts for nothing.
    year = PartitionSet("daily", "2013-01-01", "2013-12-31")
    assert overdue_partitions(utc(2026, 12, 2, 12), NY_6H, year) == []
    # The first partition is not late before its own deadline.
    assert overdue_partitions(utc(2013, 1, 2, 10), NY_6H, year) == []
    assert overdue_partitions(utc(2013, 1, 2, 11), NY_6H, year) == ["2013-01-01"]


def test_deadline_longer_than_a_day_and_other_timezones():
    two_days = PartitionDeadline(dt.timedelta(days=1, hours=6), "Europe/Paris")
    assert deadline_of("2013-01-15", two_days) == utc(2013, 1, 17, 5)
    assert two_days.describe() == "06:00 Europe/Paris 2 days after the partition"
    assert NY_6H.describe() == "06:00 America/New_York the day after the partition"
    assert overdue_partitions(utc(2013, 1, 17, 5), two_days, DAILY, lookback_days=1) == [
        "2013-01-15"]


def test_other_partition_kinds_are_not_checked():
    assert overdue_partitions(utc(2013, 1, 20), NY_6H, PartitionSet("hourly")) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"after_partition_end": dt.timedelta(seconds=-1)}, "0..2678400 seconds"),
    ({"after_partition_end": dt.timedelta(days=40)}, "0..2678400 seconds"),
    ({"after_partition_end": dt.timedelta(hours=6), "timezone": "Mars/Olympus"}, "unknown timezone"),
])
def test_invalid_deadlines_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PartitionDeadline(**kwargs)


def test_naive_now_and_empty_look_back_are_refused():
    with pytest.raises(ValueError, match="aware"):
        overdue_partitions(dt.datetime(2013, 1, 20), NY_6H, DAILY)
    with pytest.raises(ValueError, match="at least 1"):
        overdue_partitions(utc(2013, 1, 20), NY_6H, DAILY, lookback_days=0)
    assert PartitionDeadline.of(None, None) is None
    assert PartitionDeadline.of(3600, None) == PartitionDeadline(dt.timedelta(hours=1), "UTC")
