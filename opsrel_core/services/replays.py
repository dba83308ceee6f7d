"""ReplayService: replay requests, their status and their history (C1-T05).

The core does not know Dagster. The adapter resolves partition keys, asks for a replay here (one
``replay`` row and its audit record, one transaction), launches the runs tagged with the replay id
and each partition's ``parent_execution_id``, then reports ``mark_launched``. Executions land in
``batch_execution`` with ``replay_id`` set, and the replay's status is *derived* from them by
``refresh_status`` (field report RB-11): never SUCCESS while a child runs or a partition has no
execution yet; a stop request holds STOPPING until every launched child ended, then STOPPED.
Result versions are not touched here: a replayed version replaces the active one only when its
own execution succeeds (``ResultVersionService``), so a failed or stopped replay leaves the earlier
result active (SPEC, "Interpretations settled").

Partition keys are compared as strings (``start <= key <= end``), which is partition order for the
ISO dates of daily partitions. Error codes: BAT-008 for a missing operator or reason (nothing is
written); BAT-009 for an invalid request (unknown job, empty or reversed range, keys outside it or
outside the job's partition set, ``domain/partitions.py``)
and BAT-010 for an unknown replay or version (migration 0004).
"""

import dataclasses
import datetime as dt
import enum
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException, LogicException, OpsException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import BatchExecution, BatchJob, Replay, ResultVersion, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.result_versions import ResultVersionView

# Codes of a refused replay request (catalog migration 0004).
INVALID_REQUEST_CODE = error_codes.BAT_REPLAY_INVALID
NOT_FOUND_CODE = error_codes.BAT_REPLAY_NOT_FOUND
REPLAY_ACTION = "REPLAY"
STOP_ACTION = "STOP_REPLAY"
MAX_LIST_LIMIT = 1000
_CAS_ATTEMPTS = 10


class ReplayType(str, enum.Enum):
    """What a replay covers: the whole history, a range or one partition."""

    FULL = "FULL"
    RANGE = "RANGE"
    SINGLE = "SINGLE"


class ReplayStatus(str, enum.Enum):
    """Status of a replay; SUCCESS, FAILED and STOPPED are final."""

    REQUESTED = "REQUESTED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, FAILED and STOPPED."""
        return not ALLOWED_TRANSITIONS[self]


_R = ReplayStatus
ALLOWED_TRANSITIONS: dict[ReplayStatus, frozenset[ReplayStatus]] = {
    _R.REQUESTED: frozenset({_R.RUNNING, _R.STOPPING, _R.SUCCESS, _R.FAILED, _R.STOPPED}),
    _R.RUNNING: frozenset({_R.STOPPING, _R.SUCCESS, _R.FAILED, _R.STOPPED}),
    _R.STOPPING: frozenset({_R.STOPPED}),  # a stop request is never undone
    _R.SUCCESS: frozenset(),
    _R.FAILED: frozenset(),
    _R.STOPPED: frozenset(),
}


