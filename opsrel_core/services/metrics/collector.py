"""``OpsMetricsCollector``: a prometheus-client collector serving the latest snapshot, read
again in the background every ``cache_seconds`` while it is scraped, so that a scrape does not
wait for the database; ``make_registry`` builds the registry ``GET /metrics`` renders.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from opsrel_core.persistence.repositories.metrics import DELIVERY_BACKLOG, IN_FLIGHT
from opsrel_core.persistence.tables import ALERT_CHANNELS, REPLAY_STATUSES
from opsrel_core.services.metrics.families import (
    DEFAULT_CACHE_SECONDS, FAMILIES, MetricsSettings,
)
from opsrel_core.services.metrics.reader import OpsMetricsReader, OpsMetricsSnapshot, aware

log = logging.getLogger(__name__)


def _unix(value: dt.datetime) -> float:
    return aware(value).timestamp()


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
