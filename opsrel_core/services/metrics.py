"""What the ops schema knows, as Prometheus metrics (``GET /metrics`` of the admin API).

``OpsMetricsReader.read`` takes one ``OpsMetricsSnapshot`` with a handful of aggregate queries;
``OpsMetricsCollector`` is a prometheus-client collector serving the latest snapshot, read again
in the background every ``cache_seconds`` while it is scraped, so that a scrape does not wait
for the database. Every family is described in ``FAMILIES`` below (names
with the ``opsrel_`` prefix, ``_total`` for the counter, seconds as the unit). Labels are bounded:
job, status, error code, severity, channel, rule, outcome, projection name. Never a partition key,
run id, execution id or replay id: their number grows without bound.

A read costs tens of milliseconds at 1,000,000 executions, not seconds, and does not grow with
the executions (benchmark B10), because no query reads every execution:

- ``opsrel_executions_total`` counts executions that ended (SUCCESS, FAILED, STOPPED). An ended
  execution never changes again (a stop is final, a late outcome is ignored), and its
  ``updated_at`` is the time it ended, set once. The reader counts every ended execution once
  (the first scrape after the process started), then adds only those whose ``updated_at`` is newer
  than what it counted, minus ``settle_seconds`` for writes still in their transaction and for
  clocks of other hosts (index ``updated_at``, migration 0015). Executions READY or RUNNING are
  the in-flight gauge, not the counter: a counter never goes down.
- A job's partitions are walked one index seek each (its distinct partition keys, then each
  one's newest execution), on the index ``(job_id, partition_key, created_at, execution_id)``.
- Alerts, deliveries, replays, the projection and the data-quality results of one partition are
  small or read through indexes.
"""

import collections
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.orm import Session

from opsrel_core.config.metrics import DEFAULT_CACHE_SECONDS, MAX_CACHE_SECONDS, MetricsSettings

from opsrel_core.persistence.tables import (
    ALERT_CHANNELS, REPLAY_STATUSES, VALIDATION_STATUSES, Alert, AlertDelivery, AlertSilence,
    BatchExecution,
    BatchJob, Replay, ResultVersion, ValidationResult, ValidationRuleVersion, utcnow,
)
from opsrel_core.services.batch_jobs import partition_set_of
from opsrel_core.services.execution_projection import IngestionStatus, ProjectionCursorStore
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.projection_failures import ProjectionFailureService

ENDED = ("SUCCESS", "FAILED", "STOPPED")
IN_FLIGHT = ("READY", "RUNNING")
DELIVERY_BACKLOG = ("PENDING", "RETRY", "FAILED")
DEFAULT_SETTLE_SECONDS = 300.0

Clock = Callable[[], dt.datetime]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
log = logging.getLogger(__name__)

# name (without ``_total`` for the counter): (type, help, label names)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "opsrel_executions": (
        "counter", "Executions that ended, by job, final status and error code ('' for none), "
        "since the ops schema began.", ("job", "status", "error_code")),
    "opsrel_executions_in_flight": (
        "gauge", "Executions READY or RUNNING now, by job and status.", ("job", "status")),
    "opsrel_partitions_without_active_version": (
        "gauge", "Partitions a job has run (or tried) that have no active result version.",
        ("job",)),
    "opsrel_partitions_latest_attempt_failed": (
        "gauge", "Partitions whose latest execution FAILED while an older result version stays "
        "active.", ("job",)),
    "opsrel_alerts_open": (
        "gauge", "Open alerts by severity and error code ('' for none).",
        ("severity", "error_code")),
    "opsrel_alerts_acknowledged": (
        "gauge", "Acknowledged alerts (not yet resolved) by severity and error code.",
        ("severity", "error_code")),
    "opsrel_silences_active": (
        "gauge", "Alert silences in force now (not ended, not expired).", ()),
    "opsrel_alert_deliveries": (
        "gauge", "Alert deliveries PENDING, RETRY (waiting for the next attempt) or FAILED "
        "(given up), by channel.", ("channel", "status")),
    "opsrel_projection_lag_seconds": (
        "gauge", "How long the oldest run not yet recorded in the ops schema has waited, "
        "seconds (0 when caught up).", ("projection",)),
    "opsrel_projection_last_check_timestamp_seconds": (
        "gauge", "When the projection last read Dagster's events (Unix time, seconds).",
        ("projection",)),
    "opsrel_projection_runs_set_aside": (
        "gauge", "Runs whose projection raised, set aside and retried with backoff.", ()),
    "opsrel_data_quality_results": (
        "gauge", "Rule results of each job's latest partition (the execution that made its "
        "active version, else its latest attempt), by rule and outcome.",
        ("job", "rule", "outcome")),
    "opsrel_replays": ("gauge", "Replays by job and status.", ("job", "status")),
    "opsrel_metrics_read_duration_seconds": (
        "gauge", "How long the last read of these metrics from the ops schema took, seconds.", ()),
    "opsrel_metrics_read_timestamp_seconds": (
        "gauge", "When these metrics were read from the ops schema (Unix time, seconds).", ()),
}


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


