"""The pure rules of the quality wing: which report a key makes, a report's outcome and basis,
the latest result per rule, a day's roll-up, what a DQ-002 alert says, and the DQ-002 policy
run over the in-memory validation repository with an alert sender that keeps what it is given."""

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.domain import dq_outcomes, dq_subjects, dq_warnings
from opsrel_core.domain import partition_state as ps
from opsrel_core.domain.dq_baseline import BaselineDecision, BaselinePolicy
from opsrel_core.domain.dq_rollup import rollup
from opsrel_core.domain.partition_health import PartitionAttempt, cover, partition_health
from opsrel_core.domain.rule_versions import warn_count
from opsrel_core.services.quality import (
    DqReportView, ValidationService, WarnPolicy, evaluate_warn_policy,
    render_rollup,
)
from tests.support.fakes.quality import QualityStore


@dataclasses.dataclass(frozen=True)
class R:
    result_id: int
    rule_id: str
    asset_key: str
    partition_key: str
    status: str
    execution_id: str = "run-1"


def test_a_day_of_a_daily_job_makes_its_daily_report():
    assert dq_subjects.subject_of("flights_daily", "2013-02-01", "daily") == dq_subjects.Subject(
        "DAILY", "flights_daily", "2013-02-01", dt.date(2013, 2, 1))
    hourly = dq_subjects.subject_of("weather_hourly", "2013-11-03-01:00-0500", "hourly")
    assert (hourly.report_type, hourly.day) == ("PARTITION", None)
    assert dq_subjects.subject_of("flights_daily", "20130201", "daily").report_type == "PARTITION"
    assert hourly.lock_name == "dq_report:PARTITION:weather_hourly:2013-11-03-01:00-0500:None"


@pytest.mark.parametrize("key", ["", "   ", "k" * 101, None, 7])
def test_a_key_the_report_table_cannot_store_is_refused(key):
    with pytest.raises(ValueError, match="1..100 characters"):
        dq_subjects.check_key(key)


def test_a_day_is_a_date_not_a_time():
    assert dq_subjects.parse_day("2013-02-01") == dt.date(2013, 2, 1)
    for bad in ("2013-02-30", dt.datetime(2013, 2, 1), "yesterday"):
        with pytest.raises(ValueError):
            dq_subjects.parse_day(bad)  # type: ignore[arg-type]


def test_the_outcome_is_the_worst_status_and_the_basis_where_items_come_from():
    assert dq_outcomes.worst(["PASS", "WARN", "ERROR"]) == "ERROR"
    assert dq_outcomes.worst(["ERROR", "FAIL"]) == "FAIL"
    assert dq_outcomes.worst([]) == ps.NONE
    assert [dq_outcomes.basis_of(flags) for flags in ([True], [False, False], [True, False], [])
            ] == [ps.ACTIVE, ps.LATEST_ATTEMPT, "MIXED", ps.NONE]
    assert dq_outcomes.summary_of([("b", "WARN"), ("a", "PASS"), ("b", "WARN")]) == {
        "a": {"PASS": 1, "WARN": 0, "FAIL": 0, "ERROR": 0},
        "b": {"PASS": 0, "WARN": 2, "FAIL": 0, "ERROR": 0}}
    assert warn_count("WARN", 4) == 4 and warn_count("WARN", None) == 1
    assert warn_count("FAIL", 4) == 0


def test_each_rules_newest_result_counts_in_report_order():
    results = [R(3, "r2", "a", "d1", "PASS"), R(1, "r1", "b", "d1", "FAIL"),
               R(5, "r1", "b", "d1", "PASS"), R(2, "r1", "a", "d2", "WARN")]
    assert [r.result_id for r in dq_outcomes.latest_per_rule(results)] == [3, 2, 5]


def test_a_partition_report_takes_each_assets_current_attempt():
    states = {"a": ps.PartitionState(ps.ACTIVE, ps.Attempt("run-1", "SUCCESS", 2),
                                     ps.Attempt("run-2", "FAILED", 3))}
    results = [R(2, "r", "a", "d", "PASS", "run-1"), R(3, "r", "a", "d", "FAIL", "run-2"),
               R(4, "r", "b", "d", "FAIL", "run-2")]
    assert [r.result_id for r in dq_outcomes.current_results(results, states)] == [2]


def test_what_a_replayed_execution_covered():
    assert dq_outcomes.covers("d2", None, None)("d2") and not dq_outcomes.covers("d2", None, None)("d3")
    in_range = dq_outcomes.covers(None, "d1", "d3")
    assert [in_range(k) for k in ("d0", "d1", "d3", "d4")] == [False, True, True, False]
    assert dq_outcomes.covers(None, None, None)("anything")


def _report(report_id: int, key: str, outcome: str, counts: tuple[int, int, int, int]):
    return DqReportView(
        report_id=report_id, report_type="PARTITION", report_date=None, replay_id=None,
        summary={"a": dict(zip(dq_outcomes.STATUSES, counts))}, pass_count=counts[0],
        warn_count=counts[1], fail_count=counts[2], error_count=counts[3], items=(),
        created_at=dt.datetime(2013, 11, 4, tzinfo=dt.timezone.utc), outcome=outcome,
        basis=ps.ACTIVE, job_id="weather_hourly", partition_key=key)


