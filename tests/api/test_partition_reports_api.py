"""The partition-report endpoints over a live HTTP server, both backends: an hourly job's
reports by key (the repeated fall-back hour URL-encoded) and the day's roll-up."""

import urllib.parse

from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.quality import DqReportService
from tests.support.hourly_reports import (
    FALL_BACK_DAY,
    FALL_BACK_KEYS,
    FIRST_ONE,
    HOURLY_JOB,
    OBSERVATIONS,
    REPEATED_ONE,
    HourlyWorld,
)


def _built_day(database_url) -> None:
    engine = make_engine(database_url)
    try:
        HourlyWorld(engine).fall_back_day()
        reports = DqReportService(engine)
        for key in FALL_BACK_KEYS:
            reports.build_partition_report(HOURLY_JOB, key)
    finally:
        engine.dispose()


def _path(key: str) -> str:
    return f"/admin/reports/partitions/{HOURLY_JOB}/{urllib.parse.quote(key, safe='')}"


def test_partition_reports_and_the_day_rollup_over_http(api, database_url):
    _built_day(database_url)
    repeated = api.call("GET", _path(REPEATED_ONE))
    assert repeated.status == 200, repeated.body
    body = repeated.body
    assert (body["report_type"], body["job_id"], body["partition_key"], body["report_date"]) == (
        "PARTITION", HOURLY_JOB, REPEATED_ONE, None)
    assert (body["pass_count"], body["warn_count"], body["fail_count"], body["outcome"]) == (
        1, 0, 1, "FAIL")
    assert sorted((i["rule_id"], i["status"], i["failing_rows"]) for i in body["items"]) == [
        ("humidity_plausible", "PASS", 0), ("temperature_plausible", "FAIL", 2)]
    first = api.call("GET", _path(FIRST_ONE)).body
    assert (first["partition_key"], first["outcome"], first["warn_count"]) == (FIRST_ONE, "WARN", 1)
    assert first["report_id"] != body["report_id"]

    day = api.call("GET", f"/admin/reports/days/{HOURLY_JOB}/{FALL_BACK_DAY}")
    assert day.status == 200, day.body
    assert (day.body["job_id"], day.body["day"], day.body["outcome"]) == (
        HOURLY_JOB, FALL_BACK_DAY, "FAIL")
    assert (day.body["pass_count"], day.body["warn_count"], day.body["fail_count"],
            day.body["error_count"]) == (48, 1, 1, 0)
    assert [p["partition_key"] for p in day.body["partitions"]] == FALL_BACK_KEYS
    assert day.body["summary"] == {OBSERVATIONS: {"PASS": 48, "WARN": 1, "FAIL": 1, "ERROR": 0}}

    empty = api.call("GET", f"/admin/reports/days/{HOURLY_JOB}/2013-11-05").body
    assert (empty["partitions"], empty["outcome"]) == ([], "NONE")
    never = api.call("GET", _path("2013-11-05-01:00"))
    assert (never.status, never.body["status"]) == (404, 404)
    unknown = api.call("GET", f"/admin/reports/partitions/no_such_job/{FIRST_ONE}")
    assert (unknown.status, unknown.body["error_code"]) == (404, "BAT-011")
    unknown_day = api.call("GET", f"/admin/reports/days/no_such_job/{FALL_BACK_DAY}")
    assert (unknown_day.status, unknown_day.body["error_code"]) == (404, "BAT-011")
    assert api.call("GET", f"/admin/reports/days/{HOURLY_JOB}/not-a-day").status == 422
    assert api.call("GET", _path(REPEATED_ONE), token=None).status == 401
