"""The ops transactions one partition's run costs, counted with SQLAlchemy's ``begin`` events.

docs/performance.md ("Ops transactions per run") documents these numbers; a change that adds a
round trip per output or per check shows here first. The first partition of each job warms up
what happens once per process or once per database (rule registration, the job catalog); the
second partition is counted.
"""

import collections
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.app.runner import HeadlessRunner

# Flights: 7 versioned outputs, 8 check steps; weather: 5 outputs, 8 check steps.
DOCUMENTED = {
    "flights_daily": {"total": 39, "outputs": 7, "checks": 8},
    "weather_hourly": {"total": 36, "outputs": 5, "checks": 8},
}


@contextmanager
def counted() -> Iterator[collections.Counter]:
    """Count the transactions opsrel begins (a frame of ``opsrel_core`` on the stack, so
    Dagster's own storage in the same database is not counted), by the recording step."""
    counts: collections.Counter = collections.Counter()

    def begin(_conn: sa.Connection) -> None:
        files = [frame.filename for frame in traceback.extract_stack()]
        if not any("opsrel_core" in name for name in files):
            return
        if any(name.endswith("output_recording.py") for name in files):
            counts["outputs"] += 1
        elif any(name.endswith("check_recording.py") for name in files):
            counts["checks"] += 1
        counts["total"] += 1

    sa.event.listen(sa.engine.Engine, "begin", begin)
    try:
        yield counts
    finally:
        sa.event.remove(sa.engine.Engine, "begin", begin)


def _count_second_partition(runner: HeadlessRunner) -> tuple[collections.Counter, str]:
    keys = runner.job.partition_keys()
    first = runner.run_partitions([keys[0]])
    assert [s.status for s in first] == ["SUCCESS"]
    with counted() as counts:
        second = runner.run_partitions([keys[1]])
    assert [s.status for s in second] == ["SUCCESS"]
    return counts, second[0].run_id


def _assert_documented(runner: HeadlessRunner, job_id: str) -> None:
    counts, run_id = _count_second_partition(runner)
    documented = DOCUMENTED[job_id]
    versions = ResultVersionService(runner.engine).versions_of_execution(run_id)
    assert len({v.asset_key for v in versions}) == documented["outputs"]
    # One transaction per output, plus one: the run's first output finds it not yet recorded,
    # the run is projected, and that output is recorded on the second ask.
    assert counts["outputs"] == documented["outputs"] + 1
    assert counts["checks"] == documented["checks"]  # one per check step
    assert counts["total"] == documented["total"], dict(counts)


def test_one_flights_partition_costs_the_documented_transactions(opsrel_env):
    runner = HeadlessRunner.from_env("flights_daily")
    try:
        _assert_documented(runner, "flights_daily")
    finally:
        runner.engine.dispose()


def test_one_weather_hour_costs_the_documented_transactions(opsrel_env):
    runner = HeadlessRunner.from_env("weather_hourly")
    try:
        _assert_documented(runner, "weather_hourly")
    finally:
        runner.engine.dispose()
