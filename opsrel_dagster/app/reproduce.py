"""``opsrel reproduce``: re-run an execution's recorded context in isolation.

The execution's input snapshot (the immutable copy its context names) is laid out as the landing
file of its partition in a temporary folder; the pipeline runs there against an ephemeral Dagster
instance and a throw-away ops database, with the recorded run config. Nothing of the real ops
schema changes (no version is created or activated). Each result's content hash is compared with
the version the original execution made.
"""

import dataclasses
import gzip
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from opsrel_core.config import overridden
from opsrel_core.domain import error_codes
from opsrel_core.errors import InputDataException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.provenance import ExecutionContextService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.results import SnapshotService
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.assembly import LIBRARY_RESOURCES
from opsrel_dagster.registration import upgrade_and_register
from opsrel_dagster.result_files import file_uri_path


@dataclasses.dataclass(frozen=True)
class ReproducedResult:
    """One asset's comparison: the original and reproduced content hashes."""

    asset_key: str
    partition_key: str
    original_hash: str | None
    reproduced_hash: str | None

    @property
    def identical(self) -> bool:
        """True when both hashes exist and are equal."""
        return self.original_hash is not None and self.original_hash == self.reproduced_hash


def reproduce_execution(
    engine: sa.Engine, execution_id: str, job: OpsrelJob
) -> list[ReproducedResult]:
    """Re-run one execution's context in isolation and compare its results' content hashes.

    Args:
        engine: the real ops database (read only here).
        execution_id: a completed execution with a recorded context.
        job: the execution's declared job: its assets, resources, landing file name and the
            result assets to compare (``job.result_assets``).

    Returns:
        One comparison per result asset, in ``job.result_assets`` order.

    Raises:
        BatchExecutionException: BAT-002 when the execution has no recorded context.
        InputDataException: INP-005 when its snapshot is not in the snapshot store any more.
    """
    context = ExecutionContextService(engine).get_context(execution_id)
    partition = context.parameters.get("partition_key")
    snapshot = SnapshotService(engine).get_snapshot(context.snapshot_ids[0]) if context.snapshot_ids else None
    snapshot_path = file_uri_path(snapshot.storage_uri) if snapshot else None
    if partition is None or snapshot_path is None or not snapshot_path.exists():
        raise InputDataException(
            error_codes.INP_NO_SOURCE_DATA,
            f"execution {execution_id} cannot be reproduced: its partition or input snapshot "
            f"({context.snapshot_ids}) is not available in the snapshot store",
        )
    originals = {
        v.asset_key: v.content_hash
        for v in ResultVersionService(engine).versions_of_execution(execution_id)
    }
    workdir = Path(tempfile.mkdtemp(prefix="opsrel-reproduce-"))
    try:
        landing = workdir / "landing"
        landing.mkdir()
        with gzip.open(snapshot_path, "rb") as src, (landing / job.landing_file_of(partition)).open("wb") as dst:
            shutil.copyfileobj(src, dst)
        scratch_url = f"sqlite:///{workdir / 'ops.db'}"
        upgrade_and_register(scratch_url, [job])
        env = {
            "OPSREL_HOME": str(workdir / "home"),
            "OPSREL_DATABASE_URL": scratch_url,
            "OPSREL_LANDING_DIR": str(landing),
        }
        with overridden(env), dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                job.assets(),
                partition_key=partition,
                instance=instance,
                resources={**LIBRARY_RESOURCES, **job.resources()},
                run_config=context.parameters.get("run_config") or {},
                tags={
                    opsrel_tags.OPERATOR: "opsrel reproduce",
                    opsrel_tags.REASON: f"reproduce {execution_id}",
                },
                raise_on_error=False,
            )
            scratch = make_engine(scratch_url)
            try:
                reproduced = {
                    v.asset_key: v.content_hash
                    for v in ResultVersionService(scratch).versions_of_execution(result.run_id)
                }
            finally:
                scratch.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return [
        ReproducedResult(asset, partition, originals.get(asset), reproduced.get(asset))
        for asset in job.result_assets
    ]
