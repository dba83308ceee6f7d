"""The admin API on an hourly job registered by the application (``BatchJobCatalog.register``):
keys as Dagster spells them (``2013-11-03-01:00-0500``) go through the request schemas, a range
over a DST day runs that day's own keys, and an hour the set lacks is BAT-009 with nothing
recorded; on SQLite and PostgreSQL."""

import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog, Replay
from opsrel_core.services.batch_jobs import BatchJobCatalog, JobRegistration
from tests.support.hourly_keys import day_of, hourly_keys

JOB = "weather_hourly"
HOURS = hourly_keys()


def _register(engine) -> None:
    BatchJobCatalog(engine).register(JobRegistration(
        JOB, "Weather per hour", "hourly", ("weather_observations",), "hourly", HOURS))


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(conn.scalar(sa.select(sa.func.count()).select_from(t))  # type: ignore[return-value]
                     for t in (Replay.__table__, AuditLog.__table__))


def test_range_preview_and_start_over_the_fall_back_day(api, engine):
    _register(engine)
    body = {"type": "range", "job_id": JOB, "partition_start": "2013-11-03-00:00",
            "partition_end": "2013-11-03-23:00", "reason": "re-read the day"}
    preview = api.call("POST", "/admin/batch/replay/preview", token="operator", body=body)
    assert preview.status == 200, preview.body
    assert preview.body["partitions"] == day_of(HOURS, "2013-11-03")
    assert len(preview.body["partitions"]) == 25
    assert _counts(engine) == (0, 0)
    started = api.call("POST", f"/admin/batch/executions/{JOB}/start", token="operator", body={
        "partition_start": "2013-03-10-00:00", "partition_end": "2013-03-10-23:00",
        "reason": "re-read the day"})
    assert started.status == 202, started.body
    assert started.body["replay"]["partition_keys"] == day_of(HOURS, "2013-03-10")
    assert len(started.body["replay"]["partition_keys"]) == 23
    single = api.call("POST", "/admin/batch/replay/preview", token="operator", body={
        "type": "single", "job_id": JOB, "partitions": ["2013-11-03-01:00-0500"],
        "reason": "the second 01:00"})
    assert single.status == 200 and single.body["partitions"] == ["2013-11-03-01:00-0500"]


def test_an_hour_the_set_lacks_is_bat_009_and_records_nothing(api, engine):
    _register(engine)
    for path, body in (
        ("/admin/batch/replay", {"type": "single", "job_id": JOB,
                                 "partitions": ["2013-03-10-02:00"], "reason": "no such hour"}),
        (f"/admin/batch/executions/{JOB}/start", {"partition": "2013-03-10-02:00",
                                                  "reason": "no such hour"}),
    ):
        reply = api.call("POST", path, token="operator", body=body)
        assert reply.status == 422, reply.body
        assert reply.body["error_code"] == "BAT-009"
        assert "2013-03-10-02:00" in reply.body["detail"]
        assert "partition set" in reply.body["detail"]
    assert _counts(engine) == (0, 0)
