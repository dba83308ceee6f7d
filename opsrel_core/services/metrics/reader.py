"""``OpsMetricsReader``: one ``OpsMetricsSnapshot`` of the ops schema in a handful of aggregate
queries (``opsrel_core.persistence.repositories.metrics``).

``opsrel_executions_total`` counts executions that ended (SUCCESS, FAILED, STOPPED). An ended
execution never changes again (a stop is final, a late outcome is ignored), and its
``updated_at`` is the time it ended, set once. The reader counts every ended execution once (the
first read after the process started), then adds only those whose ``updated_at`` is newer than
what it counted, minus ``settle_seconds`` for writes still in their transaction and for clocks
of other hosts (index ``updated_at``, migration 0015). Executions READY or RUNNING are the
in-flight gauge, not the counter: a counter never goes down.
"""

import collections
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.partition_health import (
    EPOCH, PartitionAttempt, cover, partition_health,
)
from opsrel_core.persistence.repositories.metrics import MetricsRepository
from opsrel_core.persistence.tables import VALIDATION_STATUSES, utcnow
from opsrel_core.services.batch_jobs import partition_set_of
from opsrel_core.services.execution_projection import IngestionStatus, ProjectionCursorStore
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.projection_failures import ProjectionFailureService

DEFAULT_SETTLE_SECONDS = 300.0

Clock = Callable[[], dt.datetime]


@dataclasses.dataclass(frozen=True)
class OpsMetricsSnapshot:
    """The values of every family at one time. Keys are label values in ``FAMILIES`` order.

    Attributes:
        taken_at: when it was read, UTC.
        read_seconds: how long the read took, seconds.
        jobs: every job of the catalog (each gets its zero series).
    """

    taken_at: dt.datetime
    read_seconds: float
    jobs: tuple[str, ...]
    executions_ended: dict[tuple[str, str, str], int]
    executions_in_flight: dict[tuple[str, str], int]
    partitions_without_active_version: dict[str, int]
    partitions_latest_attempt_failed: dict[str, int]
    alerts_open: dict[tuple[str, str], int]
    alerts_acknowledged: dict[tuple[str, str], int]
    alert_deliveries: dict[tuple[str, str], int]
    silences_active: int
    projections: tuple[IngestionStatus, ...]
    runs_set_aside: int
    data_quality_results: dict[tuple[str, str, str], int]
    replays: dict[tuple[str, str], int]


class OpsMetricsReader:
    """Reads an ``OpsMetricsSnapshot`` from the ops schema.

    Keeps the counts of ended executions between reads (see the module docstring): one reader
    per process, shared by its scrapes; ``read`` may be called from several threads.

    Args:
        engine: the ops database.
        clock: the current UTC time (injectable).
        settle_seconds: executions that ended within this many seconds of a read are counted
            again at the next one, not added to the kept counts: room for a write still in its
            transaction and for another host's clock.
    """

    def __init__(self, engine: sa.Engine, clock: Clock = utcnow,
                 settle_seconds: float = DEFAULT_SETTLE_SECONDS):
        self._engine = engine
        self._clock = clock
        self._settle = dt.timedelta(seconds=settle_seconds)
        self._lock = threading.Lock()
        self._kept: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._kept_until: dt.datetime | None = None

    def read(self) -> OpsMetricsSnapshot:
        """Read every family once.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the ops database cannot be read.
        """
        began = time.perf_counter()
        now = self._clock()
        with self._lock, self._engine.connect() as conn:
            repo = MetricsRepository(conn)
            jobs = repo.jobs()
            ended = self._ended(repo, now)
            in_flight = repo.in_flight()
            without: dict[str, int] = {}
            failed: dict[str, int] = {}
            quality: dict[tuple[str, str, str], int] = {}
            for job in jobs:
                job_id, assets = job.job_id, list(job.asset_selection or [])
                latest = _latest_attempts(conn, repo, job)
                active = repo.active_partitions(assets) if latest else set()
                without[job_id], failed[job_id] = partition_health(latest, active)
                quality.update(_latest_quality(conn, repo, job_id, assets))
            alerts = repo.live_alerts()
            deliveries = repo.delivery_backlog()
            silences = repo.active_silences(now)
            replays = repo.replays()
        projections = tuple(ProjectionCursorStore(self._engine).ingestion_status(now))
        # Each projection's status carries the set-aside count; without one, ask for it.
        set_aside = (projections[0].set_aside if projections
                     else ProjectionFailureService(self._engine).summary(now).count)
        job_ids = tuple(j[0] for j in jobs)
        return OpsMetricsSnapshot(
            taken_at=now, read_seconds=time.perf_counter() - began, jobs=job_ids,
            executions_ended=ended, executions_in_flight=in_flight,
            partitions_without_active_version=without, partitions_latest_attempt_failed=failed,
            alerts_open={k[1:]: v for k, v in alerts.items() if k[0] == "OPEN"},
            alerts_acknowledged={k[1:]: v for k, v in alerts.items() if k[0] == "ACKNOWLEDGED"},
            alert_deliveries=deliveries, silences_active=silences, projections=projections,
            runs_set_aside=set_aside, data_quality_results=quality, replays=replays,
        )

    def _ended(self, repo: MetricsRepository,
               now: dt.datetime) -> dict[tuple[str, str, str], int]:
        def count(since: dt.datetime | None,
                  until: dt.datetime | None) -> collections.Counter[tuple[str, str, str]]:
            return collections.Counter(repo.ended(since, until))  # type: ignore[arg-type]

        settled = now - self._settle
        if self._kept_until is None:
            # The one full count of the process's life.
            self._kept = count(None, settled)
            self._kept_until = settled
        elif settled > self._kept_until:
            self._kept += count(self._kept_until, settled)
            self._kept_until = settled
        return dict(self._kept + count(self._kept_until, None))


