"""Data-quality rules that report every failure, round-trip and
fingerprint exactly, and do not depend on the dtype backend. Both backends (SQLite, PostgreSQL).

Rules are evaluated with pandera (``opsrel_dagster.checks.evaluate_rule``) and recorded through
the real services: rule versions and results in ``ValidationService``, the day's report in
``DqReportService``. A "DQ item" is one entry of a result's ``sample_failures`` (a failing cell,
a missing column or a dtype mismatch); a report item is one rule's outcome on the day.
"""

import collections
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
import sqlalchemy as sa
from pandera.api.extensions import register_check_method

from opsrel_core.domain import error_codes
from opsrel_core.errors import LogicException
from opsrel_core.persistence.tables import ValidationRule, ValidationRuleVersion
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.dq_reports import DqReportService
from opsrel_core.services.provenance import ExecutionContextService
from opsrel_core.services.validation import ValidationService
from opsrel_dagster.checks import (
    PanderaRule,
    TableMeasure,
    evaluate_rule,
    load_rule,
    record_rule_outcome,
    register_pandera_rule,
)
from opsrel_dagster.defs.flights.package_data import package_data_dir
from opsrel_dagster.defs.flights.rules import FLIGHT_RULES

ASSET = "clean_flights"
DAY = "2013-01-05"
ROOT = Path(__file__).resolve().parents[2]


# Custom checks registered with pandera's extension API, as a user's rule module would: they
# must survive a rule version's round trip.
@register_check_method(statistics=["length"], check_type="vectorized")
def code_length(series: pd.Series, *, length: int) -> pd.Series:
    """Every value is a code of exactly ``length`` characters."""
    return series.str.len() == length


@register_check_method(statistics=["earlier", "later"], supported_types=pd.DataFrame)
def ordered_columns(frame: pd.DataFrame, *, earlier: str, later: str) -> pd.Series:
    """A dataframe-level check: ``frame[earlier] <= frame[later]`` on every row."""
    return frame[earlier] <= frame[later]


def _execution(engine, execution_id: str, day: str = DAY) -> str:
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(execution_id, "flights_daily", partition_key=day))
    return execution_id


def _run_rules(engine, execution_id: str, rules, frame: pd.DataFrame, day: str = DAY):
    """Register, evaluate and record each rule as the asset check does; returns results by rule."""
    results = {}
    for rule in rules:
        version = register_pandera_rule(engine, rule, ASSET)
        outcome = evaluate_rule(rule, frame)
        results[rule.rule_id] = record_rule_outcome(engine, execution_id, version, ASSET, day, outcome)
    return results


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# -- nullable integers with coercion: NaN is not a failure ------------------------------------


def test_nullable_int_nan_passes_and_bad_value_is_one_dq_item(engine):
    """Integer, nullable, coerce: NaN passes; "x" is one DQ item (column, row, value)."""
    rule = PanderaRule(
        rule_id="count_integer", severity="FAIL", description="count is an integer or missing",
        schema=pa.DataFrameSchema({"count": pa.Column(int, nullable=True, coerce=True)}),
    )
    # A nullable rule is validated with the pandas nullable dtype (NumPy int64 cannot hold NaN).
    assert rule.definition["schema"]["columns"]["count"]["dtype"] == "Int64"

    good = evaluate_rule(rule, pd.DataFrame({"count": [1, np.nan, 3]}))
    assert (good.status, good.failing_rows, good.samples) == ("PASS", 0, [])
    bad = evaluate_rule(rule, pd.DataFrame({"count": [1, np.nan, "x"]}))
    assert (bad.status, bad.failing_rows) == ("FAIL", 1)  # the NA cell is not counted
    assert bad.samples == [
        {"row": 2, "column": "count", "check": ["coerce_dtype", "dtype"], "value": "x"}
    ]

    # Recorded through the services: one FAIL report item whose one DQ item names the cell.
    results = _run_rules(engine, _execution(engine, "rb15-good", "2013-01-04"), [rule],
                         pd.DataFrame({"count": [1, np.nan, 3]}), day="2013-01-04")
    assert results["count_integer"].status == "PASS"
    results = _run_rules(engine, _execution(engine, "rb15-bad"), [rule],
                         pd.DataFrame({"count": [1, np.nan, "x"]}))
    stored = results["count_integer"]
    assert (stored.status, stored.failing_rows, stored.total_rows) == ("FAIL", 1, 3)
    assert stored.sample_failures == [
        {"row": 2, "column": "count", "check": ["coerce_dtype", "dtype"], "value": "x"}
    ]
    report = DqReportService(engine).build_daily_report(DAY)
    assert [(i.rule_id, i.status, i.failing_rows) for i in report.items] == [
        ("count_integer", "FAIL", 1)
    ]
    assert (report.fail_count, report.pass_count, report.error_count) == (1, 0, 0)


