"""Audit log, alerts, tokens and the read endpoints over provenance and data quality (context,
lineage, reports, versions, error codes)."""

from typing import Any, Literal

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.auth import Principal
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.queries import decode_cursor, encode_cursor
from opsrel_core.entrypoints.api.schemas import (
    UtcInstant,
    AcknowledgeRequest, StopRequestBody, TokenCreateRequest, to_json,
)
from opsrel_core.entrypoints.api.responses import (
    Acknowledged, AlertPage, AuditPage, TokenCreated,
)
from opsrel_core.services.alerts import ALERT_STATUSES
from opsrel_core.services.api_tokens import ApiTokenView, token_expiry
from opsrel_core.services.dq_reports import DqReportView
from opsrel_core.services.dq_rollup import DayRollupView
from opsrel_core.services.error_codes import ErrorCodeView
from opsrel_core.services.execution_commands import ReplayStopRequest
from opsrel_core.services.provenance import ExecutionContextView
from opsrel_core.services.execution_projection import IngestionStatus, ProjectionCursorStore
from opsrel_core.services.provenance import LINEAGE_NODE_TYPES, Lineage
from opsrel_core.services.replays import ReplayHistory
from opsrel_core.services.result_versions import ResultVersionView

router = APIRouter(prefix="/admin")
AlertStatus = Literal[ALERT_STATUSES]  # type: ignore[valid-type]
NodeType = Literal[LINEAGE_NODE_TYPES]  # type: ignore[valid-type]
ACK_ACTION = "ACKNOWLEDGE_ALERT"


# Ids are BIGINT on PostgreSQL and INTEGER on SQLite: anything larger cannot exist (422, not 500).
MAX_DB_ID = 2**63 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


def _id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor).get("i")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DB_ID:
        raise ValueError("invalid cursor")
    return value


def _page(items: list[Any], limit: int, key: str) -> dict[str, Any]:
    following = encode_cursor({"i": getattr(items[-1], key)}) if len(items) == limit else None
    return {"items": to_json(items), "next_cursor": following}


