"""Data corrections: an operator takes a version out of service, or puts an earlier one back.

Each is one transaction with its audit record (DATA_CORRECTION), so both land or neither; operator
and reason are required (BAT-008) before anything runs. Which version takes over when the active
one is taken out is ``domain.result_versions.successor``; which versions may be restored, and which
downstream versions a restore leaves stale, is ``domain.restore``.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain import result_versions as rules
from opsrel_core.domain.restore import StaleDownstream, restore_refusal, stale_downstream
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import ConflictException, LogicException, NotFoundException
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change, require_attribution
from opsrel_core.services.results.views import (
    ATTEMPTS, DEACTIVATE_ACTION, NOT_RESTORABLE_CODE, RESTORE_ACTION, VERSION_NOT_FOUND_CODE,
    Executions, Repository, ResultVersionView, RestoreOutcome,
)


def deactivate_version(engine: sa.Engine, repository: Repository, version_id: int, *,
                       operator_id: str | None, reason: str | None) -> ResultVersionView:
    """Take a version out of service; see ``ResultVersionService.deactivate_version``."""
    with UnitOfWork(engine) as uow:
        repo = repository(uow.session)
        row = repo.get(version_id)
        if row is None:
            raise LogicException(
                error_codes.LOG_INVARIANT_BROKEN, f"no result version {version_id}"
            )
        if not row.is_active:
            require_attribution(operator_id, reason)
            return ResultVersionView.of(row)
        with audit_change(
            uow.session, operator_id=operator_id, reason=reason,
            action_type="DATA_CORRECTION", action=DEACTIVATE_ACTION, target=row,
            execution_id=row.execution_id,
        ):
            repo.take_out_of_service(row, utcnow(), row.deactivated_by_execution_id)
            earlier = repo.earlier(row.asset_key, row.partition_key, row.version_number)
            number = rules.successor((r.version_number, ExecutionStatus(status))
                                     for r, status in earlier)
            if number is not None:
                successor = next(r for r, _status in earlier if r.version_number == number)
                # Its gate's reason, if any, is kept: only the in-service columns change.
                repo.put_in_service(successor, clear_reason=False)
        uow.commit()
        return ResultVersionView.of(row)


def restore_version(
    engine: sa.Engine, repository: Repository, executions: Executions, asset_key: str,
    partition_key: str, version_number: int, *, operator_id: str | None, reason: str | None,
) -> RestoreOutcome:
    """Put an earlier version back in service; see ``ResultVersionService.restore_version``."""
    require_attribution(operator_id, reason)
    for _attempt in range(ATTEMPTS):
        with UnitOfWork(engine) as uow:
            session = uow.session
            repo = repository(session)
            row = repo.by_number(asset_key, partition_key, version_number, lock=True)
            names = {"asset_key": asset_key, "partition_key": partition_key,
                     "version": version_number}
            if row is None:
                raise NotFoundException(
                    VERSION_NOT_FOUND_CODE,
                    f"no result version {asset_key} {partition_key} v{version_number}; "
                    "`opsrel versions list` shows the versions", names)
            if row.is_active:
                return RestoreOutcome(ResultVersionView.of(row), None, None,
                                      _stale(session, repo, row), already_active=True)
            execution = executions(session).get(row.execution_id)
            refusal = restore_refusal(
                ExecutionStatus(execution.status) if execution else ExecutionStatus.READY,
                execution is not None and execution.stop_requested_at is not None,
                row.inactive_reason)
            if refusal is not None:
                raise ConflictException(
                    NOT_RESTORABLE_CODE,
                    f"{asset_key} {partition_key} v{version_number} may not be restored: "
                    f"{refusal}; nothing was changed", names)
            try:
                outcome = _restore(session, repo, row, operator_id, reason)
                uow.commit()
            except sa.exc.IntegrityError:
                continue  # a concurrent activation won the race: look again
            return outcome
    raise LogicException(
        error_codes.LOG_INVARIANT_BROKEN,
        f"could not restore {asset_key}/{partition_key} v{version_number} after {ATTEMPTS} "
        "attempts",
    )


def _restore(session: Session, repo: ResultVersionRepository, row: Any,
             operator_id: str | None, reason: str | None) -> RestoreOutcome:
    current = repo.active(row.asset_key, row.partition_key, lock=True)

    def active_number(_state: object) -> dict[str, int | None]:
        active = repo.active(row.asset_key, row.partition_key)
        return {"partition_active_version": None if active is None else active.version_number}

    with audit_change(
        session, operator_id=operator_id, reason=reason, action_type="DATA_CORRECTION",
        action=RESTORE_ACTION, target=row, execution_id=row.execution_id, derived=active_number,
    ) as pending:
        if current is not None:
            # The old one leaves before the new one enters (partial unique index). A restore is
            # an operator's act, recorded in the audit log, not an execution's: no deactivating
            # execution.
            repo.take_out_of_service(current, utcnow(), None)
        repo.put_in_service(row)
    return RestoreOutcome(ResultVersionView.of(row),
                          None if current is None else ResultVersionView.of(current),
                          pending.audit_id, _stale(session, repo, row))


def _stale(session: Session, repo: ResultVersionRepository, row: Any) -> list[StaleDownstream]:
    # The downstream versions the lineage connects to this asset partition, and which of them
    # are active now.
    from opsrel_core.services.provenance import versions_made_from

    made_from = versions_made_from(session, row.asset_key, row.partition_key)
    active: dict[tuple[str, str], int] = {}
    for asset, partition in sorted({(asset, partition) for asset, partition, _n in made_from}):
        found = repo.active(asset, partition)
        if found is not None:
            active[(asset, partition)] = found.version_number
    return stale_downstream(made_from, active, row.version_number)
