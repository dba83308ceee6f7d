"""Bearer-token authentication and role checks of the admin API."""

import dataclasses
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.limits import checked_answer, identify_or_refusal
from opsrel_core.services.api_tokens import Role, TokenRefused
from opsrel_core.services.audit_log import acting_principal

_bearer = HTTPBearer(auto_error=False, description="An opsrel API token (`opsrel tokens create`).")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who calls: the token's operator and role, and the token's id (None only for a
    principal built by hand)."""

    operator_id: str
    role: Role
    token_id: int | None = None


def require(needed: Role) -> Callable[..., Principal]:
    """A dependency admitting tokens whose role includes ``needed`` (401 / 403 otherwise)."""

    # Async, so that the acting principal it sets belongs to the request's own context and
    # reaches the endpoint (a sync dependency runs in a worker thread's copy of the context);
    # the token lookup itself still runs in the thread pool.
    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        services: Services = Depends(get_services),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
        # The middleware has looked this token up already; an app without it looks it up here.
        found = checked_answer(request, credentials.credentials)
        if found is None:
            found = await run_in_threadpool(
                identify_or_refusal, services.tokens, credentials.credentials)
        if isinstance(found, TokenRefused):  # unknown, revoked or expired: the message says which
            raise HTTPException(401, str(found), headers=_CHALLENGE)
        principal = Principal(found.operator_id, found.role, found.token_id)
        if not principal.role.allows(needed):
            raise HTTPException(
                403, f"role {principal.role.value} may not do this; {needed.value} is required"
            )
        request.state.principal = principal
        # Every audit record this request writes names the token beside its operator.
        acting_principal.set(found.principal)
        return principal

    return dependency


viewer = require(Role.VIEWER)
operator = require(Role.OPERATOR)
admin = require(Role.ADMIN)