@dataclasses.dataclass(frozen=True)
class ReplayView:
    """A replay row as read back. Times are UTC; partitions are inclusive keys."""

    replay_id: int
    request_key: str
    replay_type: ReplayType
    job_id: str
    partition_start: str | None
    partition_end: str | None
    backfill_id: str | None
    status: ReplayStatus
    reason: str
    operator_id: str
    requested_at: dt.datetime
    ended_at: dt.datetime | None

    @classmethod
    def of(cls, row: Replay) -> "ReplayView":
        """Build the view from an ORM row."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values.update(
            replay_type=ReplayType(row.replay_type), status=ReplayStatus(row.status),
            requested_at=_aware(row.requested_at), ended_at=_aware(row.ended_at),
        )
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class ReplayPreview:
    """What a replay request would do, worked out without writing anything (field report RB-24).

    Attributes:
        job_id: the batch job.
        partition_start, partition_end: the inclusive range the replay would cover.
        partitions: every partition key it would run, in order.
        replaces: per partition, the execution whose active result the replay would replace
            (None: the partition has no active result yet).
    """

    job_id: str
    partition_start: str
    partition_end: str
    partitions: tuple[str, ...]
    replaces: dict[str, str | None]


@dataclasses.dataclass(frozen=True)
class ReplayExecution:
    """One execution of a replay and the result versions it made (by asset, partition)."""

    execution: ExecutionView
    versions: tuple[ResultVersionView, ...]


@dataclasses.dataclass(frozen=True)
class ReplayHistory:
    """A replay and its executions, oldest first."""

    replay: ReplayView
    executions: tuple[ReplayExecution, ...]


@dataclasses.dataclass(frozen=True)
class ChildRun:
    """What status derivation needs of one child execution (range runs cover start..end)."""

    partition_key: str | None
    range_start: str | None
    range_end: str | None
    status: ExecutionStatus

    def covers(self, partition: str) -> bool:
        """True when this run materializes ``partition``."""
        if self.partition_key is not None:
            return self.partition_key == partition
        if self.range_start is not None and self.range_end is not None:
            return self.range_start <= partition <= self.range_end
        return False


def derive_status(
    current: ReplayStatus, children: Sequence[ChildRun], expected: Sequence[str]
) -> ReplayStatus:
    """Derive a replay's status from its child executions (RB-11); pure, no I/O.

    Args:
        current: the stored status.
        children: the replay's executions in creation order (a later run of a partition, a
            retry, replaces an earlier one).
        expected: every partition key the replay must produce.

    Returns:
        ``current`` when terminal. STOPPING until every child ended, then STOPPED. Otherwise
        RUNNING (or ``current`` when no child exists yet) while a child runs or an expected
        partition has no child; when all ended: SUCCESS if each partition's latest child
        succeeded, else FAILED if one of them failed, else STOPPED.
    """
    if current.is_terminal:
        return current
    all_ended = all(c.status.is_terminal for c in children)
    if current is ReplayStatus.STOPPING:
        return ReplayStatus.STOPPED if all_ended else current
    latest = [next((c for c in reversed(children) if c.covers(p)), None) for p in expected]
    if not all_ended or any(c is None for c in latest):
        return ReplayStatus.RUNNING if children else current
    outcomes = {c.status for c in latest if c is not None}
    if outcomes == {ExecutionStatus.SUCCESS}:
        return ReplayStatus.SUCCESS
    return ReplayStatus.FAILED if ExecutionStatus.FAILED in outcomes else ReplayStatus.STOPPED


@retry_transient_methods
class ReplayService:
    """Records replay requests, derives their status and reads their history.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    # -- requests ----------------------------------------------------------------------------

    def replay_single(
        self, *, job_id: str, partition_key: str, operator_id: str, reason: str,
        request_key: str | None = None,
    ) -> ReplayView:
        """Request a replay of one partition (``partition_start == partition_end``).

        Returns, errors and idempotency as for ``replay_full``.
        """
        keys = _keys([partition_key])
        return self._request(ReplayType.SINGLE, job_id, keys, operator_id, reason, request_key)

    def replay_range(
        self, *, job_id: str, start: str, end: str, partition_keys: list[str], operator_id: str,
        reason: str, request_key: str | None = None,
    ) -> ReplayView:
        """Request a replay of ``start..end`` (inclusive), resolved to ``partition_keys``.

        Raises:
            BatchExecutionException: ``INVALID_REQUEST_CODE`` when ``start > end`` or a key lies outside
                ``start..end``; others as for ``replay_full``.
        """
        keys = _range_keys(start, end, partition_keys)
        return self._request(ReplayType.RANGE, job_id, keys, operator_id, reason, request_key,
                             span=(start, end))

    def replay_full(
        self, *, job_id: str, partition_keys: list[str], operator_id: str, reason: str,
        request_key: str | None = None,
    ) -> ReplayView:
        """Request a replay of the job's whole history, resolved to ``partition_keys``.

        Writes the ``replay`` row (REQUESTED, partition_start/end = first/last key in string
        order) and its audit record (BATCH_ACTION ``REPLAY``, target the replay) in one
        transaction. ``request_key`` makes the request idempotent: a key already recorded returns
        that replay unchanged and writes nothing, also when two requests race (the unique key
        decides); the other arguments are then not compared. None means a fresh uuid4 key.

        Returns:
            The replay as stored.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank;
                nothing is written.
            BatchExecutionException: ``INVALID_REQUEST_CODE`` for an unknown job, no partition keys, a
                blank key, or a key outside the job's partition set (nothing is written).
        """
        keys = _keys(partition_keys)
        return self._request(ReplayType.FULL, job_id, keys, operator_id, reason, request_key)

    def preview(
        self, *, job_id: str, partition_keys: list[str], operator_id: str, reason: str,
        start: str | None = None, end: str | None = None,
    ) -> ReplayPreview:
        """Check a replay request as ``replay_range``/``replay_full`` would and say what it would
        do; reads only: no replay row, no audit record (a preview is not an action, RB-24).

        Args:
            partition_keys: the partitions resolved for the request.
            start, end: the requested range (default: the first and last key).

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank;
                ``INVALID_REQUEST_CODE`` for an unknown job, no keys, or keys outside the range
                or the job's partition set.
        """
        _require_attribution(operator_id, reason)
        keys = _keys(partition_keys)
        keys = _range_keys(start or keys[0], end or keys[-1], keys)
        with UnitOfWork(self._engine) as uow:
            _check_partitions(_job(uow.session, job_id), [start or keys[0], *keys, end or keys[-1]])
        return ReplayPreview(
            job_id=job_id, partition_start=start or keys[0], partition_end=end or keys[-1],
            partitions=tuple(keys),
            replaces={key: self.parent_execution_id(job_id, key) for key in keys},
        )

    def parent_execution_id(self, job_id: str, partition_key: str) -> str | None:
        """The execution whose result a replay of this partition replaces.

        Looks at the active result versions of the job's assets (``batch_job.asset_selection``)
        for the partition; when they come from several executions the newest version wins.

        Returns:
            An execution id, or None when the partition has no active result.

        Raises:
            BatchExecutionException: ``INVALID_REQUEST_CODE`` for an unknown job.
        """
        with UnitOfWork(self._engine) as uow:
            job = _job(uow.session, job_id)
            return uow.session.scalar(
                sa.select(ResultVersion.execution_id)
                .where(
                    ResultVersion.asset_key.in_(list(job.asset_selection)),
                    ResultVersion.partition_key == partition_key,
                    ResultVersion.is_active.is_(True),
                )
                .order_by(ResultVersion.created_at.desc(), ResultVersion.version_id.desc())
                .limit(1)
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def mark_launched(self, replay_id: int, *, backfill_id: str | None = None) -> ReplayView:
        """Record that the runs were launched: REQUESTED -> RUNNING; idempotent.

        Any other status is kept (a STOPPING replay stays STOPPING). ``backfill_id`` is stored
        when none is yet, on a replay that has not ended.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        def decide(_session: Session, row: Replay) -> dict[str, Any]:
            values: dict[str, Any] = {}
            if row.status == ReplayStatus.REQUESTED.value:
                values["status"] = ReplayStatus.RUNNING.value
            if backfill_id and row.backfill_id is None and not ReplayStatus(row.status).is_terminal:
                values["backfill_id"] = backfill_id
            return values

        return self._update(replay_id, decide)

    def request_stop(self, replay_id: int, *, operator_id: str, reason: str) -> ReplayView:
        """Ask to stop a replay: REQUESTED or RUNNING -> STOPPING, audited in the same transaction.

        The adapter then cancels the runs; ``refresh_status`` ends it STOPPED once every child
        ended. A repeat on a STOPPING or ended replay changes nothing and writes no audit record
        (the record describes a change; there is none).

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank.
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        _require_attribution(operator_id, reason)
        for _attempt in range(_CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                row = _replay(uow.session, replay_id)
                current = ReplayStatus(row.status)
                if ReplayStatus.STOPPING not in ALLOWED_TRANSITIONS[current]:
                    return ReplayView.of(row)
                with audit_change(
                    uow.session, operator_id=operator_id, reason=reason,
                    action_type=AuditActionType.BATCH_ACTION, action=STOP_ACTION, target=row,
                ):
                    moved = _cas(uow.session, replay_id, current, {"status": "STOPPING"})
                if not moved:
                    continue  # moved by someone else in between: decide again
                uow.commit()
                return ReplayView.of(row)
        raise _busy(replay_id)

    def refresh_status(self, replay_id: int, expected_partitions: list[str]) -> ReplayView:
        """Derive the replay's status from its executions (``derive_status``) and store it.

        Sets ``ended_at`` on a terminal status; terminal statuses are final. Reads only: a
        transient database error raises (SYS-002 after retries), it never marks a replay FAILED.

        Args:
            replay_id: the replay.
            expected_partitions: every partition key the replay must produce.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` unknown replay; ``INVALID_REQUEST_CODE`` no keys.
        """
        expected = _keys(expected_partitions)

        def decide(session: Session, row: Replay) -> dict[str, Any]:
            children = [
                ChildRun(e.partition_key, e.partition_range_start, e.partition_range_end,
                         ExecutionStatus(e.status))
                for e in _children(session, replay_id)
            ]
            wanted = derive_status(ReplayStatus(row.status), children, expected)
            if wanted.value == row.status:
                return {}
            ended = {"ended_at": utcnow()} if wanted.is_terminal else {}
            return {"status": wanted.value, **ended}

        return self._update(replay_id, decide)

    # -- reads -------------------------------------------------------------------------------

    def get_replay(self, replay_id: int) -> ReplayView:
        """One replay. Raises ``BatchExecutionException`` (``NOT_FOUND_CODE``) when unknown."""
        with UnitOfWork(self._engine) as uow:
            return ReplayView.of(_replay(uow.session, replay_id))

    def find_replay(self, replay_id: int) -> ReplayView | None:
        """One replay, or None when unknown."""
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(Replay, replay_id)
            return None if row is None else ReplayView.of(row)

    def find_replay_by_request_key(self, request_key: str) -> ReplayView | None:
        """The replay recorded under ``request_key``, or None."""
        with UnitOfWork(self._engine) as uow:
            row = _by_key(uow.session, request_key)
            return None if row is None else ReplayView.of(row)

    def list_replays(
        self, job_id: str | None = None, status: ReplayStatus | str | None = None,
        limit: int = 100, before_replay_id: int | None = None,
    ) -> list[ReplayView]:
        """Replays newest first (by ``replay_id``), optionally of one job and one status.

        Args:
            limit: page size, 1..1000.
            before_replay_id: keyset cursor: only replays with a smaller id.

        Raises:
            ValueError: ``limit`` out of range or an unknown status.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        stmt = sa.select(Replay).order_by(Replay.replay_id.desc()).limit(limit)
        if job_id is not None:
            stmt = stmt.where(Replay.job_id == job_id)
        if status is not None:
            stmt = stmt.where(Replay.status == ReplayStatus(status).value)
        if before_replay_id is not None:
            stmt = stmt.where(Replay.replay_id < before_replay_id)
        with UnitOfWork(self._engine) as uow:
            return [ReplayView.of(r) for r in uow.session.scalars(stmt)]

    def replay_history(self, replay_id: int) -> ReplayHistory:
        """The replay, its executions (oldest first) and the versions each made.

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` for an unknown replay.
        """
        with UnitOfWork(self._engine) as uow:
            replay = ReplayView.of(_replay(uow.session, replay_id))
            executions = _children(uow.session, replay_id)
            versions: dict[str, list[ResultVersionView]] = {e.execution_id: [] for e in executions}
            for v in uow.session.scalars(
                sa.select(ResultVersion)
                .where(ResultVersion.execution_id.in_(list(versions)))
                .order_by(ResultVersion.asset_key, ResultVersion.partition_key)
            ):
                versions[v.execution_id].append(ResultVersionView.of(v))
            return ReplayHistory(replay, tuple(
                ReplayExecution(_execution_view(e), tuple(versions[e.execution_id]))
                for e in executions
            ))

    def origin_of_version(self, version_id: int) -> tuple[ExecutionView, ReplayView | None]:
        """The execution that made a result version, and its replay (None if not a replay).

        Raises:
            BatchExecutionException: ``NOT_FOUND_CODE`` when no such version exists.
        """
        with UnitOfWork(self._engine) as uow:
            version = uow.session.get(ResultVersion, version_id)
            if version is None:
                raise _error(NOT_FOUND_CODE, f"no result version {version_id}")
            execution = uow.session.get_one(BatchExecution, version.execution_id)
            replay = None
            if execution.replay_id is not None:
                replay = ReplayView.of(_replay(uow.session, execution.replay_id))
            return _execution_view(execution), replay

    # -- internals ---------------------------------------------------------------------------

    def _request(
        self, replay_type: ReplayType, job_id: str, keys: list[str], operator_id: str,
        reason: str, request_key: str | None, span: tuple[str, str] | None = None,
    ) -> ReplayView:
        _require_attribution(operator_id, reason)
        key = str(uuid.uuid4()) if request_key is None else request_key
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise _error(INVALID_REQUEST_CODE, f"request_key must be 1..200 characters: {key!r}")
        with UnitOfWork(self._engine) as uow:
            existing = _by_key(uow.session, key)
            if existing is not None:
                return ReplayView.of(existing)
            _check_partitions(_job(uow.session, job_id), [*(span or ()), *keys])
            row = Replay(
                request_key=key, replay_type=replay_type.value, job_id=job_id,
                partition_start=keys[0], partition_end=keys[-1],
                status=ReplayStatus.REQUESTED.value, reason=reason, operator_id=operator_id,
                requested_at=utcnow(),
            )
            try:
                with audit_change(
                    uow.session, operator_id=operator_id, reason=reason,
                    action_type=AuditActionType.BATCH_ACTION, action=REPLAY_ACTION, target=row,
                ):
                    uow.session.add(row)
                uow.commit()
            except sa.exc.IntegrityError:
                # A concurrent request with the same key committed first: it is the replay.
                uow.session.rollback()
                existing = _by_key(uow.session, key)
                if existing is None:
                    raise
                return ReplayView.of(existing)
            return ReplayView.of(row)

    def _update(
        self, replay_id: int, decide: Callable[[Session, Replay], dict[str, Any]]
    ) -> ReplayView:
        """Compare-and-set the columns ``decide(session, row)`` asks for; re-decide when raced."""
        for _attempt in range(_CAS_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                row = _replay(uow.session, replay_id)
                values = decide(uow.session, row)
                if not values:
                    return ReplayView.of(row)
                if not _cas(uow.session, replay_id, ReplayStatus(row.status), values):
                    continue
                uow.commit()
                uow.session.refresh(row)
                return ReplayView.of(row)
        raise _busy(replay_id)


def _cas(session: Session, replay_id: int, current: ReplayStatus, values: dict[str, Any]) -> bool:
    # Guarded by the status read, so a concurrent move (say SUCCESS by refresh_status) is never
    # overwritten, on SQLite too, where SELECT ... FOR UPDATE does not lock.
    result = session.execute(
        sa.update(Replay)
        .where(Replay.replay_id == replay_id, Replay.status == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _replay(session: Session, replay_id: int) -> Replay:
    row = session.get(Replay, replay_id, populate_existing=True)
    if row is None:
        raise _error(NOT_FOUND_CODE, f"no replay with id {replay_id!r}", {"replay_id": replay_id})
    return row


def _by_key(session: Session, request_key: str) -> Replay | None:
    return session.scalar(sa.select(Replay).where(Replay.request_key == request_key))


def _job(session: Session, job_id: str) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise _error(INVALID_REQUEST_CODE, f"no batch job {job_id!r}", {"job_id": job_id})
    return job


def _check_partitions(job: BatchJob, keys: Sequence[str]) -> None:
    """Refuse (``INVALID_REQUEST_CODE``) keys outside the job's partition set; reads nothing."""
    partition_set = PartitionSet(job.partitions, job.partition_start, job.partition_end)
    outside = partition_set.outside(keys)
    if outside:
        raise _error(INVALID_REQUEST_CODE, f"partitions {outside[:5]!r} are not in the partition "
                     f"set of job {job.job_id!r} ({partition_set.describe()}); nothing was "
                     "recorded", {"job_id": job.job_id, "partitions": outside[:20]})


def _children(session: Session, replay_id: int) -> list[BatchExecution]:
    return list(session.scalars(
        sa.select(BatchExecution)
        .where(BatchExecution.replay_id == replay_id)
        .order_by(BatchExecution.created_at, BatchExecution.execution_id)
    ))


def _keys(partition_keys: Sequence[str]) -> list[str]:
    """Distinct partition keys in string order; refuses none and blank ones."""
    if not partition_keys or any(not isinstance(k, str) or not k.strip() for k in partition_keys):
        raise _error(INVALID_REQUEST_CODE, f"partition keys must be non-blank and at least one, "
                     f"got {list(partition_keys or [])[:5]!r}")
    return sorted(set(partition_keys))


def _range_keys(start: str, end: str, partition_keys: Sequence[str]) -> list[str]:
    """``_keys``, refusing an empty or reversed range or keys outside ``start..end``."""
    keys = _keys(partition_keys)
    if start > end or keys[0] < start or keys[-1] > end:
        raise _error(INVALID_REQUEST_CODE, f"replay range {start}..{end} is empty or does "
                     f"not contain the partitions {keys[0]}..{keys[-1]}")
    return keys


def _require_attribution(operator_id: object, reason: object) -> None:
    # audit_change checks the same; checked here too so nothing is read or validated first.
    for name, value in (("operator_id", operator_id), ("reason", reason)):
        if not isinstance(value, str) or not value.strip():
            raise BatchExecutionException(
                error_codes.BAT_ATTRIBUTION_REQUIRED,
                f"replay: {name} is required and must not be blank (got {value!r}); nothing was "
                "written", {"field": name},
            )


def _error(code: str, message: str, details: dict[str, Any] | None = None) -> OpsException:
    kind = BatchExecutionException if code.startswith("BAT") else LogicException
    return kind(code, message, details)


def _busy(replay_id: int) -> OpsException:
    return _error(error_codes.LOG_INVARIANT_BROKEN,
                  f"replay {replay_id} kept changing under concurrent writers; gave up")


def _execution_view(row: BatchExecution) -> ExecutionView:
    view = ExecutionView.of(row)
    return dataclasses.replace(view, **{
        name: _aware(getattr(view, name))
        for name in ("created_at", "started_at", "ended_at", "stop_requested_at")
    })


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value