@dataclasses.dataclass(frozen=True)
class PartitionAttempt:
    """The newest execution of one partition: its order (created, id) and status."""

    created_at: dt.datetime
    execution_id: str
    status: str


def partition_health(
    latest: Mapping[str, PartitionAttempt], active: Iterable[str]
) -> tuple[int, int]:
    """Count a job's partitions without an active version, and those whose latest attempt
    FAILED while an older version stays active.

    Args:
        latest: every partition the job ran or tried, with its newest execution.
        active: the partitions with an active result version of one of the job's assets.

    Returns:
        ``(without_active_version, latest_attempt_failed)``.
    """
    have = set(active)
    without = sum(1 for key in latest if key not in have)
    failed = sum(1 for key, a in latest.items() if key in have and a.status == "FAILED")
    return without, failed


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
            jobs = conn.execute(sa.select(BatchJob.__table__).order_by(BatchJob.job_id)).all()
            ended = self._ended(conn, now)
            in_flight = _counts(conn, sa.select(
                BatchExecution.job_id, BatchExecution.status, sa.func.count())
                .where(BatchExecution.status.in_(IN_FLIGHT))
                .group_by(BatchExecution.job_id, BatchExecution.status))
            without: dict[str, int] = {}
            failed: dict[str, int] = {}
            quality: dict[tuple[str, str, str], int] = {}
            for job in jobs:
                job_id, assets = job.job_id, list(job.asset_selection or [])
                latest = _latest_attempts(conn, job)
                active = _active_partitions(conn, assets) if latest else set()
                without[job_id], failed[job_id] = partition_health(latest, active)
                quality.update(_latest_quality(conn, job_id, assets))
            alerts = _counts(conn, sa.select(
                Alert.status, Alert.severity, Alert.error_code, sa.func.count())
                .where(Alert.status.in_(("OPEN", "ACKNOWLEDGED")))
                .group_by(Alert.status, Alert.severity, Alert.error_code))
            deliveries = _counts(conn, sa.select(
                AlertDelivery.channel, AlertDelivery.status, sa.func.count())
                .where(AlertDelivery.status.in_(DELIVERY_BACKLOG))
                .group_by(AlertDelivery.channel, AlertDelivery.status))
            silences = conn.scalar(
                sa.select(sa.func.count()).select_from(AlertSilence)
                .where(AlertSilence.ended_at.is_(None), AlertSilence.expires_at > now)) or 0
            replays = _counts(conn, sa.select(Replay.job_id, Replay.status, sa.func.count())
                              .group_by(Replay.job_id, Replay.status))
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
            alert_deliveries=deliveries, silences_active=silences, projections=projections, runs_set_aside=set_aside,
            data_quality_results=quality, replays=replays,
        )

    def _ended(self, conn: sa.Connection, now: dt.datetime) -> dict[tuple[str, str, str], int]:
        e = BatchExecution

        def count(*where: sa.ColumnElement[bool]) -> collections.Counter[tuple[str, str, str]]:
            rows = conn.execute(sa.select(e.job_id, e.status, e.error_code, sa.func.count())
                                .where(e.status.in_(ENDED), *where)
                                .group_by(e.job_id, e.status, e.error_code))
            return collections.Counter({(j, s, c or ""): n for j, s, c, n in rows})

        settled = now - self._settle
        if self._kept_until is None:
            # The one full count of the process's life.
            self._kept = count(e.updated_at < settled)
            self._kept_until = settled
        elif settled > self._kept_until:
            self._kept += count(e.updated_at >= self._kept_until, e.updated_at < settled)
            self._kept_until = settled
        return dict(self._kept + count(e.updated_at >= self._kept_until))


