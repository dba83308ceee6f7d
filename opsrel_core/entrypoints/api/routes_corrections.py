"""Corrections and notes: restore an earlier result version (operator role), notes on a
partition (operator to add, viewer to read). Each route calls one service method."""

from typing import Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from opsrel_core.domain.restore import StaleDownstream
from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.auth import Principal
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.schemas import (
    NOT_BLANK_TEXT, PARTITION_KEY_PATTERN, PartitionKey, Reason, to_json,
)
from opsrel_core.services.notes import MAX_NOTE_LENGTH, NoteView
from opsrel_core.services.results import ResultVersionView

router = APIRouter(prefix="/admin")
AssetKey = Field(min_length=1, max_length=200, pattern=NOT_BLANK_TEXT)
JobId = Field(min_length=1, max_length=100, pattern=NOT_BLANK_TEXT)


class RestoreRequest(BaseModel):
    """The version of an asset partition to put back in service; the reason is audited."""

    asset: str = AssetKey
    partition: PartitionKey
    version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Reason


class RestoreResponse(BaseModel):
    """The restored version (active), the one it replaced (null when none was active or
    nothing changed), the audit record (null when nothing changed) and the downstream asset
    partitions now older than their input."""

    restored: ResultVersionView
    replaced: ResultVersionView | None
    audit_id: int | None
    stale_downstream: list[StaleDownstream]
    already_active: bool


class NoteRequest(BaseModel):
    """A note on a job's partition; its text is the audit record's reason."""

    job_id: str = JobId
    partition: PartitionKey
    body: str = Field(min_length=1, max_length=MAX_NOTE_LENGTH, pattern=NOT_BLANK_TEXT)


class NotePage(BaseModel):
    """Notes on a partition, newest first."""

    items: list[NoteView]


@router.post("/versions/restore", tags=["reproducibility"], response_model=RestoreResponse)
def restore_version(
    body: RestoreRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Make an earlier version of an asset partition the active one (audited DATA_CORRECTION
    ``RESTORE_VERSION``); the version active before stays, inactive. The active version again:
    200, nothing changed, ``audit_id`` null. 404 (BAT-010): no such version; 409 (BAT-001): a
    version of a run that did not succeed, or one the activation gate refused (a blocking check);
    nothing is changed when refused."""
    outcome = services.versions.restore_version(
        body.asset, body.partition, body.version, operator_id=who.operator_id,
        reason=body.reason)
    return to_json(outcome)


@router.post("/notes", tags=["notes"], status_code=status.HTTP_201_CREATED,
             response_model=NoteView)
def add_note(
    body: NoteRequest, who: Principal = Depends(auth.operator),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Add a note to a job's partition (audited BATCH_ACTION ``ADD_NOTE``, the text as reason).
    404 (BAT-011): no such job."""
    return to_json(services.notes.add_note(body.job_id, body.partition, body.body,
                                           operator_id=who.operator_id))


@router.get("/notes", tags=["notes"], response_model=NotePage)
def list_notes(
    job_id: str = Query(min_length=1, max_length=100, pattern=NOT_BLANK_TEXT),
    partition: str = Query(min_length=1, max_length=100, pattern=PARTITION_KEY_PATTERN),
    _: Principal = Depends(auth.viewer), services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The notes on a job's partition, newest first (empty for an unknown job or partition)."""
    return {"items": to_json(services.notes.list_notes(job_id, partition))}
