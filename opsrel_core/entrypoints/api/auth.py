"""Bearer-token authentication and role checks of the admin API."""

import dataclasses
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.api.limits import authenticated
from opsrel_core.services.api_tokens import Role

_bearer = HTTPBearer(auto_error=False, description="An opsrel API token (`opsrel tokens create`).")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who calls: the token's operator and role."""

    operator_id: str
    role: Role


def require(needed: Role) -> Callable[..., Principal]:
    """A dependency admitting tokens whose role includes ``needed`` (401 / 403 otherwise)."""

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        services: Services = Depends(get_services),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
        found = authenticated(request, credentials.credentials, services.tokens.authenticate)
        if found is None:
            raise HTTPException(401, "the token is invalid or revoked", headers=_CHALLENGE)
        principal = Principal(*found)
        if not principal.role.allows(needed):
            raise HTTPException(
                403, f"role {principal.role.value} may not do this; {needed.value} is required"
            )
        request.state.principal = principal
        return principal

    return dependency


viewer = require(Role.VIEWER)
operator = require(Role.OPERATOR)
admin = require(Role.ADMIN)