def _counts(conn: sa.Connection, stmt: sa.Select) -> dict:  # type: ignore[type-arg]
    # A NULL label (an alert without an error code) is the empty label value.
    return {tuple("" if v is None else v for v in row[:-1]): int(row[-1])
            for row in conn.execute(stmt)}


def _latest_attempts(conn: sa.Connection, job: sa.Row) -> dict[str, PartitionAttempt]:  # type: ignore[type-arg]
    """Every partition the job ran or tried, with its newest execution (created, then id).

    The distinct keys are walked by a recursive query, one index seek per key (the next key
    after the last), and each key's newest execution is one more; a run over a range of
    partitions (a single-run backfill) is an attempt at every partition it covers, in the
    job's registered key order (``partition_set_of``; the days between its ends for a job with
    no registered keys).
    """
    job_id = job.job_id
    e, e2 = BatchExecution.__table__, BatchExecution.__table__.alias("e2")
    start = sa.select(sa.func.min(e.c.partition_key).label("k")).where(e.c.job_id == job_id)
    keys = start.cte("partition_keys", recursive=True)
    following = (sa.select(sa.func.min(e2.c.partition_key))
                 .where(e2.c.job_id == job_id, e2.c.partition_key > keys.c.k).scalar_subquery())
    keys = keys.union_all(sa.select(following).select_from(keys).where(keys.c.k.is_not(None)))

    def newest(column: sa.Column) -> sa.ScalarSelect:  # type: ignore[type-arg]
        return (sa.select(column).where(e2.c.job_id == job_id, e2.c.partition_key == keys.c.k)
                .order_by(e2.c.created_at.desc(), e2.c.execution_id.desc()).limit(1)
                .scalar_subquery())

    ranges = conn.execute(sa.select(
        e.c.partition_range_start, e.c.partition_range_end, e.c.created_at, e.c.execution_id,
        e.c.status).where(e.c.job_id == job_id, e.c.partition_key.is_(None),
                          e.c.partition_range_start.is_not(None))).all()
    walk = sa.select(keys.c.k, newest(e2.c.status)).select_from(keys).where(keys.c.k.is_not(None))
    if not ranges:
        # Without range runs only each key's own newest execution counts, and the query found
        # it: its order against other attempts is not needed.
        return {key: PartitionAttempt(_EPOCH, "", status) for key, status in conn.execute(walk)}
    latest: dict[str, PartitionAttempt] = {}
    walk = walk.add_columns(newest(e2.c.created_at), newest(e2.c.execution_id))
    for key, status, created, execution_id in conn.execute(walk):
        latest[key] = PartitionAttempt(_aware(created), execution_id, status)
    partition_set = partition_set_of(conn, job)
    for first, last, created, execution_id, status in ranges:
        attempt = PartitionAttempt(_aware(created), execution_id, status)
        try:
            covered = set(partition_set.between(first, last or first))
        except ValueError:  # ends that are not keys of the set: string order, and the ends
            covered = {k for k in latest if first <= k <= (last or first)}
            covered.update([first, last or first])
        for key in covered:
            seen = latest.get(key)
            if seen is None or (attempt.created_at, attempt.execution_id) > (
                    seen.created_at, seen.execution_id):
                latest[key] = attempt
    return latest


def _active_partitions(conn: sa.Connection, assets: list[str]) -> set[str]:
    if not assets:
        return set()
    rv = ResultVersion
    return set(conn.scalars(sa.select(rv.partition_key).distinct()
                            .where(rv.is_active.is_(True), rv.asset_key.in_(assets))))


