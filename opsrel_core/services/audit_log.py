"""AuditLogService: append-only records of manual actions (C1-T04).

The core is ``audit_change`` (and ``AuditLogService.record`` built on it): it runs inside the
caller's open ``Session``, so that an action and its audit record are one transaction and land
together or not at all. It reads the target's *before* state from the database itself, lets the
caller apply the change, flushes, re-reads the *after* state from the database and adds the
``audit_log`` row; the caller commits once. Callers never pass states: what is recorded is what the
database held. The ``log_*`` methods are the standalone form: each opens its own unit of work,
loads the target by (model, primary key) or takes a plain key/value dict (a configuration), and
commits.

Operator id and reason are required. Missing, None, not a string or blank (whitespace only) raises
``BatchExecutionException`` with BAT-008 ("Operator and reason required", catalog migration 0003)
before anything runs, so neither the action nor a record is written. BAT-008 is the catalog's code
for an unattributed manual action; its user message says the action was refused, which holds for
configuration changes and corrections too. (Before 0003 no code fitted: INP-003 "Required column
missing" is about landing files and alerts automatically; BAT-001 means a state-machine violation.)
"""

import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchExecution, Base, utcnow
from opsrel_core.persistence.uow import UnitOfWork

T = TypeVar("T")

# The code of a refused, unattributed action (see the module docstring).
MISSING_REQUIRED_FIELD_CODE = error_codes.BAT_ATTRIBUTION_REQUIRED
MAX_LIST_LIMIT = 1000
CONFIG_TARGET_TYPE = "config"


class AuditActionType(str, enum.Enum):
    """What kind of manual action an audit record describes."""

    BATCH_ACTION = "BATCH_ACTION"
    DATA_CORRECTION = "DATA_CORRECTION"
    CONFIG_CHANGE = "CONFIG_CHANGE"


@dataclasses.dataclass(frozen=True)
class EntityRef:
    """A row to audit, named by its ORM model and primary key (a tuple for composite keys)."""

    model: type[Base]
    key: Any


