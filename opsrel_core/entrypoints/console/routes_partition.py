"""Console pages: one partition of a job, and its replay.

``GET /console/partitions/{job_id}/{partition_key}`` (any role) shows the partition's
executions as a timeline (status history, trigger, operator, error code with its messages, the
Dagster run), its result versions per asset (the active one marked), its alerts, its replays
and the day's data-quality report. An operator replays it in two steps, as the API does: the
preview (``POST .../replay/preview``, the plan ``POST /admin/batch/replay/preview`` answers,
writing nothing) and the confirmation (``POST .../replay``, ``services.replays.request`` with
the preview's request key, so a confirmation sent twice records one replay and one audit
record). Partition keys may hold ``/`` (path-quoted in links), so the key is a path parameter.
"""

import dataclasses
import secrets
import urllib.parse
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsrel_core.domain import console_links
from opsrel_core.domain.replay_plan import ReplayAsk
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.errors import ConflictException
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import ConsoleRefusal, operator, viewer
from opsrel_core.services.alerts import AlertView
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.console_sessions import ConsoleSessionView
from opsrel_core.services.execution_queries import ExecutionFilter
from opsrel_core.services.replays import ReplayView
from opsrel_core.services.results import ResultVersionView

router = APIRouter(prefix="/console", include_in_schema=False)

# How much of a partition's past the page shows; older entries are in the API's listings.
EXECUTIONS_SHOWN = 100
ALERTS_SHOWN = 100
REPLAYS_SCANNED = 500
# How often the page of a partition being replayed reloads itself (no JavaScript) until the
# replay ends, so the operator sees the new version without a click.
FOLLOW_REFRESH_SECONDS = 3


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    """One execution of the partition with its status history and its code's messages."""

    execution: ExecutionView
    history: list[dict[str, Any]]
    operator_message: str | None
    user_message: str | None


@dataclasses.dataclass(frozen=True)
class PartitionPage:
    """Everything the partition page shows (newest first unless said otherwise)."""

    job_id: str
    partition_key: str
    timeline: list[TimelineEntry]
    versions: dict[str, list[ResultVersionView]]  # by asset, newest version first
    alerts: list[AlertView]
    replays: list[ReplayView]
    report: Any  # DqReportView or None
    report_note: str | None
    replay_of_execution: dict[str, int]  # execution id -> the replay it ran for


def _replay_covers(replay: ReplayView, partition_key: str) -> bool:
    if replay.partition_keys is not None:
        return partition_key in replay.partition_keys
    if replay.partition_start is not None and replay.partition_end is not None:
        return replay.partition_start <= partition_key <= replay.partition_end
    return replay.replay_type.value == "FULL"


def partition_page(services: Services, job_id: str, partition_key: str) -> PartitionPage:
    """Read the partition page's data through the services the API uses."""
    filters = ExecutionFilter(job_id, None, partition_key, partition_key)
    executions, _ = services.queries.list_executions(filters, EXECUTIONS_SHOWN, None)
    codes: dict[str, Any] = {}
    timeline = []
    assets: list[str] = []
    for execution in executions:
        code = None
        if execution.error_code:
            if execution.error_code not in codes:
                codes[execution.error_code] = services.error_codes.find(execution.error_code)
            code = codes[execution.error_code]
        timeline.append(TimelineEntry(
            execution, services.executions.get_history(execution.execution_id),
            code.operator_message if code else None, code.user_message if code else None))
        for version in services.versions.versions_of_execution(execution.execution_id):
            if version.partition_key == partition_key and version.asset_key not in assets:
                assets.append(version.asset_key)
    versions = {asset: services.versions.get_version_history(asset, partition_key)
                for asset in sorted(assets)}
    alerts = services.alerts.alerts_of_partition(job_id, partition_key, ALERTS_SHOWN)
    replays = [r for r in services.replays.list_replays(job_id=job_id, limit=REPLAYS_SCANNED)
               if _replay_covers(r, partition_key)]
    report, note = None, None
    try:
        try:
            report = services.reports.get_partition_report(job_id, partition_key)
        except LookupError:  # a job not in the catalog: the daily job's report of the day
            report = services.reports.get_daily_report(partition_key)
        if report is None:
            note = "No data-quality report was built for this day yet."
    except ValueError:
        note = "Data-quality reports are by day; this partition key is not a date."
    replay_of = {t.execution.execution_id: t.execution.replay_id for t in timeline
                 if t.execution.replay_id is not None}
    return PartitionPage(job_id, partition_key, timeline, versions, alerts, replays, report,
                         note, replay_of)


def made_by_replay(page: PartitionPage, replay_id: int) -> list[tuple[str, ResultVersionView]]:
    """The active versions of the page's assets that a run of ``replay_id`` made, by asset."""
    return [(asset, v) for asset, history in page.versions.items() for v in history
            if v.is_active and page.replay_of_execution.get(v.execution_id) == replay_id]


def _ids(text: str | None) -> list[int]:
    return [int(x) for x in (text or "").split(",") if x.strip().isdigit()]


def _ask(job_id: str, partition_key: str, session: ConsoleSessionView, reason: str) -> ReplayAsk:
    if not reason.strip():
        raise ConsoleRefusal(422, "A reason is required to replay a partition.")
    return ReplayAsk("single", job_id, session.operator_id, reason, (partition_key,), None, None)


