"""``AuditLogService``: the standalone form of an audited action, and the audit log's reads.

The ``log_*`` methods each open their own unit of work, load the target by (model, primary key)
or take a plain key/value dict (a configuration), apply the change through ``audit_change`` and
commit. The reads return ``AuditLogView`` records, newest first.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.audit_records import AuditActionType
from opsrel_core.domain.instants import to_utc
from opsrel_core.persistence.repositories.audit import AuditRepository
from opsrel_core.persistence.tables import Base
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log.change import Repository, audit_change
from opsrel_core.services.audit_log.views import AuditLogView

T = TypeVar("T")

MAX_LIST_LIMIT = 1000


@dataclasses.dataclass(frozen=True)
class EntityRef:
    """A row to audit, named by its ORM model and primary key (a tuple for composite keys)."""

    model: type[Base]
    key: Any


Target = EntityRef | MutableMapping[str, Any]


class AuditLogService:
    """Writes and reads the append-only audit log.

    Args:
        engine: engine of the ops database.
        repository: the audit SQL over a connection (``AuditRepository``); injectable so the
            unit tier can run the service without a database server.
    """

    def __init__(self, engine: sa.Engine, repository: Repository = AuditRepository):
        self._engine = engine
        self._repository = repository

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
        target: Target,
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
        target: Target,
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
        target: Target,
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
        target: Target,
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
                execution_id=execution_id, at=at, repository=self._repository,
            ) as pending:
                mutate(obj)
            # The view is built from the written record (INSERT ... RETURNING): reading it back
            # would cost a second statement per audited action.
            assert pending.row is not None
            view = AuditLogView.of(pending.row)
            uow.commit()
            return view

    def newest_audit_id(self, target_type: str, target_id: str, action: str) -> int | None:
        """The id of the newest audit record of ``action`` on a target (e.g. ``("replay",
        "12", "REPLAY")``), or None when there is none."""
        with UnitOfWork(self._engine) as uow:
            return self._repository(uow.session.connection()).newest_id(
                target_type, target_id, action)

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
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session.connection()).newest_first(
                limit=limit, operator_id=operator_id, target_type=target_type,
                target_id=target_id, action_type=action_type,
                since=to_utc(since) if since is not None else None,
                until=to_utc(until) if until is not None else None,
                before_audit_id=before_audit_id,
            )
            return [AuditLogView.of(row) for row in rows]
