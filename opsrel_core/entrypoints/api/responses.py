"""Response models of the admin API, so the OpenAPI document describes what each endpoint returns.

The core's views are frozen dataclasses; pydantic builds their schemas directly, so a view is the
one definition of its shape (nothing here repeats a view's fields). Where a response adds fields
to a view (an execution's detail, a created token), ``extended`` builds a flat model of the view's
fields plus the extra ones. Times are serialized UTC ISO 8601 (``...Z``).
"""

import dataclasses
import datetime as dt
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from opsrel_core.services.alerts import AlertView
from opsrel_core.services.api_tokens import ApiTokenView
from opsrel_core.services.audit_log import AuditLogView
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.execution_commands import StopStatus
from opsrel_core.services.provenance import ExecutionContextView
from opsrel_core.services.replays import ReplayStatus, ReplayView
from opsrel_core.services.result_versions import ResultVersionView

NextCursor = Field(description="Cursor of the next page; null on the last page.")


def extended(name: str, view: type, doc: str, **extra: Any) -> type[BaseModel]:
    """A model with every field of the dataclass ``view`` followed by ``extra`` fields.

    Args:
        name: the schema's name in the OpenAPI document.
        view: a dataclass.
        doc: the model's description.
        extra: ``name=(type, default_or_Field)`` as for ``pydantic.create_model``.
    """
    hints = typing.get_type_hints(view)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(view)}
    return create_model(name, __doc__=doc, **fields, **extra)


class ExecutionEvent(BaseModel):
    """One step of an execution's status history."""

    event_key: str
    from_status: str | None
    to_status: str
    occurred_at: dt.datetime
    detail: dict[str, Any] | None = None


class ExecutionPage(BaseModel):
    """A page of executions, newest first."""

    items: list[ExecutionView]
    next_cursor: str | None = NextCursor


ExecutionDetail = extended(
    "ExecutionDetail", ExecutionView,
    "An execution with its status history, recorded context and result versions.",
    history=(list[ExecutionEvent], ...), context=(ExecutionContextView | None, ...),
    versions=(list[ResultVersionView], ...),
    stop=(StopStatus | None, Field(None, description=(
        "Where a stop of the execution stands (null when none was requested): final (it ends "
        "STOPPED, none of its results become active), and what Dagster did with it "
        "(NOT_TERMINATED: Dagster could not terminate the worker)."))),
)


class ReplayAccepted(BaseModel):
    """A recorded replay (or manual start) request and where it stands."""

    model_config = ConfigDict(title="ReplayAccepted")

    replay_id: int
    status: ReplayStatus
    audit_id: int | None = Field(description="The audit record of the request.")
    replay: ReplayView
    status_url: str = Field(description="Where to follow it (GET).")


class AuditPage(BaseModel):
    """A page of audit records, newest first."""

    items: list[AuditLogView]
    next_cursor: str | None = NextCursor


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertView]
    next_cursor: str | None = NextCursor


class Acknowledged(BaseModel):
    """An acknowledged alert and the audit record of the acknowledgement."""

    alert: AlertView
    audit_id: int | None


TokenCreated = extended(
    "TokenCreated", ApiTokenView, "A new API token; ``token`` is shown in this response only.",
    token=(str, Field(description="The bearer token; stored only as a hash.")),
)
