"""Sign-in and sign-out: an API token exchanged for a session cookie."""

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.limits import LIMITER_KEY
from opsrel_core.entrypoints.console import session as console_session
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import (
    COOKIE_PATH, SESSION_COOKIE, SIGN_IN_COOKIE, ConsoleRefusal, safe_next,
)
from opsrel_core.services.api_tokens import TokenRefused

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/console/inbox", status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form; it carries a fresh CSRF token, also set as a cookie (no session yet)."""
    token = secrets.token_urlsafe(32)
    response = await render(request, "sign_in.html", next=safe_next(next), sign_in_csrf=token,
                            error=None)
    _set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request, token: str = Form(""), csrf_token: str = Form(""),
    next: str = Form("/console/inbox"), services: Services = Depends(get_services),
) -> Response:
    """Check the token and start a session (303 to ``next``); a wrong token counts towards
    the same failed-authentication brake as the API's."""
    expected = request.cookies.get(SIGN_IN_COOKIE) or ""
    if not expected or not hmac.compare_digest(csrf_token, expected):
        raise ConsoleRefusal(403, "The sign-in form's security token is missing or stale; "
                                  "reload the sign-in page.")
    limiter = request.scope.get("state", {}).get(LIMITER_KEY)
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client) if limiter is not None else None
    if wait is not None:
        raise ConsoleRefusal(429, f"Too many failed sign-ins from this address; try again in "
                                  f"{wait} s.")
    settings = request.app.state.console_settings
    try:
        secret, _ = await run_in_threadpool(
            lambda: services.console_sessions.sign_in(
                token.strip(), lifetime_seconds=settings.session_seconds))
    except TokenRefused as refused:
        if limiter is not None:
            limiter.record_failure(client)
        fresh = secrets.token_urlsafe(32)
        response = await render(request, "sign_in.html", status_code=401, next=safe_next(next),
                                sign_in_csrf=fresh, error=str(refused))
        _set_cookie(request, response, SIGN_IN_COOKIE, fresh, max_age=3600)
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, secret, max_age=settings.session_seconds)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, services: Services = Depends(get_services),
    session=Depends(console_session.viewer),  # type: ignore[no-untyped-def]
) -> Response:
    """End the session (it is invalid from now on, wherever its cookie is kept)."""
    await console_session.check_csrf(request, session)
    await run_in_threadpool(services.console_sessions.sign_out,
                            request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str,
                max_age: int) -> None:
    # Secure whenever the console is reached over TLS (directly, or through a proxy that
    # uvicorn trusts with --proxy-headers, which makes the scheme https).
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
