"""ValidationService: rule versions, idempotent results and WARN counts, both backends."""

import pytest
import sqlalchemy as sa

from opsrel_core.persistence.tables import ValidationResult, ValidationRuleVersion
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import ValidationService, rule_version_hash

ASSET = "clean_flights"
DEFINITION = {"kind": "row", "column": "dep_delay", "check": "le", "bound": 600}


def _execution(engine, execution_id: str, day: str = "2013-02-01") -> str:
    BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id, "flights_daily", partition_key=day)
    )
    return execution_id


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_same_definition_same_version_changed_bound_new_version(engine):
    service = ValidationService(engine)
    first = service.register_rule("dep_delay_max", ASSET, "WARN", "delay <= 600", DEFINITION)
    again = service.register_rule("dep_delay_max", ASSET, "WARN", "delay <= 600", dict(DEFINITION))
    assert again == first
    assert first.version_hash == rule_version_hash(DEFINITION, "WARN")
    assert first.version_hash.startswith("sha256:") and len(first.version_hash) == 71
    assert first.definition == DEFINITION

    changed = service.register_rule(
        "dep_delay_max", ASSET, "WARN", "delay <= 720", {**DEFINITION, "bound": 720}
    )
    assert changed.rule_version_id != first.rule_version_id
    assert changed.version_hash != first.version_hash
    assert changed.description == "delay <= 720"
    # the severity is part of the version too
    failing = service.register_rule(
        "dep_delay_max", ASSET, "FAIL", "delay <= 720", {**DEFINITION, "bound": 720}
    )
    assert failing.version_hash not in (first.version_hash, changed.version_hash)
    # key order does not matter: canonical JSON
    reordered = dict(reversed(list(DEFINITION.items())))
    same = service.register_rule("dep_delay_max", ASSET, "WARN", "x", reordered)
    assert same.rule_version_id == first.rule_version_id

    versions = service.get_rule_versions("dep_delay_max")
    assert [v.rule_version_id for v in versions] == [
        first.rule_version_id, changed.rule_version_id, failing.rule_version_id
    ]
    assert _count(engine, ValidationRuleVersion) == 3
    assert service.get_rule_versions("unknown") == []


def test_invalid_severity_status_and_definition_are_refused(engine):
    service = ValidationService(engine)
    with pytest.raises(ValueError):
        service.register_rule("r", ASSET, "ERROR", "d", {})
    with pytest.raises(ValueError):
        service.register_rule("r", ASSET, "WARN", "d", {"bound": float("nan")})
    version = service.register_rule("r", ASSET, "WARN", "d", {})
    with pytest.raises(ValueError):
        service.record_result(
            execution_id=_execution(engine, "run-x"), rule_version_id=version.rule_version_id,
            asset_key=ASSET, partition_key="2013-02-01", status="BROKEN",
        )


def test_results_are_idempotent_per_execution_version_and_partition(engine):
    service = ValidationService(engine)
    version = service.register_rule("dep_delay_max", ASSET, "WARN", "d", DEFINITION)
    run = _execution(engine, "run-1")
    kwargs = dict(
        execution_id=run, rule_version_id=version.rule_version_id, asset_key=ASSET,
        partition_key="2013-02-01", status="WARN", total_rows=900, failing_rows=2,
        sample_failures=[{"row": 3, "dep_delay": 853.0}],
    )
    first = service.record_result(**kwargs)
    again = service.record_result(**{**kwargs, "failing_rows": 99})  # the first one stands
    assert again == first
    assert (first.rule_id, first.version_hash, first.severity) == (
        "dep_delay_max", version.version_hash, "WARN"
    )
    assert (first.total_rows, first.failing_rows, first.sample_failures) == (
        900, 2, [{"row": 3, "dep_delay": 853.0}]
    )
    assert _count(engine, ValidationResult) == 1
    assert service.results_for_execution(run) == [first]
    assert service.results_for_partition("2013-02-01") == [first]
    assert service.results_for_partition("2013-02-01", asset_key="other") == []
    # an execution that is not recorded is refused by the database, not hidden
    with pytest.raises(sa.exc.IntegrityError):
        service.record_result(**{**kwargs, "execution_id": "no-such-run"})


