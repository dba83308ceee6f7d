"""The operator console: server-rendered pages over the admin API's services and permissions.

Served by ``opsrel api serve`` under ``/console``. Pages are Jinja2 templates; the console's
stylesheet and any script are files of this package (nothing is loaded from another site), so
it works on a machine without internet. Actions call the same service methods as the API's
endpoints, so they write the same audit records and meet the same rules.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsrel_core.config import ConsoleSettings
from opsrel_core.entrypoints.api import problems
from opsrel_core.entrypoints.console import (
    routes_audit, routes_executions, routes_inbox, routes_partition, routes_quality,
    routes_replays, routes_session,
)
from opsrel_core.entrypoints.console.render import STATIC, render
from opsrel_core.entrypoints.console.session import (
    ConsoleRefusal, SignInRequired, sign_in_location,
)
from opsrel_core.errors import OpsException

ROUTERS = (routes_session, routes_inbox, routes_partition, routes_executions, routes_replays,
           routes_audit, routes_quality)


def install(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Add the console's pages, its static files and its error pages to ``app``."""
    app.state.console_settings = settings or ConsoleSettings()
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in ROUTERS:
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_location(exc.next_path), status_code=303)

    @app.exception_handler(ConsoleRefusal)
    async def _refused(request: Request, exc: ConsoleRefusal) -> Response:
        return await render(request, "error.html", status_code=exc.status_code,
                            message=exc.message, code=problems.API_CODES.get(exc.status_code))

    # Coded errors and refused input answer as a page on console paths and as a problem
    # document everywhere else.
    _page_on_console(app, OpsException, _ops_page)
    _page_on_console(app, StarletteHTTPException, _http_page)
    _page_on_console(app, RequestValidationError, _invalid_page)
    _page_on_console(app, LookupError, _status_page(404))
    _page_on_console(app, ValueError, _status_page(422))


def _page_on_console(app: FastAPI, exc_class: type[Exception], page) -> None:  # type: ignore[no-untyped-def]
    api_handler = app.exception_handlers.get(exc_class)

    async def handler(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/console") or api_handler is None:
            return await page(request, exc)
        return await api_handler(request, exc)

    app.add_exception_handler(exc_class, handler)


async def _ops_page(request: Request, exc: OpsException) -> Response:
    status = problems.ops_problem(exc).status_code
    message = exc.operator_message if status < 500 else "The request failed; see the server log."
    return await render(request, "error.html", status_code=status, message=message,
                        code=exc.code)


async def _http_page(request: Request, exc: StarletteHTTPException) -> Response:
    return await render(request, "error.html", status_code=exc.status_code,
                        message=str(exc.detail), code=problems.API_CODES.get(exc.status_code))


async def _invalid_page(request: Request, exc: RequestValidationError) -> Response:
    fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
                       for e in exc.errors())
    return await render(request, "error.html", status_code=422,
                        message=f"Some fields are missing or invalid: {fields}.",
                        code=problems.API_CODES[422])


def _status_page(status: int):  # type: ignore[no-untyped-def]
    async def page(request: Request, exc: Exception) -> Response:
        return await render(request, "error.html", status_code=status,
                            message=str(exc).strip("'\"") or "not found",
                            code=problems.API_CODES.get(status))
    return page
