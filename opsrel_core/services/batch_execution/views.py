"""What an execution is: its launch context before it is recorded, and its row as read back."""

import dataclasses
import datetime as dt
from typing import Any

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus, TriggerType
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.tables import BatchExecution


@dataclasses.dataclass(frozen=True)
class ExecutionSpec:
    """What is known about an execution when it is first recorded.

    Attributes:
        execution_id: the Dagster run id.
        job_id: a ``batch_job.job_id`` of the catalog.
        trigger_type: how it was launched.
        partition_key: the single partition, or None for a range or an unpartitioned run.
        partition_range: ``(start, end)`` inclusive partition keys of a range run, else None.
        backfill_id: the Dagster backfill id, when launched by a backfill.
        run_tags: the Dagster run's tags.
        parent_execution_id: the execution this one replays, if any.
        replay_id: the replay this execution belongs to, if any.
        operator_id: who launched it, when known.
        steps_total: steps planned (0 when unknown).
    """

    execution_id: str
    job_id: str
    trigger_type: TriggerType = TriggerType.MANUAL
    partition_key: str | None = None
    partition_range: tuple[str, str] | None = None
    backfill_id: str | None = None
    run_tags: dict[str, str] = dataclasses.field(default_factory=dict)
    parent_execution_id: str | None = None
    replay_id: int | None = None
    operator_id: str | None = None
    steps_total: int = 0


@dataclasses.dataclass(frozen=True)
class ExecutionView:
    """An execution row as read back (times are UTC)."""

    execution_id: str
    job_id: str
    status: ExecutionStatus
    trigger_type: str
    partition_key: str | None
    partition_range_start: str | None
    partition_range_end: str | None
    backfill_id: str | None
    run_tags: dict[str, Any]
    parent_execution_id: str | None
    replay_id: int | None
    operator_id: str | None
    steps_total: int
    steps_done: int
    rows_written: int
    error_code: str | None
    error_message: str | None
    failed_asset_key: str | None
    failed_partition_key: str | None
    stop_requested_at: dt.datetime | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None

    @classmethod
    def of(cls, row: BatchExecution) -> "ExecutionView":
        """Build the view from an ORM row."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["status"] = ExecutionStatus(row.status)
        return cls(**values)


def require(repo: ExecutionRepository, execution_id: str, *, for_update: bool = False,
            fresh: bool = False) -> BatchExecution:
    """The execution's row (see ``ExecutionRepository.find``).

    Raises:
        BatchExecutionException: BAT-002 when no execution has this id.
    """
    row = repo.find(execution_id, for_update=for_update, fresh=fresh)
    if row is None:
        raise BatchExecutionException(
            error_codes.BAT_EXECUTION_NOT_FOUND,
            f"no execution with id {execution_id!r}",
            {"execution_id": execution_id},
        )
    return row


def fresh_view(repo: ExecutionRepository, execution_id: str) -> ExecutionView:
    """The execution as the database holds it now, past what the session remembers.

    Raises:
        BatchExecutionException: BAT-002 when no execution has this id.
    """
    return ExecutionView.of(require(repo, execution_id, fresh=True))
