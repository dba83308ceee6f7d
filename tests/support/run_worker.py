"""A real run worker for fault-injection tests: ``python -m tests.support.run_worker KEY...``.

It runs the flights pipeline for the given partitions through ``HeadlessRunner.run_partitions``
(the code path of ``opsrel run``: a real Dagster run per partition, projected into the ops
schema), configured from the environment (``OPSREL_HOME``, ``OPSREL_DATABASE_URL``,
``DAGSTER_HOME``). With ``OPSREL_TEST_GATE_DIR`` set, the ``raw_flights`` step of each run
touches ``<gate>/started-<partition>`` and then waits until ``<gate>/release`` exists, so a test
can kill the worker mid-step, or take the database away while a run is in flight. The summaries
are printed as one JSON line at the end.
"""

import json
import os
import sys
import time
from pathlib import Path


def _gate_load_day(gate: Path) -> None:
    from opsrel_dagster.defs.flights.source import FlightsSource

    original = FlightsSource.load_day

    def gated(self, day):  # type: ignore[no-untyped-def]
        (gate / f"started-{day.isoformat()}").touch()
        while not (gate / "release").exists():
            time.sleep(0.05)
        return original(self, day)

    FlightsSource.load_day = gated  # type: ignore[method-assign]


def main(keys: list[str]) -> int:
    """Run ``keys`` and print the summaries; exit 0 when the worker itself did not crash."""
    gate = os.environ.get("OPSREL_TEST_GATE_DIR")
    if gate:
        _gate_load_day(Path(gate))
    from opsrel_dagster.app.runner import HeadlessRunner

    runner = HeadlessRunner.from_env()
    summaries = runner.run_partitions(keys)
    print(json.dumps([s.as_dict() for s in summaries]))
    runner.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
