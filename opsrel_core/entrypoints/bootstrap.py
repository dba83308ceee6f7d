"""The composition root: from settings, the engine, the unit of work, the notifiers and the
services the entry points use.

The admin API (``api.app.create_app``) and the core CLI commands get their engine and services
here instead of each building their own, so that one place decides how settings become
objects: which engine (pooled, or ``NullPool`` for a one-shot command), whether the schema is
brought to head first, which channel senders exist, which replay limit the replay service
enforces.
"""

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from opsrel_core.config import OpsrelSettings, OpsSettings
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.uow import UnitOfWork

if TYPE_CHECKING:
    from opsrel_core.entrypoints.api.deps import Services
    from opsrel_core.notifiers.channels import Senders
    from opsrel_core.services.alerts import OpsAlertService
    from opsrel_core.services.replays import ReplayService

def engine_for(settings: OpsSettings, *, ensure_current: bool = False, **kwargs: Any) -> sa.Engine:
    """The engine of the ops database ``settings`` names.

    Args:
        settings: the ops section (``OpsrelSettings.ops``).
        ensure_current: bring the schema to head first when it is behind (one query when it
            is at head: ``migrate.ensure_current``), as a CLI read does.
        **kwargs: passed to ``make_engine`` (``poolclass=sa.pool.NullPool`` for a one-shot
            command).

    Returns:
        A new engine; the caller disposes of it.
    """
    engine = make_engine(settings.database_url, **kwargs)
    if ensure_current:
        migrate.ensure_current(settings.database_url, engine)
    return engine


@dataclasses.dataclass(frozen=True)
class Root:
    """The objects built from one ``OpsrelSettings``, over one engine.

    Attributes:
        settings: every setting.
        engine: the ops database's engine (dispose of it with ``dispose``).
    """

    settings: OpsrelSettings
    engine: sa.Engine

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work (one session, one transaction) on the engine."""
        return UnitOfWork(self.engine)

    @functools.cached_property
    def senders(self) -> "Senders":
        """The alert channel senders the alert section enables."""
        from opsrel_core.notifiers.channels import senders_for

        return senders_for(self.settings.alerts)

    def alerts(self) -> "OpsAlertService":
        """The alert service with the alert section."""
        from opsrel_core.services.alerts import OpsAlertService

        return OpsAlertService(self.engine, self.settings.alerts)

    def replays(self) -> "ReplayService":
        """The replay service with the operator's limit of pending replays."""
        from opsrel_core.services.replays import ReplayService

        return ReplayService(
            self.engine,
            max_pending_per_operator=self.settings.ops.max_pending_replays_per_operator)

    def api_services(self) -> "Services":
        """Every service the admin API's routes call."""
        # Imported here: a CLI command that only needs an engine loads no web framework.
        from opsrel_core.entrypoints.api.deps import Services
        from opsrel_core.entrypoints.api.queries import AdminQueries
        from opsrel_core.services.api_tokens import ApiTokenService
        from opsrel_core.services.audit_log import AuditLogService
        from opsrel_core.services.batch_execution import BatchExecutionService
        from opsrel_core.services.console_sessions import ConsoleSessionService
        from opsrel_core.services.dq_reports import DqReportService
        from opsrel_core.services.error_codes import ErrorCodeService
        from opsrel_core.services.execution_commands import ExecutionCommands
        from opsrel_core.services.execution_context import ExecutionContextService
        from opsrel_core.services.lineage import LineageService
        from opsrel_core.services.notes import NoteService
        from opsrel_core.services.result_versions import ResultVersionService

        engine = self.engine
        tokens = ApiTokenService(engine)
        return Services(
            engine=engine, tokens=tokens,
            executions=BatchExecutionService(engine), commands=ExecutionCommands(engine),
            queries=AdminQueries(engine), audit=AuditLogService(engine),
            replays=self.replays(), alerts=self.alerts(),
            error_codes=ErrorCodeService(engine), contexts=ExecutionContextService(engine),
            lineage=LineageService(engine), reports=DqReportService(engine),
            versions=ResultVersionService(engine), notes=NoteService(engine),
            console_sessions=ConsoleSessionService(engine, tokens),
        )

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


def build(settings: OpsrelSettings, *, ensure_current: bool = False, **engine_kwargs: Any) -> Root:
    """The composition root for ``settings``: its engine (``engine_for``) and what is built
    on it.

    Args:
        settings: every setting (``OpsrelSettings.from_env()`` at an entry point).
        ensure_current: bring the schema to head first when it is behind.
        **engine_kwargs: passed to ``make_engine``.
    """
    return Root(settings, engine_for(settings.ops, ensure_current=ensure_current,
                                     **engine_kwargs))
