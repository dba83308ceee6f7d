"""Batch endpoints of the admin API: executions (list, detail, start, stop) and replay."""

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, status

from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.auth import Principal
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.queries import ExecutionFilter
from opsrel_core.entrypoints.api.responses import (
    ExecutionDetail, ExecutionPage, ReplayAccepted,
)
from opsrel_core.entrypoints.api.schemas import (
    UtcInstant,
    ReplayRequest, StartRequest, StopRequestBody, to_json,
)
from opsrel_core.domain.replay_plan import ReplayAsk, ReplayPlan
from opsrel_core.domain.status import EXECUTION_STATUSES
from opsrel_core.services.execution_commands import StopRequest
from opsrel_core.services.replays import REPLAY_ACTION, ReplayView

router = APIRouter(prefix="/admin/batch", tags=["batch"])
ExecutionStatusName = Literal[EXECUTION_STATUSES]  # type: ignore[valid-type]
IdempotencyKey = Header(None, alias="Idempotency-Key", min_length=1, max_length=200,
                        description="Retrying with the same key returns the same replay.")


@router.get("/executions", response_model=ExecutionPage)
def list_executions(
    job_id: str | None = None,
    status_: ExecutionStatusName | None = Query(None, alias="status"),
    partition_from: str | None = None,
    partition_to: str | None = None,
    error_code: str | None = None,
    operator_id: str | None = None,
    since: UtcInstant | None = None,
    until: UtcInstant | None = None,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Executions, newest first; ``next_cursor`` fetches the next page (null at the end)."""
    filters = ExecutionFilter(job_id, status_, partition_from, partition_to, error_code,
                              operator_id, since, until)
    items, following = services.queries.list_executions(filters, limit, cursor)
    return {"items": to_json(items), "next_cursor": following}


@router.get("/executions/{execution_id}", response_model=ExecutionDetail)
def get_execution(
    execution_id: str, _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """One execution with its status history (status changes, ends ignored after a stop, the
    stop's delivery to Dagster), context, result versions and, when stopped, its stop."""
    execution = services.executions.get_execution(execution_id)
    return {
        **to_json(execution),
        "history": to_json(services.executions.get_history(execution_id)),
        "context": to_json(services.contexts.find_context(execution_id)),
        "versions": to_json(services.versions.versions_of_execution(execution_id)),
        "stop": to_json(services.commands.stop_status(execution_id)),
    }


@router.post("/executions/{job_id}/start", status_code=status.HTTP_202_ACCEPTED,
             response_model=ReplayAccepted)
def start_job(
    job_id: str, body: StartRequest, idempotency_key: str | None = IdempotencyKey,
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Request a manual start (a replay request the launch sensor picks up)."""
    if body.partition is not None:
        replay = services.replays.replay_single(
            job_id=job_id, partition_key=body.partition, operator_id=who.operator_id,
            reason=body.reason, request_key=idempotency_key)
    else:
        assert body.partition_start is not None and body.partition_end is not None
        replay = services.replays.replay_range(
            job_id=job_id, start=body.partition_start, end=body.partition_end,
            partition_keys=None, operator_id=who.operator_id, reason=body.reason,
            request_key=idempotency_key)
    return _replay_accepted(services, replay)


@router.post("/executions/{execution_id}/stop", status_code=status.HTTP_202_ACCEPTED,
             response_model=StopRequest)
def stop_execution(
    execution_id: str, body: StopRequestBody, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Request a stop of a live execution. The stop is final: the execution ends STOPPED
    whatever Dagster reports afterwards and none of its results become active. The replay
    launch sensor then cancels its Dagster run; ``stop.delivery`` says what Dagster did so far
    (PENDING until then; NOT_TERMINATED when Dagster could not terminate the worker)."""
    result = services.commands.request_stop(
        execution_id, operator_id=who.operator_id, reason=body.reason)
    return to_json(result)


@router.post("/replay", status_code=status.HTTP_202_ACCEPTED, response_model=ReplayAccepted)
def replay(
    body: ReplayRequest, idempotency_key: str | None = IdempotencyKey,
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Request a replay of exactly the partitions its preview shows. ``Idempotency-Key`` (yours
    alone) makes a retried call return the same replay. 409: the key was used for another
    request (BAT-009), a partition has a run in flight (BAT-012), or you have your limit of
    pending replays (BAT-014, ``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR``); nothing was
    recorded."""
    view = services.replays.request(_ask(body, who), request_key=idempotency_key)
    return _replay_accepted(services, view)


@router.post("/replay/preview", response_model=ReplayPlan)
def preview_replay(
    body: ReplayRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The plan ``POST /admin/batch/replay`` would run with this body (its partitions, each
    one's parent execution and the active result it would replace), with the same checks;
    writes nothing, not even an audit record: a preview is not an action."""
    return to_json(services.replays.plan(_ask(body, who)))


def _ask(body: ReplayRequest, who: Principal) -> ReplayAsk:
    """The replay request a body asks for (the core resolves and checks its keys)."""
    listed = None if body.partitions is None else tuple(body.partitions)
    return ReplayAsk(body.type, body.job_id, who.operator_id, body.reason, listed,
                     body.partition_start, body.partition_end)


def _replay_accepted(services: Services, replay: ReplayView) -> dict[str, Any]:
    audit_id = services.queries.audit_id_of("replay", str(replay.replay_id), REPLAY_ACTION)
    return {"replay_id": replay.replay_id, "status": replay.status.value, "audit_id": audit_id,
            "replay": to_json(replay), "status_url": f"/admin/replays/{replay.replay_id}"}
