"""ErrorCodeService: look up the error-code catalog.

The catalog is the ``error_code`` table, loaded by data migrations. Each code has a user message
(safe to show to anyone) and an operator message (what to check and do) kept apart, and an
operator action: the first thing to do, shown in every alert message of the code.
"""

import dataclasses

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import OpsException
from opsrel_core.persistence.tables import ErrorCode
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.persistence.retry import retry_transient_methods


@dataclasses.dataclass(frozen=True)
class ErrorCodeView:
    """One catalog entry.

    Attributes:
        code: e.g. ``"INP-001"``; category: its prefix (INP, EXT, BAT, DQ, LOG, SYS).
        title: a short name; user_message: for end users; operator_message: for operators.
        severity: INFO, WARNING, ERROR or CRITICAL.
        retryable: a retry may succeed without a fix; auto_alert: a failure alerts by itself.
        operator_action: what an operator does first (shown in alert messages of the code).
    """

    code: str
    category: str
    title: str
    user_message: str
    operator_message: str
    severity: str
    retryable: bool
    auto_alert: bool
    operator_action: str = ""


@retry_transient_methods
class ErrorCodeService:
    """Reads the error-code catalog.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, code: str) -> ErrorCodeView:
        """Return one code.

        Raises:
            KeyError: the catalog has no such code.
        """
        view = self.find(code)
        if view is None:
            raise KeyError(f"error code {code!r} is not in the catalog")
        return view

    def find(self, code: str) -> ErrorCodeView | None:
        """Return one code, or None when the catalog does not have it."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ErrorCode, code)
            return None if row is None else _view(row)

    def list_codes(self, category: str | None = None) -> list[ErrorCodeView]:
        """Return the catalog ordered by code, optionally one category only.

        Raises:
            ValueError: ``category`` is not one of INP, EXT, BAT, DQ, LOG, SYS.
        """
        if category is not None and category not in error_codes.CATEGORIES:
            raise ValueError(f"unknown category {category!r}; one of {error_codes.CATEGORIES}")
        stmt = sa.select(ErrorCode).order_by(ErrorCode.code)
        if category is not None:
            stmt = stmt.where(ErrorCode.category == category)
        with UnitOfWork(self._engine) as uow:
            return [_view(row) for row in uow.session.scalars(stmt)]

    def is_retryable(self, code: str) -> bool:
        """Whether a failure with ``code`` may succeed on retry without a fix (KeyError if unknown)."""
        return self.get(code).retryable

    def is_auto_alert(self, code: str) -> bool:
        """Whether a failure with ``code`` raises an alert by itself (KeyError if unknown)."""
        return self.get(code).auto_alert

    def user_message_for(self, exc: OpsException) -> str:
        """The message safe to show a user for ``exc``: the catalog's, never the operator's."""
        return self.get(exc.code).user_message


def _view(row: ErrorCode) -> ErrorCodeView:
    return ErrorCodeView(
        code=row.code,
        category=row.category,
        title=row.title,
        user_message=row.user_message,
        operator_message=row.operator_message,
        severity=row.severity,
        retryable=row.retryable,
        auto_alert=row.auto_alert,
        operator_action=row.operator_action or "",
    )