@dataclasses.dataclass(frozen=True)
class AuditLogView:
    """One audit record as read back. Times are UTC; states are JSON dicts or None."""

    audit_id: int
    occurred_at: dt.datetime
    operator_id: str
    action_type: str
    action: str
    target_type: str
    target_id: str
    reason: str
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    execution_id: str | None

    @classmethod
    def of(cls, row: Any) -> "AuditLogView":
        """Build the view from an ORM ``AuditLog`` or a Core row of the ``audit_log`` table."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["occurred_at"] = _utc(row.occurred_at)
        return cls(**values)


@dataclasses.dataclass
class PendingAudit:
    """Handle yielded by ``audit_change``; ``audit_id`` and ``row`` (the written ``audit_log``
    row, a SQLAlchemy ``Row`` with every column) are set once the record is written."""

    audit_id: int | None = None
    row: sa.Row[Any] | None = None


def json_safe(value: Any) -> Any:
    """Convert a column value to JSON: datetimes ISO 8601 UTC (naive read as UTC), dates ISO,
    decimals and UUIDs as strings, enums by value, mappings and sequences recursively."""
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    return str(value)


def capture_state(session: Session, target: object) -> dict[str, Any] | None:
    """Read ``target``'s current state as the database holds it in this transaction.

    Args:
        session: the open session the target belongs to (or will be added to).
        target: a mapped ORM object or a key/value mapping.

    Returns:
        ``{column: json value}`` for an ORM object (re-read from the database, so changes made
        by bulk statements are seen), a JSON copy of a mapping, or None when the object does not
        exist in the database (not yet added, or deleted).
    """
    if isinstance(target, Mapping):
        return json_safe(target)
    state = sa.inspect(target)
    if state.transient:
        return None  # not created yet (or never added by the action)
    if state.detached and not state.was_deleted:
        raise ValueError("the audited object must belong to the session of the action")
    session.flush()  # surface the action's own errors, and make deletes and inserts real
    if state.was_deleted or state.detached:
        return None
    session.refresh(target, with_for_update=True)  # locks the row on PostgreSQL until commit
    return {attr.key: json_safe(getattr(target, attr.key)) for attr in state.mapper.column_attrs}


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
    derived: Callable[[dict[str, Any] | None], dict[str, Any]] | None = None,
) -> Iterator[PendingAudit]:
    """Audit the change the ``with`` body applies to ``target``, in the caller's transaction.

    Validates first (nothing runs on error), captures ``before_state``, runs the body, flushes,
    captures ``after_state`` and adds the ``audit_log`` row. An exception in the body propagates
    and no record is added; the caller's unit of work then rolls the action back too. The after
    state is re-read from the database, so an in-place edit the ORM does not track (mutating a
    JSON column's dict) is neither saved nor recorded: assign a new value instead.

    Args:
        session: the caller's open session; the caller commits once after the block.
        operator_id: who acts (1..100 characters, not blank).
        reason: why (not blank).
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

    Yields:
        A ``PendingAudit`` whose ``audit_id`` is set after the block.

    Raises:
        BatchExecutionException: BAT-008 when operator id or reason is missing or blank.
        ValueError: an unknown action type, a blank or too long action, or a mapping without
            ``target_id``.
    """
    operator_id = _required("operator_id", operator_id, max_len=100)
    reason = _required("reason", reason)
    kind = AuditActionType(action_type)
    if not isinstance(action, str) or not action.strip() or len(action) > 50:
        raise ValueError(f"action must be 1..50 characters, got {action!r}")
    if isinstance(target, Mapping) and not target_id:
        raise ValueError("target_id is required when the target is a mapping")
    before = _with_derived(capture_state(session, target), derived)
    handle = PendingAudit()
    yield handle
    after = _with_derived(capture_state(session, target), derived)
    # The action's own pending ORM changes are written first (their errors surface here, before
    # the record), as a flush of an added record did.
    session.flush()
    # The record is one Core INSERT ... RETURNING on the session's connection (same
    # transaction), not an ORM object: the unit of work was most of an audited action's client
    # CPU (benchmark B7). The table stays append-only: nothing here updates or deletes.
    values = dict(
        occurred_at=_utc(at) if at else utcnow(),
        operator_id=operator_id,
        action_type=kind.value,
        action=action,
        target_type=target_type or _target_type(target),
        target_id=target_id or _target_id(target),
        reason=reason,
        before_state=before,
        after_state=after,
        execution_id=execution_id or _execution_id(target),
    )
    table = AuditLog.__table__
    row = session.connection().execute(sa.insert(table).values(values).returning(*table.c)).one()
    handle.audit_id = row.audit_id
    handle.row = row


class AuditLogService:
    """Writes and reads the append-only audit log.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    @staticmethod
    def record(
        session: Session,
        *,
        operator_id: str | None = None,
        reason: str | None = None,
        action_type: AuditActionType | str,
        action: str,
        target: object,
        mutate: Callable[[], T],
        target_type: str | None = None,
        target_id: str | None = None,
        execution_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> T:
        """Run ``mutate`` and audit its change to ``target`` in the caller's transaction.

        The function form of ``audit_change`` (see there for every argument); the caller commits
        once afterwards, so the action and its record land together or not at all.

        Args:
            mutate: applies the action to ``target`` (an ORM object of ``session`` or a mutable
                mapping); its result is returned.

        Returns:
            What ``mutate`` returned.

        Raises:
            BatchExecutionException: BAT-008 when operator id or reason is missing or blank;
                ``mutate`` is not run.
            ValueError: as for ``audit_change``.
        """
        with audit_change(
            session, operator_id=operator_id, reason=reason, action_type=action_type,
            action=action, target=target, target_type=target_type, target_id=target_id,
            execution_id=execution_id, at=at,
        ):
            return mutate()

    def log_batch_action(
        self,
        *,
        operator_id: str | None = None,
        reason: str | None = None,
        action: str,
        target: "EntityRef | MutableMapping[str, Any]",
        mutate: Callable[[Any], object],
        target_type: str | None = None,
        target_id: str | None = None,
        execution_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> AuditLogView:
        """Apply and audit a manual batch action (start, stop, replay, ...) in one transaction.

        Example: ``log_batch_action(operator_id="kim", reason="stuck", action="STOP_EXECUTION",
        target=EntityRef(BatchExecution, "run-1"), mutate=lambda e: setattr(e, "status",
        "STOPPED"))``. Arguments, return and errors as for ``_log``.
        """
        return self._log(
            AuditActionType.BATCH_ACTION, operator_id=operator_id, reason=reason, action=action,
            target=target, mutate=mutate, target_type=target_type, target_id=target_id,
            execution_id=execution_id, at=at,
        )

    def log_data_correction(
        self,
        *,
        operator_id: str | None = None,
        reason: str | None = None,
        action: str,
        target: "EntityRef | MutableMapping[str, Any]",
        mutate: Callable[[Any], object],
        target_type: str | None = None,
        target_id: str | None = None,
        execution_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> AuditLogView:
        """Apply and audit a manual correction of stored data in one transaction.

        Arguments, return and errors as for ``_log``.
        """
        return self._log(
            AuditActionType.DATA_CORRECTION, operator_id=operator_id, reason=reason,
            action=action, target=target, mutate=mutate, target_type=target_type,
            target_id=target_id, execution_id=execution_id, at=at,
        )

    def log_config_change(
        self,
        *,
        operator_id: str | None = None,
        reason: str | None = None,
        action: str,
        target: "EntityRef | MutableMapping[str, Any]",
        mutate: Callable[[Any], object],
        target_type: str | None = None,
        target_id: str | None = None,
        execution_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> AuditLogView:
        """Apply and audit a configuration change in one transaction.

        The target is a table row (``EntityRef``, e.g. a ``batch_job``) or a key/value mapping
        changed in place by ``mutate``; for a mapping pass ``target_id`` (the configuration's
        name); ``target_type`` then defaults to ``"config"``. Arguments, return and errors as
        for ``_log``.
        """
        return self._log(
            AuditActionType.CONFIG_CHANGE, operator_id=operator_id, reason=reason, action=action,
            target=target, mutate=mutate, target_type=target_type, target_id=target_id,
            execution_id=execution_id, at=at,
        )

    def _log(
        self,
        action_type: AuditActionType,
        *,
        operator_id: str | None = None,
        reason: str | None = None,
        action: str,
        target: "EntityRef | MutableMapping[str, Any]",
        mutate: Callable[[Any], object],
        target_type: str | None = None,
        target_id: str | None = None,
        execution_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> AuditLogView:
        """Open a unit of work, load the target, apply ``mutate(obj)``, audit, commit.

        Args:
            target: ``EntityRef(model, key)`` of the row to change, or a mutable mapping.
            mutate: called with the loaded ORM object (or the mapping) and changes it; it may
                also delete it through ``sqlalchemy.inspect(obj).session``.
            others: as for ``audit_change``.

        Returns:
            The written audit record.

        Raises:
            BatchExecutionException: BAT-008 when operator id or reason is missing or blank;
                nothing is written.
            LookupError: no row of ``target.model`` has ``target.key``.
        """
        with UnitOfWork(self._engine) as uow:
            obj: object = target
            if isinstance(target, EntityRef):
                obj = uow.session.get(target.model, target.key)
                if obj is None:
                    table = target.model.__tablename__
                    raise LookupError(f"no {table} row with key {target.key!r}")
            with audit_change(
                uow.session, operator_id=operator_id, reason=reason, action_type=action_type,
                action=action, target=obj, target_type=target_type, target_id=target_id,
                execution_id=execution_id, at=at,
            ) as pending:
                mutate(obj)
            # The view is built from the written record (INSERT ... RETURNING): reading it back
            # would cost a second transaction and a SELECT per audited action (benchmark B7).
            assert pending.row is not None
            view = AuditLogView.of(pending.row)
            uow.commit()
            return view

    def list_audit_logs(
        self,
        operator_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        before_audit_id: int | None = None,
    ) -> list[AuditLogView]:
        """Return audit records, newest first (by ``audit_id``, the insertion order).

        Args:
            operator_id, target_type, target_id: exact-match filters.
            since: ``occurred_at >= since`` (UTC); until: ``occurred_at < until``.
            limit: page size, 1..1000.
            before_audit_id: keyset cursor: only records with a smaller ``audit_id`` (pass the
                last ``audit_id`` of the previous page).

        Raises:
            ValueError: ``limit`` out of range.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        stmt = sa.select(AuditLog).order_by(AuditLog.audit_id.desc()).limit(limit)
        for column, value in (
            (AuditLog.operator_id, operator_id),
            (AuditLog.target_type, target_type),
            (AuditLog.target_id, target_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(AuditLog.occurred_at >= _utc(since))
        if until is not None:
            stmt = stmt.where(AuditLog.occurred_at < _utc(until))
        if before_audit_id is not None:
            stmt = stmt.where(AuditLog.audit_id < before_audit_id)
        with UnitOfWork(self._engine) as uow:
            return [AuditLogView.of(row) for row in uow.session.scalars(stmt)]


def _required(name: str, value: object, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BatchExecutionException(
            MISSING_REQUIRED_FIELD_CODE,
            f"audit: {name} is required and must not be blank (got {value!r}); nothing was written",
            {"field": name},
        )
    if max_len is not None and len(value) > max_len:
        raise BatchExecutionException(
            MISSING_REQUIRED_FIELD_CODE,
            f"audit: {name} is longer than {max_len} characters; nothing was written",
            {"field": name},
        )
    return value


def _with_derived(
    state: dict[str, Any] | None, derived: Callable[[dict[str, Any] | None], dict[str, Any]] | None
) -> dict[str, Any] | None:
    if state is None or derived is None:
        return state
    return {**state, **json_safe(derived(state))}


def _target_type(target: object) -> str:
    if isinstance(target, Mapping):
        return CONFIG_TARGET_TYPE
    return sa.inspect(target).mapper.local_table.name


def _target_id(target: object) -> str:
    identity = sa.inspect(target).identity
    if identity is None:
        raise ValueError("target has no primary key yet; pass target_id")
    return ",".join(str(part) for part in identity)


def _execution_id(target: object) -> str | None:
    return target.execution_id if isinstance(target, BatchExecution) else None


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes; everything stored is UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def require_attribution(operator_id: object, reason: object) -> tuple[str, str]:
    """Check an action's operator id and reason before anything runs.

    Returns:
        (operator_id, reason) as given.

    Raises:
        BatchExecutionException: BAT-008 when either is missing or blank (operator id also when
            longer than 100 characters).
    """
    return _required("operator_id", operator_id, max_len=100), _required("reason", reason)
