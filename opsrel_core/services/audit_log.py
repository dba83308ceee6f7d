"""AuditLogService: append-only records of manual actions.

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
The operator id is recorded in its NFKC form and refused (BAT-008 too) when it is not a usable name
(invisible, control or bidi characters, surrounding spaces, mixed scripts: ``operator_names``); a
reason needs a visible character.

Each record also names its acting principal (``acting_principal``, set by the entry point: the
admin API's token, the CLI's OS user, a sensor), and its states never hold a credential: states
pass through ``redact_state`` when written and again when read, so records written before that
rule are shown masked.
"""

import contextlib
import contextvars
import dataclasses
import datetime as dt
import decimal
import enum
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.instants import to_utc
from opsrel_core.domain import error_codes, operator_names
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.tables import AuditLog, BatchExecution, Base, utcnow
from opsrel_core.persistence.uow import UnitOfWork

T = TypeVar("T")

# The code of a refused, unattributed action (see the module docstring).
MISSING_REQUIRED_FIELD_CODE = error_codes.BAT_ATTRIBUTION_REQUIRED
MAX_LIST_LIMIT = 1000
CONFIG_TARGET_TYPE = "config"
MAX_PRINCIPAL_LENGTH = 120

# Who is authenticated for what runs now: ``token:<id>`` (set by the admin API's authentication),
# ``os:<user>`` (the CLI), ``sensor:<name>`` (a Dagster sensor's evaluation). The entry point sets
# it and ``audit_change`` records it beside the operator name, so no service passes it along. A
# context variable, so that concurrent requests and sensor threads each keep their own.
acting_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "opsrel_acting_principal", default=None)

# What a state may not carry into the audit log: credentials by their field's name, and values that
# are credentials whatever their field (a plaintext API token, a password inside a URL, a Slack
# webhook URL, whose path is its secret).
REDACTED = "[redacted]"
_SECRET_KEY_PARTS = ("token_hash", "password", "passwd", "secret", "credential", "api_key",
                     "apikey", "private_key", "authorization", "webhook", "dsn", "cookie")
_SECRET_KEYS = frozenset({"token", "bearer", "access_token", "refresh_token", "auth_token"})
# A token is ``opsrel_`` and 43 URL-safe characters; names such as ``opsrel_replay_launch_sensor``
# are far shorter and stay readable.
_PLAINTEXT_TOKEN = re.compile(r"\bopsrel_[A-Za-z0-9_-]{40,}")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)[^/@\s]+(?=@)")
_SLACK_WEBHOOK = re.compile(r"https?://hooks\.slack(?:-gov)?\.com/\S*", re.IGNORECASE)


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
    """One audit record as read back. Times are UTC; states are JSON dicts or None, with
    credentials masked (``redact_state``). ``principal`` says who was authenticated for the
    action, beside the operator name: ``token:<id>`` (admin API), ``os:<user>`` (CLI),
    ``sensor:<name>`` (a Dagster sensor); None on records written before it was recorded."""

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
    principal: str | None = None

    @classmethod
    def of(cls, row: Any) -> "AuditLogView":
        """Build the view from an ORM ``AuditLog`` or a Core row of the ``audit_log`` table.

        States pass through ``redact_state``: a record written before credentials were kept out
        of the log is shown with them masked, never as stored.
        """
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["occurred_at"] = to_utc(row.occurred_at)
        values["reason"] = redact_text(values["reason"])
        values["before_state"] = redact_state(values["before_state"])
        values["after_state"] = redact_state(values["after_state"])
        return cls(**values)


def is_secret_key(key: str) -> bool:
    """True when a state field of this name holds a credential (``token_hash``, ``password``,
    ``smtp_password``, ``client_secret``, ``slack_webhook_url``, ``api_key``, ``token``...)."""
    folded = key.casefold()
    return (folded in _SECRET_KEYS or folded.endswith("_token")
            or any(part in folded for part in _SECRET_KEY_PARTS))


def redact_text(text: str) -> str:
    """``text`` with credential-shaped parts masked: plaintext API tokens, the password of a URL
    (``scheme://user:[redacted]@host``) and Slack webhook URLs."""
    if "opsrel_" not in text and "://" not in text:
        return text  # the common case, without a regular expression (states hold many keys)
    text = _PLAINTEXT_TOKEN.sub(REDACTED, text)
    text = _SLACK_WEBHOOK.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


