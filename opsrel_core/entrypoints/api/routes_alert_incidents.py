"""Incidents: an alert's partitions, and the replay of exactly them by alert id (operator role)."""

from typing import Any

from fastapi import APIRouter, Depends, Header, status
from pydantic import BaseModel

from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.auth import Principal
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.responses import ReplayAccepted
from opsrel_core.entrypoints.api.routes_batch import _replay_accepted
from opsrel_core.entrypoints.api.routes_ops import DbId
from opsrel_core.entrypoints.api.schemas import Reason, to_json
from opsrel_core.domain.replay_plan import ReplayPlan
from opsrel_core.services.alert_incidents import IncidentPartition, IncidentService

router = APIRouter(prefix="/admin")


class IncidentReplayRequest(BaseModel):
    """The replay of an incident's partitions; the reason is required and audited."""

    reason: str = Reason


class IncidentPartitionPage(BaseModel):
    """An incident's partitions in key order (``recovered_at`` null while failing)."""

    items: list[IncidentPartition]


def _incidents(services: Services) -> IncidentService:
    return IncidentService(services.engine, services.replays)


@router.get("/alerts/{alert_id}/partitions", tags=["alerts"],
            response_model=IncidentPartitionPage)
def alert_partitions(
    alert_id: DbId, _: Principal = Depends(auth.viewer),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The partitions of an incident alert. 404 (BAT-011): no such alert."""
    return {"items": to_json(_incidents(services).partitions(alert_id))}


@router.post("/alerts/{alert_id}/replay", tags=["alerts"], status_code=status.HTTP_202_ACCEPTED,
             response_model=ReplayAccepted)
def replay_alert(
    alert_id: DbId, body: IncidentReplayRequest,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=200,
        description="Retrying with the same key returns the same replay."),
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Request the replay of exactly the alert's partitions that have not recovered (audited,
    as ``POST /admin/batch/replay``). 404 (BAT-011): no such alert; 422 (BAT-009): the alert is
    not about failed partitions; 409: every partition recovered already (BAT-001), or as
    ``POST /admin/batch/replay`` (BAT-012, BAT-014). Nothing is recorded when refused."""
    view = _incidents(services).replay(alert_id, operator_id=who.operator_id,
                                       reason=body.reason, request_key=idempotency_key)
    return _replay_accepted(services, view)


@router.post("/alerts/{alert_id}/replay/preview", tags=["alerts"], response_model=ReplayPlan)
def preview_alert_replay(
    alert_id: DbId, body: IncidentReplayRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The plan ``POST /admin/alerts/{alert_id}/replay`` would run, with the same checks;
    writes nothing, not even an audit record."""
    return to_json(_incidents(services).preview(alert_id, operator_id=who.operator_id,
                                                reason=body.reason))
