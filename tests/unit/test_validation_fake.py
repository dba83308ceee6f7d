"""ValidationService and CheckRecorder over the in-memory repository: a rule's version named by
its definition and severity, results recorded once, the latest result per partition counted,
and a check step's rule and results staged together. No database server: the unit of work runs
on an empty in-memory SQLite the fake never queries."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.persistence.repositories.validation import ValidationRepository
from opsrel_core.services.quality import (
    CheckRecorder, Outcome, RuleSpec, ValidationService, rule_version_hash,
)
from tests.support.fakes.quality import QualityStore, FakeValidationRepository


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> QualityStore:
    s = QualityStore()
    s.executions.update({"run-1", "run-2", "run-3"})
    return s


@pytest.fixture
def service(engine, store) -> ValidationService:
    return ValidationService(engine, repository=store.repository)


def _warn_rule(service: ValidationService, definition: dict | None = None, **kw):
    return service.register_rule("tailnum_present", "clean_flights", kw.pop("severity", "WARN"),
                                 kw.pop("description", "tail numbers"), definition or {"k": 1},
                                 **kw)


def test_the_fake_has_every_method_of_the_repository():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeValidationRepository) == public(ValidationRepository)


def test_a_rule_version_is_named_by_its_definition_and_severity(service, store):
    first = _warn_rule(service)
    assert first.version_hash == rule_version_hash({"k": 1}, "WARN")
    assert first.version_hash.startswith("sha256:") and len(first.version_hash) == 71
    again = _warn_rule(service, description="tail numbers, reworded")
    assert again.rule_version_id == first.rule_version_id  # the description is not the version
    assert again.description == "tail numbers, reworded"
    changed = _warn_rule(service, {"k": 2})
    stricter = _warn_rule(service, {"k": 2}, severity="FAIL")
    assert len({first.rule_version_id, changed.rule_version_id, stricter.rule_version_id}) == 3
    assert [v.rule_version_id for v in service.get_rule_versions("tailnum_present")] == [
        first.rule_version_id, changed.rule_version_id, stricter.rule_version_id]
    # Every view names the rule as it stands now.
    assert {v.severity for v in service.get_rule_versions("tailnum_present")} == {"FAIL"}
    assert service.get_rule_versions("unknown") == []


def test_key_order_does_not_make_a_new_version(service):
    a = service.register_rule("r", "a", "FAIL", "d", {"x": 1, "y": [1, 2]})
    b = service.register_rule("r", "a", "FAIL", "d", {"y": [1, 2], "x": 1})
    assert a == b


@pytest.mark.parametrize("severity, policy", [("INFO", "baseline"), ("WARN", "sometimes")])
def test_an_unknown_severity_or_policy_is_refused(service, store, severity, policy):
    with pytest.raises(ValueError):
        service.register_rule("r", "a", severity, "d", {}, alert_policy=policy)
    assert (store.rules, store.versions) == ({}, {})


def test_a_definition_that_is_not_plain_json_is_refused(service, store):
    with pytest.raises(ValueError):
        service.register_rule("r", "a", "FAIL", "d", {"bound": float("nan")})
    assert store.rules == {}


def test_a_result_is_recorded_once(service, store):
    version = _warn_rule(service)
    first = service.record_result(execution_id="run-1", rule_version_id=version.rule_version_id,
                                  asset_key="clean_flights", partition_key="2013-01-01",
                                  status="WARN", total_rows=10, failing_rows=2,
                                  sample_failures=[{"b": 1, "a": 2}])
    again = service.record_result(execution_id="run-1", rule_version_id=version.rule_version_id,
                                  asset_key="clean_flights", partition_key="2013-01-01",
                                  status="PASS")
    assert again == first and len(store.results) == 1
    assert (first.rule_id, first.version_hash, first.severity, first.status,
            first.failing_rows) == ("tailnum_present", version.version_hash, "WARN", "WARN", 2)
    assert first.sample_failures == [{"a": 2, "b": 1}]
    with pytest.raises(ValueError, match="status must be one of"):
        service.record_result(execution_id="run-2", rule_version_id=version.rule_version_id,
                              asset_key="clean_flights", partition_key="2013-01-01",
                              status="MAYBE")


def _record(service, version, run, day, status, failing=None):
    return service.record_result(execution_id=run, rule_version_id=version.rule_version_id,
                                 asset_key="clean_flights", partition_key=day, status=status,
                                 total_rows=100, failing_rows=failing)


def test_warn_counts_take_each_partitions_latest_result(service):
    v1 = _warn_rule(service)
    v2 = _warn_rule(service, {"k": 2})
    _record(service, v1, "run-1", "2013-02-01", "WARN", 5)
    _record(service, v2, "run-2", "2013-02-01", "PASS")  # a replay under a newer version
    _record(service, v1, "run-1", "2013-02-02", "WARN", 3)
    _record(service, v1, "run-1", "2013-02-03", "WARN")  # table-level: no failing rows
    days = ["2013-02-03", "2013-02-01", "2013-02-02", "2013-02-04", "2013-02-01"]
    assert service.warn_counts("tailnum_present", days) == {
        "2013-02-03": 1, "2013-02-01": 0, "2013-02-02": 3}
    assert service.warn_counts("tailnum_present", []) == {}
    assert service.recent_statuses("tailnum_present", "2013-02-02", 5) == [
        ("2013-02-02", "WARN"), ("2013-02-01", "PASS")]
    assert [r.partition_key for r in service.previous_results(
        "tailnum_present", "2013-02-03", 1)] == ["2013-02-02"]


def test_the_warning_history_reads_policies_and_previous_results(service):
    version = _warn_rule(service, alert_policy="always")
    results = [_record(service, version, "run-1", f"2013-02-0{d}", "WARN", d) for d in (1, 2, 3)]
    ghost = results[0].__class__(**{**vars(results[0]), "rule_id": "never_registered",
                                    "result_id": 999})
    policies, histories = service.warning_history([*results, ghost], window=5)
    assert policies == {"tailnum_present": "always", "never_registered": "baseline"}
    assert [[h.partition_key for h in histories[r.result_id]] for r in results] == [
        [], ["2013-02-01"], ["2013-02-02", "2013-02-01"]]
    assert histories[999] == []
    assert service.alert_policy_of("tailnum_present") == "always"
    assert service.alert_policy_of("never_registered") == "baseline"


SPEC = RuleSpec(rule_id="tailnum_present", asset_key="clean_flights", severity="WARN",
                description="tail numbers", definition={"k": 1})


def test_a_check_step_records_its_rule_and_results_together(engine, store):
    recorder = CheckRecorder(engine, repository=store.repository)
    outcomes = [Outcome("2013-01-01", "WARN", total_rows=10, failing_rows=2),
                Outcome("2013-01-02", "PASS", total_rows=12, failing_rows=0)]
    version, recorded = recorder.record(execution_id="run-1", rule=SPEC, outcomes=outcomes)
    assert recorded and version.version_hash == rule_version_hash({"k": 1}, "WARN")
    again, recorded_again = recorder.record(execution_id="run-1", rule=SPEC, outcomes=outcomes)
    assert (again, recorded_again) == (version, True)
    assert sorted((r.partition_key, r.status, r.failing_rows) for r in store.results.values()) == [
        ("2013-01-01", "WARN", 2), ("2013-01-02", "PASS", 0)]


def test_a_check_step_of_an_unrecorded_execution_registers_only_its_rule(engine, store):
    recorder = CheckRecorder(engine, repository=store.repository)
    version, recorded = recorder.record(execution_id="run-9", rule=SPEC,
                                        outcomes=[Outcome("2013-01-01", "PASS")])
    assert not recorded and store.results == {}
    assert list(store.versions) == [version.rule_version_id]


def test_a_check_step_with_an_unknown_status_writes_no_result(engine, store):
    recorder = CheckRecorder(engine, repository=store.repository)
    with pytest.raises(ValueError, match="status must be one of"):
        recorder.record(execution_id="run-1", rule=SPEC, outcomes=[Outcome("2013-01-01", "OK")])
    assert store.results == {}