def redact_state(state: Any) -> Any:
    """A JSON state with every credential masked, the one rule for what the audit log holds.

    Fields named as credentials (``is_secret_key``) keep their key with the value ``"[redacted]"``
    (null stays null, so a record still says whether one was set); other strings pass through
    ``redact_text``; mappings and lists are walked recursively. Applied when a record is written
    (``audit_change``) and again when one is read (``AuditLogView.of``), so rows written before
    the rule are masked too.

    Args:
        state: a captured state (a dict), or any JSON value; None stays None.

    Returns:
        A masked copy; ``state`` itself is not changed.
    """
    if isinstance(state, Mapping):
        return {k: (None if v is None else REDACTED) if is_secret_key(str(k)) else redact_state(v)
                for k, v in state.items()}
    if isinstance(state, list):
        return [redact_state(v) for v in state]
    if isinstance(state, str):
        return redact_text(state)
    return state


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Run the block with ``principal`` as the acting principal of every audit record written.

    Entry points wrap their work in it: the CLI as ``os:<user>``, each Dagster sensor as
    ``sensor:<name>``. The admin API sets ``acting_principal`` for the request (``token:<id>``).
    """
    token = acting_principal.set(principal)
    try:
        yield
    finally:
        acting_principal.reset(token)


def current_principal() -> str:
    """The acting principal recorded now: the one an entry point set, else ``os:<user>`` (code
    that runs outside every entry point, a script using the services, acts as its OS user)."""
    principal = acting_principal.get()
    return principal[:MAX_PRINCIPAL_LENGTH] if principal else operator_names.os_principal()


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
        return to_utc(value).isoformat()
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

    Yields:
        A ``PendingAudit`` whose ``audit_id`` is set after the block.

    Raises:
        BatchExecutionException: BAT-008 when operator id or reason is missing or blank.
        ValueError: an unknown action type, a blank or too long action, or a mapping without
            ``target_id``.
    """
    operator_id, reason = require_attribution(operator_id, reason)
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
        occurred_at=to_utc(at) if at else utcnow(),
        operator_id=operator_id,
        action_type=kind.value,
        action=action,
        target_type=target_type or _target_type(target),
        target_id=target_id or _target_id(target),
        reason=reason,
        # Credentials never reach the log: it is append-only, so what lands stays readable.
        before_state=redact_state(before),
        after_state=redact_state(after),
        execution_id=execution_id or _execution_id(target),
        principal=current_principal(),
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

    def newest_audit_id(self, target_type: str, target_id: str, action: str) -> int | None:
        """The id of the newest audit record of ``action`` on a target (e.g. ``("replay",
        "12", "REPLAY")``), or None when there is none."""
        with UnitOfWork(self._engine) as uow:
            return uow.session.scalar(
                sa.select(AuditLog.audit_id)
                .where(AuditLog.target_type == target_type, AuditLog.target_id == target_id,
                       AuditLog.action == action)
                .order_by(AuditLog.audit_id.desc()).limit(1)
            )

    def list_audit_logs(
        self,
        operator_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        before_audit_id: int | None = None,
        action_type: str | None = None,
    ) -> list[AuditLogView]:
        """Return audit records, newest first (by ``audit_id``, the insertion order).

        Args:
            operator_id, target_type, target_id, action_type: exact-match filters
                (``action_type``: ``BATCH_ACTION``, ``CONFIG_CHANGE``, ...).
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
            (AuditLog.action_type, action_type),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(AuditLog.occurred_at >= to_utc(since))
        if until is not None:
            stmt = stmt.where(AuditLog.occurred_at < to_utc(until))
        if before_audit_id is not None:
            stmt = stmt.where(AuditLog.audit_id < before_audit_id)
        with UnitOfWork(self._engine) as uow:
            return [AuditLogView.of(row) for row in uow.session.scalars(stmt)]


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


def require_attribution(operator_id: object, reason: object) -> tuple[str, str]:
    """Check an action's operator id and reason before anything runs.

    Returns:
        (operator_id in its NFKC form, reason with credentials masked by ``redact_text``):
        record these.

    Raises:
        BatchExecutionException: BAT-008 when either is missing or blank, the reason has no
            visible character, or the operator id is not a usable name
            (``operator_names.normalize_operator_name``: longer than 100 characters, surrounding
            spaces, invisible, control or bidi characters, mixed scripts).
    """
    # A reason is free text an operator types or pastes; a credential in it (a plaintext token,
    # a URL's password) would stay in the append-only log, readable by every viewer: masked here,
    # where every audited action's reason passes, as states are.
    return (operator_names.normalize_operator_name(operator_id, "operator_id"),
            redact_text(operator_names.require_reason(reason, "reason")))
