"""SilenceService: mute a known condition for a while, with a reason.

An operator creates a silence by matchers (job, error code, rule id, partition glob), a reason
and an expiry. An alert raised while a silence matches it (``opsrel_core.domain.alert_lifecycle``)
is recorded as usual, with ``silenced_by`` set, and its deliveries are written SUPPRESSED: it is
visible in the alert list and the delivery history, and never sent. A silence is lifted at its
expiry without anyone acting, or earlier by ``end``; creating and ending are audited
(CONFIG_CHANGE ``CREATE_SILENCE`` / ``END_SILENCE``, target ``alert_silence``).

A suppressed alert whose silence no longer holds is delivered at its next occurrence
(``OpsAlertService``): a condition that outlasts its silence is heard again.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.instants import to_utc
from opsrel_core.domain.alert_lifecycle import (
    SilenceMatchers, silence_holds, validate_silence_seconds,
)
from opsrel_core.errors import ConflictException, NotFoundException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import AlertSilence, ErrorCode, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change, require_attribution

Clock = Callable[[], dt.datetime]
_SILENCE = AlertSilence.__table__
MAX_LIST_LIMIT = 1000


@dataclasses.dataclass(frozen=True)
class SilenceView:
    """One silence as read back (times UTC).

    Attributes:
        active: whether it holds at the time of reading (not ended, ``now < expires_at``).
    """

    silence_id: int
    job_id: str | None
    error_code: str | None
    rule_id: str | None
    partition_pattern: str | None
    reason: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    ended_by: str | None
    active: bool

    @classmethod
    def of(cls, row: Any, now: dt.datetime) -> "SilenceView":
        """Build the view from an ORM ``AlertSilence`` as of ``now``."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls) if f.name != "active"}
        return cls(**values, active=silence_holds(row.expires_at, row.ended_at, now))


