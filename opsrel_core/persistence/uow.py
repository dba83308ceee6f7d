"""Unit of work: owns one transaction over the ops database.

A service opens ``with uow:``, does its reads and writes through ``uow.session`` and calls
``uow.commit()`` once; leaving the block without a commit rolls everything back, so a failed
action leaves no half-written rows.
"""

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """One transaction over the ops database.

    Args:
        engine: an engine from ``make_engine``.
    """

    def __init__(self, engine: sa.Engine):
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The open session. Raises ``RuntimeError`` outside ``with``."""
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its 'with' block")
        return self._session

    def __enter__(self) -> "UnitOfWork":
        if self._session is not None:
            raise RuntimeError("UnitOfWork is not re-entrant")
        self._session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            self._session.rollback()
        finally:
            self._session.close()
            self._session = None

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()
