"""ResultVersionService: creates, activates, corrects and reads result versions.

The writes are the wing's transactions (``numbering``, ``activating``, ``corrections``); the
reads return ``ResultVersionView`` values. Each public method is retried on transient database
failures (``retry_transient_methods``).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from opsrel_core.domain.result_versions import CheckEvidence
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.results import activating, corrections, numbering
from opsrel_core.services.results.views import (
    Executions, Repository, ResultVersionView, RestoreOutcome,
)

if TYPE_CHECKING:
    from opsrel_core.services.provenance import RunInputs
    from opsrel_core.services.provenance import LineageOutbox


@retry_transient_methods
class ResultVersionService:
    """Creates, activates and reads result versions.

    Args:
        engine: engine of the ops database.
        lineage: when given (OpenLineage is configured), the activation of a successful
            execution also records its OpenLineage COMPLETE event, in the same transaction.
        clock: current UTC time (when an alert its activation recovers is resolved).
        repository: the result-version SQL over a session (``ResultVersionRepository``);
            injectable so the fast tests keep versions in an in-memory fake.
        executions: the execution SQL over a session (``ExecutionRepository``), for the facts of
            the execution that made a version; injectable as ``repository``.
        recover: resolves the alerts an activation recovers, in its session; None is
            ``alert_resolution.resolve_recovered_alerts``.
    """

    def __init__(self, engine: sa.Engine, lineage: "LineageOutbox | None" = None,
                 clock: Callable[[], dt.datetime] = utcnow, *,
                 repository: Repository = ResultVersionRepository,
                 executions: Executions = ExecutionRepository,
                 recover: activating.Recover | None = None):
        self._engine = engine
        self._lineage = lineage
        self._clock = clock
        self._repository = repository
        self._executions = executions
        self._recover = recover

    # -- writes ------------------------------------------------------------------------------

    def create_version(
        self, *, asset_key: str, partition_key: str, execution_id: str, content_hash: str,
        row_count: int, storage_uri: str | None,
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

        Raises:
            LogicException: LOG-001 when concurrent writers kept taking the number.
        """
        return numbering.create_version(
            self._engine, self._repository, asset_key=asset_key, partition_key=partition_key,
            execution_id=execution_id, content_hash=content_hash, row_count=row_count,
            storage_uri=storage_uri)

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
            The execution's versions as stored after the call (none activated unless it ended
            SUCCESS).

        Raises:
            LogicException: LOG-001 when concurrent activations kept winning the race.
        """
        return activating.activate_execution_versions(
            self._engine, self._repository, self._executions, execution_id,
            evidence or CheckEvidence(), now=self._clock, lineage=self._lineage,
            lineage_inputs=lineage_inputs, recover=self._recover)

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
        return corrections.deactivate_version(
            self._engine, self._repository, version_id, operator_id=operator_id, reason=reason)

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
        return corrections.restore_version(
            self._engine, self._repository, self._executions, asset_key, partition_key,
            version_number, operator_id=operator_id, reason=reason)

    # -- reads -------------------------------------------------------------------------------

    def get_active_version(self, asset_key: str, partition_key: str) -> ResultVersionView | None:
        """The active version of an asset partition, or None when none is active."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).active(asset_key, partition_key)
            return None if row is None else ResultVersionView.of(row)

    def first_active_version(
        self, asset_keys: Sequence[str], partition_keys: Sequence[str]
    ) -> ResultVersionView | None:
        """One active version among the given assets and partitions (one query), or None.

        Args:
            asset_keys: asset keys, e.g. ``["ontime_performance"]``.
            partition_keys: partition keys, e.g. ``["2013-01-01"]``.
        """
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).first_active(asset_keys, partition_keys)
            return None if row is None else ResultVersionView.of(row)

    def get_version_history(self, asset_key: str, partition_key: str) -> list[ResultVersionView]:
        """Every version of an asset partition, newest first."""
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).history(asset_key, partition_key)
            return [ResultVersionView.of(r) for r in rows]

    def get_version(self, asset_key: str, partition_key: str,
                    version_number: int) -> ResultVersionView | None:
        """One version by number, or None."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).by_number(asset_key, partition_key,
                                                          version_number)
            return None if row is None else ResultVersionView.of(row)

    def version_of_execution(
        self, asset_key: str, partition_key: str, execution_id: str
    ) -> ResultVersionView | None:
        """The version an execution produced for an asset partition, or None."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).of_execution(asset_key, partition_key,
                                                             execution_id)
            return None if row is None else ResultVersionView.of(row)

    def versions_of_execution(self, execution_id: str) -> list[ResultVersionView]:
        """Every version an execution produced, by asset and partition."""
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).all_of_execution(execution_id)
            return [ResultVersionView.of(r) for r in rows]
