"""``audit_change``: an action and its audit record, one transaction.

It runs inside the caller's open ``Session``, so that an action and its audit record land
together or not at all. It reads the target's *before* state from the database itself, lets the
caller apply the change, flushes, re-reads the *after* state and writes the ``audit_log`` row on
the session's connection; the caller commits once.
"""

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.audit_records import (
    AuditActionType, Derived, action_kind, require_attribution, with_derived,
)
from opsrel_core.domain.audit_redaction import redact_state
from opsrel_core.domain.instants import to_utc
from opsrel_core.persistence.repositories.audit import AuditRepository
from opsrel_core.persistence.tables import utcnow
from opsrel_core.services.audit_log.capture import (
    capture_state, default_execution_id, default_target_id, default_target_type,
)
from opsrel_core.services.audit_log.principal import current_principal

Repository = Callable[[sa.Connection], AuditRepository]


@dataclasses.dataclass
class PendingAudit:
    """Handle yielded by ``audit_change``; ``audit_id`` and ``row`` (the written ``audit_log``
    row, a SQLAlchemy ``Row`` with every column) are set once the record is written."""

    audit_id: int | None = None
    row: sa.Row[Any] | None = None


@contextlib.contextmanager
def audit_change(
    session: Session,
    *,
    operator_id: str | None,
    reason: str | None,
    action_type: AuditActionType | str,
    action: str,
    target: object,
    target_type: str | None = None,
    target_id: str | None = None,
    execution_id: str | None = None,
    at: dt.datetime | None = None,
    derived: Derived | None = None,
    repository: Repository = AuditRepository,
) -> Iterator[PendingAudit]:
    """Audit the change the ``with`` body applies to ``target``, in the caller's transaction.

    Validates first (nothing runs on error), captures ``before_state``, runs the body, flushes,
    captures ``after_state`` and adds the ``audit_log`` row. An exception in the body propagates
    and no record is added; the caller's unit of work then rolls the action back too. The after
    state is re-read from the database, so an in-place edit the ORM does not track (mutating a
    JSON column's dict) is neither saved nor recorded: assign a new value instead.

    Args:
        session: the caller's open session; the caller commits once after the block.
        operator_id: who acts (``operator_names.normalize_operator_name``: recorded NFKC,
            1..100 characters). The acting principal (``acting_principal``, set by the entry
            point) is recorded beside it.
        reason: why (at least one visible character).
        action_type: BATCH_ACTION, DATA_CORRECTION or CONFIG_CHANGE.
        action: what was done, e.g. ``"STOP_EXECUTION"`` (1..50 characters).
        target: the ORM object changed (created, updated or deleted by the body), or a mutable
            key/value mapping (a configuration) changed in place.
        target_type: defaults to the table name (``"batch_execution"``), or ``"config"`` for a
            mapping.
        target_id: defaults to the primary key (composite keys joined by ``","``); required for a
            mapping.
        execution_id: the execution concerned; defaults to the target's id when the target is a
            ``BatchExecution``.
        at: when (UTC; naive is read as UTC); now when omitted.
        derived: adds fields computed from a captured state to it (before and after, when the
            row exists), for what the columns alone do not say: ``{"stop_requested": true}``
            while ``status`` still reads RUNNING. None records the columns only.
        repository: the audit SQL over the session's connection (``AuditRepository``);
            injectable so the unit tier can run the rules without a database server.

    Yields:
        A ``PendingAudit`` whose ``audit_id`` is set after the block.

    Raises:
        BatchExecutionException: BAT-008 when operator id or reason is missing or blank.
        ValueError: an unknown action type, a blank or too long action, or a mapping without
            ``target_id``.
    """
    operator_id, reason = require_attribution(operator_id, reason)
    kind = action_kind(action_type, action)
    if isinstance(target, Mapping) and not target_id:
        raise ValueError("target_id is required when the target is a mapping")
    before = with_derived(capture_state(session, target), derived)
    handle = PendingAudit()
    yield handle
    after = with_derived(capture_state(session, target), derived)
    # The action's own pending ORM changes are written first (their errors surface here, before
    # the record), as a flush of an added record did.
    session.flush()
    # The record is one Core INSERT ... RETURNING on the session's connection (same
    # transaction), not an ORM object: the ORM unit of work was most of an audited action's
    # client CPU (see the audited-action benchmark in ``benchmarks/writes.py``).
    values = dict(
        occurred_at=to_utc(at) if at else utcnow(),
        operator_id=operator_id,
        action_type=kind.value,
        action=action,
        target_type=target_type or default_target_type(target),
        target_id=target_id or default_target_id(target),
        reason=reason,
        # Credentials never reach the log: it is append-only, so what lands stays readable.
        before_state=redact_state(before),
        after_state=redact_state(after),
        execution_id=execution_id or default_execution_id(target),
        principal=current_principal(),
    )
    row = repository(session.connection()).insert(values)
    handle.audit_id = row.audit_id
    handle.row = row
