"""Recording a new execution: its row, its first history event and, for a launch that is
audited, the audit record, all in one transaction."""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.status import ExecutionStatus, TriggerType
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change
from opsrel_core.services.batch_execution.moving import Repository
from opsrel_core.services.batch_execution.views import ExecutionSpec, ExecutionView, fresh_view


def register(
    engine: sa.Engine, repository: Repository, spec: ExecutionSpec, *, at: dt.datetime,
    audit_reason: str | None, audit_action: str, audit_operator_id: str | None,
) -> ExecutionView:
    """Record ``spec`` in READY at ``at`` (UTC); an already-recorded id is returned unchanged.

    The arguments are those of ``BatchExecutionService.register_execution``. Two processes that
    register the same id at once both return the one row the primary key lets in.
    """
    with UnitOfWork(engine) as uow:
        repo = repository(uow.session)
        row = repo.get(spec.execution_id)
        if row is not None:
            return ExecutionView.of(row)
        row = repo.new_execution(_new_values(spec, at))
        try:
            if audit_reason is not None:
                with audit_change(
                    uow.session,
                    operator_id=audit_operator_id or spec.operator_id,
                    reason=audit_reason,
                    action_type="BATCH_ACTION",
                    action=audit_action,
                    target=row,
                    at=at,
                ):
                    repo.add(row)
            else:
                repo.add(row)
            repo.add_event(spec.execution_id, "status:READY", None, ExecutionStatus.READY, at)
            uow.commit()
        except sa.exc.IntegrityError:
            uow.session.rollback()
            existing = repo.get(spec.execution_id)
            if existing is None:
                raise
            return ExecutionView.of(existing)
        return fresh_view(repo, spec.execution_id)


def _new_values(spec: ExecutionSpec, at: dt.datetime) -> dict[str, Any]:
    """The columns of a newly recorded execution: READY, no progress yet, created at ``at``."""
    start, end = spec.partition_range or (None, None)
    return {
        "execution_id": spec.execution_id,
        "job_id": spec.job_id,
        "status": ExecutionStatus.READY.value,
        "trigger_type": TriggerType(spec.trigger_type).value,
        "partition_key": spec.partition_key,
        "partition_range_start": start,
        "partition_range_end": end,
        "backfill_id": spec.backfill_id,
        "run_tags": dict(spec.run_tags),
        "parent_execution_id": spec.parent_execution_id,
        "replay_id": spec.replay_id,
        "operator_id": spec.operator_id,
        "steps_total": spec.steps_total,
        "steps_done": 0,
        "rows_written": 0,
        "created_at": at,
        "updated_at": at,
    }
