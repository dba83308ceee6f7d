"""The services the routes call, built once from settings at startup (never at import) by the
composition root (``opsrel_core.entrypoints.bootstrap``)."""

import dataclasses

import sqlalchemy as sa
from fastapi import Request

from opsrel_core.services.execution_commands import ExecutionCommands
from opsrel_core.entrypoints.api.queries import AdminQueries
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.console_sessions import ConsoleSessionService
from opsrel_core.services.dq_reports import DqReportService
from opsrel_core.services.error_codes import ErrorCodeService
from opsrel_core.services.provenance import ExecutionContextService
from opsrel_core.services.provenance import LineageService
from opsrel_core.services.notes import NoteService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.result_versions import ResultVersionService


@dataclasses.dataclass(frozen=True)
class Services:
    """Every core service of the API, over one engine."""

    engine: sa.Engine
    tokens: ApiTokenService
    executions: BatchExecutionService
    commands: ExecutionCommands
    queries: AdminQueries
    audit: AuditLogService
    replays: ReplayService
    alerts: OpsAlertService
    error_codes: ErrorCodeService
    contexts: ExecutionContextService
    lineage: LineageService
    reports: DqReportService
    versions: ResultVersionService
    notes: NoteService
    console_sessions: ConsoleSessionService


def get_services(request: Request) -> Services:
    """FastAPI dependency: the services built at startup."""
    return request.app.state.services
