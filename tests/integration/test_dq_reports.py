"""DqReportService on both backends: exact counts, status from the active version (never from a
stale failure), idempotent rebuilds, replay reports and their comparison with the runs they
replaced, markdown for the Dagster UI."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from opsrel_core.domain.status import TriggerType
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import DqReport, DqReportItem
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import DqReportService, render_markdown
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.quality import ValidationService

JOB = "flights_daily"
FLIGHTS = "clean_flights"
ONTIME = "ontime_performance"
DAY1, DAY2, DAY3 = "2013-02-01", "2013-02-02", "2013-02-03"
ZERO = {"PASS": 0, "WARN": 0, "FAIL": 0, "ERROR": 0}


class World:
    """Executions, rules and results through the real services."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.executions = BatchExecutionService(engine)
        self.validation = ValidationService(engine)
        self.replays = ReplayService(engine)
        self.rules = {
            rule_id: self.validation.register_rule(rule_id, asset, severity, rule_id, {"r": rule_id})
            for rule_id, asset, severity in [
                ("flight_key_unique", FLIGHTS, "FAIL"),
                ("dest_known", FLIGHTS, "WARN"),
                ("tailnum_known", FLIGHTS, "WARN"),
                ("row_count_min", ONTIME, "FAIL"),
            ]
        }

    def run(self, execution_id: str, day: str, *, replay_id: int | None = None,
            parent: str | None = None) -> str:
        self.executions.register_execution(ExecutionSpec(
            execution_id, JOB, partition_key=day, replay_id=replay_id, parent_execution_id=parent,
            trigger_type=TriggerType.REPLAY if replay_id else TriggerType.MANUAL, operator_id="op",
        ))
        return execution_id

    def result(self, execution_id: str, day: str, rule_id: str, status: str,
               failing: int | None = None, **extra):
        rule = self.rules[rule_id]
        return self.validation.record_result(
            execution_id=execution_id, rule_version_id=rule.rule_version_id,
            asset_key=rule.asset_key, partition_key=day, status=status, total_rows=1000,
            failing_rows=failing, **extra,
        )

    def replay(self, day: str) -> int:
        # One writer per partition: a replay comes after the day's runs ended. End them as the
        # projection would: FAILED when a FAIL rule failed in the run, else SUCCESS.
        from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries

        found, _next = ExecutionQueries(self.engine).list_executions(
            ExecutionFilter(job_id=JOB, partition_from=day, partition_to=day), limit=100)
        for e in found:
            if e.status.value not in ("READY", "RUNNING"):
                continue
            if e.status.value == "READY":
                self.executions.start_execution(e.execution_id)
            if any(r.status == "FAIL" for r in self.validation.results_for_execution(e.execution_id)):
                self.executions.fail_execution(e.execution_id, "DQ-001")
            else:
                self.executions.complete_execution(e.execution_id)
        return self.replays.replay_single(
            job_id=JOB, partition_key=day, operator_id="op", reason="late file"
        ).replay_id


@pytest.fixture
def world(engine) -> World:
    return World(engine)


@pytest.fixture
def reports(engine) -> DqReportService:
    return DqReportService(engine)


def _rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))


def _statuses(report) -> dict[tuple[str, str, str], tuple[str, int | None]]:
    return {(i.rule_id, i.asset_key, i.partition_key): (i.status, i.failing_rows) for i in report.items}


def _day_one(world: World) -> None:
    run = world.run("run-1", DAY1)
    world.result(run, DAY1, "flight_key_unique", "PASS", 0)
    world.result(run, DAY1, "dest_known", "WARN", 7)
    world.result(run, DAY1, "tailnum_known", "WARN", 30)
    world.result(run, DAY1, "row_count_min", "PASS", measured_value=842.0, bound=">= 100")
    other = world.run("run-2", DAY2)  # another day: must not leak into DAY1's report
    world.result(other, DAY2, "flight_key_unique", "FAIL", 2)