# -- lazy validation: every failure in one pass -----------------------------------------------

ID_PATTERN = r"^ID\d{3}$"


def test_lazy_validation_reports_every_failure_in_one_pass(engine):
    """A null, a pattern violation and two missing columns, all in one pass."""
    frame = pd.DataFrame({"id": ["ID001", None, "XXX"]})
    rules = [
        # One schema holding both checks on ``id`` and two required columns the frame lacks.
        PanderaRule(
            rule_id="flight_ids", severity="FAIL", description="ids present and well formed",
            schema=pa.DataFrameSchema({
                "id": pa.Column(str, pa.Check.str_matches(ID_PATTERN), nullable=False),
                "carrier": pa.Column(str),
                "flight": pa.Column(int),
            }),
        ),
        # The same two rules on ``id`` as separate rules.
        PanderaRule(rule_id="id_not_null", severity="FAIL", description="id is given",
                    schema=pa.DataFrameSchema({"id": pa.Column(nullable=False)})),
        PanderaRule(rule_id="id_pattern", severity="WARN", description="id is ID + 3 digits",
                    schema=pa.DataFrameSchema(
                        {"id": pa.Column(str, pa.Check.str_matches(ID_PATTERN), nullable=True)})),
    ]
    results = _run_rules(engine, _execution(engine, "rb16"), rules, frame)

    def items(rule_id):
        return {(i["row"], i["column"], tuple(i["check"]), i["value"])
                for i in results[rule_id].sample_failures}

    assert items("flight_ids") == {
        (1, "id", ("not_nullable",), None),
        (2, "id", ("str_matches",), "XXX"),
        (None, "carrier", ("column_in_dataframe",), None),
        (None, "flight", ("column_in_dataframe",), None),
    }
    assert len(results["flight_ids"].sample_failures) == 4
    assert items("id_not_null") == {(1, "id", ("not_nullable",), None)}
    assert items("id_pattern") == {(2, "id", ("str_matches",), "XXX")}
    # A missing column makes the rule ERROR (it could not be fully evaluated), still listing all.
    assert {r: (v.status, v.failing_rows) for r, v in results.items()} == {
        "flight_ids": ("ERROR", None), "id_not_null": ("FAIL", 1), "id_pattern": ("WARN", 1),
    }

    report = DqReportService(engine).build_daily_report(DAY)
    assert {(i.rule_id, i.status, i.failing_rows) for i in report.items} == {
        ("flight_ids", "ERROR", None), ("id_not_null", "FAIL", 1), ("id_pattern", "WARN", 1),
    }
    # The per-day summary counts equal the item counts.
    by_status = collections.Counter(i.status for i in report.items)
    assert (report.pass_count, report.warn_count, report.fail_count, report.error_count) == (
        by_status["PASS"], by_status["WARN"], by_status["FAIL"], by_status["ERROR"]
    ) == (0, 1, 1, 1)
    assert report.summary == {ASSET: {"PASS": 0, "WARN": 1, "FAIL": 1, "ERROR": 1}}
    assert sum(report.summary[ASSET].values()) == len(report.items) == 3


# -- rule versions: round trip and fingerprint ------------------------------------------------