def _latest_attempts(conn: sa.Connection, repo: MetricsRepository,
                     job: sa.Row) -> dict[str, PartitionAttempt]:  # type: ignore[type-arg]
    """Every partition the job ran or tried, with its newest execution (created, then id).

    A run over a range of partitions (a single-run backfill) is an attempt at every partition
    it covers, in the job's registered key order (``partition_set_of``; the days between its
    ends for a job with no registered keys).
    """
    ranges = repo.range_runs(job.job_id)
    if not ranges:
        # Without range runs only each key's own newest execution counts, and the query found
        # it: its order against other attempts is not needed.
        return {key: PartitionAttempt(EPOCH, "", status)
                for key, status in repo.newest_per_partition(job.job_id, ordered=False)}
    latest = {key: PartitionAttempt(aware(created), execution_id, status)
              for key, status, created, execution_id
              in repo.newest_per_partition(job.job_id, ordered=True)}
    partition_set = partition_set_of(conn, job)
    for first, last, created, execution_id, status in ranges:
        attempt = PartitionAttempt(aware(created), execution_id, status)
        try:
            covered = set(partition_set.between(first, last or first))
        except ValueError:  # ends that are not keys of the set: string order, and the ends
            covered = {k for k in latest if first <= k <= (last or first)}
            covered.update([first, last or first])
        cover(latest, attempt, covered)
    return latest


def _latest_quality(conn: sa.Connection, repo: MetricsRepository, job_id: str,
                    assets: list[str]) -> dict[tuple[str, str, str], int]:
    """The rule results of the job's newest partition with results, as the partition is: each
    asset's results from the execution ``partition_state`` says describes it."""
    if not assets:
        return {}
    partition = repo.newest_checked_partition(assets)
    if partition is None:
        return {}
    with Session(bind=conn) as session:
        states = read_partition_states(session, [partition]).get(partition, {})
    current = {asset: s.current.execution_id for asset, s in states.items()
               if asset in assets and s.current is not None}
    found: dict[tuple[str, str, str], int] = {}
    if not current:
        return found
    for asset, execution_id, rule_id, status, n in repo.rule_outcomes(
            partition, sorted(set(current.values()))):
        if current.get(asset) != execution_id:
            continue
        for outcome in VALIDATION_STATUSES:
            found.setdefault((job_id, rule_id, outcome), 0)
        found[(job_id, rule_id, status)] += int(n)
    return found


def aware(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware time: a naive one (SQLite) is read as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
