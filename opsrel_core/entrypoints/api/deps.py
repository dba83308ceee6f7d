"""The services the routes call, built once from settings at startup (never at import)."""

import dataclasses

import sqlalchemy as sa
from fastapi import Request

from opsrel_core.alert_settings import AlertSettings
from opsrel_core.services.execution_commands import ExecutionCommands
from opsrel_core.entrypoints.api.queries import AdminQueries
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.api_tokens import ApiTokenService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.console_sessions import ConsoleSessionService
from opsrel_core.services.quality import DqReportService
from opsrel_core.services.error_codes import ErrorCodeService
from opsrel_core.services.execution_context import ExecutionContextService
from opsrel_core.services.lineage import LineageService
from opsrel_core.services.notes import NoteService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.result_versions import ResultVersionService
from opsrel_core.settings import OpsSettings


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

    @classmethod
    def build(cls, settings: OpsSettings, alert_settings: AlertSettings | None = None) -> "Services":
        """Make the engine and the services for ``settings``."""
        engine = make_engine(settings.database_url)
        alerts = alert_settings if alert_settings is not None else AlertSettings.from_env({})
        tokens = ApiTokenService(engine)
        return cls(
            engine=engine, tokens=tokens,
            executions=BatchExecutionService(engine), commands=ExecutionCommands(engine),
            queries=AdminQueries(engine), audit=AuditLogService(engine),
            replays=ReplayService(
                engine, max_pending_per_operator=settings.max_pending_replays_per_operator),
            alerts=OpsAlertService(engine, alerts),
            error_codes=ErrorCodeService(engine), contexts=ExecutionContextService(engine),
            lineage=LineageService(engine), reports=DqReportService(engine),
            versions=ResultVersionService(engine), notes=NoteService(engine),
            console_sessions=ConsoleSessionService(engine, tokens),
        )


def get_services(request: Request) -> Services:
    """FastAPI dependency: the services built at startup."""
    return request.app.state.services
