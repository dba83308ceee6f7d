"""Authenticate before work, and brakes: the admin API's ASGI middleware and its limits.

Before a route reads or parses anything, ``TrustMiddleware``:

1. answers **429** (``Retry-After``) to a client that failed authentication too often: at most
   ``auth_failures`` failed attempts per client IP within ``auth_window_seconds`` (a sliding
   window kept in this process; several API processes each keep their own);
2. answers **401** to a request for ``/admin/...`` without a valid bearer token, without reading
   its body (an anonymous client never makes the server read, buffer or parse a byte of it),
   and to a request for any other path (``/metrics``) that presents an invalid bearer token:
   every failed token counts towards the brake, wherever it was sent;
3. answers **413** to a body larger than ``max_body_bytes``: at once from its ``Content-Length``,
   or, for a body sent without one (chunked), as soon as the bytes read pass the limit.

Only then is a request for ``/admin/...`` passed on, with its body (at most ``max_body_bytes``,
already read) replayed to the route. A request for any other path (none of which takes a body) is
passed on without reading ahead: its body is read only if a route asks, and at most
``max_body_bytes`` of it. The client IP is the ASGI ``client`` address: behind a reverse proxy,
run uvicorn with ``--proxy-headers --forwarded-allow-ips`` (``opsrel api serve`` has both) so
that it is the address the proxy saw, not the proxy's (``docs/deployment.md``).
"""

import collections
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from opsrel_core.config.api_limits import MIB, ApiLimits
from opsrel_core.entrypoints.api import problems
from opsrel_core.persistence.retry import outage_of
from opsrel_core.services.api_tokens import TokenRefused

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIX = "/admin"
# Where the middleware leaves the token it checked and what ``authenticate`` answered, so that
# the route's role check does not look the token up a second time.
STATE_KEY = "opsrel_authenticated"
# Where the middleware leaves its failed-authentication limiter, so that the console's sign-in
# form, which takes a token in its body, counts failures towards the same brake.
LIMITER_KEY = "opsrel_auth_limiter"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# A refusal closes the connection: the server then never receives the body it did not read.
_CLOSE = {"Connection": "close"}


