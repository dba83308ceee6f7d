"""ExecutionContextService: what produced an execution's results.

Per execution the ops schema keeps the input snapshot ids, the rule versions (``{rule_id:
version_hash}``), the parameters (partition, run config, tags), the code version (package version,
the assets' code versions, the git commit when there is one) and the library versions; readable
by execution id, and what ``opsrel reproduce`` re-runs.

Recording is idempotent and additive. The steps of one run record what they learn as they go
(each step reads its own snapshots and runs its own rules), so a second call for the same
execution merges its snapshot ids and rule versions into the stored ones (set union, sorted) and
keeps the parameters, code version and library versions recorded first: those describe the run as
launched and cannot change within it, so a later, different value would be a different run's and
must not rewrite history. The same rule named with two different versions in one execution is a
broken invariant and is refused (LOG-001). Concurrent recorders are serialized per execution
(``lock_subject``), so no union is lost.

Framework-free: no Dagster; ``library_versions`` and ``git_commit`` are pure helpers the adapter
calls to fill the context.
"""

import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import BatchExecution, ExecutionContext, utcnow
from opsrel_core.persistence.uow import UnitOfWork

DEFAULT_PACKAGES = ("dagster", "pandas", "pandera", "sqlalchemy", "numpy", "opsrel")


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
    def of(cls, row: ExecutionContext) -> "ExecutionContextView":
        """Build the view from an ORM row."""
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
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

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
        snapshots = _string_set(snapshot_ids, "snapshot_ids")
        rules = _rule_versions(rule_versions)
        params = _json_object(parameters, "parameters")
        code = _json_object(code_version, "code_version")
        libraries = _json_object(library_versions, "library_versions")
        with UnitOfWork(self._engine) as uow:
            lock_subject(uow.session, f"execution_context:{execution_id}")
            if uow.session.get(BatchExecution, execution_id) is None:
                raise _not_found(execution_id)
            row = uow.session.get(ExecutionContext, execution_id, populate_existing=True)
            if row is None:
                row = ExecutionContext(
                    execution_id=execution_id, snapshot_ids=sorted(snapshots),
                    rule_versions=dict(sorted(rules.items())), parameters=params,
                    code_version=code, library_versions=libraries, created_at=utcnow(),
                )
                uow.session.add(row)
            else:
                stored = dict(row.rule_versions or {})
                clashes = {
                    r: (stored[r], v) for r, v in rules.items() if r in stored and stored[r] != v
                }
                if clashes:
                    raise LogicException(
                        error_codes.LOG_INVARIANT_BROKEN,
                        f"execution {execution_id} already names other versions of rules "
                        f"{sorted(clashes)}: {clashes}",
                        {"execution_id": execution_id, "rules": sorted(clashes)},
                    )
                merged_snapshots = sorted(set(row.snapshot_ids or ()) | snapshots)
                merged_rules = dict(sorted({**stored, **rules}.items()))
                # New objects (not in-place edits) so the ORM sees the JSON columns change.
                if merged_snapshots != list(row.snapshot_ids or ()):
                    row.snapshot_ids = merged_snapshots
                if merged_rules != stored:
                    row.rule_versions = merged_rules
            uow.commit()
            return ExecutionContextView.of(row)

    def get_context(self, execution_id: str) -> ExecutionContextView:
        """The recorded context of an execution.

        Raises:
            BatchExecutionException: BAT-002 when no context is recorded for this id.
        """
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ExecutionContext, execution_id)
            if row is None:
                raise _not_found(execution_id, "no execution context recorded for")
            return ExecutionContextView.of(row)

    def find_context(self, execution_id: str) -> ExecutionContextView | None:
        """The recorded context of an execution, or None."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(ExecutionContext, execution_id)
            return None if row is None else ExecutionContextView.of(row)


# -- pure helpers -------------------------------------------------------------------------------


def library_versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed versions of distributions, from their metadata (no imports).

    Args:
        packages: distribution names.

    Returns:
        ``{name: version}``, sorted by name; None for a distribution that is not installed.
    """
    return {name: _installed_version(name) for name in sorted(set(packages))}


@functools.lru_cache(maxsize=256)
def _installed_version(name: str) -> str | None:
    # Read once per process: the code this process runs is what it imported at start, and the
    # metadata lookup cost ~25 ms per recorded execution (benchmark B3).
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(repo_dir: str | Path) -> str | None:
    """The commit checked out at ``repo_dir`` (or a parent), read from ``.git`` without git.

    Follows ``HEAD`` to its branch ref, in ``refs/`` or ``packed-refs``; supports a detached
    ``HEAD`` and ``.git`` files of worktrees and submodules (``gitdir:``, ``commondir``).

    Args:
        repo_dir: a folder inside the checkout.

    Returns:
        The 40-hex commit id, or None when there is no checkout or the ref cannot be resolved
        (for example a fresh repository without commits).
    """
    git_dir = _find_git_dir(Path(repo_dir).resolve())
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    ref = head[4:].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in dict.fromkeys((git_dir, common)):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _is_sha(value) else None
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
                    return parts[0]
    return None


def lock_subject(session: Session, key: str) -> None:
    """Serialize writers of one subject until the session's transaction ends.

    Call first in the transaction. PostgreSQL: a transaction-level advisory lock on a hash of
    ``key``. SQLite: takes the database write lock with a no-op write, so the reads that follow
    see every committed row and no other writer interleaves (SQLite has one writer anyway).

    Args:
        session: the unit of work's session, before any other statement.
        key: names the subject, e.g. ``"dq_report:DAILY:2013-02-01"``.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True)))
        )
    else:
        session.execute(
            sa.update(ExecutionContext)
            .where(sa.false())
            .values(execution_id=ExecutionContext.execution_id)
            .execution_options(synchronize_session=False)
        )


# -- internals ----------------------------------------------------------------------------------


def _not_found(execution_id: str, what: str = "no execution with id") -> BatchExecutionException:
    return BatchExecutionException(
        error_codes.BAT_EXECUTION_NOT_FOUND, f"{what} {execution_id!r}",
        {"execution_id": execution_id},
    )


def _string_set(values: Iterable[str], name: str) -> set[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be an iterable of strings, got {values!r}")
    items = list(values)
    if any(not isinstance(v, str) or not v.strip() for v in items):
        raise ValueError(f"{name} must hold non-blank strings, got {items[:5]!r}")
    return set(items)


def _rule_versions(values: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise ValueError(f"rule_versions must be a mapping rule_id -> version_hash, got {values!r}")
    for rule_id, version in values.items():
        if not (isinstance(rule_id, str) and rule_id.strip()):
            raise ValueError(f"rule_versions: blank or non-string rule id {rule_id!r}")
        if not (isinstance(version, str) and version.strip()):
            raise ValueError(f"rule_versions[{rule_id!r}]: blank or non-string version {version!r}")
    return dict(values)


def _json_object(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    return _json_value(value, name)


def _json_value(value: Any, path: str) -> Any:
    """A plain-JSON copy of ``value``; refuses anything JSON would change or cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not valid JSON")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                # json.dumps would turn 1 into "1" silently: the context would not read back equal.
                raise ValueError(f"{path}: key {key!r} is not a string")
            out[key] = _json_value(item, f"{path}.{key}")
        return out
    raise ValueError(f"{path}: {type(value).__name__} {value!r} is not plain JSON")


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (folder / text[7:].strip()).resolve()
            return None
    return None


def _is_sha(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value.lower())
