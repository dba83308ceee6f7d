"""Partition reports (DqReportService) on both backends: an hourly job's keys as Dagster spells
them, the two 01:00 partitions of the fall-back day, the day's roll-up over its 25 hours, the
daily report as the daily job's partition report, the CLI, and migration 0024's backfill."""

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.domain.status import TriggerType
from opsrel_core.entrypoints.cli import cli
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import DqReport, DqReportItem
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import DqReportService, render_markdown
from opsrel_core.services.quality import ValidationService
from tests.support.hourly_reports import (
    FALL_BACK_DAY,
    FALL_BACK_KEYS,
    FIRST_ONE,
    HOURLY_JOB,
    NEIGHBOURS,
    OBSERVATIONS,
    REPEATED_ONE,
    HourlyWorld,
)

DAILY_JOB = "flights_daily"
ZERO = {"PASS": 0, "WARN": 0, "FAIL": 0, "ERROR": 0}


@pytest.fixture
def world(engine) -> HourlyWorld:
    return HourlyWorld(engine)


@pytest.fixture
def reports(engine) -> DqReportService:
    return DqReportService(engine)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def _statuses(report) -> dict[tuple[str, str], tuple[str, int | None]]:
    return {(i.rule_id, i.partition_key): (i.status, i.failing_rows) for i in report.items}


def _build_day(world: HourlyWorld, reports: DqReportService) -> dict[str, int]:
    world.fall_back_day()
    return {key: reports.build_partition_report(HOURLY_JOB, key).report_id
            for key in [*FALL_BACK_KEYS, *NEIGHBOURS]}


def test_the_two_one_oclock_hours_of_the_fall_back_day_are_two_reports(world, reports, engine):
    world.fall_back_day()
    first = reports.build_partition_report(HOURLY_JOB, FIRST_ONE)
    repeated = reports.build_partition_report(HOURLY_JOB, REPEATED_ONE)
    assert first.report_id != repeated.report_id
    assert (first.report_type, first.job_id, first.partition_key, first.report_date,
            first.replay_id) == ("PARTITION", HOURLY_JOB, FIRST_ONE, None, None)
    assert (repeated.report_type, repeated.partition_key) == ("PARTITION", REPEATED_ONE)
    assert _statuses(first) == {("temperature_plausible", FIRST_ONE): ("PASS", 0),
                                ("humidity_plausible", FIRST_ONE): ("WARN", 1)}
    assert _statuses(repeated) == {("temperature_plausible", REPEATED_ONE): ("FAIL", 2),
                                   ("humidity_plausible", REPEATED_ONE): ("PASS", 0)}
    assert (first.pass_count, first.warn_count, first.fail_count, first.outcome) == (1, 1, 0, "WARN")
    assert (repeated.pass_count, repeated.warn_count, repeated.fail_count, repeated.outcome) == (
        1, 0, 1, "FAIL")
    assert first.summary == {OBSERVATIONS: {**ZERO, "PASS": 1, "WARN": 1}}
    assert {i.execution_id for i in first.items} == {"w-01"}
    assert {i.execution_id for i in repeated.items} == {"w-02"}
    assert (first.basis, first.latest_attempt) == ("LATEST_ATTEMPT", None)  # no version active
    # Read back as built; a rebuild is in place.
    assert reports.get_partition_report(HOURLY_JOB, REPEATED_ONE) == repeated
    again = reports.build_partition_report(HOURLY_JOB, REPEATED_ONE)
    assert (again.report_id, _statuses(again)) == (repeated.report_id, _statuses(repeated))
    assert _count(engine, DqReport) == 2 and _count(engine, DqReportItem) == 4
    assert render_markdown(repeated).splitlines()[0] == (
        f"**Data quality, partition {HOURLY_JOB} {REPEATED_ONE}**: 1 PASS, 0 WARN, 1 FAIL, 0 ERROR")


