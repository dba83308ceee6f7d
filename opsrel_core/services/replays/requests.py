"""Replay requests: submit one (recorded with its plan and its audit record) or preview it.

A request is planned first (exactly which keys run, each key's parent execution, the run tags:
``domain/replay_plan.py``), then recorded with its plan's keys in ``replay.partition_keys`` and
its audit record in one transaction; the adapter later launches that plan and nothing else, so
what the preview showed is what runs. Request keys are scoped to the operator
(``domain/request_identity.py``); a partition with a run in flight refuses a new replay
(``domain/partition_writers.py``); an operator has a limit of pending replays
(``domain/replay_limits.py``).
"""

import dataclasses
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from opsrel_core.domain import partition_writers, replay_limits, request_identity
from opsrel_core.domain.partitions import PartitionSet
from opsrel_core.domain.replay_plan import ReplayAsk, ReplayPlan, build_plan, resolve_keys
from opsrel_core.domain.replay_status import ReplayStatus
from opsrel_core.persistence.repositories.replays import ReplayRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import Replay, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import AuditActionType, audit_change, require_attribution
from opsrel_core.services.replays.errors import INVALID_REQUEST_CODE, REPLAY_ACTION, error
from opsrel_core.services.replays.partition_runs import PartitionRuns
from opsrel_core.services.replays.views import ReplayView


@retry_transient_methods
class ReplayRequests:
    """The request use cases of ``ReplayService`` (which sets ``_engine`` and ``_max_pending``)."""

    _engine: sa.Engine
    _max_pending: int

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
            runs = PartitionRuns(uow.session.connection())
            keys = _resolve(runs, ask, job_keys)
            asked = _identity_of_ask(ask, keys)
            existing = runs.replays.by_request_key(key)
            if existing is not None:
                return _same_replay(existing, asked, request_key or key)
            # Taken first, so two requests cannot both find the partitions free.
            runs.replays.serialize_requests_of_job(ask.job_id)
            existing = runs.replays.by_request_key(key)
            if existing is not None:
                return _same_replay(existing, asked, request_key or key)
            partition_writers.ensure_not_busy(ask.job_id, keys, runs.in_flight(ask.job_id, keys))
            pending = runs.replays.count_of_operator_in(ask.operator_id,
                                                        replay_limits.PENDING_STATUSES)
            replay_limits.ensure_below_limit(ask.operator_id, pending, self._max_pending)
            row = Replay(
                request_key=key, replay_type=ask.kind.upper(), job_id=ask.job_id,
                partition_start=keys[0], partition_end=keys[-1], partition_keys=list(keys),
                status=ReplayStatus.REQUESTED.value, reason=ask.reason,
                operator_id=ask.operator_id, requested_at=utcnow(),
            )
            try:
                # Added through the session: the audit record reads the new row's state through
                # it (none before, the stored columns after).
                with audit_change(
                    uow.session, operator_id=ask.operator_id, reason=ask.reason,
                    action_type=AuditActionType.BATCH_ACTION, action=REPLAY_ACTION, target=row,
                ):
                    uow.session.add(row)
                uow.commit()
            except sa.exc.IntegrityError:
                # A concurrent request with the same key committed first: it is the replay.
                uow.session.rollback()
                existing = ReplayRepository(uow.session.connection()).by_request_key(key)
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
            runs = PartitionRuns(uow.session.connection())
            return _plan(runs, ask, _resolve(runs, ask, job_keys))

    preview = plan

    def launch_plan(self, replay: ReplayView, job_keys: Sequence[str]) -> ReplayPlan:
        """The plan a recorded replay launches: its stored keys, each key's parent as of now.

        Args:
            job_keys: every key of the job in order (used for rows without stored keys).
        """
        ask = ReplayAsk(replay.replay_type.value, replay.job_id, replay.operator_id,
                        replay.reason)
        with UnitOfWork(self._engine) as uow:
            return _plan(PartitionRuns(uow.session.connection()), ask, replay.keys(job_keys))


def _resolve(runs: PartitionRuns, ask: ReplayAsk, job_keys: Sequence[str] | None
             ) -> tuple[str, ...]:
    job = runs.job(ask.job_id)
    partition_set = runs.partition_set(job)
    listed = [k for k in (*(ask.partitions or ()), ask.start, ask.end)
              if isinstance(k, str) and k.strip()]
    _check_partitions(job.job_id, partition_set, listed)
    # The registered keys order a range (never date arithmetic); an adapter's own list
    # wins when given, and every key is still checked against the catalog.
    keys = resolve_keys(ask.kind, partitions=ask.partitions, start=ask.start, end=ask.end,
                        job_keys=job_keys if job_keys is not None else partition_set.keys())
    _check_partitions(job.job_id, partition_set, keys)
    return keys


def _plan(runs: PartitionRuns, ask: ReplayAsk, keys: Sequence[str]) -> ReplayPlan:
    job = runs.job(ask.job_id)
    return build_plan(ask, keys, runs.active_executions(job, keys),
                      runs.latest_executions(ask.job_id, keys))


def _check_partitions(job_id: str, partition_set: PartitionSet, keys: Sequence[str]) -> None:
    """Refuse (``INVALID_REQUEST_CODE``) keys outside the job's partition set; reads nothing."""
    outside = partition_set.outside(keys)
    if outside:
        raise error(INVALID_REQUEST_CODE, f"partitions {outside[:5]!r} are not in the partition "
                    f"set of job {job_id!r} ({partition_set.describe()}); nothing was "
                    "recorded", {"job_id": job_id, "partitions": outside[:20]})


def _identity_of_ask(ask: ReplayAsk, keys: Sequence[str]) -> request_identity.RequestIdentity:
    return request_identity.identity(
        replay_type=ask.kind, job_id=ask.job_id, operator_id=ask.operator_id, reason=ask.reason,
        partitions=keys, partition_start=keys[0], partition_end=keys[-1])


def _same_replay(row: sa.Row, asked: request_identity.RequestIdentity, request_key: str
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
