"""Console pages: the execution list (filters, keyset paging) and an execution's detail.

Both read through the services the admin API's ``GET /admin/batch/executions`` and
``GET /admin/batch/executions/{id}`` call, so a page shows what the API answers.
"""

import datetime as dt
import urllib.parse
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import viewer
from opsrel_core.errors import OpsException
from opsrel_core.services.console_sessions import ConsoleSessionView
from opsrel_core.services.execution_queries import ExecutionFilter

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50
FILTERS = ("job_id", "status", "partition_from", "partition_to", "since", "until", "error_code",
           "operator_id")


def parse_instant(value: str | None) -> dt.datetime | None:
    """A form's date or date-time (``2013-02-01``, ``2013-02-01T06:00``; UTC unless it says
    otherwise), or None when blank.

    Raises:
        ValueError: not an ISO date or date-time (answered as a 422 page).
    """
    if not value or not value.strip():
        return None
    at = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@router.get("/executions", response_class=HTMLResponse)
async def executions(
    request: Request, job_id: str | None = None, status: str | None = None,
    partition_from: str | None = None, partition_to: str | None = None,
    since: str | None = None, until: str | None = None, error_code: str | None = None,
    operator_id: str | None = None, cursor: str | None = None,
    _: ConsoleSessionView = Depends(viewer), services: Services = Depends(get_services),
) -> HTMLResponse:
    """Executions newest first, ``PAGE_SIZE`` a page; ``cursor`` is the previous page's
    ``next`` (keyset paging). Blank filters are ignored; a bad date or cursor is a 422 page."""
    given = {"job_id": job_id, "status": status, "partition_from": partition_from,
             "partition_to": partition_to, "since": since, "until": until,
             "error_code": error_code, "operator_id": operator_id}
    values = {k: _blank_to_none(v) for k, v in given.items()}
    filters = ExecutionFilter(
        job_id=values["job_id"], status=values["status"] and values["status"].upper(),
        partition_from=values["partition_from"], partition_to=values["partition_to"],
        error_code=values["error_code"], operator_id=values["operator_id"],
        since=parse_instant(values["since"]), until=parse_instant(values["until"]))
    items, following = await run_in_threadpool(
        services.queries.list_executions, filters, PAGE_SIZE, _blank_to_none(cursor))
    kept = {k: v for k, v in values.items() if v is not None}
    next_url = None
    if following is not None:
        next_url = "/console/executions?" + urllib.parse.urlencode({**kept, "cursor": following})
    return await render(request, "executions.html", nav="executions", items=items,
                        filters={k: v or "" for k, v in values.items()}, next_url=next_url,
                        paged=cursor is not None)


def _backtrace(services: Services, version: Any) -> dict[str, Any]:
    """The lineage backtrace of one version, or the error code when none was recorded. The
    version's layer is not stored with it, so each versioned layer is looked in (results
    first), as ``opsrel lineage backtrace`` does without ``--node-type``."""
    try:
        lineage = services.lineage.backtrace_recorded_version(
            version.asset_key, version.partition_key, version.version_number)
    except OpsException as exc:
        return {"version": version, "lineage": None, "error": exc.code}
    return {"version": version, "lineage": lineage, "error": None}


def _detail(services: Services, execution_id: str) -> dict[str, Any]:
    execution = services.executions.get_execution(execution_id)
    versions = services.versions.versions_of_execution(execution_id)
    return {
        "execution": execution,
        "history": services.executions.get_history(execution_id),
        "context": services.contexts.find_context(execution_id),
        "versions": versions,
        "stop": services.commands.stop_status(execution_id),
        "backtraces": [_backtrace(services, v) for v in versions],
    }


@router.get("/executions/{execution_id}", response_class=HTMLResponse)
async def execution_detail(
    request: Request, execution_id: str, _: ConsoleSessionView = Depends(viewer),
    services: Services = Depends(get_services),
) -> HTMLResponse:
    """One execution: its status history, recorded context (snapshots, rule versions,
    parameters, code version), the versions it made with each one's lineage backtrace, and a
    link to its day's DQ report. An unknown id is a 404 page (BAT-002)."""
    detail = await run_in_threadpool(_detail, services, execution_id)
    return await render(request, "execution.html", nav="executions", **detail)