def test_day_rollup_sums_the_25_hours_of_the_fall_back_day_and_stores_nothing(
        world, reports, engine):
    built = _build_day(world, reports)
    assert len(set(built.values())) == 27  # 25 hours and the two neighbours, one report each
    stored = _count(engine, DqReport)
    rollup = reports.day_rollup(HOURLY_JOB, FALL_BACK_DAY)
    assert (rollup.job_id, rollup.day) == (HOURLY_JOB, dt.date(2013, 11, 3))
    assert [p.partition_key for p in rollup.partitions] == FALL_BACK_KEYS
    assert len(rollup.partitions) == 25
    assert [p.report_id for p in rollup.partitions] == [built[k] for k in FALL_BACK_KEYS]
    assert (rollup.pass_count, rollup.warn_count, rollup.fail_count, rollup.error_count) == (
        48, 1, 1, 0)
    assert rollup.outcome == "FAIL"
    assert rollup.summary == {OBSERVATIONS: {"PASS": 48, "WARN": 1, "FAIL": 1, "ERROR": 0}}
    outcomes = {p.partition_key: p.outcome for p in rollup.partitions}
    assert (outcomes[FIRST_ONE], outcomes[REPEATED_ONE], outcomes["2013-11-03-02:00"]) == (
        "WARN", "FAIL", "PASS")
    assert _count(engine, DqReport) == stored  # a view: no row written
    # The day before holds only its last hour; a day without reports rolls up to nothing.
    before = reports.day_rollup(HOURLY_JOB, dt.date(2013, 11, 2))
    assert ([p.partition_key for p in before.partitions], before.pass_count) == (
        ["2013-11-02-23:00"], 2)
    empty = reports.day_rollup(HOURLY_JOB, "2013-11-05")
    assert (empty.partitions, empty.outcome, empty.pass_count, empty.summary) == ((), "NONE", 0, {})


def test_the_rollup_reads_each_hour_as_it_is_now(world, reports):
    _build_day(world, reports)
    # A later run of the repeated hour passes: its report and the day's roll-up follow.
    world.hour("w-again", REPEATED_ONE, {"temperature_plausible": ("PASS", 0),
                                         "humidity_plausible": ("PASS", 0)})
    rollup = reports.day_rollup(HOURLY_JOB, FALL_BACK_DAY)
    assert (rollup.pass_count, rollup.warn_count, rollup.fail_count, rollup.outcome) == (
        49, 1, 0, "WARN")
    hour = reports.get_partition_report(HOURLY_JOB, REPEATED_ONE)
    assert ({i.execution_id for i in hour.items}, hour.outcome) == ({"w-again"}, "PASS")


def test_list_reports_finds_partition_reports_by_job_and_day(world, reports):
    built = _build_day(world, reports)
    listed = reports.list_reports(report_type="PARTITION", since=FALL_BACK_DAY,
                                  until=FALL_BACK_DAY, limit=100, job_id=HOURLY_JOB)
    assert sorted(r.report_id for r in listed) == sorted(built[k] for k in FALL_BACK_KEYS)
    assert [r.partition_key for r in reports.list_reports(
        until="2013-11-02", job_id=HOURLY_JOB)] == ["2013-11-02-23:00"]
    assert reports.list_reports(job_id=DAILY_JOB) == []


def test_the_daily_report_is_the_daily_jobs_partition_report(world, reports, engine):
    day = FALL_BACK_DAY
    executions, validation = BatchExecutionService(engine), ValidationService(engine)
    rule = validation.register_rule("flight_key_unique", "clean_flights", "FAIL", "unique", {})
    executions.register_execution(ExecutionSpec("f-1", DAILY_JOB, partition_key=day,
                                                trigger_type=TriggerType.MANUAL, operator_id="op"))
    validation.record_result(execution_id="f-1", rule_version_id=rule.rule_version_id,
                             asset_key="clean_flights", partition_key=day, status="PASS",
                             total_rows=10, failing_rows=0)
    # The hourly job records a result under the same text: it belongs to its own job only.
    world.hour("w-odd", day, {"temperature_plausible": ("FAIL", 1)})
    daily = reports.build_daily_report(day)
    assert (daily.report_type, daily.report_date, daily.job_id, daily.partition_key) == (
        "DAILY", dt.date(2013, 11, 3), DAILY_JOB, day)
    assert [(i.asset_key, i.status) for i in daily.items] == [("clean_flights", "PASS")]
    assert reports.build_partition_report(DAILY_JOB, day).report_id == daily.report_id
    assert reports.get_partition_report(DAILY_JOB, day) == reports.get_daily_report(day)
    odd = reports.build_partition_report(HOURLY_JOB, day)
    assert (odd.report_type, odd.report_id != daily.report_id) == ("PARTITION", True)
    assert [(i.asset_key, i.status) for i in odd.items] == [(OBSERVATIONS, "FAIL")]
    # A daily job's roll-up of a day is its one partition report.
    assert [(p.partition_key, p.report_type) for p in reports.day_rollup(DAILY_JOB, day).partitions] \
        == [(day, "DAILY")]
    assert render_markdown(daily).splitlines()[0].startswith(f"**Data quality, daily {day}**")


