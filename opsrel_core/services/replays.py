"""ReplayService: replay requests, their status and their history (C1-T05).

The core does not know Dagster. A request is planned here (``plan``: exactly which keys run, each
key's parent execution, the run tags; ``domain/replay_plan.py``), recorded with its plan's keys in
``replay.partition_keys`` and its audit record (one transaction), and the adapter launches
``launch_plan(replay)`` and nothing else, then reports ``mark_launched``. Request keys are scoped to
the operator (``domain/request_identity.py``); a partition with a run in flight refuses a new
replay (``domain/partition_writers.py``). Executions land in
``batch_execution`` with ``replay_id`` set, and the replay's status is *derived* from them by
``refresh_status`` (field report RB-11): never SUCCESS while a child runs or a partition has no
execution yet; a stop request holds STOPPING until every launched child ended, then STOPPED.
Result versions are not touched here: a replayed version replaces the active one only when its
own execution succeeds (``ResultVersionService``), so a failed or stopped replay leaves the earlier
result active (SPEC, "Interpretations settled").

Error codes: BAT-008 for a missing operator or reason (nothing is written); BAT-009 for an
invalid request (unknown job, empty or reversed range, keys outside it or outside the job's
partition set, ``domain/partitions.py``) and, as a ``ConflictException``, for a request key reused
for another request; BAT-012 (``ConflictException``) for a partition with a run in flight;
BAT-014 (``ConflictException``) for an operator who has their limit of pending replays
(``domain/replay_limits.py``); BAT-010 for an unknown replay or version (migration 0004).
"""

