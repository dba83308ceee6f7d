"""Pandera rules as asset checks on the real pipeline, both backends.

Expected figures are computed here with plain pandas from the package's CSV files, not through
the rules.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.checks.evaluation import evaluate_rule
from opsrel_dagster.checks.rules import PanderaRule
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights.package_data import package_data_dir, package_flights_for_day
from opsrel_dagster.defs.flights.rules import FLIGHT_CHECKS, FLIGHT_RULES
from opsrel_dagster.projection.apply import RunProjection

FAIL_RULES = {"flight_key_unique", "carrier_known", "row_count_positive"}
WARN_RULES = {
    "dest_known", "tailnum_known", "tailnum_present", "dep_delay_max", "cancelled_share_max",
}
DOWNSTREAM = ("carrier_daily_stats", "ontime_performance", "delay_explanation", "delay_simulation")
TAGS = {"opsrel/operator": "t", "opsrel/reason": "t"}
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _materialize(runner, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        FLIGHT_ASSETS + FLIGHT_CHECKS, partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), tags=TAGS, run_config=QUIET,
        raise_on_error=False,
    )


def _codes(table: str, column: str) -> set[str]:
    return set(pd.read_csv(package_data_dir() / f"{table}.csv", dtype=str,
                           keep_default_na=False)[column])


def _expected_warn_rows(day: dt.date) -> dict[str, int]:
    flights = package_flights_for_day(day)
    tailnum = flights["tailnum"]
    return {
        "dest_known": int((~flights["dest"].isin(_codes("airports", "faa"))).sum()),
        "tailnum_known": int((tailnum.notna() & ~tailnum.isin(_codes("planes", "tailnum"))).sum()),
        "tailnum_present": int(tailnum.isna().sum()),
        "dep_delay_max": int((flights["dep_delay"] > 600).sum()),
    }


def _results(runner, run_id: str) -> dict:
    return {r.rule_id: r for r in ValidationService(runner.engine).results_for_execution(run_id)}


def test_flight_checks_are_blocking_exactly_for_fail_rules():
    specs = {spec.name: spec for check in FLIGHT_CHECKS for spec in check.check_specs}
    assert set(specs) == FAIL_RULES | WARN_RULES
    assert {name for name, spec in specs.items() if spec.blocking} == FAIL_RULES
    assert {spec.asset_key.to_user_string() for spec in specs.values()} == {"clean_flights"}


def test_changing_a_bound_makes_a_new_rule_version():
    import pandera.pandas as pa

    def rule(bound: float) -> PanderaRule:
        return PanderaRule(
            rule_id="dep_delay_max", severity="WARN", description="d",
            schema=pa.DataFrameSchema(
                {"dep_delay": pa.Column(float, pa.Check.le(bound), nullable=True)}
            ),
        )

    assert rule(600).version_hash == rule(600).version_hash
    assert rule(600).version_hash != rule(720).version_hash
    frame = pd.DataFrame({"dep_delay": [10.0, 700.0, None]})
    assert evaluate_rule(rule(600), frame).failing_rows == 1
    assert evaluate_rule(rule(720), frame).status == "PASS"
    assert evaluate_rule(rule(600), frame.drop(columns="dep_delay")).status == "ERROR"


def test_clean_day_passes_fail_rules_and_records_exact_warn_counts(runner):
    day = "2013-01-01"
    result = _materialize(runner, day)
    assert result.success
    execution = RunProjection(runner.instance, runner.engine).project_run(result.run_id)
    assert execution.status.value == "SUCCESS"

    results = _results(runner, result.run_id)
    assert set(results) == FAIL_RULES | WARN_RULES
    assert {r: results[r].status for r in FAIL_RULES} == {r: "PASS" for r in FAIL_RULES}
    expected = _expected_warn_rows(dt.date(2013, 1, 1))
    assert expected == {
        "dest_known": 26, "tailnum_known": 146, "tailnum_present": 0, "dep_delay_max": 1,
    }
    assert {r: results[r].failing_rows for r in expected} == expected
    assert {r: results[r].status for r in expected} == {
        r: "WARN" if n else "PASS" for r, n in expected.items()
    }
    assert results["row_count_positive"].measured_value == 842.0
    assert results["row_count_positive"].bound == "> 0"
    assert all(r.total_rows == 842 and r.partition_key == day for r in results.values())
    samples = results["dest_known"].sample_failures
    assert len(samples) == 5 and {s["dest"] for s in samples} <= {"BQN", "PSE", "SJU", "STT"}
    assert results["dep_delay_max"].sample_failures[0]["dep_delay"] > 600

    # The same figures show on the Dagster check evaluations.
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == FAIL_RULES | WARN_RULES
    dest = evaluations["dest_known"]
    assert not dest.passed and dest.severity == dg.AssetCheckSeverity.WARN
    assert dest.metadata["failing_rows"].value == 26
    assert dest.metadata["opsrel/rule_version"].value == results["dest_known"].version_hash
    assert len(dest.metadata["sample_failures"].value) == 5
    assert evaluations["flight_key_unique"].passed
    assert evaluations["flight_key_unique"].severity == dg.AssetCheckSeverity.ERROR
    for asset in DOWNSTREAM:
        assert ResultVersionService(runner.engine).get_active_version(asset, day) is not None
    counts = ValidationService(runner.engine).warn_counts("dest_known", [day])
    assert counts == {day: 26}


def test_blizzard_day_carries_the_cancellation_warning(runner):
    day = "2013-02-08"
    flights = package_flights_for_day(dt.date(2013, 2, 8))
    share = float(flights["dep_time"].isna().mean())
    assert share > 0.5
    result = _materialize(runner, day)
    assert result.success  # a WARN never blocks
    RunProjection(runner.instance, runner.engine).project_run(result.run_id)
    cancelled = _results(runner, result.run_id)["cancelled_share_max"]
    assert cancelled.status == "WARN"
    assert cancelled.measured_value == pytest.approx(share)
    assert cancelled.bound == "<= 0.5"
    [evaluation] = [e for e in result.get_asset_check_evaluations()
                    if e.check_name == "cancelled_share_max"]
    assert evaluation.metadata["measured_value"].value == pytest.approx(share)
    assert evaluation.metadata["bound"].value == "<= 0.5"


def _duplicate_key(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[10]]], ignore_index=True)


def _unknown_carrier(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[10, "carrier"] = "ZZ"
    return frame


@pytest.mark.parametrize(
    ("corrupt", "rule", "failing"),
    [(_duplicate_key, "flight_key_unique", 2), (_unknown_carrier, "carrier_known", 1)],
    ids=["duplicate_key", "unknown_carrier"],
)
def test_fail_rule_blocks_downstream_and_keeps_the_active_version(
    runner, opsrel_env, corrupt, rule, failing
):
    day = "2013-01-05"
    good = _materialize(runner, day)
    assert good.success
    RunProjection(runner.instance, runner.engine).project_run(good.run_id)
    versions = ResultVersionService(runner.engine)
    before = versions.get_active_version("ontime_performance", day)
    assert before.execution_id == good.run_id

    flights = package_flights_for_day(dt.date(2013, 1, 5))
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{day}.csv")
    corrupt(flights).to_csv(landing, index=False)
    bad = _materialize(runner, day)
    assert not bad.success
    materialized = {
        e.asset_key.to_user_string() for e in bad.get_asset_materialization_events()
    }
    assert materialized == {"raw_flights", "flights_snapshot", "clean_flights"}

    # What the failed blocking check leaves in the run: a failed ERROR evaluation carrying
    # DQ-001 in its metadata, then a step failure of the check step (DagsterAssetCheckFailedError).
    [evaluation] = [e for e in bad.get_asset_check_evaluations() if e.check_name == rule]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["error_code"].value == "DQ-001"
    [step_failure] = [e for e in bad.all_events if e.is_step_failure]
    assert step_failure.step_key == f"clean_flights_{rule}"
    assert step_failure.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"

    execution = RunProjection(runner.instance, runner.engine).project_run(bad.run_id)
    assert execution.status.value == "FAILED"
    assert execution.error_code == "DQ-001"  # a blocking rule failed: the execution says so
    assert execution.failed_asset_key == "clean_flights"
    assert "blocking data-quality rule(s) failed" in execution.error_message
    assert versions.version_of_execution("ontime_performance", day, bad.run_id) is None
    assert all(v.execution_id != bad.run_id
               for asset in DOWNSTREAM for v in versions.get_version_history(asset, day))
    assert versions.get_active_version("ontime_performance", day) == before
    recorded = _results(runner, bad.run_id)[rule]
    assert (recorded.status, recorded.failing_rows) == ("FAIL", failing)
    assert BatchExecutionService(runner.engine).get_execution(bad.run_id).status.value == "FAILED"
    # a data-quality FAIL raises an alert (DQ-001 auto-alerts)
    from opsrel_core.config import AlertSettings
    from opsrel_core.services.alerts import OpsAlertService

    [alert] = OpsAlertService(runner.engine, AlertSettings.from_env()).list_alerts()
    assert (alert.error_code, alert.execution_id, alert.partition_key) == ("DQ-001", bad.run_id, day)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_february_warn_counts_are_those_the_data_implies(runner):
    """A month of runs (SQLite only: ~1 s a day; the PostgreSQL path is covered above)."""
    days = [dt.date(2013, 2, d) for d in range(1, 29)]
    keys = [d.isoformat() for d in days]
    for key in keys:
        result = _materialize(runner, key)
        assert result.success, key
        RunProjection(runner.instance, runner.engine).project_run(result.run_id)
    service = ValidationService(runner.engine)
    expected = dict.fromkeys(("dest_known", "tailnum_known", "tailnum_present", "dep_delay_max"), 0)
    blizzard = set()
    for day in days:
        for rule, rows in _expected_warn_rows(day).items():
            expected[rule] += rows
        if package_flights_for_day(day)["dep_time"].isna().mean() > 0.5:
            blizzard.add(day.isoformat())
    assert blizzard == {"2013-02-08", "2013-02-09"}
    counted = {rule: sum(service.warn_counts(rule, keys).values()) for rule in expected}
    assert counted == expected
    cancelled = service.warn_counts("cancelled_share_max", keys)
    assert {k for k, n in cancelled.items() if n} == blizzard
    for rule in FAIL_RULES:
        assert set(service.warn_counts(rule, keys).values()) == {0}