def test_bad_subjects_are_refused_and_nothing_is_written(world, reports, engine):
    assert reports.get_partition_report(HOURLY_JOB, FIRST_ONE) is None
    with pytest.raises(NotFoundException) as caught:
        reports.build_partition_report("no_such_job", FIRST_ONE)
    assert caught.value.code == "BAT-011"
    with pytest.raises(NotFoundException):
        reports.day_rollup("no_such_job", FALL_BACK_DAY)
    for key in ("", "   ", "x" * 101):
        with pytest.raises(ValueError):
            reports.build_partition_report(HOURLY_JOB, key)
    with pytest.raises(ValueError):
        reports.day_rollup(HOURLY_JOB, "2013-11-03-01:00")
    with pytest.raises(ValueError):  # the daily report still takes days only
        reports.build_daily_report(FIRST_ONE)
    assert _count(engine, DqReport) == 0


def test_cli_shows_a_partition_report_and_a_day_rollup(world, reports, database_url, monkeypatch):
    _build_day(world, reports)
    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    runner = CliRunner()
    shown = runner.invoke(cli, ["reports", "show", "--job", HOURLY_JOB, "--partition", REPEATED_ONE])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == (
        f"**Data quality, partition {HOURLY_JOB} {REPEATED_ONE}**: 1 PASS, 0 WARN, 1 FAIL, 0 ERROR")
    day = runner.invoke(cli, ["reports", "day", FALL_BACK_DAY, "--job", HOURLY_JOB])
    assert day.exit_code == 0, day.output
    assert day.output.splitlines()[0] == (
        f"**Data quality, {HOURLY_JOB} {FALL_BACK_DAY}**: FAIL over 25 partitions: 48 PASS, "
        "1 WARN, 1 FAIL, 0 ERROR")
    assert f"| {REPEATED_ONE} | FAIL | 1 | 0 | 1 | 0 |" in day.output
    unknown = runner.invoke(cli, ["reports", "show", "--job", "nope", "--partition", FIRST_ONE])
    assert unknown.exit_code != 0 and "BAT-011" in unknown.output
    bad_day = runner.invoke(cli, ["reports", "day", "tomorrow", "--job", HOURLY_JOB])
    assert bad_day.exit_code == 2 and "Invalid value for DAY" in bad_day.output
    both = runner.invoke(cli, ["reports", "show", "--job", HOURLY_JOB, "--replay", "1"])
    assert both.exit_code == 2


