"""ResultVersionService: results are never overwritten (C1-T06).

Every materialization of an asset partition is stored as a new version (content hash, row count,
storage location, execution id), inactive. A version becomes active only when its execution
succeeded, and then takes the place of the active one in one transaction, so a partition that had
an active result never loses it (SPEC, "Interpretations settled"). At most one active version per
(asset_key, partition_key) is enforced by a partial unique index in the database; concurrent
activations retry on its conflict. A newer version is never displaced by an older one.
"""

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import LogicException
from opsrel_core.persistence.tables import BatchExecution, ResultVersion, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change, require_attribution
from opsrel_core.persistence.retry import retry_transient_methods

_RETRIES = 10


@dataclasses.dataclass(frozen=True)
class ResultVersionView:
    """One stored version of an asset partition (times UTC)."""

    version_id: int
    asset_key: str
    partition_key: str
    version_number: int
    execution_id: str
    content_hash: str
    row_count: int
    storage_uri: str | None
    is_active: bool
    created_at: dt.datetime
    deactivated_at: dt.datetime | None
    deactivated_by_execution_id: str | None

    @classmethod
    def of(cls, row: ResultVersion) -> "ResultVersionView":
        """Build the view from an ORM row."""
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@retry_transient_methods
class ResultVersionService:
    """Creates, activates and reads result versions.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    # -- writes ------------------------------------------------------------------------------

    def create_version(
        self,
        *,
        asset_key: str,
        partition_key: str,
        execution_id: str,
        content_hash: str,
        row_count: int,
        storage_uri: str | None,
    ) -> ResultVersionView:
        """Record a new, inactive version; the same execution recording again gets its version back.

        Args:
            asset_key: e.g. ``"ontime_performance"``.
            partition_key: e.g. ``"2013-01-01"``.
            execution_id: the run that produced it (must be a recorded execution or be recorded
                before the version; it is not checked against Dagster).
            content_hash: ``sha256:<hex>`` of the stored bytes.
            row_count: rows in the stored table.
            storage_uri: where the data is (``file://...``).

        Returns:
            The version, numbered one above the partition's highest (1 for the first).
        """
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                existing = self._of_execution(uow.session, asset_key, partition_key, execution_id)
                if existing is not None:
                    return ResultVersionView.of(existing)
                highest = uow.session.scalar(
                    sa.select(sa.func.max(ResultVersion.version_number)).where(
                        ResultVersion.asset_key == asset_key,
                        ResultVersion.partition_key == partition_key,
                    )
                )
                row = ResultVersion(
                    asset_key=asset_key,
                    partition_key=partition_key,
                    version_number=(highest or 0) + 1,
                    execution_id=execution_id,
                    content_hash=content_hash,
                    row_count=row_count,
                    storage_uri=storage_uri,
                    is_active=False,
                    created_at=utcnow(),
                )
                uow.session.add(row)
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent writer took this number: number again
                return ResultVersionView.of(row)
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not number a version of {asset_key}/{partition_key} after {_RETRIES} attempts",
        )

    def activate_version(self, version_id: int) -> ResultVersionView:
        """Make a version the active one of its partition, replacing the active one atomically.

        An older version never displaces a newer active one: then nothing changes.

        Returns:
            The version as stored after the call (``is_active`` tells whether it won).
        """
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                row = uow.session.get(ResultVersion, version_id)
                if row is None:
                    raise LogicException(
                        error_codes.LOG_INVARIANT_BROKEN, f"no result version {version_id}"
                    )
                try:
                    self._activate(uow.session, row)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent activation won the race: look again
                return ResultVersionView.of(row)
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not activate result version {version_id} after {_RETRIES} attempts",
        )

    def activate_execution_versions(self, execution_id: str) -> list[ResultVersionView]:
        """Activate every version an execution produced, in one transaction, if it succeeded.

        Called by the projection when an execution ends SUCCESS; idempotent. Versions of an
        execution that failed or was stopped stay inactive, for inspection.

        Returns:
            The execution's versions as stored after the call.
        """
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                status = uow.session.scalar(
                    sa.select(BatchExecution.status).where(
                        BatchExecution.execution_id == execution_id
                    )
                )
                rows = list(
                    uow.session.scalars(
                        sa.select(ResultVersion)
                        .where(ResultVersion.execution_id == execution_id)
                        .order_by(ResultVersion.asset_key, ResultVersion.partition_key)
                    )
                )
                if status != ExecutionStatus.SUCCESS.value:
                    return [ResultVersionView.of(r) for r in rows]
                try:
                    for row in rows:
                        self._activate(uow.session, row)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent activation won the race: look again
                return [ResultVersionView.of(r) for r in rows]
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not activate the versions of {execution_id} after {_RETRIES} attempts",
        )

    def deactivate_version(
        self, version_id: int, *, operator_id: str | None, reason: str | None
    ) -> ResultVersionView:
        """Take a version out of service (a data correction); the newest earlier version made by
        a successful execution becomes active in its place, in the same transaction as the audit
        record (DATA_CORRECTION ``DEACTIVATE_VERSION``), so both land or neither.

        Args:
            version_id: the version to deactivate.
            operator_id, reason: who and why; required, non-blank.

        Returns:
            The deactivated version (unchanged, and no record written, when it was not active).

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing; nothing changes.
            LogicException: LOG-001 when no such version exists.
        """
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ResultVersion, version_id)
            if row is None:
                raise LogicException(
                    error_codes.LOG_INVARIANT_BROKEN, f"no result version {version_id}"
                )
            if not row.is_active:
                require_attribution(operator_id, reason)
                return ResultVersionView.of(row)
            with audit_change(
                uow.session,
                operator_id=operator_id,
                reason=reason,
                action_type="DATA_CORRECTION",
                action="DEACTIVATE_VERSION",
                target=row,
                execution_id=row.execution_id,
            ):
                self._deactivate(uow.session, row)
            uow.commit()
            return ResultVersionView.of(row)

    # -- reads -------------------------------------------------------------------------------

    def get_active_version(self, asset_key: str, partition_key: str) -> ResultVersionView | None:
        """The active version of an asset partition, or None when none is active."""
        with UnitOfWork(self._engine) as uow:
            row = self._active(uow.session, asset_key, partition_key)
            return None if row is None else ResultVersionView.of(row)

    def get_version_history(self, asset_key: str, partition_key: str) -> list[ResultVersionView]:
        """Every version of an asset partition, newest first."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(
                sa.select(ResultVersion)
                .where(
                    ResultVersion.asset_key == asset_key,
                    ResultVersion.partition_key == partition_key,
                )
                .order_by(ResultVersion.version_number.desc())
            )
            return [ResultVersionView.of(r) for r in rows]

    def get_version(self, asset_key: str, partition_key: str, version_number: int) -> ResultVersionView | None:
        """One version by number, or None."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalar(
                sa.select(ResultVersion).where(
                    ResultVersion.asset_key == asset_key,
                    ResultVersion.partition_key == partition_key,
                    ResultVersion.version_number == version_number,
                )
            )
            return None if row is None else ResultVersionView.of(row)

    def version_of_execution(
        self, asset_key: str, partition_key: str, execution_id: str
    ) -> ResultVersionView | None:
        """The version an execution produced for an asset partition, or None."""
        with UnitOfWork(self._engine) as uow:
            row = self._of_execution(uow.session, asset_key, partition_key, execution_id)
            return None if row is None else ResultVersionView.of(row)

    def versions_of_execution(self, execution_id: str) -> list[ResultVersionView]:
        """Every version an execution produced, by asset and partition."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(
                sa.select(ResultVersion)
                .where(ResultVersion.execution_id == execution_id)
                .order_by(ResultVersion.asset_key, ResultVersion.partition_key)
            )
            return [ResultVersionView.of(r) for r in rows]

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _of_execution(session: Session, asset_key: str, partition_key: str, execution_id: str):  # type: ignore[no-untyped-def]
        return session.scalar(
            sa.select(ResultVersion).where(
                ResultVersion.asset_key == asset_key,
                ResultVersion.partition_key == partition_key,
                ResultVersion.execution_id == execution_id,
            )
        )

    @staticmethod
    def _active(session: Session, asset_key: str, partition_key: str, lock: bool = False):  # type: ignore[no-untyped-def]
        stmt = sa.select(ResultVersion).where(
            ResultVersion.asset_key == asset_key,
            ResultVersion.partition_key == partition_key,
            ResultVersion.is_active.is_(True),
        )
        if lock:
            stmt = stmt.with_for_update()
        return session.scalar(stmt)

    def _activate(self, session: Session, row: ResultVersion) -> None:
        if row.is_active:
            return
        current = self._active(session, row.asset_key, row.partition_key, lock=True)
        if current is not None:
            if current.version_number > row.version_number:
                return  # a newer result is already in place
            current.is_active = False
            current.deactivated_at = utcnow()
            current.deactivated_by_execution_id = row.execution_id
            session.flush()  # the old one leaves before the new one enters (partial unique index)
        row.is_active = True
        row.deactivated_at = None
        row.deactivated_by_execution_id = None
        session.flush()

    def _deactivate(self, session: Session, row: ResultVersion) -> None:
        row.is_active = False
        row.deactivated_at = utcnow()
        session.flush()
        previous = session.scalar(
            sa.select(ResultVersion)
            .join(BatchExecution, BatchExecution.execution_id == ResultVersion.execution_id)
            .where(
                ResultVersion.asset_key == row.asset_key,
                ResultVersion.partition_key == row.partition_key,
                ResultVersion.version_number < row.version_number,
                BatchExecution.status == ExecutionStatus.SUCCESS.value,
            )
            .order_by(ResultVersion.version_number.desc())
            .limit(1)
        )
        if previous is not None:
            previous.is_active = True
            previous.deactivated_at = None
            previous.deactivated_by_execution_id = None
            session.flush()
