"""PartitionSet: membership, listing and ranges by the job's own key order (listed keys), and the
daily rules for a job that registered none."""

import pytest

from opsrel_core.domain.partitions import PartitionSet
from tests.support.hourly_keys import day_of, hourly_keys

HOURS = hourly_keys()
HOURLY = PartitionSet("hourly", HOURS[0], HOURS[-1], listed=HOURS)
STATIC = PartitionSet("static", "nyc", "boston", listed=("nyc", "ewr", "jfk", "lga", "boston"))


def test_the_hourly_keys_of_2013_in_new_york():
    assert len(HOURS) == 8760
    assert HOURS[0] == "2013-01-01-00:00" and HOURS[-1] == "2013-12-31-23:00"
    assert len(day_of(HOURS, "2013-11-03")) == 25
    assert len(day_of(HOURS, "2013-03-10")) == 23
    assert day_of(HOURS, "2013-11-03")[1:4] == [
        "2013-11-03-01:00", "2013-11-03-01:00-0500", "2013-11-03-02:00"]


def test_between_follows_the_listed_order_across_both_dst_days():
    fall = HOURLY.between("2013-11-03-00:00", "2013-11-03-23:00")
    assert fall == day_of(HOURS, "2013-11-03")
    assert len(fall) == 25 and fall[2] == "2013-11-03-01:00-0500"
    spring = HOURLY.between("2013-03-10-00:00", "2013-03-10-23:00")
    assert len(spring) == 23 and "2013-03-10-02:00" not in spring
    assert spring[1:3] == ["2013-03-10-01:00", "2013-03-10-03:00"]
    assert HOURLY.between("2013-11-03-01:00-0500", "2013-11-03-01:00-0500") == [
        "2013-11-03-01:00-0500"]


def test_between_refuses_a_bound_that_is_no_key_and_a_reversed_range():
    with pytest.raises(ValueError, match="'2013-03-10-02:00' is not a partition of hourly"):
        HOURLY.between("2013-03-10-02:00", "2013-03-10-05:00")
    with pytest.raises(ValueError, match="reversed: '2013-11-03-01:00' comes before "
                                         "'2013-11-03-01:00-0500'"):
        HOURLY.between("2013-11-03-01:00-0500", "2013-11-03-01:00")


def test_listed_keys_are_the_set_membership_and_listing():
    assert HOURLY.contains("2013-11-03-01:00-0500")
    assert not HOURLY.contains("2013-03-10-02:00")
    assert not HOURLY.contains("2013-11-03")  # a day is not an hour
    assert HOURLY.outside(["2013-01-01-00:00", "2013-03-10-02:00", "2013-03-10-02:00"]) == [
        "2013-03-10-02:00"]
    assert HOURLY.keys() == list(HOURS)
    assert "8760 keys" in HOURLY.describe()


def test_static_keys_range_by_their_order_not_by_string_order():
    assert STATIC.between("ewr", "lga") == ["ewr", "jfk", "lga"]
    assert STATIC.between("nyc", "boston") == ["nyc", "ewr", "jfk", "lga", "boston"]
    with pytest.raises(ValueError, match="reversed"):
        STATIC.between("lga", "ewr")
    assert STATIC.contains("boston") and not STATIC.contains("bos")


def test_bounds_narrow_the_listed_keys():
    march = PartitionSet("hourly", "2013-03-01-00:00", "2013-03-31-23:00", listed=HOURS)
    assert len(march.keys()) == 31 * 24 - 1
    assert not march.contains("2013-04-01-00:00")
    with pytest.raises(ValueError, match="not a partition"):
        march.between("2013-03-31-00:00", "2013-04-01-00:00")


def test_monthly_keys():
    months = tuple(f"2013-{m:02d}-01" for m in range(1, 13))
    monthly = PartitionSet("monthly", months[0], months[-1], listed=months)
    assert monthly.between("2013-03-01", "2013-05-01") == ["2013-03-01", "2013-04-01", "2013-05-01"]
    assert not monthly.contains("2013-03-02")


def test_without_listed_keys_the_daily_rules_hold():
    daily = PartitionSet("daily", "2013-01-01", "2013-12-31")
    assert daily.between("2013-02-27", "2013-03-02") == [
        "2013-02-27", "2013-02-28", "2013-03-01", "2013-03-02"]
    assert daily.keys()[:2] == ["2013-01-01", "2013-01-02"] and len(daily.keys()) == 365
    assert daily.contains("2013-06-30") and not daily.contains("2013-06-31")
    assert not daily.contains("2014-01-01")
    with pytest.raises(ValueError, match="not a partition"):
        daily.between("2013-12-30", "2014-01-02")
    with pytest.raises(ValueError, match="reversed"):
        daily.between("2013-03-02", "2013-03-01")
    with pytest.raises(ValueError, match="has no listed keys"):
        PartitionSet("hourly", "2013-01-01-00:00", None).between("2013-01-01-00:00",
                                                                  "2013-01-01-03:00")


def test_span_of_a_range_run_and_whether_keys_sort_as_text():
    assert STATIC.span("ewr", "lga") == ("ewr", "jfk", "lga")
    assert STATIC.span("jfk", None) == ("jfk",)
    assert STATIC.span("ewr", "nowhere") is None
    assert PartitionSet("daily", "2013-01-01", "2013-12-31").span("2013-01-01", "2013-01-02") is None
    assert not STATIC.sorts_as_text
    assert HOURLY.sorts_as_text  # Dagster's hourly keys, the repeated hour's offset included
    assert PartitionSet("daily").sorts_as_text
