"""ResultVersionService: results are never overwritten.

Every materialization of an asset partition is stored as a new version (content hash, row count,
storage location, execution id), inactive. A version becomes active only when its execution
succeeded, and then takes the place of the active one in one transaction, so a partition that had
an active result never loses it (SPEC, "Interpretations settled"). At most one active version per
(asset_key, partition_key) is enforced by a partial unique index in the database; concurrent
activations retry on its conflict. A newer version is never displaced by an older one.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import activation, error_codes
from opsrel_core.domain.restore import StaleDownstream, restore_refusal, stale_downstream
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import ConflictException, LogicException, NotFoundException
from opsrel_core.persistence.tables import BatchExecution, ResultVersion, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alert_resolution import resolve_recovered_alerts
from opsrel_core.services.audit_log import audit_change, require_attribution
from opsrel_core.persistence.retry import retry_transient_methods

if TYPE_CHECKING:
    from opsrel_core.services.provenance import RunInputs
    from opsrel_core.services.provenance import LineageOutbox
_RETRIES = 10


@dataclasses.dataclass(frozen=True)
class CheckEvidence:
    """The checks the activation gate weighs: declared blocking checks per asset key, and each
    (asset key, check name)'s evaluation in the execution (``activation.CheckOutcome``)."""

    blocking_checks: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    checks: Mapping[tuple[str, str], activation.CheckOutcome] = dataclasses.field(
        default_factory=dict)


def _attribution_text(execution: BatchExecution) -> str:
    # How a refusal names the execution: its trigger and, when someone decided it, who.
    trigger = execution.trigger_type.lower()
    if execution.parent_execution_id and execution.trigger_type in ("REEXECUTE", "RETRY"):
        return f"{trigger} of {execution.parent_execution_id}"
    return trigger


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
    inactive_reason: str | None = None

    @classmethod
    def of(cls, row: ResultVersion) -> "ResultVersionView":
        """Build the view from an ORM row."""
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


RESTORE_ACTION = "RESTORE_VERSION"
# An unknown version: the catalog's code for a replay or result version that does not exist (as
# ``LineageService.backtrace_recorded_version``); a version that may not be restored: a change
# that does not apply to it (409, nothing changed).
VERSION_NOT_FOUND_CODE = error_codes.BAT_REPLAY_NOT_FOUND
NOT_RESTORABLE_CODE = error_codes.BAT_INVALID_TRANSITION


@dataclasses.dataclass(frozen=True)
class RestoreOutcome:
    """What ``ResultVersionService.restore_version`` did.

    Attributes:
        restored: the chosen version, now active.
        replaced: the version that was active before (now inactive), or None when none was, or
            when the chosen one was already active (nothing changed).
        audit_id: the DATA_CORRECTION ``RESTORE_VERSION`` record, None when nothing changed.
        stale_downstream: downstream asset partitions whose active version was made (recorded
            lineage) from another version of this asset partition: older than their input now.
        already_active: the chosen version was active already; nothing was written.
    """

    restored: ResultVersionView
    replaced: ResultVersionView | None
    audit_id: int | None
    stale_downstream: list[StaleDownstream]
    already_active: bool = False


def stage_version(session: Session, *, asset_key: str, partition_key: str, execution_id: str,
                  content_hash: str, row_count: int, storage_uri: str | None) -> ResultVersion:
    """The execution's version of an asset partition: the one it recorded already (a retried
    step), else a new inactive row numbered one above the partition's highest, added to
    ``session`` and not committed.

    A concurrent writer taking the same number surfaces as ``IntegrityError`` at the caller's
    flush or commit (the unique asset, partition and number), where the caller numbers again.
    """
    existing = session.scalar(sa.select(ResultVersion).where(
        ResultVersion.asset_key == asset_key, ResultVersion.partition_key == partition_key,
        ResultVersion.execution_id == execution_id))
    if existing is not None:
        return existing
    highest = session.scalar(sa.select(sa.func.max(ResultVersion.version_number)).where(
        ResultVersion.asset_key == asset_key, ResultVersion.partition_key == partition_key))
    row = ResultVersion(
        asset_key=asset_key, partition_key=partition_key, version_number=(highest or 0) + 1,
        execution_id=execution_id, content_hash=content_hash, row_count=row_count,
        storage_uri=storage_uri, is_active=False, created_at=utcnow(),
    )
    session.add(row)
    return row