def _insert_daily_report_at_0022(url: str) -> None:
    """A daily report with one item, as a deployment at revision 0022 has it."""
    engine = make_engine(url)
    try:
        executions, validation = BatchExecutionService(engine), ValidationService(engine)
        rule = validation.register_rule("flight_key_unique", "clean_flights", "FAIL", "u", {})
        executions.register_execution(ExecutionSpec(
            "f-1", DAILY_JOB, partition_key="2013-02-01", trigger_type=TriggerType.MANUAL,
            operator_id="op"))
        result = validation.record_result(
            execution_id="f-1", rule_version_id=rule.rule_version_id, asset_key="clean_flights",
            partition_key="2013-02-01", status="PASS", total_rows=1, failing_rows=0)
        schema = "ops." if url.startswith("postgresql") else ""
        with engine.begin() as conn:
            conn.execute(sa.text(
                f"INSERT INTO {schema}dq_report (report_type, report_date, pass_count, warn_count, "
                "fail_count, created_at) VALUES ('DAILY', :day, 1, 0, 0, :now)"),
                {"day": dt.date(2013, 2, 1), "now": dt.datetime.now(dt.timezone.utc)})
            report_id = conn.scalar(sa.text(f"SELECT MAX(report_id) FROM {schema}dq_report"))
            conn.execute(sa.text(
                f"INSERT INTO {schema}dq_report_item (report_id, result_id, rule_id, asset_key, "
                "partition_key, status, failing_rows) VALUES (:r, :res, 'flight_key_unique', "
                "'clean_flights', '2013-02-01', 'PASS', 0)"),
                {"r": report_id, "res": result.result_id})
    finally:
        engine.dispose()


def test_migration_0024_keys_earlier_daily_reports_and_downgrades(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url, "0022")
    _insert_daily_report_at_0022(url)
    migrate.upgrade(url, "0024")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(DqReport.report_type, DqReport.job_id,
                                          DqReport.partition_key, DqReport.report_date)).all()
        assert rows == [("DAILY", DAILY_JOB, "2013-02-01", dt.date(2013, 2, 1))]
        reports = DqReportService(engine)
        daily = reports.get_daily_report("2013-02-01")
        assert (daily.job_id, daily.partition_key, daily.pass_count) == (DAILY_JOB, "2013-02-01", 1)
        HourlyWorld(engine).hour("w-1", FIRST_ONE, {"temperature_plausible": ("PASS", 0)})
        reports.build_partition_report(HOURLY_JOB, FIRST_ONE)
        assert _count(engine, DqReport) == 2
    finally:
        engine.dispose()
    migrate.downgrade(url, "0022")  # the partition report goes, the daily report stays
    raw = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        schema = "ops." if url.startswith("postgresql") else ""
        with raw.connect() as conn:
            assert conn.execute(sa.text(
                f"SELECT report_type, report_date FROM {schema}dq_report")).all() == [
                ("DAILY", dt.date(2013, 2, 1) if schema else "2013-02-01")]
            assert conn.scalar(sa.text(f"SELECT COUNT(*) FROM {schema}dq_report_item")) == 1
    finally:
        raw.dispose()
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()



def test_a_range_of_partition_reports_is_one_transaction_and_equals_one_by_one(
        world, reports, engine):
    # What build_partition_report makes for each key, build_partition_reports makes for all of
    # them in one transaction (a range run's projection builds its reports so).
    world.fall_back_day()
    keys = [FIRST_ONE, REPEATED_ONE, FIRST_ONE]
    begun = []

    def begin(_conn) -> None:
        begun.append(1)

    sa.event.listen(engine, "begin", begin)
    try:
        built = reports.build_partition_reports(HOURLY_JOB, keys)
    finally:
        sa.event.remove(engine, "begin", begin)
    assert len(begun) == 1
    assert [r.partition_key for r in built] == [FIRST_ONE, REPEATED_ONE]
    assert _statuses(built[1]) == {("temperature_plausible", REPEATED_ONE): ("FAIL", 2),
                                   ("humidity_plausible", REPEATED_ONE): ("PASS", 0)}
    for report in built:  # rebuilt one by one: the same report, the same items, in place
        one = reports.build_partition_report(HOURLY_JOB, report.partition_key)
        assert (one.report_id, one.report_type, _statuses(one), one.outcome) == (
            report.report_id, report.report_type, _statuses(report), report.outcome)
    assert _count(engine, DqReport) == 2 and _count(engine, DqReportItem) == 4
    assert reports.build_partition_reports(HOURLY_JOB, []) == []
    with pytest.raises(NotFoundException):
        reports.build_partition_reports("no_such_job", [FIRST_ONE])
    with pytest.raises(ValueError):
        reports.build_partition_reports(HOURLY_JOB, [FIRST_ONE, " "])
    assert _count(engine, DqReport) == 2
