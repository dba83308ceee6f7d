"""Activating an execution's versions: the activation gate's decisions, written in one transaction.

A version becomes active only when its execution succeeded, and then takes the place of the
active one in the same transaction, so a partition that had an active result never loses it. The
gate (``opsrel_core.domain.activation``) decides per version; a refused version keeps its
``inactive_reason`` and the earlier active version stays in place. A newer version is never
displaced by an older one (``domain.result_versions.takes_place``). At most one active version
per asset partition is enforced by a partial unique index: a concurrent activation that wins the
race makes this one's commit fail, and it looks again.
"""

import datetime as dt
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import activation, error_codes
from opsrel_core.domain import result_versions as rules
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import LogicException
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alert_resolution import resolve_recovered_alerts
from opsrel_core.services.results.views import ATTEMPTS, Executions, Repository, ResultVersionView

if TYPE_CHECKING:
    from opsrel_core.services.provenance import RunInputs
    from opsrel_core.services.provenance import LineageOutbox

Recover = Callable[[Session, Any, Collection[str], dt.datetime], object]
"""Resolves the alerts of the partitions an execution recovered, in the activation's session
(``alert_resolution.resolve_recovered_alerts``: session, execution row, partition keys, now)."""


def activate_execution_versions(
    engine: sa.Engine, repository: Repository, executions: Executions, execution_id: str,
    evidence: rules.CheckEvidence, *, now: Callable[[], dt.datetime],
    lineage: "LineageOutbox | None" = None, lineage_inputs: "RunInputs | None" = None,
    recover: Recover | None = None,
) -> list[ResultVersionView]:
    """Pass every version of ``execution_id`` through the gate and activate those it admits.

    The arguments and the return are those of ``ResultVersionService.activate_execution_versions``;
    ``recover`` replaces ``resolve_recovered_alerts`` (looked up when called) when given.

    Raises:
        LogicException: LOG-001 when concurrent activations won the race ``ATTEMPTS`` times.
    """
    for _attempt in range(ATTEMPTS):
        with UnitOfWork(engine) as uow:
            session = uow.session
            repo = repository(session)
            execution = executions(session).get(execution_id)
            rows = repo.all_of_execution(execution_id)
            if execution is None or execution.status != ExecutionStatus.SUCCESS.value:
                return [ResultVersionView.of(r) for r in rows]
            outcome = rules.execution_outcome(
                execution_id, status=ExecutionStatus(execution.status),
                stop_requested=execution.stop_requested_at is not None,
                operator_id=execution.operator_id, trigger_type=execution.trigger_type,
                parent_execution_id=execution.parent_execution_id, evidence=evidence)
            try:
                _decide_and_write(repo, outcome, rows)
                # The partitions it recovered end their alerts in this same transaction.
                (recover or resolve_recovered_alerts)(
                    session, execution, {r.partition_key for r in rows if r.is_active}, now())
                if lineage is not None:
                    lineage.on_activation(session, execution_id, lineage_inputs)
                uow.commit()
            except sa.exc.IntegrityError:
                continue  # a concurrent activation won the race: look again
            return [ResultVersionView.of(r) for r in rows]
    raise LogicException(
        error_codes.LOG_INVARIANT_BROKEN,
        f"could not activate the versions of {execution_id} after {ATTEMPTS} attempts",
    )


def _decide_and_write(repo: ResultVersionRepository, outcome: activation.ExecutionOutcome,
                      rows: list[Any]) -> None:
    pending = [r for r in rows if not r.is_active]
    current = {(r.asset_key, r.partition_key):
               repo.active(r.asset_key, r.partition_key, lock=True) for r in pending}
    decisions = activation.decide_execution(outcome, [
        activation.Candidate(
            r.asset_key, r.partition_key,
            replaces_active=(active := current[(r.asset_key, r.partition_key)]) is not None
            and active.execution_id != outcome.execution_id)
        for r in pending
    ])
    for row, decision in zip(pending, decisions):
        if decision.activate:
            _activate(repo, row, current[(row.asset_key, row.partition_key)])
        elif row.inactive_reason != decision.reason:
            repo.set_reason(row, decision.reason)


def _activate(repo: ResultVersionRepository, row: Any, current: Any | None) -> None:
    # ``current``: the partition's active version, read (locked) by the caller.
    if row.is_active:
        return
    if not rules.takes_place(None if current is None else current.version_number,
                             row.version_number):
        return  # a newer result is already in place
    if current is not None:
        # The old one leaves before the new one enters (partial unique index).
        repo.take_out_of_service(current, utcnow(), row.execution_id)
    repo.put_in_service(row)
