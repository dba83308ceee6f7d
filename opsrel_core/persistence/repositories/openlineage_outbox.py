"""The SQL of the OpenLineage outbox, over the session of the caller's unit of work.

``LineageEventRepository`` writes and reads ``lineage_event`` and ``lineage_event_attempt``:
the event recorded in the transaction of what it reports, the claim of a due event (a guarded
update: only one dispatcher wins an event), and the guarded outcome. ``RunRecordReader`` reads
what an event reports about a run (``opsrel_core.domain.openlineage_events.RunRecords``). Neither
commits: the caller's unit of work does.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from opsrel_core.domain.openlineage_events import RunRecords
from opsrel_core.persistence.tables import (
    BatchExecution,
    LineageEvent,
    LineageEventAttempt,
    Replay,
    ResultVersion,
    Snapshot,
    ValidationResult,
    ValidationRule,
    ValidationRuleVersion,
)

UNSENT = ("PENDING", "RETRY")


class LineageEventRepository:
    """Writes and reads run events and their attempts in ``session``."""

    def __init__(self, session: Session):
        self._session = session

    def has_event(self, execution_id: str, event_type: str) -> bool:
        """Whether the execution already has an event of this type."""
        return self._session.scalar(sa.select(LineageEvent.event_id).where(
            LineageEvent.execution_id == execution_id, LineageEvent.event_type == event_type,
        )) is not None

    def add_event(self, values: dict[str, Any]) -> None:
        """Add one event (flushed: ids follow the order of recording)."""
        self._session.add(LineageEvent(**values))
        self._session.flush()

    def events(self, execution_id: str | None = None) -> list[Any]:
        """The events (of one execution, or all), by ``event_id``."""
        stmt = sa.select(LineageEvent).order_by(LineageEvent.event_id)
        if execution_id is not None:
            stmt = stmt.where(LineageEvent.execution_id == execution_id)
        return list(self._session.scalars(stmt))

    def attempts_of(self, event_ids: Sequence[int]) -> list[Any]:
        """The attempts of these events, oldest first."""
        if not event_ids:
            return []
        return list(self._session.scalars(
            sa.select(LineageEventAttempt)
            .where(LineageEventAttempt.event_id.in_(list(event_ids)))
            .order_by(LineageEventAttempt.attempt_id)
        ))

    def next_due(self, now: dt.datetime) -> Any | None:
        """The next unsent event due at ``now`` with nothing earlier of its run still unsent.

        On PostgreSQL the row is locked, skipping rows other dispatchers hold.
        """
        earlier = aliased(LineageEvent)
        stmt = (
            sa.select(LineageEvent)
            .where(
                LineageEvent.status.in_(UNSENT),
                LineageEvent.next_attempt_at <= now,
                # In order per run: nothing earlier of the same execution is still unsent.
                ~sa.exists().where(
                    earlier.execution_id == LineageEvent.execution_id,
                    earlier.event_id < LineageEvent.event_id,
                    earlier.status.in_(UNSENT),
                ),
            )
            .order_by(LineageEvent.next_attempt_at, LineageEvent.event_id)
            .limit(1)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=LineageEvent)
        return self._session.scalars(stmt).first()

    def claim(self, event: Any, lease_until: dt.datetime) -> bool:
        """Count one more attempt of ``event`` and lease it until ``lease_until``.

        Returns:
            False when another dispatcher changed the event since it was read.
        """
        return self._session.execute(
            sa.update(LineageEvent).where(
                LineageEvent.event_id == event.event_id,
                LineageEvent.status == event.status,
                LineageEvent.attempts == event.attempts,
            ).values(attempts=event.attempts + 1, next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        ).rowcount == 1

    def attempt_count(self, event_id: int) -> int:
        """How many attempts of the event are recorded."""
        return self._session.scalar(
            sa.select(sa.func.count()).select_from(LineageEventAttempt)
            .where(LineageEventAttempt.event_id == event_id)
        ) or 0

    def add_attempt(self, values: dict[str, Any]) -> None:
        """Record one attempt."""
        self._session.add(LineageEventAttempt(**values))

    def settle(self, event_id: int, attempt: int, values: dict[str, Any]) -> None:
        """Record an attempt's outcome on the event, unless another claim took it since."""
        self._session.execute(
            sa.update(LineageEvent).where(
                LineageEvent.event_id == event_id,
                LineageEvent.attempts == attempt,
                LineageEvent.status.in_(UNSENT),
            ).values(**values).execution_options(synchronize_session=False)
        )


class RunRecordReader:
    """Reads what a run event reports in ``session`` (its writes flushed)."""

    def __init__(self, session: Session):
        self._session = session

    def records(self, execution_id: str, *, outcome: bool,
                snapshot_ids: Sequence[str] = ()) -> RunRecords | None:
        """The records of one run as the session holds them, or None when it is not recorded.

        Args:
            outcome: read what the run made (result versions, rule results, snapshots); a
                START reports none of it.
            snapshot_ids: the input snapshots whose asset to read.
        """
        s = self._session
        row = s.get(BatchExecution, execution_id, populate_existing=True)
        if row is None:
            return None
        parent = s.get(BatchExecution, row.parent_execution_id) if row.parent_execution_id else None
        reason = None
        if row.replay_id is not None and (row.run_tags or {}).get("opsrel/reason") is None:
            replay = s.get(Replay, row.replay_id)
            reason = replay.reason if replay is not None else None
        if not outcome:
            return RunRecords(row, parent.job_id if parent else None, reason)
        versions = list(s.scalars(
            sa.select(ResultVersion).where(ResultVersion.execution_id == execution_id)
            .order_by(ResultVersion.asset_key, ResultVersion.partition_key)))
        results = [tuple(r) for r in s.execute(
            sa.select(ValidationResult, ValidationRuleVersion, ValidationRule.severity)
            .join(ValidationRuleVersion,
                  ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
            .join(ValidationRule, ValidationRule.rule_id == ValidationRuleVersion.rule_id)
            .where(ValidationResult.execution_id == execution_id)
            .order_by(ValidationResult.result_id)).all()]
        assets = {}
        for snapshot_id in sorted(set(snapshot_ids)):
            snapshot = s.get(Snapshot, snapshot_id)
            if snapshot is not None:
                assets[snapshot_id] = snapshot.asset_key
        return RunRecords(row, parent.job_id if parent else None, reason, versions, results,
                          assets)
