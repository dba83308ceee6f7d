"""Console pages: replays (list, one replay's partitions) and stopping a replay.

Read through ``ReplayService.list_replays`` and ``replay_history`` (the admin API's
``GET /admin/batch/replays/{id}``); the stop calls ``ExecutionCommands.stop_replay`` as
``POST /admin/batch/replays/{id}/stop`` does, so it writes the same audit record.
"""

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import operator, viewer
from opsrel_core.services.console_sessions import ConsoleSessionView
from opsrel_core.services.replays import ReplayHistory, ReplayStatus

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50


@router.get("/replays", response_class=HTMLResponse)
async def replays(
    request: Request, job_id: str | None = None, status: str | None = None,
    before: int | None = None, _: ConsoleSessionView = Depends(viewer),
    services: Services = Depends(get_services),
) -> HTMLResponse:
    """Replays newest first, ``PAGE_SIZE`` a page (``before``: the last replay id of the
    previous page); an unknown status is a 422 page."""
    job_id = job_id.strip() if job_id and job_id.strip() else None
    status = status.strip().upper() if status and status.strip() else None
    items = await run_in_threadpool(services.replays.list_replays, job_id, status, PAGE_SIZE + 1,
                                    before)
    next_before = items[PAGE_SIZE - 1].replay_id if len(items) > PAGE_SIZE else None
    return await render(request, "replays.html", nav="replays", items=items[:PAGE_SIZE],
                        job_id=job_id or "", status=status or "", next_before=next_before,
                        statuses=[s.value for s in ReplayStatus])


def partition_statuses(history: ReplayHistory) -> list[dict[str, Any]]:
    """Each partition of a replay with its newest execution (None: not launched yet), in the
    order of the replay's plan; a range execution stands for every partition it covers."""
    keys = list(history.replay.partition_keys or ())
    latest: dict[str, Any] = {}
    for child in history.executions:  # oldest first: a later run replaces an earlier one
        e = child.execution
        if e.partition_key is not None:
            covered = [e.partition_key]
        else:
            start, end = e.partition_range_start or "", e.partition_range_end or ""
            covered = [k for k in keys if start <= k <= end] or [f"{start}…{end}"]
        for key in covered:
            latest[key] = child
            if key not in keys:
                keys.append(key)
    return [{"partition_key": k, "run": latest.get(k)} for k in keys]


@router.get("/replays/{replay_id}", response_class=HTMLResponse)
async def replay_detail(
    request: Request, replay_id: int, _: ConsoleSessionView = Depends(viewer),
    services: Services = Depends(get_services),
) -> HTMLResponse:
    """A replay, each of its partitions' status and the versions its runs made; the stop form
    for an operator while the replay has not ended. Unknown id: a 404 page (BAT-010)."""
    history = await run_in_threadpool(services.replays.replay_history, replay_id)
    return await render(request, "replay.html", nav="replays", replay=history.replay,
                        partitions=partition_statuses(history),
                        stoppable=not history.replay.status.is_terminal
                        and history.replay.status is not ReplayStatus.STOPPING)


@router.post("/replays/{replay_id}/stop")
async def stop_replay(
    replay_id: int, reason: str = Form(""), who: ConsoleSessionView = Depends(operator),
    services: Services = Depends(get_services),
) -> Response:
    """Stop the replay (operator; ``reason`` required, recorded in the audit log), then back
    to its page. A blank reason is a 422 page (BAT-008); a replay that ended otherwise a 409
    page (BAT-001)."""
    await run_in_threadpool(services.commands.stop_replay, replay_id,
                            operator_id=who.operator_id, reason=reason)
    return RedirectResponse(f"/console/replays/{replay_id}", status_code=303)
