"""What the ops schema knows, as Prometheus metrics (``GET /metrics`` of the admin API).

``OpsMetricsReader.read`` (``reader``) takes one ``OpsMetricsSnapshot`` with a handful of
aggregate queries (``opsrel_core.persistence.repositories.metrics``); ``OpsMetricsCollector``
(``collector``) is a prometheus-client collector serving the latest snapshot, read again
in the background every ``cache_seconds`` while it is scraped, so that a scrape does not wait
for the database. Every family is described in ``FAMILIES`` (``families``) (names
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

The modules: ``families`` (what is served, and ``MetricsSettings``: how), ``reader`` (the
snapshot and ``OpsMetricsReader``), ``collector`` (``OpsMetricsCollector`` and
``make_registry``). A partition's newest attempt and the partition counts are the pure rule
``opsrel_core.domain.partition_health``; the SQL is
``opsrel_core.persistence.repositories.metrics``.
"""

from opsrel_core.domain.partition_health import PartitionAttempt, partition_health
from opsrel_core.persistence.repositories.metrics import DELIVERY_BACKLOG, ENDED, IN_FLIGHT
from opsrel_core.services.metrics.collector import OpsMetricsCollector, make_registry
from opsrel_core.services.metrics.families import (
    DEFAULT_CACHE_SECONDS, FAMILIES, MAX_CACHE_SECONDS, MetricsSettings,
)
from opsrel_core.services.metrics.reader import (
    DEFAULT_SETTLE_SECONDS, Clock, OpsMetricsReader, OpsMetricsSnapshot,
)

__all__ = [
    "DEFAULT_CACHE_SECONDS", "DEFAULT_SETTLE_SECONDS", "DELIVERY_BACKLOG", "ENDED", "FAMILIES",
    "IN_FLIGHT", "MAX_CACHE_SECONDS", "Clock", "MetricsSettings", "OpsMetricsCollector",
    "OpsMetricsReader", "OpsMetricsSnapshot", "PartitionAttempt", "make_registry",
    "partition_health",
]