class FailedAuthLimiter:
    """Failed authentication attempts per client, in a sliding window (in this process only).

    Args:
        max_failures: failures allowed within the window.
        window_seconds: the window, in seconds.
        clock: monotonic seconds (tests pass their own).
        max_clients: clients remembered at most; the one that failed longest ago is forgotten
            first, so a flood of addresses cannot grow memory without bound.
    """

    def __init__(self, max_failures: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000):
        self._max = max_failures
        self._window = window_seconds
        self._clock = clock
        self._max_clients = max_clients
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict())
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None when it may now."""
        with self._lock:
            times = self._recent(client)
            if times is None or len(times) < self._max:
                return None
            return max(1, math.ceil(times[0] + self._window - self._clock()))

    def record_failure(self, client: str) -> None:
        """Count one failed attempt of ``client`` now."""
        with self._lock:
            times = self._recent(client)
            if times is None:
                times = self._failures[client] = collections.deque(maxlen=self._max)
                while len(self._failures) > self._max_clients:
                    self._failures.popitem(last=False)
            times.append(self._clock())
            self._failures.move_to_end(client)

    def _recent(self, client: str) -> collections.deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        oldest_kept = self._clock() - self._window
        while times and times[0] <= oldest_kept:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times


class BodyTooLarge(Exception):
    """A request body passed ``max_body_bytes`` while it was read."""


class TrustMiddleware:
    """ASGI middleware: rate limit, authentication and body size, before any route runs.

    Args:
        app: the application it wraps.
        limits: the limits to enforce.
        authenticate: ``(app, token) -> answer`` (run in a worker thread), where a falsy answer
            means the token is not valid; by default the API's ``ApiTokenService.authenticate``.
    """

    def __init__(self, app: ASGIApp, limits: ApiLimits,
                 authenticate: Callable[[Any, str], Any] | None = None):
        self.app = app
        self.limits = limits
        self.limiter = FailedAuthLimiter(limits.auth_failures, limits.auth_window_seconds)
        self._authenticate = authenticate or _authenticate_with_services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0] or "unknown"
        scope.setdefault("state", {})[LIMITER_KEY] = self.limiter
        protected = (scope["path"] == PROTECTED_PREFIX
                     or scope["path"].startswith(PROTECTED_PREFIX + "/"))
        # A bearer token presented anywhere (``/metrics``, which checks its own token) is
        # checked here too, so that guessing tokens outside /admin meets the same brake.
        if protected or _bearer_token(scope) is not None:
            refused = await self._authenticated(scope, client)
            if refused is not None:
                await refused(scope, receive, send)
                return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await problems.problem(400, "Content-Length is not a number")(scope, receive, send)
                return
            if int(declared) > self.limits.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        if not protected:
            # Outside /admin only the console's forms take a body: nothing is read ahead, so an
            # anonymous client cannot make the server buffer a body, and a route that reads
            # one (a form) gets at most the limit.
            await self.app(scope, _capped(receive, self.limits.max_body_bytes), send)
            return
        try:
            body = await _read_body(receive, self.limits.max_body_bytes)
        except BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        if body is None:  # the client went away before its body was complete
            return
        await self.app(scope, _replaying(body, receive), send)

    async def _authenticated(self, scope: Scope, client: str) -> Any:
        """None when the request carries a valid token, else the problem to answer."""
        wait = self.limiter.retry_after(client)
        if wait is not None:
            return problems.problem(
                429, f"too many failed authentication attempts from this address; try again "
                f"in {wait} s", headers={"Retry-After": str(wait), **_CLOSE})
        token = _bearer_token(scope)
        answer = None
        if token:
            try:
                answer = await run_in_threadpool(self._authenticate, scope.get("app"), token)
            except Exception as exc:
                outage = outage_of(exc)
                if outage is None:
                    raise
                return problems.outage_problem(outage)
        if not answer or isinstance(answer, TokenRefused):
            self.limiter.record_failure(client)
            detail = (str(answer) if isinstance(answer, TokenRefused)
                      else "the token is invalid, expired or revoked" if token
                      else "a bearer token is required")
            return problems.problem(401, detail, headers={**_CHALLENGE, **_CLOSE})
        scope.setdefault("state", {})[STATE_KEY] = (token, answer)
        return None

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.max_body_bytes
        await problems.problem(
            413, f"the request body is larger than {limit} bytes (OPSREL_API_MAX_BODY_BYTES)",
            headers=_CLOSE)(scope, receive, send)


def checked_answer(request: Any, token: str) -> Any:
    """What the middleware's ``authenticate`` answered for ``token`` in this request, or None
    when it did not check this very token (an app without the middleware)."""
    found = getattr(request, "scope", {}).get("state", {}).get(STATE_KEY)
    if found is not None and found[0] == token:
        return found[1]
    return None


def identify_or_refusal(tokens: Any, token: str) -> Any:
    """``tokens.identify(token)``, or the ``TokenRefused`` it raised (whose message says why:
    unknown, revoked, or expired and when), as a value."""
    try:
        return tokens.identify(token)
    except TokenRefused as refused:
        return refused


def _authenticate_with_services(app: Any, token: str) -> Any:
    return identify_or_refusal(app.state.services.tokens, token)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, counting as it comes; None when the client disconnected first.

    Raises:
        BodyTooLarge: more than ``limit`` bytes arrived (reading stops there).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` as the client sends, until more than ``limit`` body bytes came: then a
    disconnect (the route stops reading; the connection is closed)."""
    size = 0

    async def capped() -> Message:
        nonlocal size
        if size > limit:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                return {"type": "http.disconnect"}
        return message

    return capped


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then what the client sends next (its
    disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
