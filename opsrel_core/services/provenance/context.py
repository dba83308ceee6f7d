"""ExecutionContextService: what produced an execution's results.

Per execution the ops schema keeps the input snapshot ids, the rule versions (``{rule_id:
version_hash}``), the parameters (partition, run config, tags), the code version (package version,
the assets' code versions, the git commit when there is one) and the library versions; readable
by execution id, and what ``opsrel reproduce`` re-runs.

Recording is idempotent and additive, with the merge rules of ``opsrel_core.domain.run_context``.
Concurrent recorders are serialized per execution (``lock_subject``), so no union is lost. The
SQL is ``opsrel_core.persistence.repositories.execution_context``.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes, run_context
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.execution_context import ExecutionContextRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork

Repository = Callable[[Session], Any]


@dataclasses.dataclass(frozen=True)
class ExecutionContextView:
    """The recorded context of one execution.

    Attributes:
        execution_id: the execution (Dagster run id).
        snapshot_ids: the input snapshots read, sorted, each once.
        rule_versions: ``{rule_id: version_hash}`` of the rules run.
        parameters: partition, run config and tags as launched.
        code_version: package version, assets' code versions, git commit.
        library_versions: ``{distribution: version}`` (None when not installed).
        created_at: when the context was first recorded (UTC).
    """

    execution_id: str
    snapshot_ids: tuple[str, ...]
    rule_versions: dict[str, str]
    parameters: dict[str, Any]
    code_version: dict[str, Any]
    library_versions: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Any) -> "ExecutionContextView":
        """Build the view from a row of ``execution_context``."""
        created = row.created_at
        return cls(
            execution_id=row.execution_id,
            snapshot_ids=tuple(row.snapshot_ids or ()),
            rule_versions=dict(row.rule_versions or {}),
            parameters=dict(row.parameters or {}),
            code_version=dict(row.code_version or {}),
            library_versions=dict(row.library_versions or {}),
            created_at=created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc),
        )


@retry_transient_methods
class ExecutionContextService:
    """Records and reads execution contexts.

    Args:
        engine: engine of the ops database.
        repository: the context SQL over a session (``ExecutionContextRepository``);
            injectable so the unit tier keeps contexts in an in-memory fake.
    """

    def __init__(self, engine: sa.Engine, *,
                 repository: Repository = ExecutionContextRepository):
        self._engine = engine
        self._repository = repository

    def record_context(
        self,
        execution_id: str,
        *,
        snapshot_ids: Iterable[str],
        rule_versions: Mapping[str, str],
        parameters: Mapping[str, Any],
        code_version: Mapping[str, Any],
        library_versions: Mapping[str, Any],
    ) -> ExecutionContextView:
        """Record an execution's context, or merge into the one recorded; one transaction.

        Args:
            execution_id: a recorded execution.
            snapshot_ids: input snapshot ids (``sha256:...``); merged as a sorted set.
            rule_versions: ``{rule_id: version_hash}``; merged per rule.
            parameters: partition, run config, tags (plain JSON); kept from the first call.
            code_version: package version, assets' code versions, git commit; kept from the
                first call.
            library_versions: e.g. ``library_versions()``; kept from the first call.

        Returns:
            The context as stored after the call.

        Raises:
            ValueError: a value is not plain JSON (NaN, non-string keys, objects) or an id is
                blank; nothing is written.
            BatchExecutionException: BAT-002 when the execution is not recorded.
            LogicException: LOG-001 when a rule is already recorded with another version.
        """
        snapshots = run_context.string_set(snapshot_ids, "snapshot_ids")
        rules = run_context.rule_versions(rule_versions)
        params = run_context.json_object(parameters, "parameters")
        code = run_context.json_object(code_version, "code_version")
        libraries = run_context.json_object(library_versions, "library_versions")
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            repo.lock(f"execution_context:{execution_id}")
            if not repo.execution_exists(execution_id):
                raise _not_found(execution_id)
            row = repo.get(execution_id, fresh=True)
            if row is None:
                row = repo.add({
                    "execution_id": execution_id, "snapshot_ids": sorted(snapshots),
                    "rule_versions": dict(sorted(rules.items())), "parameters": params,
                    "code_version": code, "library_versions": libraries,
                })
            else:
                stored_snapshots = list(row.snapshot_ids or ())
                stored_rules = dict(row.rule_versions or {})
                merged_snapshots, merged_rules = run_context.merged(
                    execution_id, stored_snapshots, stored_rules, snapshots, rules)
                changes: dict[str, Any] = {}
                if merged_snapshots != stored_snapshots:
                    changes["snapshot_ids"] = merged_snapshots
                if merged_rules != stored_rules:
                    changes["rule_versions"] = merged_rules
                if changes:
                    row = repo.update(execution_id, changes)
            uow.commit()
            return ExecutionContextView.of(row)

    def get_context(self, execution_id: str) -> ExecutionContextView:
        """The recorded context of an execution.

        Raises:
            BatchExecutionException: BAT-002 when no context is recorded for this id.
        """
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).get(execution_id)
            if row is None:
                raise _not_found(execution_id, "no execution context recorded for")
            return ExecutionContextView.of(row)

    def find_context(self, execution_id: str) -> ExecutionContextView | None:
        """The recorded context of an execution, or None."""
        with UnitOfWork(self._engine) as uow:
            row = self._repository(uow.session).get(execution_id)
            return None if row is None else ExecutionContextView.of(row)


def _not_found(execution_id: str, what: str = "no execution with id") -> BatchExecutionException:
    return BatchExecutionException(
        error_codes.BAT_EXECUTION_NOT_FOUND, f"{what} {execution_id!r}",
        {"execution_id": execution_id},
    )
