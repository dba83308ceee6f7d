"""Access to the admin API and the console: API tokens and console sessions."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from opsrel_core.persistence.tables.base import BigId, Base, UtcDateTime, in_list, utcnow

# The roles of ``services.api_tokens.Role``, which the persistence layer does not import.
API_ROLES = ("viewer", "operator", "admin")


class ApiToken(Base):
    """An API token: who it acts for, its role and the hash of its secret."""

    __tablename__ = "api_token"
    __table_args__ = (
        sa.CheckConstraint(in_list("role", API_ROLES), name="role"),
        sa.CheckConstraint("length(trim(operator_id)) > 0", name="operator_not_blank"),
    )
    token_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(10))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # NULL: never expires
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # to the minute


class ConsoleSession(Base):
    """An operator console session, made from an API token at sign-in. The cookie holds the
    session's secret; only its SHA-256 hash is stored. Valid while not ended, not expired and
    its token valid."""

    __tablename__ = "console_session"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expiry"),)
    session_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("api_token.token_id"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # at sign-out