def test_daily_report_counts_exactly(world, reports, engine):
    _day_one(world)
    report = reports.build_daily_report(DAY1)
    assert (report.report_type, report.report_date, report.replay_id) == (
        "DAILY", dt.date(2013, 2, 1), None
    )
    assert report.summary == {
        FLIGHTS: {**ZERO, "PASS": 1, "WARN": 2},
        ONTIME: {**ZERO, "PASS": 1},
    }
    assert (report.pass_count, report.warn_count, report.fail_count, report.error_count) == (2, 2, 0, 0)
    assert _statuses(report) == {
        ("dest_known", FLIGHTS, DAY1): ("WARN", 7),
        ("flight_key_unique", FLIGHTS, DAY1): ("PASS", 0),
        ("tailnum_known", FLIGHTS, DAY1): ("WARN", 30),
        ("row_count_min", ONTIME, DAY1): ("PASS", None),
    }
    ontime = next(i for i in report.items if i.asset_key == ONTIME)
    assert (ontime.measured_value, ontime.bound, ontime.execution_id) == (842.0, ">= 100", "run-1")
    assert ontime.version_hash == world.rules["row_count_min"].version_hash
    assert reports.get_daily_report(DAY1) == report

    day2 = reports.build_daily_report(DAY2)
    assert day2.summary == {FLIGHTS: {**ZERO, "FAIL": 1}}
    assert (day2.pass_count, day2.warn_count, day2.fail_count) == (0, 0, 1)

    empty = reports.build_daily_report(DAY3)
    assert (empty.summary, empty.items, empty.pass_count) == ({}, (), 0)
    assert _rows(engine, DqReport) == 3 and _rows(engine, DqReportItem) == 5


def test_a_replays_pass_replaces_the_earlier_fail_in_the_daily_report(world, reports):
    """A FAIL then a PASS after replay shows PASS; the FAIL stays in history."""
    first = world.run("run-1", DAY1)
    world.result(first, DAY1, "flight_key_unique", "FAIL", 3)
    world.result(first, DAY1, "dest_known", "WARN", 7)
    before = reports.build_daily_report(DAY1)
    assert before.summary == {FLIGHTS: {**ZERO, "FAIL": 1, "WARN": 1}}

    replay_id = world.replay(DAY1)
    again = world.run("run-1-replay", DAY1, replay_id=replay_id, parent=first)
    world.result(again, DAY1, "flight_key_unique", "PASS", 0)
    world.result(again, DAY1, "dest_known", "WARN", 7)
    after = reports.build_daily_report(DAY1)
    assert after.report_id == before.report_id
    assert after.summary == {FLIGHTS: {**ZERO, "PASS": 1, "WARN": 1}}
    assert (after.pass_count, after.warn_count, after.fail_count) == (1, 1, 0)
    assert {i.rule_id: (i.status, i.execution_id) for i in after.items} == {
        "flight_key_unique": ("PASS", again), "dest_known": ("WARN", again),
    }
    # the earlier FAIL is still in the results' history
    assert [r.status for r in world.validation.results_for_execution(first)
            if r.rule_id == "flight_key_unique"] == ["FAIL"]


