"""One concurrent writer of lifecycle rows: ``python -m tests.support.lifecycle_writer URL ID N GO``.

It waits until the file ``GO`` exists (so that every writer starts at once), then drives ``N``
executions ``w<ID>-<i>`` through the services the way a run does (register, start, progress
twice, a result version on the shared partitions, then SUCCESS with activation, or FAILED every
third one), all on the ops database at ``URL``. Every execution also writes one version on a
partition shared by all writers, so activations contend. It prints one JSON line:
``{"writer": ID, "done": N, "errors": [...]}``; any exception is reported, never swallowed.
"""

import json
import sys
import time
import traceback
from pathlib import Path

from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.results import ResultVersionService

SHARED_PARTITIONS = ("2013-02-01", "2013-02-02")


def main(url: str, writer: int, count: int, go: str) -> int:
    """Drive ``count`` executions; exit 1 when any call raised."""
    engine = make_engine(url)
    executions = BatchExecutionService(engine)
    versions = ResultVersionService(engine)
    while not Path(go).exists():
        time.sleep(0.01)
    errors, done = [], 0
    for i in range(count):
        eid = f"w{writer}-{i}"
        partition = SHARED_PARTITIONS[i % len(SHARED_PARTITIONS)]
        try:
            executions.register_execution(
                ExecutionSpec(eid, "flights_daily", partition_key=partition, steps_total=4,
                              operator_id=f"writer-{writer}")
            )
            executions.start_execution(eid)
            executions.update_progress(eid, steps_done=1, rows_written=10)
            version = versions.create_version(
                asset_key="ontime_performance", partition_key=partition, execution_id=eid,
                content_hash=f"sha256:{eid}", row_count=10, storage_uri=None,
            )
            executions.update_progress(eid, steps_done=4, rows_written=40)
            if i % 3 == 2:
                executions.fail_execution(eid, "INP-001", error_message=f"bad input {eid}")
            else:
                executions.complete_execution(eid)
                versions.activate_execution_versions(eid)
            assert version.execution_id == eid
            done += 1
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            errors.append(f"{eid}: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-800:]}")
    print(json.dumps({"writer": writer, "done": done, "errors": errors}))
    engine.dispose()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
