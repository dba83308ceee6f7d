"""Operator console sessions: an API token exchanged for a cookie, and its CSRF token.

Signing in presents an API token once; the console then keeps a random session secret in an
HttpOnly cookie. The database stores only the secret's SHA-256 hash, so a copy of the table
opens no session. A session answers for its token: it is valid while it is not ended (sign-out),
not past ``expires_at`` and its token is neither revoked nor expired, so revoking a token signs
out every console session made from it at its next request.
"""

import dataclasses
import datetime as dt
import secrets

import sqlalchemy as sa

from opsrel_core.config.console import DEFAULT_SESSION_SECONDS
from opsrel_core.domain.instants import to_utc
from opsrel_core.persistence.tables import ApiToken, ConsoleSession, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.api_tokens import (
    ApiTokenService, AuthenticatedToken, Role, hash_token,
)


@dataclasses.dataclass(frozen=True)
class ConsoleSessionView:
    """A valid session: its token's identity, its CSRF token and when it ends (UTC)."""

    token: AuthenticatedToken
    csrf_token: str
    expires_at: dt.datetime

    @property
    def operator_id(self) -> str:
        return self.token.operator_id

    @property
    def role(self) -> Role:
        return self.token.role


class ConsoleSessionService:
    """Starts, finds and ends console sessions.

    Args:
        engine: the ops database.
        tokens: the token service that checks the token presented at sign-in.
    """

    def __init__(self, engine: sa.Engine, tokens: ApiTokenService):
        self._engine = engine
        self._tokens = tokens

    def sign_in(self, plaintext_token: str, *, lifetime_seconds: int = DEFAULT_SESSION_SECONDS,
                at: dt.datetime | None = None) -> tuple[str, ConsoleSessionView]:
        """Exchange an API token for a new session.

        Args:
            plaintext_token: the API token as typed by the operator.
            lifetime_seconds: how long the session lasts, in seconds (>= 60); never past the
                token's own expiry.
            at: now (UTC), for tests.

        Returns:
            ``(secret, session)``: the secret goes into the cookie and is not stored.

        Raises:
            TokenRefused: the token is empty, unknown, revoked or expired (message says which).
            ValueError: ``lifetime_seconds`` below 60.
        """
        if lifetime_seconds < 60:
            raise ValueError(f"a console session lasts at least 60 s, got {lifetime_seconds}")
        now = at or utcnow()
        found = self._tokens.identify(plaintext_token, at=now)
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires_at = now + dt.timedelta(seconds=lifetime_seconds)
        with UnitOfWork(self._engine) as uow:
            token_expiry = uow.session.scalar(
                sa.select(ApiToken.expires_at).where(ApiToken.token_id == found.token_id))
            if token_expiry is not None:
                expires_at = min(expires_at, to_utc(token_expiry))
            uow.session.add(ConsoleSession(
                session_hash=hash_token(secret), token_id=found.token_id, csrf_token=csrf,
                created_at=now, expires_at=expires_at))
            uow.commit()
        return secret, ConsoleSessionView(found, csrf, expires_at)

    def find(self, secret: str | None, *, at: dt.datetime | None = None
             ) -> ConsoleSessionView | None:
        """The valid session of a cookie's secret, or None (no cookie, unknown, signed out,
        expired, or its token revoked or expired)."""
        if not secret:
            return None
        now = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            row = uow.session.execute(
                sa.select(ConsoleSession.ended_at, ConsoleSession.expires_at,
                          ConsoleSession.csrf_token, ApiToken.token_id, ApiToken.operator_id,
                          ApiToken.role, ApiToken.revoked_at,
                          ApiToken.expires_at.label("token_expires_at"))
                .join(ApiToken, ApiToken.token_id == ConsoleSession.token_id)
                .where(ConsoleSession.session_hash == hash_token(secret))
            ).one_or_none()
        if row is None:
            return None
        token_expiry = None if row.token_expires_at is None else to_utc(row.token_expires_at)
        expires_at = to_utc(row.expires_at)
        if (row.ended_at is not None or expires_at <= now or row.revoked_at is not None
                or (token_expiry is not None and token_expiry <= now)):
            return None
        return ConsoleSessionView(
            AuthenticatedToken(row.token_id, row.operator_id, Role(row.role)),
            row.csrf_token, expires_at)

    def sign_out(self, secret: str | None, *, at: dt.datetime | None = None) -> bool:
        """End the session of a cookie's secret; True when a live session ended (a repeat, or
        an unknown secret, changes nothing)."""
        if not secret:
            return False
        with UnitOfWork(self._engine) as uow:
            ended = uow.session.execute(
                sa.update(ConsoleSession)
                .where(ConsoleSession.session_hash == hash_token(secret),
                       ConsoleSession.ended_at.is_(None))
                .values(ended_at=at or utcnow())).rowcount
            uow.commit()
        return bool(ended)
