"""The results wing over the in-memory repositories: numbering (and numbering again after a
concurrent writer), the activation gate's decisions written, a concurrent activation seen on the
next attempt, the reads, an output's versions with its run's progress, a restore's refusals and
snapshots registered once. No database server: the unit of work runs on an empty in-memory
SQLite the fakes never query (the audited corrections are tested on both databases in
``tests/integration``)."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.domain.activation import NO_DECISION_REFUSAL, CheckOutcome
from opsrel_core.errors import (
    BatchExecutionException, ConflictException, LogicException, NotFoundException,
)
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.repositories.snapshots import SnapshotRepository
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import (
    CheckEvidence, NewVersion, OutputRecorder, ResultVersionService, SnapshotRecord,
    SnapshotService,
)
from opsrel_core.services.results.views import ATTEMPTS
from tests.support.fakes.results import (
    FakeResultVersionRepository, FakeSnapshotRepository, ResultStore,
)

ASSET, DAY, DAY2 = "clean_flights", "2013-01-01", "2013-01-02"
T0 = dt.datetime(2024, 3, 1, 2, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> ResultStore:
    return ResultStore()


@pytest.fixture
def recovered() -> list[tuple[str, set[str]]]:
    return []


@pytest.fixture
def versions(engine, store, recovered) -> ResultVersionService:
    def recover(session, execution, partitions, now):
        recovered.append((execution.execution_id, set(partitions)))
    return ResultVersionService(engine, clock=lambda: T0, repository=store.repository,
                                executions=store.executions.repository, recover=recover)


@pytest.fixture
def executions(engine, store) -> BatchExecutionService:
    return BatchExecutionService(engine, repository=store.executions.repository)


def _run(executions, versions, run, *, operator="op", end="SUCCESS", days=(DAY,), **spec):
    """A run that stores a version of ASSET for each of ``days``, then ends ``end`` (SUCCESS,
    STOPPED, or RUNNING: not yet)."""
    executions.register_execution(ExecutionSpec(run, "flights_daily", operator_id=operator,
                                                steps_total=2, **spec), at=T0)
    executions.start_execution(run, at=T0)
    for day in days:
        versions.create_version(asset_key=ASSET, partition_key=day, execution_id=run,
                                content_hash=f"sha256:{run}", row_count=3, storage_uri=None)
    if end == "SUCCESS":
        executions.complete_execution(run, at=T0)
    elif end == "STOPPED":
        executions.stop_execution(run, at=T0)


def _active(versions, day=DAY):
    active = versions.get_active_version(ASSET, day)
    return None if active is None else (active.version_number, active.execution_id)


def test_the_fakes_have_every_method_of_the_repositories():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeResultVersionRepository) == public(ResultVersionRepository)
    assert public(FakeSnapshotRepository) == public(SnapshotRepository)


def test_versions_are_numbered_per_partition_and_a_retried_step_gets_its_own_back(
        executions, versions):
    _run(executions, versions, "run-1", days=(DAY, DAY2))
    _run(executions, versions, "run-2")
    again = versions.create_version(asset_key=ASSET, partition_key=DAY, execution_id="run-1",
                                    content_hash="sha256:other", row_count=9, storage_uri=None)
    assert (again.version_number, again.content_hash) == (1, "sha256:run-1")
    assert [(v.version_number, v.execution_id) for v in versions.get_version_history(ASSET, DAY)] \
        == [(2, "run-2"), (1, "run-1")]
    assert versions.get_version(ASSET, DAY2, 1).execution_id == "run-1"
    assert versions.version_of_execution(ASSET, DAY2, "run-2") is None


def test_a_number_a_concurrent_writer_took_is_numbered_again(executions, versions, store):
    executions.register_execution(ExecutionSpec("run-1", "flights_daily"), at=T0)

    def other_writer_first(values):
        store.before_add = None
        store.insert({**values, "execution_id": "other"})

    store.before_add = other_writer_first
    view = versions.create_version(asset_key=ASSET, partition_key=DAY, execution_id="run-1",
                                   content_hash="sha256:a", row_count=1, storage_uri=None)
    assert view.version_number == 2


def test_numbering_gives_up_when_every_number_is_taken_first(executions, versions, store):
    taken = []

    def always_first(values):
        taken.append(values["version_number"])
        store.insert({**values, "execution_id": f"other-{len(taken)}"})

    store.before_add = always_first
    with pytest.raises(LogicException) as err:
        versions.create_version(asset_key=ASSET, partition_key=DAY, execution_id="run-1",
                                content_hash="sha256:a", row_count=1, storage_uri=None)
    assert err.value.code == "LOG-001"
    assert taken == list(range(1, ATTEMPTS + 1))


def test_a_successful_run_takes_the_place_of_the_active_version(executions, versions, recovered):
    _run(executions, versions, "run-1", days=(DAY, DAY2))
    assert versions.activate_execution_versions("run-1")[0].is_active
    _run(executions, versions, "run-2")
    [view] = versions.activate_execution_versions("run-2")
    assert (view.version_number, view.is_active, view.inactive_reason) == (2, True, None)
    old = versions.get_version(ASSET, DAY, 1)
    assert (old.is_active, old.deactivated_by_execution_id) == (False, "run-2")
    assert (_active(versions), _active(versions, DAY2)) == ((2, "run-2"), (1, "run-1"))
    assert recovered == [("run-1", {DAY, DAY2}), ("run-2", {DAY})]


def test_a_run_that_did_not_succeed_activates_nothing(executions, versions, recovered):
    _run(executions, versions, "run-1", end="STOPPED")
    [view] = versions.activate_execution_versions("run-1")
    assert (view.is_active, view.inactive_reason) == (False, None)
    assert versions.activate_execution_versions("nobody") == [] and recovered == []


def test_an_older_version_finishing_later_stays_inactive(executions, versions):
    _run(executions, versions, "slow", end="RUNNING")
    _run(executions, versions, "fast")
    versions.activate_execution_versions("fast")
    executions.complete_execution("slow", at=T0)
    [slow] = versions.activate_execution_versions("slow")
    assert (slow.version_number, slow.is_active, slow.inactive_reason) == (1, False, None)
    assert _active(versions) == (2, "fast")


def test_the_gate_refusals_are_recorded_and_the_active_version_stays(executions, versions):
    _run(executions, versions, "run-1")
    versions.activate_execution_versions("run-1")
    _run(executions, versions, "run-2", operator=None)
    [undecided] = versions.activate_execution_versions("run-2")
    assert undecided.inactive_reason == f"execution run-2 (manual) {NO_DECISION_REFUSAL}"
    _run(executions, versions, "run-3")
    evidence = CheckEvidence({ASSET: frozenset({"carrier_known"})},
                             {(ASSET, "carrier_known"): CheckOutcome(False)})
    [failed] = versions.activate_execution_versions("run-3", evidence)
    assert failed.inactive_reason == f"the blocking check carrier_known of {ASSET} failed for {DAY}"
    assert _active(versions) == (1, "run-1")
    # The check passing on a later look admits it, and the reason goes.
    passed = CheckEvidence(evidence.blocking_checks, {(ASSET, "carrier_known"): CheckOutcome(True)})
    [admitted] = versions.activate_execution_versions("run-3", passed)
    assert (admitted.is_active, admitted.inactive_reason) == (True, None)


def test_a_concurrent_activation_that_won_is_seen_on_the_next_attempt(executions, versions,
                                                                      store):
    _run(executions, versions, "run-1")
    _run(executions, versions, "run-2")

    def run_1_activated_first(row):
        store.before_activate = None
        versions.activate_execution_versions("run-1")

    store.before_activate = run_1_activated_first
    [view] = versions.activate_execution_versions("run-2")
    assert view.is_active and _active(versions) == (2, "run-2")
    assert versions.get_version(ASSET, DAY, 1).deactivated_by_execution_id == "run-2"


def test_first_active_version_looks_among_assets_and_partitions(executions, versions):
    _run(executions, versions, "run-1", days=(DAY2,))
    versions.activate_execution_versions("run-1")
    assert versions.first_active_version([ASSET], [DAY]) is None
    assert versions.first_active_version([ASSET, "other"], [DAY, DAY2]).partition_key == DAY2


def test_an_output_records_its_versions_and_the_progress_of_its_run(engine, executions, store):
    recorder = OutputRecorder(engine, repository=store.repository,
                              executions=store.executions.repository)
    values = [NewVersion(day, f"sha256:{day}", 3, None) for day in (DAY, DAY2)]
    assert recorder.record(execution_id="nobody", asset_key=ASSET, values=values) is None
    executions.register_execution(ExecutionSpec("run-1", "flights_daily", steps_total=2), at=T0)
    executions.start_execution("run-1", at=T0)
    first = recorder.record(execution_id="run-1", asset_key=ASSET, values=values)
    assert {k: v.version_number for k, v in first.versions.items()} == {DAY: 1, DAY2: 1}
    assert (first.replaced, first.execution.steps_done) == ({DAY: None, DAY2: None}, 0)
    recorder.record(execution_id="run-1", asset_key="ontime_performance", values=values[:1])
    run = executions.find_execution("run-1")
    assert (run.steps_done, run.steps_total) == (2, 2)
    executions.complete_execution("run-1", at=T0)
    recorder.record(execution_id="run-1", asset_key="third", values=values[:1])
    assert executions.find_execution("run-1").steps_done == 2  # a terminal run keeps its figures


def test_a_restore_is_refused_before_anything_changes(executions, versions):
    _run(executions, versions, "run-1")
    versions.activate_execution_versions("run-1")
    _run(executions, versions, "run-2", end="STOPPED")
    with pytest.raises(BatchExecutionException) as missing:
        versions.restore_version(ASSET, DAY, 2, operator_id="dana", reason=" ")
    with pytest.raises(NotFoundException) as unknown:
        versions.restore_version(ASSET, DAY, 7, operator_id="dana", reason="why")
    with pytest.raises(ConflictException) as refused:
        versions.restore_version(ASSET, DAY, 2, operator_id="dana", reason="why")
    assert (missing.value.code, unknown.value.code, refused.value.code) == (
        "BAT-008", "BAT-010", "BAT-001")
    assert "STOPPED" in refused.value.operator_message
    assert _active(versions) == (1, "run-1")


def test_deactivating_an_inactive_version_changes_nothing(executions, versions):
    _run(executions, versions, "run-1", end="STOPPED")
    view = versions.versions_of_execution("run-1")[0]
    assert versions.deactivate_version(view.version_id, operator_id="dana",
                                       reason="why") == view
    with pytest.raises(LogicException):
        versions.deactivate_version(99, operator_id="dana", reason="why")


def test_a_snapshot_is_registered_once(engine, store):
    snapshots = SnapshotService(engine, repository=store.snapshot_repository)
    first = SnapshotRecord("sha256:a", "raw_flights", DAY, "file:///in/a.csv",
                           "file:///snap/a.csv", 10, "run-1")
    assert snapshots.record_snapshot(first) == first
    again = SnapshotRecord("sha256:a", "raw_flights", DAY2, "file:///in/b.csv",
                           "file:///snap/b.csv", 10, "run-2")
    other = SnapshotRecord("sha256:b", "raw_flights", DAY2, "file:///in/b.csv",
                           "file:///snap/b.csv", 11, "run-2")
    assert snapshots.record_snapshots([again, other, again]) == [first, other, first]
    assert snapshots.get_snapshot("sha256:b") == other and snapshots.get_snapshot("x") is None
    assert snapshots.record_snapshots([]) == []
