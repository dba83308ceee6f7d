"""ApiTokenService: bearer tokens of the admin API, with a role each (C1-T08).

A token is shown once, when it is created; only its SHA-256 (hex) is stored, so a copy of the
database does not give access. ``authenticate`` hashes the presented token and looks the hash up:
a revoked or unknown token gives None. Roles are ranked: viewer < operator < admin; a role may do
everything the lower ones may.

The ``api_token`` model lives here (on the one ``Base`` of ``persistence.tables``) and matches
migration ``0005_api_tokens``.
"""

import dataclasses
import datetime as dt
import enum
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.domain import error_codes
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence.tables import ApiToken, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution

TOKEN_PREFIX = "opsrel_"
CREATE_ACTION = "CREATE_API_TOKEN"
REVOKE_ACTION = "REVOKE_API_TOKEN"


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

    @classmethod
    def of(cls, row: ApiToken, audit_id: int | None = None) -> "ApiTokenView":
        """Build the view of a row."""
        return cls(row.token_id, row.operator_id, Role(row.role), _aware(row.created_at),
                   _aware(row.revoked_at), audit_id)


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
        reason: str | None = None,
    ) -> tuple[str, ApiTokenView]:
        """Create a token for ``operator_id`` with ``role``.

        Args:
            operator_id: whom the token acts for (1..100 characters, not blank).
            role: viewer, operator or admin.
            by, reason: when given (the admin API), a CONFIG_CHANGE audit record is written in
                the same transaction and its id returned in the view.

        Returns:
            (the token in plain text -- shown once, never stored --, the stored token's view).

        Raises:
            ValueError: unknown role or blank operator.
            BatchExecutionException: BAT-008 when ``by`` is given without a reason (or blank).
        """
        role = Role(role)
        if not isinstance(operator_id, str) or not operator_id.strip() or len(operator_id) > 100:
            raise ValueError("operator_id must be 1..100 characters and not blank")
        if by is not None or reason is not None:
            by, reason = require_attribution(by, reason)
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(operator_id=operator_id, role=role.value, token_hash=hash_token(plaintext),
                       created_at=utcnow())
        with UnitOfWork(self._engine) as uow:
            audit_id = None
            if by is None:
                uow.session.add(row)
                uow.session.flush()
            else:
                with audit_change(
                    uow.session, operator_id=by, reason=reason,
                    action_type=AuditActionType.CONFIG_CHANGE, action=CREATE_ACTION, target=row,
                ) as pending:
                    uow.session.add(row)
                audit_id = pending.audit_id
            uow.commit()
            return plaintext, ApiTokenView.of(row, audit_id)

    def revoke(
        self, token_id: int, *, by: str | None = None, reason: str | None = None
    ) -> ApiTokenView:
        """Revoke a token; revoking a revoked token changes nothing and writes no record.

        Raises:
            NotFoundException: BAT-011 (a ``LookupError``) when no token has this id.
            BatchExecutionException: BAT-008 when ``by`` is given without a reason.
        """
        if by is not None or reason is not None:
            by, reason = require_attribution(by, reason)
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalars(
                sa.select(ApiToken).where(ApiToken.token_id == token_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no API token with id {token_id}")
            if row.revoked_at is not None:
                return ApiTokenView.of(row)
            audit_id = None
            if by is None:
                row.revoked_at = utcnow()
            else:
                with audit_change(
                    uow.session, operator_id=by, reason=reason,
                    action_type=AuditActionType.CONFIG_CHANGE, action=REVOKE_ACTION, target=row,
                ) as pending:
                    row.revoked_at = utcnow()
                audit_id = pending.audit_id
            uow.commit()
            return ApiTokenView.of(row, audit_id)

    def authenticate(self, plaintext: str | None) -> tuple[str, Role] | None:
        """Return (operator_id, role) of a valid token, or None (unknown, revoked or empty)."""
        if not plaintext:
            return None
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalars(
                sa.select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
            ).one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            return row.operator_id, Role(row.role)

    def list_tokens(self) -> list[ApiTokenView]:
        """Every token, oldest first (no secrets)."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(sa.select(ApiToken).order_by(ApiToken.token_id))
            return [ApiTokenView.of(r) for r in rows]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)
