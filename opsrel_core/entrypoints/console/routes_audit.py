"""Console page: the audit log, filtered, each record's before/after state shown as a diff.

Read through ``AuditLogService.list_audit_logs``, as the admin API's ``GET /admin/audit-logs``.
"""

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.routes_executions import parse_instant
from opsrel_core.entrypoints.console.session import viewer
from opsrel_core.services.audit_log import AuditLogView
from opsrel_core.services.console_sessions import ConsoleSessionView

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50
_MISSING = object()


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def state_diff(before: dict[str, Any] | None, after: dict[str, Any] | None
               ) -> list[dict[str, Any]]:
    """The keys whose value changed between two states, sorted: each ``{"key", "removed",
    "added"}``, a side None when the key is absent from that state (values as text, JSON for
    lists and objects). Unchanged keys are left out."""
    before, after = before or {}, after or {}
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        changes.append({"key": key,
                        "removed": None if old is _MISSING else _shown(old),
                        "added": None if new is _MISSING else _shown(new)})
    return changes


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request, operator_id: str | None = None, action_type: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None, since: str | None = None, until: str | None = None,
    before: int | None = None, _: ConsoleSessionView = Depends(viewer),
    services: Services = Depends(get_services),
) -> HTMLResponse:
    """Audit records newest first, ``PAGE_SIZE`` a page (``before``: the last audit id of the
    previous page). ``since``/``until`` are UTC dates or date-times (a bad one: 422 page)."""
    values = {"operator_id": _blank_to_none(operator_id),
              "action_type": _blank_to_none(action_type),
              "target_type": _blank_to_none(target_type),
              "target_id": _blank_to_none(target_id),
              "since": _blank_to_none(since), "until": _blank_to_none(until)}
    items: list[AuditLogView] = await run_in_threadpool(
        lambda: services.audit.list_audit_logs(
            operator_id=values["operator_id"], action_type=values["action_type"],
            target_type=values["target_type"],
            target_id=values["target_id"], since=parse_instant(values["since"]),
            until=parse_instant(values["until"]), limit=PAGE_SIZE + 1, before_audit_id=before))
    next_before = items[PAGE_SIZE - 1].audit_id if len(items) > PAGE_SIZE else None
    records = [{"record": r, "diff": state_diff(r.before_state, r.after_state)}
               for r in items[:PAGE_SIZE]]
    return await render(request, "audit.html", nav="audit", records=records,
                        filters={k: v or "" for k, v in values.items()},
                        next_before=next_before)
