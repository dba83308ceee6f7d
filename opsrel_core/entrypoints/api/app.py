"""The admin API's application factory: ``create_app(settings)``.

The engine and services are built in the lifespan (at startup, never at import) by the
composition root (``opsrel_core.entrypoints.bootstrap``) and disposed at shutdown.
"""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from opsrel_core.config import AlertSettings
from opsrel_core.config import ConsoleSettings
from opsrel_core.entrypoints import bootstrap, console
from opsrel_core.entrypoints.api import (
    problems, routes_alert_incidents, routes_alert_lifecycle, routes_batch, routes_corrections,
    routes_metrics, routes_ops,
)
from opsrel_core.entrypoints.api import docs_pages
from opsrel_core.entrypoints.api.limits import ApiLimits, TrustMiddleware
from opsrel_core.config import OpsrelSettings, OpsSettings

TITLE = "opsrel admin API"
VERSION = "1.0.0"


def create_app(settings: OpsSettings | None, alert_settings: AlertSettings | None = None,
               limits: ApiLimits | None = None,
               console_settings: ConsoleSettings | None = None) -> FastAPI:
    """Build the admin API.

    Args:
        settings: where the ops database is; None only to render the OpenAPI document.
        alert_settings: alert configuration (defaults to none configured).
        limits: body size and failed-authentication limits (``limits.py``); defaults when
            omitted (``opsrel api serve`` reads them from the environment).
        console_settings: the operator console's settings (``console_settings.py``); read
            from the environment when omitted.

    Returns:
        The FastAPI application; its services exist once it started.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings is None:
            raise RuntimeError("create_app(None) renders the OpenAPI document only")
        root = bootstrap.build(OpsrelSettings(
            ops=settings, alerts=alert_settings if alert_settings is not None else AlertSettings()))
        app.state.services = root.api_services()
        try:
            yield
        finally:
            root.dispose()

    app = FastAPI(title=TITLE, version=VERSION, lifespan=lifespan,
                  description="Operators control batches: executions, replays, audit, alerts.",
                  responses=problems.PROBLEM_RESPONSES, docs_url=None, redoc_url=None)
    problems.install(app)
    docs_pages.install(app)
    # Rate limit, authentication and body size before any route reads the request.
    app.add_middleware(TrustMiddleware, limits=limits or ApiLimits())
    app.include_router(routes_batch.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_metrics.router)
    app.include_router(routes_alert_lifecycle.router)
    app.include_router(routes_alert_incidents.router)
    app.include_router(routes_corrections.router)
    console.install(app, console_settings or ConsoleSettings.from_env())
    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                problems.PROBLEM_SCHEMA)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
