"""Batch endpoints of C1-T08: executions (list, detail, start, stop) and replay."""

import datetime as dt
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
    ReplayRequest, StartRequest, StopRequestBody, daily_keys, to_json,
)
from opsrel_core.persistence.tables import EXECUTION_STATUSES
from opsrel_core.services.execution_commands import StopRequest
from opsrel_core.services.replays import REPLAY_ACTION, ReplayPreview, ReplayView

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
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
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
            partition_keys=daily_keys(body.partition_start, body.partition_end),
            operator_id=who.operator_id, reason=body.reason, request_key=idempotency_key)
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
    """Request a replay; ``Idempotency-Key`` makes a retried call return the same replay."""
    common = {"job_id": body.job_id, "operator_id": who.operator_id, "reason": body.reason,
              "request_key": idempotency_key}
    start, end, keys = _partitions(body)
    if body.type == "single":
        view = services.replays.replay_single(partition_key=keys[0], **common)
    elif body.type == "range":
        view = services.replays.replay_range(start=start, end=end, partition_keys=keys, **common)
    else:
        view = services.replays.replay_full(partition_keys=keys, **common)
    return _replay_accepted(services, view)


@router.post("/replay/preview", response_model=ReplayPreview)
def preview_replay(
    body: ReplayRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """What ``POST /admin/batch/replay`` would do with this body (its partitions and the
    executions whose active results it would replace), with the same checks; writes nothing,
    not even an audit record: a preview is not an action (field report RB-24)."""
    start, end, keys = _partitions(body)
    return to_json(services.replays.preview(
        job_id=body.job_id, partition_keys=keys, operator_id=who.operator_id,
        reason=body.reason, start=start, end=end))


def _partitions(body: ReplayRequest) -> tuple[str, str, list[str]]:
    """The (start, end, keys) a replay body asks for; ValueError (422) when incomplete."""
    keys = body.partitions
    if body.type == "single":
        if not keys or len(keys) != 1:
            raise ValueError("a single replay names exactly one partition in 'partitions'")
        return keys[0], keys[0], keys
    if body.type == "range":
        start = body.partition_start or (min(keys) if keys else None)
        end = body.partition_end or (max(keys) if keys else None)
        if start is None or end is None:
            raise ValueError("a range replay needs partition_start and partition_end, or partitions")
        return start, end, keys or daily_keys(start, end)
    if not keys:
        raise ValueError("a full replay lists the job's partitions in 'partitions'")
    return min(keys), max(keys), keys


def _replay_accepted(services: Services, replay: ReplayView) -> dict[str, Any]:
    audit_id = services.queries.audit_id_of("replay", str(replay.replay_id), REPLAY_ACTION)
    return {"replay_id": replay.replay_id, "status": replay.status.value, "audit_id": audit_id,
            "replay": to_json(replay), "status_url": f"/admin/replays/{replay.replay_id}"}
