"""``GET /metrics``: the ops schema's Prometheus metrics (``opsrel_core.services.metrics``).

Served in the Prometheus text format (OpenMetrics when the scraper's ``Accept`` asks for it,
as Prometheus does), outside the OpenAPI document (it is not JSON). By default
a scrape needs an API token of role viewer or above, sent as a bearer token (Prometheus'
``authorization`` scrape setting); ``OPSREL_METRICS_AUTH=none`` drops that, for a server bound to
a private address. Settings are read from the environment at the first scrape (or taken from
``app.state.metrics_settings`` when the embedding code set it); a bad value is a 500 problem
naming it.
"""

import contextlib
import threading
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool
from prometheus_client.registry import CollectorRegistry

from opsrel_core.entrypoints.api import auth
from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.services.metrics import MetricsSettings, OpsMetricsCollector, make_registry


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # The background reads end with the application, before its engine is disposed.
    built = getattr(app.state, "metrics", None)
    if built is not None:
        built[2].close()


router = APIRouter(lifespan=_lifespan)
_bearer = HTTPBearer(auto_error=False)
_build_lock = threading.Lock()


def _registry(app: FastAPI, services: Services
              ) -> tuple[MetricsSettings, CollectorRegistry, OpsMetricsCollector]:
    # One registry (and so one reader with its kept counts) per application, built on first use.
    with _build_lock:
        built = getattr(app.state, "metrics", None)
        if built is None:
            settings = getattr(app.state, "metrics_settings", None)
            if settings is None:
                try:
                    settings = MetricsSettings.from_env()
                except ValueError as exc:
                    # The server's configuration, not the scrape, is wrong: a 500 with the cause.
                    raise HTTPException(500, f"metrics are misconfigured: {exc}") from None
            built = (settings, *make_registry(services.engine, settings))
            app.state.metrics = built
        return built


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    services: Services = Depends(get_services),
) -> Response:
    """The Prometheus text exposition of the ops schema's metrics (401 / 403 without a viewer
    token unless ``OPSREL_METRICS_AUTH=none``)."""
    settings, registry, _ = await run_in_threadpool(_registry, request.app, services)
    if settings.require_token:
        # The API's own role check (an async dependency), awaited here because the setting
        # decides whether it applies.
        await auth.viewer(request, credentials, services)
    # The format the scraper asks for: Prometheus prefers OpenMetrics, anything else gets text.
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = await run_in_threadpool(encoder, registry)
    return Response(body, headers={"Content-Type": content_type})
