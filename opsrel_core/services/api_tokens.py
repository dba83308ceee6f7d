"""ApiTokenService: bearer tokens of the admin API, with a role each.

A token is shown once, when it is created; only its SHA-256 (hex) is stored, so a copy of the
database does not give access. ``identify`` hashes the presented token and looks the hash up:
an unknown, revoked or expired token is refused (``TokenRefused``, which says which);
``authenticate`` is its short form (None when refused). Roles are ranked: viewer < operator <
admin; a role may do everything the lower ones may.

A token may carry an expiry (``expires_at``, UTC; ``token_expiry`` turns ``--expires-in 30d`` or
an instant into it) and records its last use (``last_used_at``), written on authentication at most
once a minute per token so that a busy client does not turn every read into a write. Creating
and revoking a token is always audited (operator and reason required): the token's operator is a
person's name (``operator_names``), never a principal (``token:``, ``os:``, ``sensor:``).

The ``api_token`` model lives here (on the one ``Base`` of ``persistence.tables``) and matches
migration ``0005_api_tokens``.
"""

import dataclasses
import datetime as dt
import enum
import hashlib
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain.instants import utc_if_instant
from opsrel_core.domain import error_codes, operator_names
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence.tables import ApiToken, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution

TOKEN_PREFIX = "opsrel_"
CREATE_ACTION = "CREATE_API_TOKEN"
REVOKE_ACTION = "REVOKE_API_TOKEN"
# ``last_used_at`` is written when it is older than this (seconds): to the minute, cheaply.
LAST_USED_RESOLUTION_SECONDS = 60
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_TOKEN_LIFETIME = dt.timedelta(days=3660)  # ten years: anything longer is a typo


class Role(str, enum.Enum):
    """What a token may do; each role includes the rights of the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for operator, 2 for admin."""
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        """True when this role may do what ``needed`` may."""
        return self.rank >= needed.rank


ROLES = tuple(r.value for r in Role)


@dataclasses.dataclass(frozen=True)
class ApiTokenView:
    """A token as stored, without its secret.

    ``audit_id`` is the audit record of the call that returned the view (None when unaudited).
    """

    token_id: int
    operator_id: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    audit_id: int | None = None
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: ApiToken, audit_id: int | None = None) -> "ApiTokenView":
        """Build the view of a row."""
        return cls(row.token_id, row.operator_id, Role(row.role), utc_if_instant(row.created_at),
                   utc_if_instant(row.revoked_at), audit_id, utc_if_instant(row.expires_at),
                   utc_if_instant(row.last_used_at))


@dataclasses.dataclass(frozen=True)
class AuthenticatedToken:
    """A token that authenticated: whom it acts for, its role, and its principal
    (``token:<id>``, what the audit log records beside the operator name)."""

    token_id: int
    operator_id: str
    role: Role

    @property
    def principal(self) -> str:
        """``token:<id>``."""
        return operator_names.token_principal(self.token_id)


class TokenRefused(Exception):
    """A presented token that does not authenticate; the message says why (unknown, revoked,
    expired at when), for the 401 answer."""


def token_expiry(
    expires_in: str | None = None, expires_at: dt.datetime | str | None = None,
    *, now: dt.datetime | None = None,
) -> dt.datetime | None:
    """When a new token expires, from a duration or an instant (at most one of them).

    Args:
        expires_in: ``<n><unit>``, unit ``s``, ``m``, ``h``, ``d`` or ``w`` (``30d``, ``12h``).
        expires_at: an instant (a datetime or ISO 8601 text); naive is read as UTC.
        now: the current time (UTC), for tests; default now.

    Returns:
        The expiry (UTC), or None when neither is given (the token never expires).

    Raises:
        ValueError: both given, an unreadable duration or instant, one not in the future, or
            one more than ten years ahead.
    """
    now = now or utcnow()
    if expires_in is not None and expires_at is not None:
        raise ValueError("give either expires_in or expires_at, not both")
    if expires_in is not None:
        match = _DURATION.match(expires_in) if isinstance(expires_in, str) else None
        if match is None:
            raise ValueError(f"expires_in {expires_in!r} is not a duration such as 30d, 12h, 90m")
        lifetime = dt.timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])
        if lifetime <= dt.timedelta(0) or lifetime > MAX_TOKEN_LIFETIME:
            raise ValueError(f"expires_in {expires_in!r} must be more than 0 and at most 3660d")
        return now + lifetime
    if expires_at is None:
        return None
    try:
        instant = (dt.datetime.fromisoformat(expires_at) if isinstance(expires_at, str)
                   else expires_at)
        instant = utc_if_instant(instant).astimezone(dt.timezone.utc)  # type: ignore[union-attr]
    except (ValueError, TypeError, OverflowError, AttributeError):
        raise ValueError(f"expires_at {expires_at!r} is not an ISO 8601 instant") from None
    if instant <= now:
        raise ValueError(f"expires_at {instant.isoformat()} is not in the future")
    if instant - now > MAX_TOKEN_LIFETIME:
        raise ValueError(f"expires_at {instant.isoformat()} is more than ten years ahead")
    return instant