def test_a_days_rollup_sums_its_partition_reports_in_key_order():
    day = dt.date(2013, 11, 3)
    view = rollup("weather_hourly", day, [_report(2, "2013-11-03-01:00-0500", "WARN", (1, 1, 0, 0)),
                                          _report(1, "2013-11-03-01:00", "PASS", (2, 0, 0, 0))])
    assert [p.partition_key for p in view.partitions] == ["2013-11-03-01:00",
                                                         "2013-11-03-01:00-0500"]
    assert (view.outcome, view.pass_count, view.warn_count) == ("WARN", 3, 1)
    assert view.summary == {"a": {"PASS": 3, "WARN": 1, "FAIL": 0, "ERROR": 0}}
    assert render_rollup(view).splitlines()[0] == (
        "**Data quality, weather_hourly 2013-11-03**: WARN over 2 partitions: 3 PASS, 1 WARN, "
        "0 FAIL, 0 ERROR")
    empty = rollup("weather_hourly", day, [])
    assert (empty.outcome, empty.partitions) == (ps.NONE, ())
    assert render_rollup(empty).endswith("_No partition report of this day was built._")


def test_a_range_run_is_the_newest_attempt_of_what_it_covers():
    t = dt.datetime(2013, 2, 1, tzinfo=dt.timezone.utc)
    latest = {"d1": PartitionAttempt(t, "a", "SUCCESS"),
              "d2": PartitionAttempt(t + dt.timedelta(hours=2), "c", "SUCCESS")}
    cover(latest, PartitionAttempt(t + dt.timedelta(hours=1), "b", "FAILED"), ["d1", "d2", "d3"])
    assert {k: a.execution_id for k, a in latest.items()} == {"d1": "b", "d2": "c", "d3": "b"}
    assert partition_health(latest, active=["d1", "d2"]) == (1, 1)


@dataclasses.dataclass(frozen=True)
class W:
    total_rows: int | None
    failing_rows: int | None
    measured_value: float | None
    bound: str | None
    rule_id: str = "temp_range"
    asset_key: str = "weather"
    partition_key: str = "2013-02-01"
    status: str = "WARN"


def test_the_dq002_text_names_the_count_the_partition_and_why():
    title, message = dq_warnings.warning_text(3, W(100, 7, None, None), BaselineDecision(True, "rare"))
    assert title == "DQ-002 temp_range warned 3 times above its baseline, latest 2013-02-01"
    assert message == ("Rule temp_range on weather warned 3 times above its baseline; latest "
                       "partition 2013-02-01: 7 of 100 rows. Why it alerts: rare.")
    title, message = dq_warnings.warning_text(1, W(None, None, 0.56, "<= 0.5"),
                                              BaselineDecision(True, "rare"))
    assert title.endswith("warned once above its baseline, latest 2013-02-01")
    assert "latest partition 2013-02-01: measured 0.56 (bound <= 0.5)." in message
    assert dq_warnings.outcome_figure(W(100, 7, None, None)).figure == pytest.approx(0.07)
    assert dq_warnings.dedupe_key("flights_daily", "r") == "DQ_WARN_ACCUMULATED:flights_daily:r"


class Alerts:
    """An alert sender that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send_alert(self, kind: str, **kw):
        self.sent.append((kind, kw))
        return kw["dedupe_key"]


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.mark.parametrize("policy, alerts_expected", [("always", 1), ("never", 0), ("baseline", 0)])
def test_an_executions_warnings_alert_as_the_rule_declares(engine, policy, alerts_expected):
    store = QualityStore()
    store.executions.add("run-1")
    validation = ValidationService(engine, repository=store.repository)
    version = validation.register_rule("r", "a", "WARN", "d", {}, alert_policy=policy)
    validation.record_result(execution_id="run-1", rule_version_id=version.rule_version_id,
                             asset_key="a", partition_key="2013-02-01", status="WARN",
                             total_rows=10, failing_rows=1)
    alerts = Alerts()
    raised = evaluate_warn_policy(validation, alerts, "run-1", "flights_daily",  # type: ignore[arg-type]
                                  WarnPolicy(BaselinePolicy()))
    assert len(raised) == len(alerts.sent) == alerts_expected
    if alerts_expected:
        kind, sent = alerts.sent[0]
        assert (kind, sent["error_code"], sent["dedupe_key"], sent["partition_key"]) == (
            "DQ_WARN_ACCUMULATED", "DQ-002", "DQ_WARN_ACCUMULATED:flights_daily:r", "2013-02-01")
        assert sent["describe"](2)[0] == "DQ-002 r warned 2 times above its baseline, latest 2013-02-01"


def test_the_warn_policy_reads_its_settings():
    policy = WarnPolicy.from_env({"OPSREL_DQ_BASELINE_WINDOW": "10", "OPSREL_DQ_RISE_FACTOR": ""})
    assert (policy.baseline.window, policy.baseline.rise_factor) == (10, BaselinePolicy().rise_factor)
