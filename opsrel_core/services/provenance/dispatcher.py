"""``LineageDispatcher``: sends the outbox's due run events and records every attempt.

Due events are PENDING, or RETRY whose ``next_attempt_at`` passed; they go to the endpoint one at
a time, each attempt recorded in ``lineage_event_attempt``. Within one run events go out in the
order they were recorded: an event waits while an earlier event of its execution is still
unsent. A transient failure is retried with backoff ``base * 2**(attempt-1)`` capped (or the
receiver's ``Retry-After``) until ``max_attempts``; a permanent one fails at once. A claim is a
lease: a dispatcher that dies mid-send leaves the event to be sent again when the lease ends (at
least once).
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.notifiers import DeliveryError
from opsrel_core.config import OpenLineageSettings
from opsrel_core.persistence.repositories.openlineage_outbox import LineageEventRepository
from opsrel_core.persistence.retry import retry_transient
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
_CLAIM_TRIES = 10


class LineageSender(Protocol):
    """Sends one run event; raises ``DeliveryError`` (``http_status`` when it has one)."""

    def send(self, event: dict[str, Any]) -> int: ...


@dataclasses.dataclass
class LineageDispatchReport:
    """What one ``dispatch_once`` did: counts, and ``(event_id, event_type, status)`` per send."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Claim:
    event_id: int
    event_type: str
    attempt: int
    payload: dict[str, Any]


class LineageDispatcher:
    """Sends due run events and records every attempt (the outbox's consumer).

    Args:
        engine: engine of the ops database.
        settings: OpenLineage settings (attempts, backoff, lease).
        sender: posts one event (``OpenLineageHttpSender``).
        clock: current UTC time; injectable so tests move time instead of sleeping.
        repository: the outbox SQL over a session (``LineageEventRepository``).
    """

    def __init__(self, engine: sa.Engine, settings: OpenLineageSettings, sender: LineageSender,
                 clock: Clock = utcnow, *,
                 repository: Callable[[Session], Any] = LineageEventRepository):
        self._engine = engine
        self._settings = settings
        self._sender = sender
        self._clock = clock
        self._repository = repository

    def dispatch_once(self, limit: int = 100) -> LineageDispatchReport:
        """Send up to ``limit`` due events, each claimed, sent and recorded on its own.

        Returns:
            Counts of claimed, sent, retried and failed events.

        Raises:
            SystemException: SYS-002 when the ops database stays unreachable.
        """
        report = LineageDispatchReport()
        for _ in range(limit):
            claim = self._claim_next()
            if claim is None:
                break
            report.claimed += 1
            status = self._record(claim, self._send(claim))
            report.outcomes.append((claim.event_id, claim.event_type, status))
            report.sent += status == "SENT"
            report.retried += status == "RETRY"
            report.failed += status == "FAILED"
        return report

    @retry_transient
    def _claim_next(self) -> _Claim | None:
        now = self._clock()
        lease_until = now + dt.timedelta(seconds=self._settings.claim_lease_seconds)
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            for _ in range(_CLAIM_TRIES):
                event = repo.next_due(now)
                if event is None:
                    return None
                if repo.claim(event, lease_until):
                    break
                uow.session.rollback()  # another dispatcher took it: look again
            else:
                return None
            if repo.attempt_count(event.event_id) < event.attempts:
                # The previous claim never recorded its outcome: its process died mid-send.
                repo.add_attempt({
                    "event_id": event.event_id, "attempted_at": now, "succeeded": False,
                    "error": f"outcome of attempt {event.attempts} unknown: the dispatcher "
                             "stopped before recording it (the event may have been received); "
                             "sending again",
                })
            claim = _Claim(event.event_id, event.event_type, event.attempts + 1,
                           dict(event.payload))
            uow.commit()
            return claim

    def _send(self, claim: _Claim) -> DeliveryError | int:
        try:
            return self._sender.send(claim.payload)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a sender bug: recorded as a transient failure, and logged
            log.exception("lineage event %s: unexpected sender error", claim.event_id)
            return DeliveryError(True, f"unexpected {type(exc).__name__}: {exc}")

    @retry_transient
    def _record(self, claim: _Claim, outcome: DeliveryError | int) -> str:
        s_ = self._settings
        now = self._clock()
        values: dict[str, Any]
        reason = None
        if not isinstance(outcome, DeliveryError):
            status, http_status = "SENT", outcome
            values = {"sent_at": now, "last_error": None}
        else:
            http_status = getattr(outcome, "http_status", None)
            reason = f"{error_codes.EXT_WEBHOOK_FAILED}: {s_.redact(outcome.reason)}"[:2000]
            if outcome.transient and claim.attempt < s_.max_attempts:
                delay = min(s_.backoff_base_seconds * 2 ** (claim.attempt - 1),
                            s_.backoff_cap_seconds)
                if outcome.retry_after is not None:
                    delay = min(max(outcome.retry_after, 1.0), s_.backoff_cap_seconds)
                status = "RETRY"
                values = {"last_error": reason,
                          "next_attempt_at": now + dt.timedelta(seconds=delay)}
            else:
                status = "FAILED"
                if outcome.transient:
                    reason = f"{reason} (gave up after {claim.attempt} attempts)"
                values = {"last_error": reason}
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            repo.add_attempt({
                "event_id": claim.event_id, "attempted_at": now, "succeeded": status == "SENT",
                "http_status": http_status, "error": reason,
            })
            # Guarded by the claim: a dispatcher whose lease ran out does not overwrite the
            # outcome of the one that re-claimed the event.
            repo.settle(claim.event_id, claim.attempt, {"status": status, **values})
            uow.commit()
        if status != "SENT":
            log.warning("lineage event %s (%s) %s: %s", claim.event_id, claim.event_type,
                        status, reason)
        return status
