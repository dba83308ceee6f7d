"""The outbox of OpenLineage run events: recorded with what they report, sent at least once.

``LineageOutbox`` is called inside the transaction that records a fact, so the event and the fact
land together or not at all:

* START with the move to RUNNING (``BatchExecutionService``);
* FAIL or ABORT with the move to FAILED or STOPPED (an execution that never started gets its
  START in the same transaction first);
* COMPLETE with the activation of a successful execution's result versions
  (``ResultVersionService.activate_execution_versions``): whether each version became active is
  known only then.

Each execution has at most one event of each type (a unique key): recording again is a no-op.

``LineageDispatcher`` sends due events (PENDING, or RETRY whose ``next_attempt_at`` passed) to the
endpoint, one at a time, and records every attempt in ``lineage_event_attempt``. Within one run
events go out in the order they were recorded: an event waits while an earlier event of its
execution is still unsent. A transient failure is retried with backoff ``base * 2**(attempt-1)``
capped (or the receiver's ``Retry-After``) until ``max_attempts``; a permanent one fails at once.
A claim is a lease: a dispatcher that dies mid-send leaves the event to be sent again when the
lease ends (at least once).
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.notifiers import DeliveryError
from opsrel_core.openlineage_settings import OpenLineageSettings
from opsrel_core.persistence.retry import retry_transient, retry_transient_methods
from opsrel_core.persistence.tables import LineageEvent, LineageEventAttempt, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.openlineage_events import RunInputs, build_run_event, run_uuid

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
_UNSENT = ("PENDING", "RETRY")
_TERMINAL_EVENTS = {ExecutionStatus.FAILED: "FAIL", ExecutionStatus.STOPPED: "ABORT"}


class LineageSender(Protocol):
    """Sends one run event; raises ``DeliveryError`` (``http_status`` when it has one)."""

    def send(self, event: dict[str, Any]) -> int: ...


class LineageOutbox:
    """Records run events in the caller's transaction.

    Args:
        settings: OpenLineage settings; must be enabled (an endpoint configured).

    Raises:
        ValueError: OpenLineage is off (callers pass no outbox then).
    """

    def __init__(self, settings: OpenLineageSettings):
        if not settings.enabled:
            raise ValueError("OpenLineage is off (OPSREL_OPENLINEAGE_URL is unset)")
        self.settings = settings

    def on_transition(self, session: Session, execution_id: str, to_status: ExecutionStatus,
                      inputs: RunInputs | None = None) -> None:
        """Record what a status move means in OpenLineage: START for RUNNING, START (when
        missing) and FAIL or ABORT for FAILED or STOPPED. SUCCESS records nothing here: its
        COMPLETE is recorded with the activation (``on_activation``)."""
        if to_status == ExecutionStatus.RUNNING:
            self.record(session, execution_id, "START")
        elif to_status in _TERMINAL_EVENTS:
            self.record(session, execution_id, "START")
            self.record(session, execution_id, _TERMINAL_EVENTS[to_status], inputs)

    def on_activation(self, session: Session, execution_id: str,
                      inputs: RunInputs | None = None) -> None:
        """Record the COMPLETE event of a successful execution (and its START when missing),
        with each result version's activation as decided in this transaction."""
        self.record(session, execution_id, "START")
        self.record(session, execution_id, "COMPLETE", inputs)

    def record(self, session: Session, execution_id: str, event_type: str,
               inputs: RunInputs | None = None) -> bool:
        """Add one event unless the execution already has one of this type.

        Returns:
            True when it was added now.
        """
        session.flush()  # the event describes the rows as this transaction leaves them
        exists = session.scalar(sa.select(LineageEvent.event_id).where(
            LineageEvent.execution_id == execution_id, LineageEvent.event_type == event_type))
        if exists is not None:
            return False
        payload = build_run_event(session, execution_id, event_type, self.settings, inputs)
        now = utcnow()
        session.add(LineageEvent(
            execution_id=execution_id, event_type=event_type, run_id=run_uuid(execution_id),
            payload=payload, status="PENDING", attempts=0, next_attempt_at=now, created_at=now,
        ))
        session.flush()  # ids follow the order of recording: the dispatcher's order per run
        return True


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


