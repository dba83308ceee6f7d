"""Console pages: the inbox of open and acknowledged alerts, and their acknowledgement.

``GET /console/inbox`` (any role) lists the alerts still OPEN, then those ACKNOWLEDGED, newest
first, grouped by job and error code, each with its partitions, the catalog's operator message,
its occurrence count and links to its Dagster run and its partition's page. An operator gets a
form per alert that acknowledges it (``POST /console/alerts/{id}/acknowledge``) through the same
service call as ``POST /admin/alerts/{id}/acknowledge``, so it writes the same audit record
(BATCH_ACTION ``ACKNOWLEDGE_ALERT``) and meets the same rules (BAT-013 when another operator
acknowledged it first).
"""

import dataclasses
import itertools
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import ConsoleRefusal, operator, viewer
from opsrel_core.services.alert_incidents import IncidentService
from opsrel_core.services.alerts import AlertView
from opsrel_core.services.console_sessions import ConsoleSessionView

router = APIRouter(prefix="/console", include_in_schema=False)

# Alerts shown per section; an inbox longer than this is read page by page in the API.
INBOX_LIMIT = 200


@dataclasses.dataclass(frozen=True)
class InboxRow:
    """One alert as the inbox shows it: the alert, its partitions and its code's messages."""

    alert: AlertView
    partitions: list[str]
    operator_message: str | None
    user_message: str | None


@dataclasses.dataclass(frozen=True)
class InboxGroup:
    """The alerts of one job and error code, newest first."""

    job_id: str | None
    error_code: str | None
    rows: list[InboxRow]


def inbox_groups(services: Services, status: str) -> list[InboxGroup]:
    """The alerts of ``status``, grouped by (job, error code) in the order of each group's
    newest alert; rows newest first."""
    alerts = services.alerts.list_alerts(status=status, limit=INBOX_LIMIT)
    incidents = IncidentService(services.engine, services.replays)
    codes: dict[str, Any] = {}
    rows = []
    for alert in alerts:
        listed = [p.partition_key for p in incidents.partitions(alert.alert_id)]
        if not listed and alert.partition_key:
            listed = [alert.partition_key]  # an alert from before incidents lists none
        code = None
        if alert.error_code:
            if alert.error_code not in codes:
                codes[alert.error_code] = services.error_codes.find(alert.error_code)
            code = codes[alert.error_code]
        rows.append(InboxRow(alert, listed, code.operator_message if code else None,
                             code.user_message if code else None))
    order: dict[tuple[str | None, str | None], int] = {}
    for row in rows:  # newest first, so a group's place is that of its newest alert
        order.setdefault((row.alert.job_id, row.alert.error_code), len(order))
    rows.sort(key=lambda r: order[(r.alert.job_id, r.alert.error_code)])
    return [InboxGroup(job, code, list(members)) for (job, code), members in
            itertools.groupby(rows, key=lambda r: (r.alert.job_id, r.alert.error_code))]


@router.get("/inbox")
async def inbox(request: Request, acknowledged: int | None = None,
                session: ConsoleSessionView = Depends(viewer),
                services: Services = Depends(get_services)) -> Response:
    """The inbox page; ``acknowledged`` (an alert id) shows the flash of an acknowledgement."""
    open_groups = await run_in_threadpool(inbox_groups, services, "OPEN")
    acked_groups = await run_in_threadpool(inbox_groups, services, "ACKNOWLEDGED")
    return await render(request, "inbox.html", nav="inbox", open_groups=open_groups,
                        acked_groups=acked_groups, acknowledged=acknowledged)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(alert_id: int, reason: str = Form("", max_length=2000),
                      session: ConsoleSessionView = Depends(operator),
                      services: Services = Depends(get_services)) -> Response:
    """Acknowledge an alert with a reason (required, as in the API), then back to the inbox.

    403: no session, a viewer, or no CSRF token; 422 (BAT-008 in the API): blank reason;
    404 (BAT-011): no such alert; 409 (BAT-013): another operator acknowledged it first."""
    if not reason.strip():
        raise ConsoleRefusal(422, "A reason is required to acknowledge an alert.")
    await run_in_threadpool(
        lambda: services.alerts.acknowledge_alert(
            alert_id, operator_id=session.operator_id, reason=reason))
    return RedirectResponse(f"/console/inbox?acknowledged={alert_id}", status_code=303)
