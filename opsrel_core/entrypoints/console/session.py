"""Who is signed in to the console, and what they may post.

Pages depend on ``viewer``; actions on ``operator``, which also checks the form's CSRF token.
Without a session a page redirects to the sign-in page (and back after it); an action without
a session, from a viewer, or without the session's CSRF token is refused with 403 and changes
nothing. The acting principal (``token:<id>``) is set for the request, so every audit record an
action writes names the token the session was made from, as the API's records do.
"""

import hmac
import urllib.parse

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.services.api_tokens import Role
from opsrel_core.services.audit_log import acting_principal
from opsrel_core.services.console_sessions import ConsoleSessionView

SESSION_COOKIE = "opsrel_session"
SIGN_IN_COOKIE = "opsrel_sign_in"  # the sign-in form's own CSRF token (no session yet)
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/console"


class SignInRequired(Exception):
    """No valid session for a page: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str):
        super().__init__("sign in to continue")
        self.next_path = next_path


class ConsoleRefusal(Exception):
    """A console request refused before any work (403 and the like), answered as a page."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def sign_in_location(next_path: str) -> str:
    """The sign-in page that returns to ``next_path`` afterwards."""
    return "/console/sign-in?" + urllib.parse.urlencode({"next": next_path})


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path only (never another site)."""
    if (not value or not value.startswith("/console/") or value.startswith("//")
            or "\\" in value):
        return "/console/inbox"
    return value


async def viewer(request: Request, services: Services = Depends(get_services)
                 ) -> ConsoleSessionView:
    """The signed-in session (any role). Async, so that the acting principal it sets belongs
    to the request's own context."""
    secret = request.cookies.get(SESSION_COOKIE)
    found = await run_in_threadpool(services.console_sessions.find, secret)
    if found is None:
        if request.method != "GET":
            raise ConsoleRefusal(403, "Your console session has ended; sign in again.")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.console = found
    acting_principal.set(found.token.principal)
    return found


async def check_csrf(request: Request, session: ConsoleSessionView) -> None:
    """Refuse (403) a POST whose form does not carry the session's CSRF token."""
    if request.method != "POST":
        return
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
        raise ConsoleRefusal(403, "The form's security token is missing or stale; reload "
                                  "the page and submit it again.")


async def operator(request: Request, session: ConsoleSessionView = Depends(viewer)
                   ) -> ConsoleSessionView:
    """A session that may act (operator or admin) on a form that carries its CSRF token."""
    await check_csrf(request, session)
    if not session.role.allows(Role.OPERATOR):
        raise ConsoleRefusal(
            403, f"Role {session.role.value} may not do this; operator is required.")
    return session
