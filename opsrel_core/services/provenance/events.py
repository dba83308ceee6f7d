"""``LineageEventService``: the recorded OpenLineage run events and their delivery history."""

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.repositories.openlineage_outbox import LineageEventRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork


@dataclasses.dataclass(frozen=True)
class LineageAttemptView:
    """One attempt to send an event (times UTC)."""

    attempted_at: dt.datetime
    succeeded: bool
    http_status: int | None
    error: str | None


@dataclasses.dataclass(frozen=True)
class LineageEventView:
    """One recorded run event with its delivery history (times UTC)."""

    event_id: int
    execution_id: str
    event_type: str
    run_id: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    payload: dict[str, Any]
    attempt_history: tuple[LineageAttemptView, ...]


@retry_transient_methods
class LineageEventService:
    """Reads the recorded run events.

    Args:
        engine: engine of the ops database.
        repository: the outbox SQL over a session (``LineageEventRepository``).
    """

    def __init__(self, engine: sa.Engine, *,
                 repository: Callable[[Session], Any] = LineageEventRepository):
        self._engine = engine
        self._repository = repository

    def events(self, execution_id: str | None = None) -> list[LineageEventView]:
        """The run events (of one execution, or all), in the order they were recorded, each
        with its attempts oldest first.

        Args:
            execution_id: only this execution's events; None for all.

        Returns:
            One view per event, by ``event_id``.
        """
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            rows = repo.events(execution_id)
            attempts: dict[int, list[LineageAttemptView]] = {}
            for a in repo.attempts_of([r.event_id for r in rows]):
                attempts.setdefault(a.event_id, []).append(LineageAttemptView(
                    a.attempted_at, a.succeeded, a.http_status, a.error))
            return [LineageEventView(
                r.event_id, r.execution_id, r.event_type, r.run_id, r.status, r.attempts,
                r.next_attempt_at, r.last_error, r.sent_at, dict(r.payload),
                tuple(attempts.get(r.event_id, ())),
            ) for r in rows]