@router.get("/partitions/{job_id}/{partition_key:path}")
async def partition(request: Request, job_id: str, partition_key: str,
                    replayed: int | None = None, acknowledged: str | None = None,
                    restored: str | None = None, stale: str | None = None,
                    session: ConsoleSessionView = Depends(viewer),
                    services: Services = Depends(get_services)) -> Response:
    """The partition page. ``replayed`` (a replay id) follows that replay: its status, the page
    refreshing every ``FOLLOW_REFRESH_SECONDS`` until it ends, then the active versions it made;
    ``acknowledged`` (alert ids, comma-separated) names the alerts acknowledged with it."""
    page = await run_in_threadpool(partition_page, services, job_id, partition_key)
    notes = await run_in_threadpool(services.notes.list_notes, job_id, partition_key)
    followed = next((r for r in page.replays if r.replay_id == replayed), None)
    return await render(request, "partition.html", nav=None, page=page, followed=followed,
                        acknowledged=_ids(acknowledged), refresh_seconds=FOLLOW_REFRESH_SECONDS,
                        made_by_followed=made_by_replay(page, replayed) if followed else [],
                        restored=restored, notes=notes,
                        stale=[x for x in (stale or '').split(',') if x],
                        path=console_links.partition_path(job_id, partition_key))


@router.post("/partitions/{job_id}/{partition_key:path}/replay/preview")
async def replay_preview(request: Request, job_id: str, partition_key: str,
                         reason: str = Form("", max_length=2000),
                         acknowledge: list[int] = Form([]),
                         session: ConsoleSessionView = Depends(operator),
                         services: Services = Depends(get_services)) -> Response:
    """The replay's plan, exactly as the API previews it, with a form that confirms it. The
    form carries a fresh request key (confirming twice records one replay) and the alerts the
    operator chose to acknowledge with the same reason."""
    ask = _ask(job_id, partition_key, session, reason)
    plan = await run_in_threadpool(services.replays.plan, ask)
    return await render(request, "replay_preview.html", nav=None, plan=plan, reason=reason,
                        acknowledge=sorted(set(acknowledge)),
                        request_key=f"console-{secrets.token_urlsafe(18)}", fields={},
                        confirm_action=console_links.partition_path(job_id, partition_key)
                        + "/replay",
                        cancel_path=console_links.partition_path(job_id, partition_key))


@router.post("/partitions/{job_id}/{partition_key:path}/replay")
async def replay_confirm(request: Request, job_id: str, partition_key: str,
                         reason: str = Form("", max_length=2000),
                         request_key: str = Form(..., min_length=1, max_length=200),
                         acknowledge: list[int] = Form([]),
                         session: ConsoleSessionView = Depends(operator),
                         services: Services = Depends(get_services)) -> Response:
    """Request the previewed replay (audited as ``POST /admin/batch/replay``), acknowledge the
    chosen alerts that are still open with the same reason (each audited as
    ``POST /admin/alerts/{id}/acknowledge``), then back to the partition page, which follows
    the replay. 409: a run of the partition is in flight (BAT-012) or the operator has their
    limit of pending replays (BAT-014); nothing is recorded then, no acknowledgement either."""
    ask = _ask(job_id, partition_key, session, reason)
    view = await run_in_threadpool(
        lambda: services.replays.request(ask, request_key=request_key))
    acknowledged = await run_in_threadpool(
        _acknowledge_open, services, sorted(set(acknowledge)), session.operator_id, reason)
    target = console_links.partition_path(job_id, partition_key)
    query = urllib.parse.urlencode({"replayed": view.replay_id} | (
        {"acknowledged": ",".join(map(str, acknowledged))} if acknowledged else {}))
    return RedirectResponse(f"{target}?{query}", status_code=303)


def _acknowledge_open(services: Services, alert_ids: list[int], operator_id: str,
                      reason: str) -> list[int]:
    """Acknowledge those of ``alert_ids`` that are still OPEN; returns the ones acknowledged.
    An alert resolved or acknowledged meanwhile is left as it is: the replay stands either way."""
    done = []
    for alert_id in alert_ids:
        try:
            alert = services.alerts.get_alert(alert_id)
        except LookupError:
            continue
        if alert.status != "OPEN":
            continue
        try:
            services.alerts.acknowledge_alert(alert_id, operator_id=operator_id, reason=reason)
        except ConflictException:
            continue  # another operator acknowledged it first; theirs is the record
        done.append(alert_id)
    return done


@router.post("/partitions/{job_id}/{partition_key:path}/restore")
async def restore(request: Request, job_id: str, partition_key: str,
                  asset: str = Form(..., min_length=1, max_length=400),
                  version: int = Form(..., ge=1, le=2**31 - 1),
                  reason: str = Form("", max_length=2000),
                  session: ConsoleSessionView = Depends(operator),
                  services: Services = Depends(get_services)) -> Response:
    """Restore an earlier version of an asset (``POST /admin/versions/restore``: a data
    correction, audited with the reason), then back to the partition page, which names the
    downstream versions now older than their input."""
    outcome = await run_in_threadpool(lambda: services.versions.restore_version(
        asset, partition_key, version, operator_id=session.operator_id, reason=reason))
    stale = ",".join(f"{s.asset_key}@{s.partition_key}" for s in outcome.stale_downstream)
    target = console_links.partition_path(job_id, partition_key)
    query = urllib.parse.urlencode({"restored": f"{asset} v{version}", "stale": stale})
    return RedirectResponse(f"{target}?{query}", status_code=303)


@router.post("/partitions/{job_id}/{partition_key:path}/notes")
async def add_note(request: Request, job_id: str, partition_key: str,
                   body: str = Form("", max_length=4000),
                   session: ConsoleSessionView = Depends(operator),
                   services: Services = Depends(get_services)) -> Response:
    """Add a note to the partition (``POST /admin/notes``, audited), then back to its page."""
    await run_in_threadpool(lambda: services.notes.add_note(
        job_id, partition_key, body, operator_id=session.operator_id))
    return RedirectResponse(console_links.partition_path(job_id, partition_key) + "#notes",
                            status_code=303)