def test_rebuild_is_idempotent_and_concurrent_builds_make_one_report(world, reports, engine):
    _day_one(world)
    first = reports.build_daily_report(DAY1)
    second = reports.build_daily_report(DAY1)
    assert second.report_id == first.report_id
    assert second.items == first.items
    assert second.summary == first.summary
    assert _rows(engine, DqReport) == 1 and _rows(engine, DqReportItem) == 4

    errors: list[BaseException] = []

    def build() -> None:
        try:
            reports.build_daily_report(DAY2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _rows(engine, DqReport) == 2 and _rows(engine, DqReportItem) == 5
    assert reports.get_daily_report(DAY2).fail_count == 1


def test_replay_report_and_comparison_with_the_replaced_runs(world, reports):
    first = world.run("run-1", DAY1)
    world.result(first, DAY1, "flight_key_unique", "FAIL", 3)
    world.result(first, DAY1, "dest_known", "WARN", 7)
    world.result(first, DAY1, "tailnum_known", "WARN", 30)
    unrelated = world.run("run-x", DAY2)
    world.result(unrelated, DAY2, "dest_known", "WARN", 1)

    replay_id = world.replay(DAY1)
    attempt = world.run("r-1", DAY1, replay_id=replay_id, parent=first)
    world.result(attempt, DAY1, "flight_key_unique", "ERROR")
    retry = world.run("r-2", DAY1, replay_id=replay_id, parent=first)  # a retry within the replay
    world.result(retry, DAY1, "flight_key_unique", "PASS", 0)
    world.result(retry, DAY1, "dest_known", "WARN", 7)
    world.result(retry, DAY1, "row_count_min", "PASS")  # a rule the replaced run did not have

    report = reports.build_replay_report(replay_id)
    assert (report.report_type, report.report_date, report.replay_id) == ("REPLAY", None, replay_id)
    assert report.summary == {FLIGHTS: {**ZERO, "PASS": 1, "WARN": 1}, ONTIME: {**ZERO, "PASS": 1}}
    assert (report.pass_count, report.warn_count, report.fail_count) == (2, 1, 0)
    assert reports.get_replay_report(replay_id) == report
    assert reports.build_replay_report(replay_id).items == report.items  # idempotent

    comparison = reports.compare(replay_id)
    assert comparison["replay_id"] == replay_id
    assert comparison["before"] == {FLIGHTS: {**ZERO, "FAIL": 1, "WARN": 2}}
    assert comparison["after"] == report.summary
    assert comparison["changed"] == 3
    assert [
        (r["rule_id"], r["partition_key"], r["before"], r["after"], r["changed"])
        for r in comparison["items"]
    ] == [
        ("dest_known", DAY1, "WARN", "WARN", False),
        ("flight_key_unique", DAY1, "FAIL", "PASS", True),
        ("row_count_min", DAY1, None, "PASS", True),
        ("tailnum_known", DAY1, "WARN", None, True),
    ]
    key_row = comparison["items"][1]
    assert (key_row["before_execution_id"], key_row["after_execution_id"]) == (first, retry)
    assert (key_row["before_failing_rows"], key_row["after_failing_rows"]) == (3, 0)


def test_compare_builds_the_missing_replay_report(world, reports):
    first = world.run("run-1", DAY1)
    world.result(first, DAY1, "dest_known", "WARN", 7)
    replay_id = world.replay(DAY1)
    world.result(world.run("r-1", DAY1, replay_id=replay_id, parent=first), DAY1, "dest_known", "PASS", 0)
    assert reports.get_replay_report(replay_id) is None
    comparison = reports.compare(replay_id)
    assert [(r["before"], r["after"]) for r in comparison["items"]] == [("WARN", "PASS")]
    assert reports.get_replay_report(replay_id).pass_count == 1


def test_unknown_subjects(reports):
    assert reports.get_daily_report(DAY1) is None
    assert reports.get_replay_report(999) is None
    with pytest.raises(BatchExecutionException) as caught:
        reports.build_replay_report(999)
    assert caught.value.code == "BAT-010"
    with pytest.raises(BatchExecutionException):
        reports.compare(999)
    with pytest.raises(ValueError):
        reports.build_daily_report("not-a-day")


def test_list_reports_filters_by_type_and_days(world, reports):
    _day_one(world)
    replay_id = world.replay(DAY2)
    world.result(world.run("r-1", DAY2, replay_id=replay_id, parent="run-2"), DAY2,
                 "flight_key_unique", "PASS", 0)
    d1, d2 = reports.build_daily_report(DAY1), reports.build_daily_report(DAY2)
    rp = reports.build_replay_report(replay_id)

    def ids(**kwargs):
        return [r.report_id for r in reports.list_reports(**kwargs)]

    assert ids() == [rp.report_id, d2.report_id, d1.report_id]
    assert ids(report_type="DAILY") == [d2.report_id, d1.report_id]
    assert ids(report_type="REPLAY") == [rp.report_id]
    assert ids(since=DAY2) == [rp.report_id, d2.report_id]
    assert ids(until=dt.date(2013, 2, 1)) == [d1.report_id]
    assert ids(since=DAY3) == []
    assert ids(limit=1) == [rp.report_id]
    assert reports.list_reports(report_type="DAILY", limit=1)[0] == reports.get_daily_report(DAY2)
    with pytest.raises(ValueError):
        reports.list_reports(report_type="WEEKLY")
    with pytest.raises(ValueError):
        reports.list_reports(limit=0)


def test_markdown_shows_the_counts(world, reports):
    _day_one(world)
    markdown = render_markdown(reports.build_daily_report(DAY1))
    assert markdown.splitlines()[0] == (
        "**Data quality, daily 2013-02-01**: 2 PASS, 2 WARN, 0 FAIL, 0 ERROR"
    )
    assert f"| {FLIGHTS} | 1 | 2 | 0 | 0 |" in markdown
    assert f"| {ONTIME} | 1 | 0 | 0 | 0 |" in markdown
    assert f"| tailnum_known | {FLIGHTS} | {DAY1} | WARN | 30 |  |" in markdown
    assert f"| row_count_min | {ONTIME} | {DAY1} | PASS |  | 842 / >= 100 |" in markdown
    # non-PASS items first; a cap counts the rest
    lines = render_markdown(reports.get_daily_report(DAY1), max_items=1).splitlines()
    assert any(line.startswith("| dest_known |") for line in lines)
    assert not any(line.startswith("| flight_key_unique |") for line in lines)
    assert lines[-1] == "_3 more items not shown._"
    assert render_markdown(reports.build_daily_report(DAY3)).endswith("_No validation results._")


# -- the report is what the day is: its active version, the latest attempt beside it ------------


def _attempt(world: World, versions: ResultVersionService, execution_id: str, day: str,
             statuses: dict[str, str], *, replay_id: int | None = None,
             parent: str | None = None, ends: str = "SUCCESS") -> str:
    """An execution that made versions of both checked assets and recorded these results."""
    world.run(execution_id, day, replay_id=replay_id, parent=parent)
    world.executions.start_execution(execution_id)
    for asset in (FLIGHTS, ONTIME):
        versions.create_version(asset_key=asset, partition_key=day, execution_id=execution_id,
                                content_hash=f"sha256:{execution_id}:{asset}", row_count=842,
                                storage_uri=None)
    for rule_id, status in statuses.items():
        world.result(execution_id, day, rule_id, status, 0 if status == "PASS" else 3)
    if ends == "SUCCESS":
        world.executions.complete_execution(execution_id)
    else:
        world.executions.fail_execution(execution_id, "DQ-001", failed_asset_key=FLIGHTS,
                                        failed_partition_key=day)
    versions.activate_execution_versions(execution_id)  # what the projection does at the end
    return execution_id


ALL_PASS = {"flight_key_unique": "PASS", "dest_known": "PASS", "tailnum_known": "PASS",
            "row_count_min": "PASS"}


def test_report_a_failed_replay_leaves_the_day_pass_with_the_attempt_beside(
    world, reports, engine
):
    versions = ResultVersionService(engine)
    healthy = _attempt(world, versions, "run-1", DAY1, ALL_PASS)
    assert reports.build_daily_report(DAY1).pass_count == 4

    replay_id = world.replay(DAY1)
    failed = _attempt(world, versions, "r-1", DAY1, {**ALL_PASS, "flight_key_unique": "FAIL"},
                      replay_id=replay_id, parent=healthy, ends="FAILED")
    assert versions.get_active_version(FLIGHTS, DAY1).execution_id == healthy

    report = reports.build_daily_report(DAY1)
    assert (report.pass_count, report.warn_count, report.fail_count) == (4, 0, 0)
    assert (report.outcome, report.basis) == ("PASS", "ACTIVE")
    assert report.summary == {FLIGHTS: {**ZERO, "PASS": 3}, ONTIME: {**ZERO, "PASS": 1}}
    assert {(i.rule_id, i.execution_id, i.active_version) for i in report.items} == {
        (rule_id, healthy, True) for rule_id in ALL_PASS
    }
    attempt = report.latest_attempt
    assert attempt is not None
    assert (attempt.execution_id, attempt.status, attempt.replay_id, attempt.trigger_type) == (
        failed, "FAILED", replay_id, "REPLAY")
    assert (attempt.outcome, attempt.pass_count, attempt.fail_count) == ("FAIL", 3, 1)
    assert attempt.summary == {FLIGHTS: {**ZERO, "PASS": 2, "FAIL": 1}, ONTIME: {**ZERO, "PASS": 1}}
    assert [(i.rule_id, i.status, i.failing_rows) for i in attempt.items
            if i.status != "PASS"] == [("flight_key_unique", "FAIL", 3)]
    assert reports.get_daily_report(DAY1) == report
    assert reports.list_reports(report_type="DAILY")[0] == report

    markdown = render_markdown(report).splitlines()
    assert markdown[0] == "**Data quality, daily 2013-02-01**: 4 PASS, 0 WARN, 0 FAIL, 0 ERROR"
    assert markdown[1] == "Active version: **PASS** (execution run-1)"
    assert markdown[2] == (f"Latest attempt: **FAIL** (execution r-1, replay {replay_id}, FAILED, "
                           "not active): 3 PASS, 0 WARN, 1 FAIL, 0 ERROR")
    assert markdown[-1] == f"| flight_key_unique | {FLIGHTS} | {DAY1} | FAIL | 3 |  |"

    # a replay that passes and is activated is what the day is: nothing is shown beside it
    fixed = _attempt(world, versions, "r-2", DAY1, ALL_PASS, replay_id=replay_id, parent=healthy)
    again = reports.build_daily_report(DAY1)
    assert (again.outcome, again.basis, again.latest_attempt) == ("PASS", "ACTIVE", None)
    assert {i.execution_id for i in again.items} == {fixed}


def test_report_without_an_active_version_reads_the_latest_attempt_and_says_so(
    world, reports, engine
):
    versions = ResultVersionService(engine)
    failed = _attempt(world, versions, "run-1", DAY1, {**ALL_PASS, "flight_key_unique": "FAIL"},
                      ends="FAILED")
    report = reports.build_daily_report(DAY1)
    assert (report.outcome, report.basis, report.latest_attempt) == ("FAIL", "LATEST_ATTEMPT", None)
    assert {(i.execution_id, i.active_version) for i in report.items} == {(failed, False)}
    assert render_markdown(report).splitlines()[1] == (
        "_No active version: reported from the latest attempt (execution run-1)._")


def test_report_is_rebuilt_when_what_is_active_changes(world, reports, engine):
    versions = ResultVersionService(engine)
    healthy = _attempt(world, versions, "run-1", DAY1, ALL_PASS)
    _attempt(world, versions, "r-1", DAY1, {**ALL_PASS, "flight_key_unique": "FAIL"},
             replay_id=world.replay(DAY1), parent=healthy, ends="FAILED")
    built = reports.build_daily_report(DAY1)
    assert (built.outcome, built.basis) == ("PASS", "ACTIVE")

    # a data correction takes the healthy version of clean_flights out of service: that asset
    # has no active version any more, so it reads its latest attempt; ontime stays active
    flights = versions.get_active_version(FLIGHTS, DAY1)
    versions.deactivate_version(flights.version_id, operator_id="op", reason="bad carrier map")
    read = reports.get_daily_report(DAY1)
    assert read.report_id == built.report_id and read.created_at > built.created_at
    assert (read.outcome, read.basis, read.latest_attempt) == ("FAIL", "MIXED", None)
    assert {(i.asset_key, i.execution_id, i.active_version) for i in read.items} == {
        (FLIGHTS, "r-1", False), (ONTIME, healthy, True)}
    assert reports.get_daily_report(DAY1) == read  # unchanged since: not rebuilt again
