"""OutputRecorder: an output's versions and its execution's progress in one transaction."""

import pytest

from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import NewVersion, OutputRecorder
from opsrel_core.services.results import ResultVersionService


def _value(key: str, digest: str = "a", rows: int = 3) -> NewVersion:
    return NewVersion(partition_key=key, content_hash=f"sha256:{digest}", row_count=rows,
                      storage_uri=f"file:///results/{key}/{digest}.pkl")


@pytest.fixture
def running(engine):
    executions = BatchExecutionService(engine)
    for run in ("run-1", "run-2"):
        executions.register_execution(ExecutionSpec(run, "flights_daily", steps_total=2))
        executions.start_execution(run)
    return executions


def test_an_unrecorded_execution_gets_none_and_nothing_is_written(engine):
    assert OutputRecorder(engine).record(
        execution_id="nobody", asset_key="clean_flights", values=[_value("2013-01-01")]) is None
    assert ResultVersionService(engine).versions_of_execution("nobody") == []


def test_versions_are_numbered_per_partition_and_progress_counts_assets(engine, running):
    recorder = OutputRecorder(engine)
    first = recorder.record(execution_id="run-1", asset_key="clean_flights",
                            values=[_value("2013-01-01"), _value("2013-01-02")])
    assert {k: v.version_number for k, v in first.versions.items()} == {
        "2013-01-01": 1, "2013-01-02": 1}
    assert first.replaced == {"2013-01-01": None, "2013-01-02": None}
    assert first.execution.steps_done == 0  # as it was before this output
    assert [v.is_active for v in first.versions.values()] == [False, False]
    assert running.find_execution("run-1").steps_done == 1
    # The same execution recording again (a retried step) gets its versions back.
    again = recorder.record(execution_id="run-1", asset_key="clean_flights",
                            values=[_value("2013-01-01", "b")])
    assert again.versions["2013-01-01"].version_id == first.versions["2013-01-01"].version_id
    assert again.versions["2013-01-01"].content_hash == "sha256:a"
    # Another asset moves progress to 2 of 2; another execution numbers the partition 2.
    recorder.record(execution_id="run-1", asset_key="ontime_performance",
                    values=[_value("2013-01-01")])
    assert (running.find_execution("run-1").steps_done,
            running.find_execution("run-1").steps_total) == (2, 2)
    second = recorder.record(execution_id="run-2", asset_key="clean_flights",
                             values=[_value("2013-01-01", "c")])
    assert second.versions["2013-01-01"].version_number == 2


def test_the_replaced_number_is_the_active_version(engine, running):
    recorder = OutputRecorder(engine)
    recorder.record(execution_id="run-1", asset_key="clean_flights", values=[_value("2013-01-01")])
    running.complete_execution("run-1")
    ResultVersionService(engine).activate_execution_versions("run-1")
    later = recorder.record(execution_id="run-2", asset_key="clean_flights",
                            values=[_value("2013-01-01", "d")])
    assert later.replaced == {"2013-01-01": 1}
    assert later.versions["2013-01-01"].version_number == 2


def test_a_terminal_execution_keeps_its_figures(engine, running):
    running.complete_execution("run-1")
    before = running.find_execution("run-1")
    OutputRecorder(engine).record(execution_id="run-1", asset_key="clean_flights",
                                  values=[_value("2013-01-01")])
    after = running.find_execution("run-1")
    assert (after.steps_done, after.steps_total) == (before.steps_done, before.steps_total)


def test_an_output_must_cover_a_partition(engine, running):
    with pytest.raises(ValueError, match="at least one partition"):
        OutputRecorder(engine).record(execution_id="run-1", asset_key="clean_flights", values=[])