def round_trip_rules(delay_bound: float = 600.0, *, tail_nullable: bool = True,
                     warn: str = "WARN", check_name: str = "delay_cap") -> list[PanderaRule]:
    """One WARN rule (a renamed built-in check), one custom registered check, one dataframe-level
    check. Module level, so a second process builds the same rules."""
    return [
        PanderaRule(
            rule_id="dep_delay_cap", severity=warn, description="departure delay capped",
            schema=pa.DataFrameSchema({"dep_delay": pa.Column(
                float, pa.Check.le(delay_bound, name=check_name), nullable=True)}),
        ),
        PanderaRule(
            rule_id="carrier_code", severity="FAIL", description="carrier codes have 2 characters",
            schema=pa.DataFrameSchema({
                "carrier": pa.Column(str, pa.Check.code_length(length=2)),
                "tailnum": pa.Column(str, nullable=tail_nullable),
            }),
        ),
        PanderaRule(
            rule_id="arrives_after_departure", severity="FAIL",
            description="scheduled departure before scheduled arrival",
            schema=pa.DataFrameSchema(
                checks=[pa.Check.ordered_columns(earlier="sched_dep", later="sched_arr")]),
        ),
        PanderaRule(
            rule_id="rows_present", severity="FAIL", description="the day has flights",
            measure=TableMeasure(name="row_count", fn=len, op=">", bound=0),
        ),
    ]


def round_trip_fingerprints() -> dict[str, str]:
    """``{rule_id: version_hash}`` of ``round_trip_rules()``."""
    return {rule.rule_id: rule.version_hash for rule in round_trip_rules()}


RB17_FRAME = pd.DataFrame({
    "dep_delay": [5.0, 700.0, None, 12.0],
    "carrier": ["UA", "AAA", "B6", "DL"],
    "tailnum": ["N1", None, "N3", "N4"],
    "sched_dep": [500, 900, 1000, 1300],
    "sched_arr": [800, 1100, 950, 1500],
})