def _latest_quality(conn: sa.Connection, job_id: str, assets: list[str]
                    ) -> dict[tuple[str, str, str], int]:
    """The rule results of the job's newest partition with results, as the partition is: each
    asset's results from the execution ``partition_state`` says describes it."""
    if not assets:
        return {}
    vr, rv = ValidationResult, ValidationRuleVersion
    partition = conn.scalar(sa.select(sa.func.max(vr.partition_key))
                            .where(vr.asset_key.in_(assets)))
    if partition is None:
        return {}
    with Session(bind=conn) as session:
        states = read_partition_states(session, [partition]).get(partition, {})
    current = {asset: s.current.execution_id for asset, s in states.items()
               if asset in assets and s.current is not None}
    found: dict[tuple[str, str, str], int] = {}
    if not current:
        return found
    rows = conn.execute(
        sa.select(vr.asset_key, vr.execution_id, rv.rule_id, vr.status, sa.func.count())
        .join(rv, rv.rule_version_id == vr.rule_version_id)
        .where(vr.partition_key == partition,
               vr.execution_id.in_(sorted(set(current.values()))))
        .group_by(vr.asset_key, vr.execution_id, rv.rule_id, vr.status))
    for asset, execution_id, rule_id, status, n in rows:
        if current.get(asset) != execution_id:
            continue
        for outcome in VALIDATION_STATUSES:
            found.setdefault((job_id, rule_id, outcome), 0)
        found[(job_id, rule_id, status)] += int(n)
    return found


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def _unix(value: dt.datetime) -> float:
    return _aware(value).timestamp()