import dataclasses
import datetime as dt
import enum
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes, partition_writers, replay_limits, request_identity
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.domain.replay_plan import (
    ReplayAsk, ReplayPlan, build_plan, parent_of, resolve_keys, stored_keys,
)
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException, LogicException, OpsException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import BatchExecution, BatchJob, Replay, ResultVersion, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.batch_jobs import partition_set_of
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
    """A replay row as read back. Times are UTC; partitions are inclusive keys; ``request_key``
    is the key as its operator sent it (stored scoped to the operator, ``request_identity``)."""

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
    # The keys the replay runs (its plan); None on rows recorded before plans were stored, which
    # cover partition_start..partition_end.
    partition_keys: tuple[str, ...] | None = None

    @classmethod
    def of(cls, row: Replay) -> "ReplayView":
        """Build the view from an ORM row."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values.update(
            replay_type=ReplayType(row.replay_type), status=ReplayStatus(row.status),
            requested_at=_aware(row.requested_at), ended_at=_aware(row.ended_at),
            partition_keys=None if row.partition_keys is None else tuple(row.partition_keys),
            request_key=request_identity.client_key(row.operator_id, row.request_key),
        )
        return cls(**values)

    def keys(self, job_keys: Sequence[str]) -> list[str]:
        """The keys this replay runs: its plan, else (older rows) ``job_keys`` in start..end."""
        return stored_keys(self.partition_keys, self.partition_start, self.partition_end, job_keys)


ReplayPreview = ReplayPlan  # what POST /admin/batch/replay/preview answers: the plan itself


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
    """What status derivation needs of one child execution (range runs cover start..end).

    ``keys``: the keys a range run covers in the job's registered order (``_child_run``);
    None: ``range_start..range_end`` in string order.
    """

    partition_key: str | None
    range_start: str | None
    range_end: str | None
    status: ExecutionStatus
    keys: frozenset[str] | None = None

    def covers(self, partition: str) -> bool:
        """True when this run materializes ``partition``."""
        if self.partition_key is not None:
            return self.partition_key == partition
        if self.keys is not None:
            return partition in self.keys
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
        max_pending_per_operator: an operator's limit of replays REQUESTED, RUNNING or STOPPING
            at once (``replay_limits``); None: ``OpsSettings.from_env()``'s
            (``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR``), read when the service is built.
    """

    def __init__(self, engine: sa.Engine, *, max_pending_per_operator: int | None = None):
        self._engine = engine
        if max_pending_per_operator is None:
            from opsrel_core.settings import OpsSettings

            max_pending_per_operator = OpsSettings.from_env().max_pending_replays_per_operator
        self._max_pending = max_pending_per_operator

    # -- requests ----------------------------------------------------------------------------

    def replay_single(
        self, *, job_id: str, partition_key: str, operator_id: str, reason: str,
        request_key: str | None = None, job_keys: Sequence[str] | None = None,
    ) -> ReplayView:
        """Request a replay of one partition (``request`` with kind ``single``)."""
        return self.request(ReplayAsk("single", job_id, operator_id, reason, (partition_key,)),
                            request_key=request_key, job_keys=job_keys)

    def replay_range(
        self, *, job_id: str, start: str, end: str, partition_keys: Sequence[str] | None,
        operator_id: str, reason: str, request_key: str | None = None,
        job_keys: Sequence[str] | None = None,
    ) -> ReplayView:
        """Request a replay of ``start..end``: exactly ``partition_keys`` when given (each within
        the range), else every key of the job in the range (``request`` with kind ``range``)."""
        listed = None if partition_keys is None else tuple(partition_keys)
        return self.request(ReplayAsk("range", job_id, operator_id, reason, listed, start, end),
                            request_key=request_key, job_keys=job_keys)

    def replay_full(
        self, *, job_id: str, partition_keys: Sequence[str] | None, operator_id: str, reason: str,
        request_key: str | None = None, job_keys: Sequence[str] | None = None,
    ) -> ReplayView:
        """Request a replay of exactly ``partition_keys``, or (None) of every key of the job
        (``request`` with kind ``full``)."""
        listed = None if partition_keys is None else tuple(partition_keys)
        return self.request(ReplayAsk("full", job_id, operator_id, reason, listed),
                            request_key=request_key, job_keys=job_keys)

    def request(
        self, ask: ReplayAsk, *, request_key: str | None = None,
        job_keys: Sequence[str] | None = None,
    ) -> ReplayView:
        """Record a replay request: its plan's keys in ``replay.partition_keys`` (REQUESTED) and
        its audit record (BATCH_ACTION ``REPLAY``, target the replay), in one transaction.

        ``request_key`` is scoped to the operator (``request_identity.scoped_key``): the same key
        with the same request returns the replay recorded first and writes nothing, also when two
        requests race (the unique key decides); None means a fresh uuid4 key.

        Args:
            ask: the request.
            job_keys: every key of the job in order (the adapter's partitions); None: derived
                from the job's partition set (``batch_job``).

        Returns:
            The replay as stored.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank;
                ``INVALID_REQUEST_CODE`` for an unknown job or an invalid request (``plan``).
            ConflictException: BAT-009 when the operator's key was used for another request;
                BAT-012 when a planned partition has a run or replay in flight; BAT-014 when
                the operator already has ``max_pending_per_operator`` replays pending or
                running. Nothing is written in every case; the checks hold under concurrent
                requests on both backends (a retried key still returns its replay).
        """
        ask = _attributed(ask)
        if request_key is None:
            key = str(uuid.uuid4())
        else:
            key = request_identity.scoped_key(ask.operator_id, request_key)
        with UnitOfWork(self._engine) as uow:
            keys = self._resolve(uow.session, ask, job_keys)
            asked = _identity_of_ask(ask, keys)
            existing = _by_key(uow.session, key)
            if existing is not None:
                return _same_replay(existing, asked, request_key or key)
            # Taken first: serializes requests for one job on both backends (a row lock on
            # PostgreSQL, the write lock on SQLite), so two requests cannot both find the
            # partitions free.
            uow.session.execute(sa.update(BatchJob).where(BatchJob.job_id == ask.job_id)
                                .values(is_active=BatchJob.is_active))
            existing = _by_key(uow.session, key)
            if existing is not None:
                return _same_replay(existing, asked, request_key or key)
            partition_writers.ensure_not_busy(
                ask.job_id, keys, _in_flight(uow.session, ask.job_id, keys))
            replay_limits.ensure_below_limit(
                ask.operator_id, _pending_of(uow.session, ask.operator_id), self._max_pending)
            row = Replay(
                request_key=key, replay_type=ask.kind.upper(), job_id=ask.job_id,
                partition_start=keys[0], partition_end=keys[-1], partition_keys=list(keys),
                status=ReplayStatus.REQUESTED.value, reason=ask.reason,
                operator_id=ask.operator_id, requested_at=utcnow(),
            )
            try:
                with audit_change(
                    uow.session, operator_id=ask.operator_id, reason=ask.reason,
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
                return _same_replay(existing, asked, request_key or key)
            return ReplayView.of(row)

    def plan(self, ask: ReplayAsk, job_keys: Sequence[str] | None = None) -> ReplayPlan:
        """The plan of a request, checked as ``request`` checks it; reads only: no replay row,
        no audit record (a preview is not an action). The preview is this plan.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank;
                ``INVALID_REQUEST_CODE`` for an unknown job, no keys, a reversed range, keys
                outside it or outside the job's partition set.
        """
        ask = _attributed(ask)
        with UnitOfWork(self._engine) as uow:
            keys = self._resolve(uow.session, ask, job_keys)
            return self._plan(uow.session, ask, keys)

    preview = plan

    def launch_plan(self, replay: ReplayView, job_keys: Sequence[str]) -> ReplayPlan:
        """The plan a recorded replay launches: its stored keys, each key's parent as of now.

        Args:
            job_keys: every key of the job in order (used for rows without stored keys).
        """
        ask = ReplayAsk(replay.replay_type.value, replay.job_id, replay.operator_id,
                        replay.reason)
        with UnitOfWork(self._engine) as uow:
            return self._plan(uow.session, ask, replay.keys(job_keys))

    def parent_execution_id(self, job_id: str, partition_key: str) -> str | None:
        """The execution a replay of this partition redoes (``replay_plan.parent_of``): the
        execution of its active result (the newest version among the job's assets), else the
        partition's latest execution (a failed run being redone).

        Returns:
            An execution id, or None when the partition has no execution yet.

        Raises:
            BatchExecutionException: ``INVALID_REQUEST_CODE`` for an unknown job.
        """
        with UnitOfWork(self._engine) as uow:
            job = _job(uow.session, job_id)
            active = _active_executions(uow.session, job, [partition_key])
            latest = _latest_executions(uow.session, job_id, [partition_key])
            return parent_of(active.get(partition_key), latest.get(partition_key))

    def busy_partitions(self, job_id: str, partition_keys: Sequence[str]) -> dict[str, list[str]]:
        """Per busy key of ``partition_keys``, what is in flight for it
        (``partition_writers.busy_keys``), e.g. ``{"2013-03-01": ["replay 4 (RUNNING)"]}``."""
        with UnitOfWork(self._engine) as uow:
            busy = partition_writers.busy_keys(
                partition_keys, _in_flight(uow.session, job_id, partition_keys))
        return {key: [w.describe() for w in writers] for key, writers in busy.items()}

    def succeeded_since(self, job_id: str, partition_key: str, since: dt.datetime) -> str | None:
        """A SUCCESS execution of the partition (its own or a range covering it) that started at
        or after ``since`` (UTC), or None: such a run already read every input as of ``since``."""
        with UnitOfWork(self._engine) as uow:
            order = _order(uow.session, job_id)
            for execution in _covering(uow.session, job_id, [partition_key]):
                started = _aware(execution.started_at)
                if (execution.status == ExecutionStatus.SUCCESS.value and started is not None
                        and started >= since
                        and _child_run(execution, order).covers(partition_key)):
                    return execution.execution_id
        return None

    def _resolve(self, session: Session, ask: ReplayAsk, job_keys: Sequence[str] | None
                 ) -> tuple[str, ...]:
        job = _job(session, ask.job_id)
        partition_set = partition_set_of(session, job)
        listed = [k for k in (*(ask.partitions or ()), ask.start, ask.end)
                  if isinstance(k, str) and k.strip()]
        _check_partitions(job, partition_set, listed)
        # The registered keys order a range (never date arithmetic); an adapter's own list
        # wins when given, and every key is still checked against the catalog.
        keys = resolve_keys(ask.kind, partitions=ask.partitions, start=ask.start, end=ask.end,
                            job_keys=job_keys if job_keys is not None else partition_set.keys())
        _check_partitions(job, partition_set, keys)
        return keys

    def _plan(self, session: Session, ask: ReplayAsk, keys: Sequence[str]) -> ReplayPlan:
        job = _job(session, ask.job_id)
        return build_plan(ask, keys, _active_executions(session, job, keys),
                          _latest_executions(session, ask.job_id, keys))

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
        operator_id, reason = require_attribution(operator_id, reason)
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
            order = _order(session, row.job_id)
            children = [_child_run(e, order) for e in _children(session, replay_id)]
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

    def find_replay_by_request_key(self, operator_id: str, request_key: str) -> ReplayView | None:
        """The replay ``operator_id`` recorded under ``request_key``, or None."""
        with UnitOfWork(self._engine) as uow:
            row = _by_key(uow.session, request_identity.scoped_key(operator_id, request_key))
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


def _check_partitions(job: BatchJob, partition_set: PartitionSet, keys: Sequence[str]) -> None:
    """Refuse (``INVALID_REQUEST_CODE``) keys outside the job's partition set; reads nothing."""
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


_CHUNK = 500  # keys per IN (...) list: far below SQLite's bound-parameter limit


def _chunks(keys: Sequence[str]) -> list[list[str]]:
    keys = list(keys)
    return [keys[i:i + _CHUNK] for i in range(0, len(keys), _CHUNK)]


def _active_executions(session: Session, job: BatchJob, keys: Sequence[str]) -> dict[str, str]:
    """Per key, the execution of the newest active result version of the job's assets."""
    found: dict[str, tuple[Any, int, str]] = {}
    for chunk in _chunks(keys):
        for execution_id, key, created, version_id in session.execute(
            sa.select(ResultVersion.execution_id, ResultVersion.partition_key,
                      ResultVersion.created_at, ResultVersion.version_id)
            .where(ResultVersion.asset_key.in_(list(job.asset_selection)),
                   ResultVersion.partition_key.in_(chunk), ResultVersion.is_active.is_(True))
        ):
            if key not in found or (created, version_id) > found[key][:2]:
                found[key] = (created, version_id, execution_id)
    return {key: value[2] for key, value in found.items()}


def _covering(session: Session, job_id: str, keys: Sequence[str]) -> list[BatchExecution]:
    """The job's executions of any of ``keys`` (their own partition, or a range covering one:
    ``_child_run(row, _order(...)).covers`` says which keys it covers)."""
    if not keys:
        return []
    rows: list[BatchExecution] = []
    for chunk in _chunks(keys):
        rows.extend(session.scalars(sa.select(BatchExecution).where(
            BatchExecution.job_id == job_id, BatchExecution.partition_key.in_(chunk))))
    ranges = sa.select(BatchExecution).where(BatchExecution.job_id == job_id,
                                             BatchExecution.partition_key.is_(None))
    order = _order(session, job_id)
    if order is None or order.sorts_as_text:
        # Key order is string order here, so the database can narrow the range runs.
        low, high = min(keys), max(keys)
        ranges = ranges.where(BatchExecution.partition_range_start <= high,
                              BatchExecution.partition_range_end >= low)
    rows.extend(session.scalars(ranges))
    return rows


def _order(session: Session, job_id: str) -> PartitionSet | None:
    """The job's partition set (its registered key order), read once per transaction; None
    for a job not in the catalog."""
    cache = session.info.setdefault("opsrel.partition_sets", {})
    if job_id not in cache:
        job = session.get(BatchJob, job_id)
        cache[job_id] = None if job is None else partition_set_of(session, job)
    return cache[job_id]


def _child_run(row: BatchExecution, order: PartitionSet | None) -> ChildRun:
    """A child execution; a range run's keys in the job's order when its ends are keys of it."""
    span = (None if order is None or row.partition_key is not None
            or row.partition_range_start is None
            else order.span(row.partition_range_start, row.partition_range_end))
    return ChildRun(row.partition_key, row.partition_range_start, row.partition_range_end,
                    ExecutionStatus(row.status), None if span is None else frozenset(span))


def _latest_executions(session: Session, job_id: str, keys: Sequence[str]) -> dict[str, str]:
    """Per key, the job's most recently created execution of that partition."""
    latest: dict[str, BatchExecution] = {}
    order = _order(session, job_id)
    for row in _covering(session, job_id, keys):
        child = _child_run(row, order)
        for key in ([row.partition_key] if row.partition_key is not None else keys):
            if child.covers(key) and (key not in latest or (_aware(row.created_at), row.execution_id)
                                      > (_aware(latest[key].created_at), latest[key].execution_id)):
                latest[key] = row
    return {key: row.execution_id for key, row in latest.items()}


def _in_flight(session: Session, job_id: str, keys: Sequence[str]
               ) -> list[partition_writers.InFlight]:
    """Executions READY/RUNNING and replays REQUESTED/RUNNING/STOPPING of the job that may
    write one of ``keys``."""
    order = _order(session, job_id)
    found = [
        partition_writers.InFlight(
            "execution", row.execution_id, row.status,
            partitions=(row.partition_key,) if row.partition_key is not None else (
                None if order is None or row.partition_range_start is None
                else order.span(row.partition_range_start, row.partition_range_end)),
            range_start=row.partition_range_start, range_end=row.partition_range_end)
        for row in _covering(session, job_id, keys)
        if row.status in partition_writers.EXECUTION_IN_FLIGHT
    ]
    for row in session.scalars(sa.select(Replay).where(
            Replay.job_id == job_id, Replay.status.in_(partition_writers.REPLAY_IN_FLIGHT))):
        found.append(partition_writers.InFlight(
            "replay", str(row.replay_id), row.status,
            partitions=None if row.partition_keys is None else tuple(row.partition_keys),
            range_start=row.partition_start, range_end=row.partition_end))
    return found


def _pending_of(session: Session, operator_id: str) -> int:
    """How many of the operator's replays are pending (any job), counted under a lock.

    The job's row lock taken before serializes requests of one job; an operator's requests for
    different jobs are serialized here too: a transaction-scoped advisory lock per operator on
    PostgreSQL (SQLite already holds the database write lock).
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"opsrel.replay.operator:{operator_id}".encode()).digest()
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            int.from_bytes(digest[:8], "big", signed=True))))
    return session.scalar(
        sa.select(sa.func.count()).select_from(Replay).where(
            Replay.operator_id == operator_id,
            Replay.status.in_(replay_limits.PENDING_STATUSES))) or 0


def _identity_of_ask(ask: ReplayAsk, keys: Sequence[str]) -> request_identity.RequestIdentity:
    return request_identity.identity(
        replay_type=ask.kind, job_id=ask.job_id, operator_id=ask.operator_id, reason=ask.reason,
        partitions=keys, partition_start=keys[0], partition_end=keys[-1])


def _same_replay(row: Replay, asked: request_identity.RequestIdentity, request_key: str
                 ) -> ReplayView:
    """The replay recorded under the key, when ``asked`` is that request (else BAT-009)."""
    stored = request_identity.identity(
        replay_type=row.replay_type, job_id=row.job_id, operator_id=row.operator_id,
        reason=row.reason, partitions=row.partition_keys, partition_start=row.partition_start,
        partition_end=row.partition_end)
    request_identity.ensure_same_request(stored, asked, request_key, row.replay_id)
    return ReplayView.of(row)


def _attributed(ask: ReplayAsk) -> ReplayAsk:
    # The audit log's one rule for names and reasons, checked first so nothing is read or
    # validated before it; the request then carries the name as it is recorded (NFKC).
    operator_id, reason = require_attribution(ask.operator_id, ask.reason)
    return dataclasses.replace(ask, operator_id=operator_id, reason=reason)


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