@dataclasses.dataclass
class LineageDispatchReport:
    """What one ``dispatch_once`` did: counts, and ``(event_id, event_type, status)`` per send."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


@retry_transient_methods
class LineageEventService:
    """Reads the recorded run events.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def events(self, execution_id: str | None = None) -> list[LineageEventView]:
        """The run events (of one execution, or all), in the order they were recorded, each
        with its attempts oldest first."""
        with UnitOfWork(self._engine) as uow:
            stmt = sa.select(LineageEvent).order_by(LineageEvent.event_id)
            if execution_id is not None:
                stmt = stmt.where(LineageEvent.execution_id == execution_id)
            rows = list(uow.session.scalars(stmt))
            attempts: dict[int, list[LineageAttemptView]] = {}
            if rows:
                for a in uow.session.scalars(
                    sa.select(LineageEventAttempt)
                    .where(LineageEventAttempt.event_id.in_([r.event_id for r in rows]))
                    .order_by(LineageEventAttempt.attempt_id)
                ):
                    attempts.setdefault(a.event_id, []).append(LineageAttemptView(
                        a.attempted_at, a.succeeded, a.http_status, a.error))
            return [LineageEventView(
                r.event_id, r.execution_id, r.event_type, r.run_id, r.status, r.attempts,
                r.next_attempt_at, r.last_error, r.sent_at, dict(r.payload),
                tuple(attempts.get(r.event_id, ())),
            ) for r in rows]


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
    """

    def __init__(self, engine: sa.Engine, settings: OpenLineageSettings, sender: LineageSender,
                 clock: Clock = utcnow):
        self._engine = engine
        self._settings = settings
        self._sender = sender
        self._clock = clock

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
        earlier = aliased(LineageEvent)
        with UnitOfWork(self._engine) as uow:
            s = uow.session
            stmt = (
                sa.select(LineageEvent)
                .where(
                    LineageEvent.status.in_(_UNSENT),
                    LineageEvent.next_attempt_at <= now,
                    # In order per run: nothing earlier of the same execution is still unsent.
                    ~sa.exists().where(
                        earlier.execution_id == LineageEvent.execution_id,
                        earlier.event_id < LineageEvent.event_id,
                        earlier.status.in_(_UNSENT),
                    ),
                )
                .order_by(LineageEvent.next_attempt_at, LineageEvent.event_id)
                .limit(1)
            )
            if self._engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=LineageEvent)
            for _ in range(10):
                event = s.scalars(stmt).first()
                if event is None:
                    return None
                won = s.execute(
                    sa.update(LineageEvent).where(
                        LineageEvent.event_id == event.event_id,
                        LineageEvent.status == event.status,
                        LineageEvent.attempts == event.attempts,
                    ).values(
                        attempts=event.attempts + 1,
                        next_attempt_at=now + dt.timedelta(
                            seconds=self._settings.claim_lease_seconds),
                    ).execution_options(synchronize_session=False)
                ).rowcount
                if won == 1:
                    break
                s.rollback()  # another dispatcher took it: look again
            else:
                return None
            recorded = s.scalar(
                sa.select(sa.func.count()).select_from(LineageEventAttempt)
                .where(LineageEventAttempt.event_id == event.event_id)
            ) or 0
            if recorded < event.attempts:
                # The previous claim never recorded its outcome: its process died mid-send.
                s.add(LineageEventAttempt(
                    event_id=event.event_id, attempted_at=now, succeeded=False,
                    error=f"outcome of attempt {event.attempts} unknown: the dispatcher stopped "
                          "before recording it (the event may have been received); sending again",
                ))
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
                values = {"last_error": reason, "next_attempt_at": now + dt.timedelta(seconds=delay)}
            else:
                status = "FAILED"
                if outcome.transient:
                    reason = f"{reason} (gave up after {claim.attempt} attempts)"
                values = {"last_error": reason}
        with UnitOfWork(self._engine) as uow:
            uow.session.add(LineageEventAttempt(
                event_id=claim.event_id, attempted_at=now, succeeded=status == "SENT",
                http_status=http_status, error=reason,
            ))
            # Guarded by the claim: a dispatcher whose lease ran out does not overwrite the
            # outcome of the one that re-claimed the event.
            uow.session.execute(
                sa.update(LineageEvent).where(
                    LineageEvent.event_id == claim.event_id,
                    LineageEvent.attempts == claim.attempt,
                    LineageEvent.status.in_(_UNSENT),
                ).values(status=status, **values).execution_options(synchronize_session=False)
            )
            uow.commit()
        if status != "SENT":
            log.warning("lineage event %s (%s) %s: %s", claim.event_id, claim.event_type,
                        status, reason)
        return status