def hash_token(plaintext: str) -> str:
    """SHA-256 of a token, hex."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class ApiTokenService:
    """Creates, revokes and checks API tokens.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def create(
        self, operator_id: str, role: Role | str, *, by: str | None = None,
        reason: str | None = None, expires_at: dt.datetime | None = None,
    ) -> tuple[str, ApiTokenView]:
        """Create a token for ``operator_id`` with ``role``, audited (CONFIG_CHANGE
        ``CREATE_API_TOKEN``, in the same transaction; its id is returned in the view).

        Args:
            operator_id: whom the token acts for: a person's name (``normalize_operator_name``,
                recorded NFKC), not a principal (``token:``, ``os:``, ``sensor:``).
            role: viewer, operator or admin.
            by, reason: who creates it and why; both required.
            expires_at: when it stops authenticating (UTC, in the future; ``token_expiry``);
                None: never.

        Returns:
            (the token in plain text -- shown once, never stored --, the stored token's view).

        Raises:
            ValueError: unknown role, or an expiry not in the future.
            BatchExecutionException: BAT-008 when ``by`` or the reason is missing or blank, or
                ``operator_id`` is not a usable name or names a principal. Nothing is written.
        """
        role = Role(role)
        operator_id = operator_names.refuse_reserved_principal(
            operator_names.normalize_operator_name(operator_id))
        by, reason = require_attribution(by, reason)
        if expires_at is not None:
            expires_at = token_expiry(expires_at=expires_at)
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(operator_id=operator_id, role=role.value, token_hash=hash_token(plaintext),
                       created_at=utcnow(), expires_at=expires_at)
        with UnitOfWork(self._engine) as uow:
            with audit_change(
                uow.session, operator_id=by, reason=reason,
                action_type=AuditActionType.CONFIG_CHANGE, action=CREATE_ACTION, target=row,
            ) as pending:
                uow.session.add(row)
            uow.commit()
            return plaintext, ApiTokenView.of(row, pending.audit_id)

    def revoke(
        self, token_id: int, *, by: str | None = None, reason: str | None = None
    ) -> ApiTokenView:
        """Revoke a token, audited (CONFIG_CHANGE ``REVOKE_API_TOKEN``); revoking a revoked token
        changes nothing and writes no record.

        Raises:
            NotFoundException: BAT-011 (a ``LookupError``) when no token has this id.
            BatchExecutionException: BAT-008 when ``by`` or the reason is missing or blank.
        """
        by, reason = require_attribution(by, reason)
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalars(
                sa.select(ApiToken).where(ApiToken.token_id == token_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no API token with id {token_id}")
            if row.revoked_at is not None:
                return ApiTokenView.of(row)
            with audit_change(
                uow.session, operator_id=by, reason=reason,
                action_type=AuditActionType.CONFIG_CHANGE, action=REVOKE_ACTION, target=row,
            ) as pending:
                row.revoked_at = utcnow()
            uow.commit()
            return ApiTokenView.of(row, pending.audit_id)

    def identify(self, plaintext: str | None, *, at: dt.datetime | None = None
                 ) -> AuthenticatedToken:
        """Authenticate a presented token and record its use.

        ``last_used_at`` is written only when it is older than a minute (one conditional UPDATE;
        a concurrent request that wrote it first makes this one a no-op).

        Args:
            plaintext: the bearer token as presented.
            at: the time of the request (UTC), for tests; default now.

        Returns:
            The token's id, operator and role.

        Raises:
            TokenRefused: empty, unknown, revoked, or expired (the message says when).
        """
        if not plaintext:
            raise TokenRefused("a bearer token is required")
        now = at or utcnow()
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalars(
                sa.select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                raise TokenRefused("the token is invalid or revoked")
            expires_at = utc_if_instant(row.expires_at)
            if expires_at is not None and expires_at <= now:
                raise TokenRefused(
                    f"the token expired at {expires_at.isoformat()}; ask an admin for a new one "
                    "(`opsrel tokens create ... --expires-in 30d`)")
            found = AuthenticatedToken(row.token_id, row.operator_id, Role(row.role))
            last_used = utc_if_instant(row.last_used_at)
            stale = now - dt.timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
            if last_used is None or last_used <= stale:
                uow.session.execute(
                    sa.update(ApiToken)
                    .where(ApiToken.token_id == row.token_id,
                           sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale))
                    .values(last_used_at=now))
                uow.commit()
            return found

    def authenticate(self, plaintext: str | None) -> tuple[str, Role] | None:
        """Return (operator_id, role) of a valid token, or None (unknown, revoked, expired or
        empty); records its use as ``identify`` does."""
        try:
            found = self.identify(plaintext)
        except TokenRefused:
            return None
        return found.operator_id, found.role

    def list_tokens(self) -> list[ApiTokenView]:
        """Every token, oldest first (no secrets)."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(sa.select(ApiToken).order_by(ApiToken.token_id))
            return [ApiTokenView.of(r) for r in rows]
