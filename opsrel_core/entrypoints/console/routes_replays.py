"""Console pages: replays (list, one replay's partitions), starting a replay of a range of
partitions and stopping a replay.

Read through ``ReplayService.list_replays`` and ``replay_history`` (the admin API's
``GET /admin/batch/replays/{id}``); the stop calls ``ExecutionCommands.stop_replay`` as
``POST /admin/batch/replays/{id}/stop`` does, so it writes the same audit record. An operator
starts a range replay in two steps, as the partition page replays one partition: the preview
(``POST /console/replays/preview``, the plan ``POST /admin/batch/replay/preview`` answers,
writing nothing) and the confirmation (``POST /console/replays/start``,
``services.replays.request`` with the preview's request key, so a confirmation sent twice records
one replay and one audit record).
"""

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsrel_core.domain import console_links
from opsrel_core.domain.replay_plan import ReplayAsk
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import operator, viewer
from opsrel_core.services.batch_jobs import BatchJobCatalog
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
    previous page), and for an operator the form that starts a range replay (its jobs: the
    batch-job catalog's); an unknown status is a 422 page."""
    job_id = job_id.strip() if job_id and job_id.strip() else None
    status = status.strip().upper() if status and status.strip() else None
    items = await run_in_threadpool(services.replays.list_replays, job_id, status, PAGE_SIZE + 1,
                                    before)
    next_before = items[PAGE_SIZE - 1].replay_id if len(items) > PAGE_SIZE else None
    jobs = await run_in_threadpool(BatchJobCatalog(services.engine).list_jobs)
    return await render(request, "replays.html", nav="replays", items=items[:PAGE_SIZE],
                        job_id=job_id or "", status=status or "", next_before=next_before,
                        statuses=[s.value for s in ReplayStatus], jobs=jobs)


def _range_ask(session: ConsoleSessionView, job_id: str, start: str, end: str,
               reason: str) -> ReplayAsk:
    """The range replay the form asks for. A blank key is no key (the service then says a range
    needs both ends); reason and keys are checked by the service, as for the API."""
    return ReplayAsk("range", job_id.strip(), session.operator_id, reason, None,
                     start.strip() or None, end.strip() or None)


@router.post("/replays/preview")
async def range_replay_preview(
    request: Request, job_id: str = Form("", max_length=200),
    start: str = Form("", max_length=200), end: str = Form("", max_length=200),
    reason: str = Form("", max_length=2000), session: ConsoleSessionView = Depends(operator),
    services: Services = Depends(get_services),
) -> Response:
    """The plan of a replay of ``start..end`` (inclusive partition keys of ``job_id``), exactly
    as ``POST /admin/batch/replay/preview`` answers it: every partition the range expands to,
    the execution each redoes and the active result each replaces; writes nothing. The confirm
    form carries a fresh request key (confirming twice records one replay). Refused as an error
    page, nothing recorded: a blank reason (BAT-008, 422); an unknown job, a key outside the
    job's partitions, a reversed range or a range of no partition (BAT-009, 422)."""
    ask = _range_ask(session, job_id, start, end, reason)
    plan = await run_in_threadpool(services.replays.plan, ask)
    return await render(request, "replay_preview.html", nav="replays", plan=plan, reason=reason,
                        acknowledge=[], request_key=f"console-{secrets.token_urlsafe(18)}",
                        fields={"job_id": ask.job_id, "start": ask.start or "",
                                "end": ask.end or ""},
                        confirm_action="/console/replays/start", cancel_path="/console/replays")


@router.post("/replays/start")
async def range_replay_start(
    job_id: str = Form("", max_length=200), start: str = Form("", max_length=200),
    end: str = Form("", max_length=200), reason: str = Form("", max_length=2000),
    request_key: str = Form(..., min_length=1, max_length=200),
    session: ConsoleSessionView = Depends(operator), services: Services = Depends(get_services),
) -> Response:
    """Request the previewed range replay (audited as ``POST /admin/batch/replay``: one REPLAY
    record), then to the replay's page (303). The same request key sent again returns the
    replay recorded first and writes nothing. Refused as an error page, nothing recorded: the
    preview's errors; a partition with a run or replay in flight (BAT-012, 409); the operator's
    limit of pending replays (BAT-014, 409); the key used for another request (BAT-009, 409)."""
    ask = _range_ask(session, job_id, start, end, reason)
    view = await run_in_threadpool(
        lambda: services.replays.request(ask, request_key=request_key))
    return RedirectResponse(console_links.replay_path(view.replay_id), status_code=303)


def partition_statuses(history: ReplayHistory) -> list[dict[str, Any]]:
    """Each partition of a replay with its newest execution (None: not launched yet), in the
    order of the replay's plan; a range execution stands for every partition it covers (by the
    plan's order when both its ends are planned keys: hourly and static keys need not sort as
    text)."""
    keys = list(history.replay.partition_keys or ())
    position = {k: i for i, k in enumerate(keys)}
    latest: dict[str, Any] = {}
    for child in history.executions:  # oldest first: a later run replaces an earlier one
        e = child.execution
        if e.partition_key is not None:
            covered = [e.partition_key]
        else:
            start, end = e.partition_range_start or "", e.partition_range_end or ""
            if start in position and end in position:
                covered = keys[position[start]:position[end] + 1]
            else:
                covered = [k for k in keys if start <= k <= end]
            covered = covered or [f"{start}…{end}"]
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