@retry_transient_methods
class SilenceService:
    """Creates, lists and ends silences.

    Args:
        engine: engine of the ops database.
        clock: current UTC time; injectable for tests.
    """

    def __init__(self, engine: sa.Engine, clock: Clock = utcnow):
        self._engine = engine
        self._clock = clock

    def create_silence(
        self,
        *,
        operator_id: str | None,
        reason: str | None,
        job_id: str | None = None,
        error_code: str | None = None,
        rule_id: str | None = None,
        partition_pattern: str | None = None,
        expires_at: dt.datetime | None = None,
        duration_seconds: float | None = None,
    ) -> SilenceView:
        """Create a silence and its audit record in one transaction.

        Args:
            operator_id, reason: who and why (required, not blank).
            job_id, error_code, rule_id, partition_pattern: the matchers; at least one.
            expires_at: when it is lifted (UTC), after now and at most 90 days ahead; or
            duration_seconds: how long it holds from now (seconds). Exactly one of the two.

        Returns:
            The silence, active.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing; nothing written.
            ValueError: no matcher, an error code outside the catalog, no or both expiries, an
                expiry not in the future or more than 90 days ahead.
        """
        operator_id, reason = require_attribution(operator_id, reason)
        matchers = SilenceMatchers(job_id, error_code, rule_id, partition_pattern).validate()
        now = self._clock()
        if (expires_at is None) == (duration_seconds is None):
            raise ValueError("give the silence an expiry: expires_at or a duration (e.g. 4h)")
        if expires_at is not None:
            # A client's instant may lie outside years 1..9999 once in UTC: a ValueError (422).
            expires_at = to_utc(expires_at)
            duration_seconds = (expires_at - now).total_seconds()
        assert duration_seconds is not None
        validate_silence_seconds(duration_seconds)
        expires_at = expires_at or now + dt.timedelta(seconds=duration_seconds)
        with UnitOfWork(self._engine) as uow:
            if matchers.error_code and uow.session.get(ErrorCode, matchers.error_code) is None:
                raise ValueError(f"error code {matchers.error_code!r} is not in the catalog")
            row = AlertSilence(
                **dataclasses.asdict(matchers), reason=reason, created_by=operator_id,
                created_at=now, expires_at=expires_at,
            )
            with audit_change(uow.session, operator_id=operator_id, reason=reason,
                              action_type="CONFIG_CHANGE", action="CREATE_SILENCE", target=row,
                              at=now):
                uow.session.add(row)
            uow.commit()
            return SilenceView.of(row, now)

    def end_silence(self, silence_id: int, *, operator_id: str | None,
                    reason: str | None) -> SilenceView:
        """End a silence now, before its expiry, with its audit record.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing.
            NotFoundException: BAT-011 when no silence has this id.
            ConflictException: BAT-001 when it already ended or expired; nothing written.
        """
        operator_id, reason = require_attribution(operator_id, reason)
        now = self._clock()
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(AlertSilence, silence_id, with_for_update=True)
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND,
                                        f"no silence with id {silence_id}")
            if not silence_holds(row.expires_at, row.ended_at, now):
                how = (f"ended at {row.ended_at.isoformat()} by {row.ended_by}"
                       if row.ended_at else f"expired at {row.expires_at.isoformat()}")
                raise ConflictException(error_codes.BAT_INVALID_TRANSITION,
                                        f"silence {silence_id} is no longer active ({how})")
            with audit_change(uow.session, operator_id=operator_id, reason=reason,
                              action_type="CONFIG_CHANGE", action="END_SILENCE", target=row,
                              at=now):
                row.ended_at = now
                row.ended_by = operator_id
            uow.commit()
            return SilenceView.of(row, now)

    def get_silence(self, silence_id: int) -> SilenceView:
        """One silence. Raises NotFoundException (BAT-011) when no silence has this id."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(AlertSilence, silence_id)
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND,
                                        f"no silence with id {silence_id}")
            return SilenceView.of(row, self._clock())

    def list_silences(self, *, active_only: bool = True, limit: int = 100) -> list[SilenceView]:
        """Silences newest first; only those holding now when ``active_only``.

        Raises:
            ValueError: ``limit`` outside 1..1000.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        now = self._clock()
        stmt = sa.select(AlertSilence).order_by(AlertSilence.silence_id.desc()).limit(limit)
        if active_only:
            stmt = stmt.where(AlertSilence.expires_at > now, sa.or_(
                AlertSilence.ended_at.is_(None), AlertSilence.ended_at > now))
        with UnitOfWork(self._engine) as uow:
            return [SilenceView.of(r, now) for r in uow.session.scalars(stmt)]


def matching_silence(conn: sa.Connection, at: dt.datetime, *, job_id: str | None,
                     error_code: str | None, rule_id: str | None,
                     partition_key: str | None) -> int | None:
    """The id of the oldest silence holding at ``at`` that matches these alert facts, or None.

    Read on the caller's connection, inside the transaction that writes the alert.
    """
    rows = conn.execute(
        sa.select(_SILENCE).where(
            _SILENCE.c.expires_at > at,
            sa.or_(_SILENCE.c.ended_at.is_(None), _SILENCE.c.ended_at > at),
        ).order_by(_SILENCE.c.silence_id)
    ).all()
    for row in rows:
        matchers = SilenceMatchers(row.job_id, row.error_code, row.rule_id, row.partition_pattern)
        if matchers.matches(job_id=job_id, error_code=error_code, rule_id=rule_id,
                            partition_key=partition_key):
            return int(row.silence_id)
    return None


def silence_still_holds(conn: sa.Connection, silence_id: int, at: dt.datetime) -> bool:
    """Whether silence ``silence_id`` holds at ``at`` (read on the caller's connection)."""
    row = conn.execute(sa.select(_SILENCE.c.expires_at, _SILENCE.c.ended_at)
                       .where(_SILENCE.c.silence_id == silence_id)).first()
    return row is not None and silence_holds(to_utc(row.expires_at),
                                             to_utc(row.ended_at) if row.ended_at else None, at)