def test_table_level_result_keeps_measured_value_and_bound(engine):
    service = ValidationService(engine)
    version = service.register_rule("cancelled_share_max", ASSET, "WARN", "d", {"bound": 0.5})
    result = service.record_result(
        execution_id=_execution(engine, "run-b", "2013-02-08"),
        rule_version_id=version.rule_version_id, asset_key=ASSET, partition_key="2013-02-08",
        status="WARN", total_rows=200, measured_value=0.56, bound="<= 0.5",
    )
    assert (result.measured_value, result.bound, result.failing_rows) == (0.56, "<= 0.5", None)


def test_warn_counts_take_each_partitions_latest_result(engine):
    service = ValidationService(engine)
    v1 = service.register_rule("dest_known", ASSET, "WARN", "d", {"v": 1})
    v2 = service.register_rule("dest_known", ASSET, "WARN", "d", {"v": 2})
    other = service.register_rule("tailnum_present", ASSET, "WARN", "d", {})

    def record(run, day, version, status, failing):
        service.record_result(
            execution_id=run, rule_version_id=version.rule_version_id, asset_key=ASSET,
            partition_key=day, status=status, total_rows=100, failing_rows=failing,
        )

    record(_execution(engine, "a1", "2013-02-01"), "2013-02-01", v1, "WARN", 26)
    record(_execution(engine, "a2", "2013-02-02"), "2013-02-02", v1, "WARN", 30)
    record("a2", "2013-02-02", other, "WARN", 7)
    # a replay of 2013-02-02 under a newer rule version: its result replaces the count
    record(_execution(engine, "a3", "2013-02-02"), "2013-02-02", v2, "PASS", 0)
    record(_execution(engine, "a4", "2013-02-03"), "2013-02-03", v2, "WARN", 5)
    days = ["2013-02-01", "2013-02-02", "2013-02-03", "2013-02-04"]
    assert service.warn_counts("dest_known", days) == {
        "2013-02-01": 26, "2013-02-02": 0, "2013-02-03": 5
    }
    assert service.warn_counts("tailnum_present", days) == {"2013-02-02": 7}
    assert service.warn_counts("dest_known", []) == {}


def test_the_warning_history_of_many_results_is_one_read_of_each_history(engine):
    service = ValidationService(engine)
    noisy = service.register_rule("dest_known", ASSET, "WARN", "d", {"v": 1}, alert_policy="always")
    quiet = service.register_rule("tailnum_present", ASSET, "WARN", "t", {})
    recorded = []
    for i, day in enumerate(["2013-02-01", "2013-02-02", "2013-02-03"]):
        run = _execution(engine, f"h{i}", day)
        for version in (noisy, quiet):
            recorded.append(service.record_result(
                execution_id=run, rule_version_id=version.rule_version_id, asset_key=ASSET,
                partition_key=day, status="WARN", total_rows=100, failing_rows=10 + i))
    begun = []

    def begin(_conn) -> None:
        begun.append(1)

    sa.event.listen(engine, "begin", begin)
    try:
        policies, histories = service.warning_history(recorded, window=14)
    finally:
        sa.event.remove(engine, "begin", begin)
    assert len(begun) == 1
    assert policies == {"dest_known": "always", "tailnum_present": "baseline"}
    for result in recorded:  # the same as asking for each result on its own
        assert histories[result.result_id] == service.previous_results(
            result.rule_id, result.partition_key, 14)
    last_noisy = [r for r in recorded if r.rule_id == "dest_known"][-1]
    assert [h.partition_key for h in histories[last_noisy.result_id]] == [
        "2013-02-02", "2013-02-01"]
    assert service.warning_history([], window=14) == ({}, {})
