"""Recording an asset step's output: its result versions and the run's progress, together.

An output of a running execution becomes one new, inactive result version per partition it
covers (one for a partition's run, one per partition for a range run), and the execution's
progress moves to the number of distinct assets it has versions of. Both are written in one
transaction: a step costs the ops database one round trip per output, whatever number of
partitions it covers, and a crash between the two leaves neither.

The rules are those of ``ResultVersionService.create_version`` (``numbering.stage_version``:
numbered one above the partition's highest; the same execution recording again gets its version
back) and of ``BatchExecutionService.update_progress`` (``execution_moves.advance``: progress only
moves forward; a terminal execution's figures are left to the projection).
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain import execution_moves as moves
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import LogicException
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.batch_execution.views import ExecutionView
from opsrel_core.services.results.numbering import stage_version
from opsrel_core.services.results.views import ATTEMPTS, Executions, Repository, ResultVersionView


@dataclasses.dataclass(frozen=True)
class NewVersion:
    """One partition's stored value, to be recorded as a version.

    Attributes:
        partition_key: as the job spells it, ``"__all__"`` when unpartitioned.
        content_hash: ``sha256:<hex>`` of the stored bytes.
        row_count: rows of the value (1 for a value without rows).
        storage_uri: where the bytes are (``file://...``).
    """

    partition_key: str
    content_hash: str
    row_count: int
    storage_uri: str | None


@dataclasses.dataclass(frozen=True)
class RecordedOutput:
    """What ``OutputRecorder.record`` wrote.

    Attributes:
        versions: the version of each partition, by partition key, in the order given.
        replaced: per partition key, the number of the version active when it was recorded
            (the one it would replace), None when none was active.
        execution: the execution as it was before its progress moved.
    """

    versions: dict[str, ResultVersionView]
    replaced: dict[str, int | None]
    execution: ExecutionView


@retry_transient_methods
class OutputRecorder:
    """Records an output's versions and its execution's progress in one transaction.

    Args:
        engine: engine of the ops database.
        repository, executions: the result-version and the execution SQL over a session;
            injectable so the fast tests run on in-memory fakes.
    """

    def __init__(self, engine: sa.Engine, *, repository: Repository = ResultVersionRepository,
                 executions: Executions = ExecutionRepository):
        self._engine = engine
        self._repository = repository
        self._executions = executions

    def record(self, *, execution_id: str, asset_key: str,
               values: Sequence[NewVersion]) -> RecordedOutput | None:
        """Record one output of ``execution_id``: a version per entry of ``values`` and the
        execution's progress (distinct assets with a version of it), in one transaction.

        Args:
            execution_id: the Dagster run id.
            asset_key: the asset, e.g. ``"ontime_performance"``.
            values: one entry per partition the output covers (at least one).

        Returns:
            What was written, or None when the execution is not recorded yet (nothing is
            written then: the caller records the run and asks again).

        Raises:
            ValueError: ``values`` is empty.
            LogicException: LOG-001 when a version could not be numbered after repeated
                conflicts with concurrent writers.
        """
        if not values:
            raise ValueError("an output covers at least one partition")
        for _attempt in range(ATTEMPTS):
            try:
                with UnitOfWork(self._engine) as uow:
                    session = uow.session
                    repo, executions = self._repository(session), self._executions(session)
                    execution = executions.find(execution_id, for_update=True)
                    if execution is None:
                        return None
                    before = ExecutionView.of(execution)
                    replaced = repo.active_numbers(
                        asset_key, [value.partition_key for value in values])
                    rows = {value.partition_key: stage_version(
                                session, asset_key=asset_key,
                                partition_key=value.partition_key, execution_id=execution_id,
                                content_hash=value.content_hash, row_count=value.row_count,
                                storage_uri=value.storage_uri, repository=self._repository)
                            for value in values}
                    repo.flush()
                    _advance_progress(repo, executions, execution)
                    uow.commit()
                    return RecordedOutput(
                        versions={key: ResultVersionView.of(row) for key, row in rows.items()},
                        replaced=replaced, execution=before)
            except sa.exc.IntegrityError:
                continue  # rolled back: number again
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not number the versions of {asset_key} of execution {execution_id} after "
            f"{ATTEMPTS} attempts",
        )


def _advance_progress(repo: ResultVersionRepository, executions: ExecutionRepository,
                      execution: Any) -> None:
    # One finished asset step per asset with a version of this execution, so a range run's step
    # counts once; the progress rule (forward only, not after a terminal status) is the one
    # ``BatchExecutionService.update_progress`` applies.
    if ExecutionStatus(execution.status).is_terminal:
        return
    done = repo.assets_of_execution(execution.execution_id)
    recorded = moves.Progress(execution.steps_total, execution.steps_done,
                              execution.rows_written)
    new = moves.advance(recorded, steps_done=done, steps_total=done, rows_written=None)
    if new != recorded:
        executions.set_progress(execution, new.steps_total, new.steps_done, new.rows_written,
                                utcnow())