@router.get("/audit-logs", tags=["audit"], response_model=AuditPage)
def list_audit_logs(
    operator_id: str | None = None, target_type: str | None = None,
    target_id: str | None = None, since: UtcInstant | None = None,
    until: UtcInstant | None = None, cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Audit records, newest first, each with its acting principal (``token:<id>``, ``os:<user>``,
    ``sensor:<name>``) beside the operator; credentials in before/after states are masked."""
    items = services.audit.list_audit_logs(
        operator_id=operator_id, target_type=target_type, target_id=target_id, since=since,
        until=until, limit=limit, before_audit_id=_id_cursor(cursor))
    return _page(items, limit, "audit_id")


@router.get("/alerts", tags=["alerts"], response_model=AlertPage)
def list_alerts(
    status_: AlertStatus | None = Query(None, alias="status"), cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Alerts, newest first."""
    items = services.alerts.list_alerts(status=status_, limit=limit,
                                        before_alert_id=_id_cursor(cursor))
    return _page(items, limit, "alert_id")


@router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"], response_model=Acknowledged)
def acknowledge_alert(
    alert_id: DbId, body: AcknowledgeRequest,
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Acknowledge an alert (audited with the body's reason). A repeat by the same operator
    changes nothing and returns the first acknowledgement's audit id; an alert another operator
    acknowledged is a 409 problem (BAT-013) naming who and when."""
    alert = services.alerts.acknowledge_alert(
        alert_id, operator_id=who.operator_id, reason=body.reason)
    audit_id = services.queries.audit_id_of("alert", str(alert_id), ACK_ACTION)
    return {"alert": to_json(alert), "audit_id": audit_id}


@router.post("/tokens", tags=["tokens"], status_code=status.HTTP_201_CREATED,
             response_model=TokenCreated)
def create_token(
    body: TokenCreateRequest, who: Principal = Depends(auth.admin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Create an API token (audited); the token itself is in this response only. The operator
    must be a person's name (BAT-008 for an invisible or look-alike name, or a principal such as
    ``sensor:...``); an expiry not in the future is a 422."""
    expires_at = token_expiry(body.expires_in, body.expires_at)
    plaintext, view = services.tokens.create(body.operator_id, body.role, by=who.operator_id,
                                             reason=body.reason, expires_at=expires_at)
    return {"token": plaintext, **to_json(view)}


@router.delete("/tokens/{token_id}", tags=["tokens"], response_model=ApiTokenView)
def revoke_token(
    token_id: DbId, reason: str = Query(min_length=1, max_length=2000, pattern=r"\S"),
    who: Principal = Depends(auth.admin), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Revoke an API token (reason as a query parameter)."""
    return to_json(services.tokens.revoke(token_id, by=who.operator_id, reason=reason))


@router.get("/ingestion", tags=["batch"], response_model=list[IngestionStatus])
def ingestion_status(
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> list[Any]:
    """How far the projection has read Dagster's events: its cursor, when
    it last looked, and the lag: how long the oldest unrecorded run has waited, in seconds (0
    only when caught up and nothing is set aside). ``set_aside`` counts runs whose projection
    raised (retried with backoff, SYS-004 after repeated attempts), with the oldest's run id,
    error code and first failure. A growing ``seconds_since_check`` means the projection sensor
    is not running."""
    return to_json(ProjectionCursorStore(services.engine).ingestion_status())


@router.get("/error-codes", tags=["reference"], response_model=list[ErrorCodeView])
def list_error_codes(
    category: str | None = None, _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> list[Any]:
    """The error-code catalog."""
    return to_json(services.error_codes.list_codes(category))


@router.get("/replays/{replay_id}", tags=["batch"], response_model=ReplayHistory)
def get_replay(
    replay_id: DbId, _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """A replay with its executions and the result versions they made."""
    return to_json(services.replays.replay_history(replay_id))


@router.post("/replays/{replay_id}/stop", tags=["batch"], status_code=status.HTTP_202_ACCEPTED,
             response_model=ReplayStopRequest)
def stop_replay(
    replay_id: DbId, body: StopRequestBody, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Stop a replay as a whole (audited with the body's reason): no further run is launched,
    its runs in flight are canceled and end STOPPED. STOPPING until every run ended, then
    STOPPED; a repeat returns the first stop's audit record; a replay that ended otherwise is a
    409 problem (BAT-001)."""
    return to_json(services.commands.stop_replay(
        replay_id, operator_id=who.operator_id, reason=body.reason))


@router.get("/executions/{execution_id}/context", tags=["reproducibility"],
            response_model=ExecutionContextView)
def get_context(
    execution_id: str, _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The recorded context (snapshots, rule versions, parameters, code) of an execution."""
    return to_json(services.contexts.get_context(execution_id))


@router.get("/lineage/backtrace", tags=["reproducibility"], response_model=Lineage)
def lineage_backtrace(
    asset: str, partition: str, version: int = Query(ge=1, le=2**31 - 1),
    node_type: NodeType = "RESULT", _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Every ancestor of a result version, down to its snapshots and sources; a version never
    recorded is a 404 problem (BAT-010), not an empty backtrace."""
    if node_type not in ("TRANSFORM", "AGGREGATION", "RESULT"):
        raise ValueError("node_type of a versioned node is TRANSFORM, AGGREGATION or RESULT")
    return to_json(services.lineage.backtrace_recorded_version(
        asset, partition, version, (node_type,)))


@router.get("/reports/daily/{partition}", tags=["data quality"], response_model=DqReportView)
def daily_report(
    partition: str, _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The data-quality report of a day: its active version's results (``basis``), with the
    latest attempt beside it (``latest_attempt``) when a newer run's versions stayed inactive."""
    report = services.reports.get_daily_report(partition)
    if report is None:
        raise LookupError(f"no daily report for {partition}")
    return to_json(report)


@router.get("/reports/partitions/{job_id}/{partition_key}", tags=["data quality"],
            response_model=DqReportView)
def partition_report(
    job_id: Annotated[str, Path(min_length=1, max_length=100)],
    partition_key: Annotated[str, Path(min_length=1, max_length=100)],
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The data-quality report of a job's partition, its key as the job spells it (e.g.
    ``2013-11-03-01:00-0500``; URL-encoded): as the daily report, for any key. An unknown job
    is a 404 problem (BAT-011), as is a report never built."""
    report = services.reports.get_partition_report(job_id, partition_key)
    if report is None:
        raise LookupError(f"no report for partition {partition_key} of job {job_id}")
    return to_json(report)


@router.get("/reports/days/{job_id}/{day}", tags=["data quality"], response_model=DayRollupView)
def day_rollup(
    job_id: Annotated[str, Path(min_length=1, max_length=100)],
    day: Annotated[str, Path(min_length=1, max_length=100)],
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """A day's roll-up of a job (``YYYY-MM-DD``): counts summed over the partition reports of
    the day's keys (an hourly job's hours, the repeated fall-back hour included), the worst
    outcome, one entry per partition report. Not a date: 422; an unknown job: 404 (BAT-011); a
    day without reports: an empty roll-up (outcome ``NONE``)."""
    return to_json(services.reports.day_rollup(job_id, day))


@router.get("/reports/replay/{replay_id}", tags=["data quality"], response_model=DqReportView)
def replay_report(
    replay_id: DbId, _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The data-quality report of a replay."""
    report = services.reports.get_replay_report(replay_id)
    if report is None:
        raise LookupError(f"no report for replay {replay_id}")
    return to_json(report)


@router.get("/versions", tags=["reproducibility"], response_model=list[ResultVersionView])
def version_history(
    asset: str, partition: str, _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> list[Any]:
    """The result versions of an asset partition, oldest first."""
    return to_json(services.versions.get_version_history(asset, partition))
