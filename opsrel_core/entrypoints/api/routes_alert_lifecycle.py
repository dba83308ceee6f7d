"""How alerts end and stay quiet: manual resolve and silences (operator role to change)."""

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, model_validator

from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.auth import Principal
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.routes_ops import DbId
from opsrel_core.entrypoints.api.schemas import NOT_BLANK_TEXT, Reason, to_json
from opsrel_core.domain.alert_lifecycle import parse_duration
from opsrel_core.services.alert_silences import SilenceService, SilenceView
from opsrel_core.services.alerts import AlertView

router = APIRouter(prefix="/admin")
RESOLVE_ACTION = "RESOLVE_ALERT"
Matcher = Field(None, min_length=1, max_length=100, pattern=NOT_BLANK_TEXT)


class ResolveRequest(BaseModel):
    """Manual resolution of an alert; the reason is required and audited."""

    reason: str = Reason


class SilenceCreateRequest(BaseModel):
    """A silence: at least one matcher, a reason, and ``expires_at`` or ``duration``."""

    job_id: str | None = Matcher
    error_code: str | None = Matcher
    rule_id: str | None = Matcher
    partition_pattern: str | None = Field(
        None, min_length=1, max_length=100, pattern=NOT_BLANK_TEXT,
        description="A glob over the partition key, e.g. ``2013-01-*``.")
    expires_at: dt.datetime | None = Field(None, description="When it is lifted (UTC).")
    duration: str | None = Field(None, max_length=20,
                                 description="How long it holds from now, e.g. ``4h``, ``1d12h``.")
    reason: str = Reason

    @model_validator(mode="after")
    def _one_expiry(self) -> "SilenceCreateRequest":
        if (self.expires_at is None) == (self.duration is None):
            raise ValueError("give either expires_at or duration (e.g. 4h)")
        return self


class SilenceEndRequest(BaseModel):
    """Ending a silence before its expiry; the reason is required and audited."""

    reason: str = Reason


class Resolved(BaseModel):
    """A resolved alert and the audit record of the resolution."""

    alert: AlertView
    audit_id: int | None


class SilenceChanged(BaseModel):
    """A created or ended silence and its audit record."""

    silence: SilenceView
    audit_id: int | None


class SilencePage(BaseModel):
    """Silences, newest first."""

    items: list[SilenceView]


@router.post("/alerts/{alert_id}/resolve", tags=["alerts"], response_model=Resolved)
def resolve_alert(
    alert_id: DbId, body: ResolveRequest,
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Resolve a live alert by hand (audited). An already resolved alert is a 409 (BAT-001)."""
    alert = services.alerts.resolve_alert(alert_id, operator_id=who.operator_id,
                                          reason=body.reason)
    audit_id = services.queries.audit_id_of("alert", str(alert_id), RESOLVE_ACTION)
    return {"alert": to_json(alert), "audit_id": audit_id}


@router.post("/silences", tags=["alerts"], status_code=status.HTTP_201_CREATED,
             response_model=SilenceChanged)
def create_silence(
    body: SilenceCreateRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Silence the alerts matching every given matcher until the expiry (audited)."""
    silence = SilenceService(services.engine).create_silence(
        operator_id=who.operator_id, reason=body.reason, job_id=body.job_id,
        error_code=body.error_code, rule_id=body.rule_id,
        partition_pattern=body.partition_pattern, expires_at=body.expires_at,
        duration_seconds=parse_duration(body.duration) if body.duration else None,
    )
    audit_id = services.queries.audit_id_of("alert_silence", str(silence.silence_id),
                                            "CREATE_SILENCE")
    return {"silence": to_json(silence), "audit_id": audit_id}


@router.get("/silences", tags=["alerts"], response_model=SilencePage)
def list_silences(
    include_ended: bool = Query(False, description="Also list ended and expired silences."),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Silences, newest first; by default only those holding now."""
    items = SilenceService(services.engine).list_silences(active_only=not include_ended,
                                                          limit=limit)
    return {"items": to_json(items)}


@router.post("/silences/{silence_id}/end", tags=["alerts"], response_model=SilenceChanged)
def end_silence(
    silence_id: DbId, body: SilenceEndRequest,
    who: Principal = Depends(auth.operator), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """End a silence now (audited). One already ended or expired is a 409 (BAT-001)."""
    silence = SilenceService(services.engine).end_silence(
        silence_id, operator_id=who.operator_id, reason=body.reason)
    audit_id = services.queries.audit_id_of("alert_silence", str(silence_id), "END_SILENCE")
    return {"silence": to_json(silence), "audit_id": audit_id}