def test_rule_versions_round_trip_and_fingerprint_every_check(engine):
    """Severity and every check survive storage; the fingerprint sees every change."""
    originals = round_trip_rules()
    validation = ValidationService(engine)
    reloaded = []
    for rule in originals:
        version = register_pandera_rule(engine, rule, ASSET)
        (stored,) = validation.get_rule_versions(rule.rule_id)
        assert stored == version and stored.version_hash == rule.version_hash
        again = load_rule(rule.rule_id, stored.severity, stored.description, stored.definition)
        assert again.severity == rule.severity
        assert again.definition == rule.definition == stored.definition
        assert again.version_hash == stored.version_hash
        reloaded.append(again)
    # The WARN stays WARN, the renamed check keeps its name, custom and frame checks are there.
    delay_spec = reloaded[0].pandera_schema.columns["dep_delay"].checks[0]
    assert (reloaded[0].severity, delay_spec.name, delay_spec.statistics) == (
        "WARN", "delay_cap", {"max_value": 600.0})
    assert [c.name for c in reloaded[1].pandera_schema.columns["carrier"].checks] == ["code_length"]
    assert [c.name for c in reloaded[2].pandera_schema.checks] == ["ordered_columns"]

    def outcomes(rules):
        return [(r.rule_id, o.status, o.failing_rows, o.samples)
                for r in rules for o in [evaluate_rule(r, RB17_FRAME)]]

    assert outcomes(reloaded) == outcomes(originals)
    assert collections.Counter(o[1] for o in outcomes(reloaded)) == {
        "WARN": 1, "FAIL": 2, "PASS": 1}
    assert [o[:3] for o in outcomes(reloaded)] == [
        ("dep_delay_cap", "WARN", 1), ("carrier_code", "FAIL", 1),
        ("arrives_after_departure", "FAIL", 1), ("rows_present", "PASS", None),
    ]
    # Registering the reloaded rules again is a no-op: the same versions.
    for rule in reloaded:
        register_pandera_rule(engine, rule, ASSET)
    assert _count(engine, ValidationRuleVersion) == 4

    # The fingerprint changes with any check, statistic, severity, check name or nullability.
    base = round_trip_fingerprints()
    for variant, changed in [
        (round_trip_rules(delay_bound=720.0), "dep_delay_cap"),
        (round_trip_rules(warn="FAIL"), "dep_delay_cap"),
        (round_trip_rules(check_name="delay_limit"), "dep_delay_cap"),
        (round_trip_rules(tail_nullable=False), "carrier_code"),
    ]:
        hashes = {r.rule_id: r.version_hash for r in variant}
        assert {k for k in base if hashes[k] != base[k]} == {changed}
    # ... and is the same in another process.
    code = ("import json, tests.integration.test_ops_reliability_dq as m; "
            "print(json.dumps(m.round_trip_fingerprints()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == base

    # The execution context records the exact versions used.
    run = _execution(engine, "rb17")
    context = ExecutionContextService(engine).record_context(
        run, snapshot_ids=[], rule_versions={r.rule_id: r.version_hash for r in reloaded},
        parameters={}, code_version={}, library_versions={},
    )
    assert context.rule_versions == base


def test_a_rule_that_cannot_be_serialized_fails_registration(engine):
    """A lambda check or a lambda measure is refused (LOG-001), never stored without it."""
    unregistered = PanderaRule(
        rule_id="positive_delay", severity="WARN", description="d",
        schema=pa.DataFrameSchema(
            {"dep_delay": pa.Column(float, pa.Check(lambda s: s >= 0, name="non_negative"))}),
    )
    lambda_measure = PanderaRule(
        rule_id="half_cancelled", severity="WARN", description="d",
        measure=TableMeasure(name="share", fn=lambda f: 0.5, op="<=", bound=0.5),
    )
    for rule in (unregistered, lambda_measure):
        with pytest.raises(LogicException) as caught:
            register_pandera_rule(engine, rule, ASSET)
        assert caught.value.code == error_codes.LOG_INVARIANT_BROKEN
        assert rule.rule_id in caught.value.operator_message
    assert _count(engine, ValidationRule) == 0 and _count(engine, ValidationRuleVersion) == 0


# -- string dtype backends: NumPy and pyarrow -------------------------------------------------


def _snapshot(**kwargs) -> pd.DataFrame:
    return pd.read_csv(package_data_dir() / "flights.csv.zip", nrows=3000, **kwargs)


def test_numpy_and_pyarrow_string_backends_validate_identically(engine):
    """One snapshot, two dtype backends, identical results; a real mismatch is a DQ item."""
    numpy_frame = _snapshot()
    arrow_frame = _snapshot(dtype_backend="pyarrow")
    assert str(arrow_frame["carrier"].dtype) == "string[pyarrow]"
    assert numpy_frame["carrier"].dtype == object
    string_rules = [r for r in FLIGHT_RULES
                    if r.rule_id in ("carrier_known", "dest_known", "tailnum_known", "tailnum_present")]
    rules = [
        *string_rules,
        PanderaRule(rule_id="origin_code", severity="FAIL", description="origin is 3 capitals",
                    schema=pa.DataFrameSchema({"origin": pa.Column(
                        str, pa.Check.str_matches(r"^[A-Z]{3}$"))})),
        PanderaRule(rule_id="typed_strings", severity="WARN", description="declared dtypes",
                    schema=pa.DataFrameSchema({
                        "carrier": pa.Column(str), "tailnum": pa.Column(str, nullable=True),
                        "flight": pa.Column("int64"), "dep_delay": pa.Column(float, nullable=True),
                    })),
        # A real mismatch: a numeric column declared as text.
        PanderaRule(rule_id="dep_time_text", severity="WARN", description="mismatch",
                    schema=pa.DataFrameSchema({"dep_time": pa.Column(str, nullable=True)})),
    ]
    numpy_results = _run_rules(engine, _execution(engine, "rb18-numpy"), rules, numpy_frame)
    arrow_results = _run_rules(engine, _execution(engine, "rb18-arrow"), rules, arrow_frame)

    def shape(results):
        return {k: (v.status, v.total_rows, v.failing_rows, v.sample_failures)
                for k, v in results.items()}

    assert shape(arrow_results) == shape(numpy_results)
    statuses = {k: v.status for k, v in numpy_results.items()}
    assert statuses["carrier_known"] == statuses["origin_code"] == "PASS"
    assert statuses["typed_strings"] == "PASS"
    assert statuses["tailnum_present"] == "WARN"  # real missing tail numbers, both backends
    assert numpy_results["tailnum_present"].failing_rows == int(numpy_frame["tailnum"].isna().sum())
    assert numpy_results["dep_time_text"].status == "WARN"
    assert numpy_results["dep_time_text"].sample_failures == [{
        "row": None, "column": "dep_time", "check": ["dtype"], "expected": "str",
        "actual": "float64",
    }]
    assert numpy_results["dep_time_text"].failing_rows == 0