class OpsMetricsCollector(Collector):
    """A prometheus-client collector of the ops schema's families, read ahead of the scrapes.

    While the collector is scraped, a background thread reads the snapshot again every
    ``cache_seconds``, so a scrape serves the latest read and does not wait for the database.
    The first scrape reads itself, and so does a scrape that finds the latest read older than
    ``2 * cache_seconds + 5`` (the thread failed): an unreadable database fails the scrape
    rather than serving old numbers. The thread ends after ``idle_seconds`` without a scrape
    and starts again with the next one. With ``cache_seconds`` 0 every scrape reads, no thread.

    Args:
        reader: reads the snapshot.
        cache_seconds: how old the served read may be, seconds.
        monotonic: the clock of the reads' age (injectable).
        idle_seconds: the background thread ends after this long without a scrape (default
            ``max(60, 10 * cache_seconds)``).
    """

    def __init__(self, reader: OpsMetricsReader, cache_seconds: float = DEFAULT_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 idle_seconds: float | None = None):
        self._reader = reader
        self._cache_seconds = cache_seconds
        self._stale_after = 2 * cache_seconds + 5
        self._idle = idle_seconds if idle_seconds is not None else max(60.0, 10 * cache_seconds)
        self._monotonic = monotonic
        self._lock = threading.Lock()  # guards the fields below; never held while reading
        self._read_lock = threading.Lock()  # one read by a scrape at a time
        self._snapshot: OpsMetricsSnapshot | None = None
        self._read_at = 0.0
        self._scraped_at = 0.0
        self._refresher: threading.Thread | None = None
        self._closed = threading.Event()

    def close(self) -> None:
        """Stop reading in the background (the application shuts down); scrapes after this
        read themselves."""
        self._closed.set()
        with self._lock:
            refresher = self._refresher
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join(timeout=30)

    def snapshot(self) -> OpsMetricsSnapshot:
        """The latest read, or a new one when there is none yet or it is stale (see above).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the scrape had to read and the ops database could
                not be read.
        """
        with self._lock:
            self._scraped_at = self._monotonic()
            if self._usable(self._stale_after):
                self._start_refresher()
                assert self._snapshot is not None
                return self._snapshot
        with self._read_lock:
            with self._lock:
                if self._usable(self._cache_seconds):  # another scrape read meanwhile
                    assert self._snapshot is not None
                    return self._snapshot
            snapshot = self._reader.read()
            with self._lock:
                self._snapshot, self._read_at = snapshot, self._monotonic()
                self._start_refresher()
            return snapshot

    def _usable(self, max_age: float) -> bool:
        return (self._cache_seconds > 0 and self._snapshot is not None
                and self._monotonic() - self._read_at < max_age)

    def _start_refresher(self) -> None:
        if self._cache_seconds > 0 and self._refresher is None and not self._closed.is_set():
            self._refresher = threading.Thread(target=self._refresh, daemon=True,
                                               name="opsrel-metrics-refresh")
            self._refresher.start()

    def _refresh(self) -> None:
        while True:
            with self._lock:
                wait = self._read_at + self._cache_seconds - self._monotonic()
            if wait > 0 and self._closed.wait(wait):
                break
            with self._lock:
                if self._closed.is_set() or self._monotonic() - self._scraped_at > self._idle:
                    self._refresher = None  # nobody scrapes: stop reading
                    return
            try:
                snapshot = self._reader.read()
            except Exception:  # the next scrape, once the read is stale, reads and fails
                log.warning("reading the metrics from the ops schema failed", exc_info=True)
                with self._lock:
                    self._refresher = None
                return
            with self._lock:
                self._snapshot, self._read_at = snapshot, self._monotonic()
        with self._lock:
            self._refresher = None

    def describe(self) -> Iterable[Metric]:
        """No description: registering the collector must not read the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every family of ``FAMILIES`` from the cached snapshot (zero series for each job and
        each status of a bounded set, so that a series does not vanish when its count is 0)."""
        s = self.snapshot()
        families = {name: _family(name) for name in FAMILIES}

        def add(name: str, values: Mapping, keys: Iterable = ()) -> None:  # type: ignore[type-arg]
            merged = {**{k: 0 for k in keys}, **values}
            for labels, value in sorted(merged.items()):
                labels = labels if isinstance(labels, tuple) else (labels,)
                families[name].add_metric(list(labels), float(value))

        # A failed or stopped execution always carries its error code: only SUCCESS has a
        # series that exists before the first one ended.
        add("opsrel_executions", s.executions_ended, [(j, "SUCCESS", "") for j in s.jobs])
        add("opsrel_executions_in_flight", s.executions_in_flight,
            [(j, status) for j in s.jobs for status in IN_FLIGHT])
        add("opsrel_partitions_without_active_version", s.partitions_without_active_version,
            s.jobs)
        add("opsrel_partitions_latest_attempt_failed", s.partitions_latest_attempt_failed, s.jobs)
        add("opsrel_alerts_open", s.alerts_open)
        add("opsrel_alerts_acknowledged", s.alerts_acknowledged)
        add("opsrel_alert_deliveries", s.alert_deliveries,
            [(c, status) for c in ALERT_CHANNELS for status in DELIVERY_BACKLOG])
        families["opsrel_silences_active"].add_metric([], float(s.silences_active))
        for p in s.projections:
            families["opsrel_projection_lag_seconds"].add_metric([p.name], p.lag_seconds)
            families["opsrel_projection_last_check_timestamp_seconds"].add_metric(
                [p.name], _unix(p.checked_at))
        families["opsrel_projection_runs_set_aside"].add_metric([], float(s.runs_set_aside))
        add("opsrel_data_quality_results", s.data_quality_results)
        add("opsrel_replays", s.replays,
            [(j, status) for j in s.jobs for status in REPLAY_STATUSES])
        families["opsrel_metrics_read_duration_seconds"].add_metric([], s.read_seconds)
        families["opsrel_metrics_read_timestamp_seconds"].add_metric([], _unix(s.taken_at))
        yield from families.values()


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    kind, text, labels = FAMILIES[name]
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return cls(name, text, labels=list(labels))


def make_registry(engine: sa.Engine, settings: MetricsSettings | None = None
                  ) -> tuple[CollectorRegistry, OpsMetricsCollector]:
    """A registry holding only the ops schema's collector (no process or platform metrics, so
    that every family is opsrel's own), and that collector (``close`` it at shutdown). Render
    the registry with ``prometheus_client.generate_latest``."""
    settings = settings or MetricsSettings()
    registry = CollectorRegistry(auto_describe=False)
    collector = OpsMetricsCollector(OpsMetricsReader(engine), settings.cache_seconds)
    registry.register(collector)
    return registry, collector
