"""One error format for the admin API: RFC 9457 problem details carrying our error code.

``STATUS_BY_CODE`` is the one table mapping catalog codes (and the ``ConflictException`` class, which
wins over its code) to HTTP statuses; any other coded error is a 500 with a generic detail (its operator message stays in the server log). Nothing returns a
stack trace.
"""

import logging
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsrel_core.domain import error_codes
from opsrel_core.errors import ConflictException, OpsException
from opsrel_core.persistence.retry import outage_of

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://opsrel.dev/problems/"

# The one table: catalog code -> HTTP status; a ConflictException (a request key reused for another
# request, a partition with a run in flight) is a 409 whatever its code. Unlisted codes are 500.
STATUS_BY_CODE: dict[str | type[OpsException], int] = {
    ConflictException: 409,
    error_codes.BAT_EXECUTION_NOT_FOUND: 404,
    error_codes.BAT_REPLAY_NOT_FOUND: 404,
    error_codes.BAT_RECORD_NOT_FOUND: 404,
    error_codes.BAT_ATTRIBUTION_REQUIRED: 422,
    error_codes.BAT_REPLAY_INVALID: 422,
    error_codes.BAT_INVALID_TRANSITION: 409,
    error_codes.BAT_PARTITION_BUSY: 409,
    error_codes.SYS_DATABASE_UNAVAILABLE: 503,
}
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Content too large",
          422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error",
          503: "Service unavailable"}
# Problem codes for failures that do not come from the catalog.
API_CODES = {401: "API-401", 403: "API-403", 404: "API-404", 405: "API-405", 413: "API-413",
             422: "API-422", 429: "API-429", 500: error_codes.SYS_UNEXPECTED,
             503: error_codes.SYS_DATABASE_UNAVAILABLE}
# Seconds a client is asked to wait after a database outage before it tries again.
OUTAGE_RETRY_AFTER_SECONDS = 30

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "error_code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "error_code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": TITLES[status],
             "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in (401, 403, 404, 409, 413, 422, 429, 500, 503)
}


def problem(status: int, detail: str, code: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """Build a problem-details response."""
    code = code or API_CODES.get(status, f"API-{status}")
    body = {"type": TYPE_BASE + code.lower(), "title": TITLES.get(status, "Error"),
            "status": status, "detail": detail, "error_code": code, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def outage_problem(exc: OpsException) -> JSONResponse:
    """503 SYS-002: the ops database cannot be reached. The driver's message stays in the
    server log (one line, no traceback); the client, maybe not yet authenticated, is told to
    retry later (``Retry-After``)."""
    log.warning("admin API: %s", exc)
    return problem(503, "The operations database cannot be reached; try again later.",
                   exc.code, headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)})


def ops_problem(exc: OpsException) -> JSONResponse:
    """Map a coded error through ``STATUS_BY_CODE``."""
    by_class = [STATUS_BY_CODE[c] for c in type(exc).__mro__ if c in STATUS_BY_CODE]
    status = by_class[0] if by_class else STATUS_BY_CODE.get(exc.code, 500)
    if status == 503:
        return outage_problem(exc)
    if status == 500:
        log.error("admin API: unmapped error %s", exc, exc_info=exc)
        return problem(500, "The request failed; see the server log.", exc.code)
    return problem(status, exc.operator_message, exc.code)


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn every failure into problem details."""

    @app.exception_handler(OpsException)
    async def _ops(_: Request, exc: OpsException) -> JSONResponse:
        return ops_problem(exc)

    @app.exception_handler(LookupError)
    async def _lookup(_: Request, exc: LookupError) -> JSONResponse:
        return problem(404, str(exc).strip("'\"") or "not found")

    @app.exception_handler(ValueError)
    async def _value(_: Request, exc: ValueError) -> JSONResponse:
        return problem(422, str(exc) or "invalid request")

    @app.exception_handler(sa.exc.DataError)
    async def _data(_: Request, exc: sa.exc.DataError) -> JSONResponse:
        # The database refused a value (a NUL byte, an out-of-range number): the client's input,
        # not a server fault; the transaction was rolled back, nothing was written.
        return problem(422, "a value cannot be stored or searched for (for example a NUL byte)")

    @app.exception_handler(sa.exc.DBAPIError)
    async def _database(_: Request, exc: sa.exc.DBAPIError) -> JSONResponse:
        # A call that no retry wraps met an unreachable database: SYS-002, 503, as after retries.
        outage = outage_of(exc)
        if outage is not None:
            return outage_problem(outage)
        log.error("admin API: unexpected database error", exc_info=exc)
        return problem(500, "The request failed; see the server log.")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid"
        return problem(422, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("admin API: unexpected error", exc_info=exc)
        return problem(500, "The request failed; see the server log.")