@retry_transient_methods
class ResultVersionService:
    """Creates, activates and reads result versions.

    Args:
        engine: engine of the ops database.
        lineage: when given (OpenLineage is configured), the activation of a successful
            execution also records its OpenLineage COMPLETE event, in the same transaction.
        clock: current UTC time (when an alert its activation recovers is resolved).
    """

    def __init__(self, engine: sa.Engine, lineage: "LineageOutbox | None" = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self._engine = engine
        self._lineage = lineage
        self._clock = clock

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
                row = stage_version(
                    uow.session, asset_key=asset_key, partition_key=partition_key,
                    execution_id=execution_id, content_hash=content_hash, row_count=row_count,
                    storage_uri=storage_uri)
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent writer took this number: number again
                return ResultVersionView.of(row)
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not number a version of {asset_key}/{partition_key} after {_RETRIES} attempts",
        )

    def activate_execution_versions(
        self, execution_id: str, evidence: "CheckEvidence | None" = None,
        lineage_inputs: "RunInputs | None" = None,
    ) -> list[ResultVersionView]:
        """Pass every version an execution produced through the activation gate
        (``opsrel_core.domain.activation``) and activate those it admits, in one transaction.

        Called by the projection whenever it sees the execution ended; idempotent. The gate reads
        the execution's status, stop request and attribution from its row (an execution with an
        ``operator_id`` was decided by someone and may replace an active result) and the checks
        from ``evidence``. A refused version stays inactive with its ``inactive_reason``; the
        earlier active version stays in place. The live alerts of the job and the partitions it
        now has active versions of are resolved in the same transaction, with a recovery notice
        queued (``alert_resolution.resolve_recovered_alerts``).

        Args:
            execution_id: the execution.
            evidence: the blocking checks declared per asset and the checks' evaluations in this
                execution; None requires no check (a caller that knows of none).
            lineage_inputs: the snapshots the run read, for its OpenLineage COMPLETE event
                (recorded once, with the activation it reports).

        Returns:
            The execution's versions as stored after the call.
        """
        evidence = evidence or CheckEvidence()
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                execution = uow.session.get(BatchExecution, execution_id)
                rows = list(
                    uow.session.scalars(
                        sa.select(ResultVersion)
                        .where(ResultVersion.execution_id == execution_id)
                        .order_by(ResultVersion.asset_key, ResultVersion.partition_key)
                    )
                )
                if execution is None or execution.status != ExecutionStatus.SUCCESS.value:
                    return [ResultVersionView.of(r) for r in rows]
                outcome = activation.ExecutionOutcome(
                    execution_id=execution_id,
                    status=ExecutionStatus(execution.status),
                    stop_requested=execution.stop_requested_at is not None,
                    may_replace=execution.operator_id is not None,
                    attribution=_attribution_text(execution),
                    blocking_checks=evidence.blocking_checks,
                    checks=evidence.checks,
                )
                try:
                    pending = [r for r in rows if not r.is_active]
                    current = {
                        (r.asset_key, r.partition_key):
                        self._active(uow.session, r.asset_key, r.partition_key, lock=True)
                        for r in pending
                    }
                    decisions = activation.decide_execution(outcome, [
                        activation.Candidate(
                            r.asset_key, r.partition_key,
                            replaces_active=(active := current[(r.asset_key, r.partition_key)])
                            is not None and active.execution_id != execution_id)
                        for r in pending
                    ])
                    for row, decision in zip(pending, decisions):
                        if decision.activate:
                            self._activate(uow.session, row,
                                           current[(row.asset_key, row.partition_key)])
                        elif row.inactive_reason != decision.reason:
                            row.inactive_reason = decision.reason
                    # The partitions it recovered end their alerts in this same transaction.
                    resolve_recovered_alerts(
                        uow.session, execution, {r.partition_key for r in rows if r.is_active},
                        self._clock())
                    if self._lineage is not None:
                        self._lineage.on_activation(uow.session, execution_id, lineage_inputs)
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

    def restore_version(
        self, asset_key: str, partition_key: str, version_number: int, *,
        operator_id: str | None, reason: str | None,
    ) -> RestoreOutcome:
        """Put an earlier version of an asset partition back in service (a data correction).

        In one transaction: the chosen version becomes active, the active one inactive (both
        rows stay), and the audit record DATA_CORRECTION ``RESTORE_VERSION`` (target: the
        restored version; its before/after states carry ``partition_active_version``, the
        partition's active version number) is written. Restoring the active version changes
        nothing and writes no record. Concurrent activations retry on the partial unique index
        (one active version per asset partition), as ``activate_execution_versions`` does.

        Args:
            asset_key, partition_key: the asset partition, e.g. ``("ontime_performance",
                "2013-01-01")``.
            version_number: the version to restore (``result_version.version_number``, >= 1).
            operator_id, reason: who and why; required, non-blank.

        Returns:
            ``RestoreOutcome``: the restored and replaced versions, the audit id and the
            downstream asset partitions left older than their input (``domain.restore``).

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing; nothing changes.
            NotFoundException: BAT-010 when the asset partition has no such version.
            ConflictException: BAT-001 when the version may not be restored (its execution did
                not end SUCCESS, a stop was requested, or the activation gate refused its data;
                ``domain.restore.restore_refusal``); nothing changes.
        """
        require_attribution(operator_id, reason)
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                session = uow.session
                row = session.scalar(
                    sa.select(ResultVersion).where(
                        ResultVersion.asset_key == asset_key,
                        ResultVersion.partition_key == partition_key,
                        ResultVersion.version_number == version_number,
                    ).with_for_update())
                if row is None:
                    raise NotFoundException(
                        VERSION_NOT_FOUND_CODE,
                        f"no result version {asset_key} {partition_key} v{version_number}; "
                        "`opsrel versions list` shows the versions",
                        {"asset_key": asset_key, "partition_key": partition_key,
                         "version": version_number})
                if row.is_active:
                    return RestoreOutcome(ResultVersionView.of(row), None, None,
                                          self._stale(session, row), already_active=True)
                execution = session.get(BatchExecution, row.execution_id)
                refusal = restore_refusal(
                    ExecutionStatus(execution.status) if execution else ExecutionStatus.READY,
                    execution is not None and execution.stop_requested_at is not None,
                    row.inactive_reason)
                if refusal is not None:
                    raise ConflictException(
                        NOT_RESTORABLE_CODE,
                        f"{asset_key} {partition_key} v{version_number} may not be restored: "
                        f"{refusal}; nothing was changed",
                        {"asset_key": asset_key, "partition_key": partition_key,
                         "version": version_number})
                try:
                    current = self._active(session, asset_key, partition_key, lock=True)
                    with audit_change(
                        session, operator_id=operator_id, reason=reason,
                        action_type="DATA_CORRECTION", action=RESTORE_ACTION, target=row,
                        execution_id=row.execution_id,
                        derived=lambda _state: {"partition_active_version": self._active_number(
                            session, asset_key, partition_key)},
                    ) as pending:
                        if current is not None:
                            # The old one leaves before the new one enters (partial unique
                            # index). A restore is an operator's act, recorded in the audit
                            # log, not an execution's: no deactivating execution.
                            current.is_active = False
                            current.deactivated_at = utcnow()
                            current.deactivated_by_execution_id = None
                            session.flush()
                        row.is_active = True
                        row.inactive_reason = None
                        row.deactivated_at = None
                        row.deactivated_by_execution_id = None
                        session.flush()
                    stale = self._stale(session, row)
                    outcome = RestoreOutcome(
                        ResultVersionView.of(row),
                        None if current is None else ResultVersionView.of(current),
                        pending.audit_id, stale)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent activation won the race: look again
                return outcome
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not restore {asset_key}/{partition_key} v{version_number} after {_RETRIES} "
            "attempts",
        )

    # -- reads -------------------------------------------------------------------------------

    def get_active_version(self, asset_key: str, partition_key: str) -> ResultVersionView | None:
        """The active version of an asset partition, or None when none is active."""
        with UnitOfWork(self._engine) as uow:
            row = self._active(uow.session, asset_key, partition_key)
            return None if row is None else ResultVersionView.of(row)

    def first_active_version(
        self, asset_keys: "Sequence[str]", partition_keys: "Sequence[str]"
    ) -> ResultVersionView | None:
        """One active version among the given assets and partitions (one query), or None.

        Args:
            asset_keys: asset keys, e.g. ``["ontime_performance"]``.
            partition_keys: partition keys, e.g. ``["2013-01-01"]``.
        """
        with UnitOfWork(self._engine) as uow:
            row = uow.session.scalar(
                sa.select(ResultVersion)
                .where(
                    ResultVersion.asset_key.in_(list(asset_keys)),
                    ResultVersion.partition_key.in_(list(partition_keys)),
                    ResultVersion.is_active.is_(True),
                )
                .order_by(ResultVersion.asset_key, ResultVersion.partition_key)
                .limit(1)
            )
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

    @classmethod
    def _active_number(cls, session: Session, asset_key: str, partition_key: str) -> int | None:
        active = cls._active(session, asset_key, partition_key)
        return None if active is None else active.version_number

    @staticmethod
    def _stale(session: Session, row: ResultVersion) -> list[StaleDownstream]:
        # The downstream versions the lineage connects to this asset partition, and which of
        # them are active now.
        from opsrel_core.services.provenance import versions_made_from

        made_from = versions_made_from(session, row.asset_key, row.partition_key)
        pairs = {(asset, partition) for asset, partition, _n in made_from}
        active: dict[tuple[str, str], int] = {}
        for asset, partition in sorted(pairs):
            found = session.scalar(sa.select(ResultVersion.version_number).where(
                ResultVersion.asset_key == asset, ResultVersion.partition_key == partition,
                ResultVersion.is_active.is_(True)))
            if found is not None:
                active[(asset, partition)] = found
        return stale_downstream(made_from, active, row.version_number)

    def _activate(self, session: Session, row: ResultVersion,
                  current: ResultVersion | None) -> None:
        # ``current``: the partition's active version, read (locked) by the caller.
        if row.is_active:
            return
        if current is not None:
            if current.version_number > row.version_number:
                return  # a newer result is already in place
            current.is_active = False
            current.deactivated_at = utcnow()
            current.deactivated_by_execution_id = row.execution_id
            session.flush()  # the old one leaves before the new one enters (partial unique index)
        row.is_active = True
        row.inactive_reason = None
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
