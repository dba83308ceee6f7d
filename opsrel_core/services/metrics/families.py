"""The families ``GET /metrics`` serves, and how it is served (``MetricsSettings``).

Names carry the ``opsrel_`` prefix, ``_total`` for the counter, seconds as the unit. Labels are
bounded: job, status, error code, severity, channel, rule, outcome, projection name. Never a
partition key, run id, execution id or replay id: their number grows without bound.
"""

import dataclasses
import os
from collections.abc import Mapping

DEFAULT_CACHE_SECONDS = 5.0
MAX_CACHE_SECONDS = 3600.0

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
class MetricsSettings:
    """How ``GET /metrics`` is served.

    Attributes:
        cache_seconds: how old the read a scrape serves may be: while scraped, the metrics are
            read again every this many seconds in the background (``OPSREL_METRICS_CACHE_SECONDS``,
            default 5, at most 3600; 0 reads on every scrape, in the scrape).
        require_token: scrapes need an API token of role viewer or above
            (``OPSREL_METRICS_AUTH=viewer``, the default); ``OPSREL_METRICS_AUTH=none`` serves
            them without one, for a server bound to a private address only.
    """

    cache_seconds: float = DEFAULT_CACHE_SECONDS
    require_token: bool = True

    def __post_init__(self) -> None:
        # At most an hour: a longer wait (``inf``, ``1e10``) overflows the background reader's
        # timer, which then dies and leaves the first read served as fresh for ever.
        if not 0 <= self.cache_seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"OPSREL_METRICS_CACHE_SECONDS must be 0..{MAX_CACHE_SECONDS:g}, "
                             f"got {self.cache_seconds}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "MetricsSettings":
        """Read ``OPSREL_METRICS_CACHE_SECONDS`` and ``OPSREL_METRICS_AUTH`` (viewer|none).

        Raises:
            ValueError: a value that is not a number 0..3600, or an unknown auth mode.
        """
        env = os.environ if environ is None else environ
        raw = (env.get("OPSREL_METRICS_CACHE_SECONDS") or "").strip()
        try:
            cache = float(raw) if raw else DEFAULT_CACHE_SECONDS
        except ValueError:
            raise ValueError(
                f"OPSREL_METRICS_CACHE_SECONDS must be a number, got {raw!r}") from None
        mode = (env.get("OPSREL_METRICS_AUTH") or "viewer").strip().lower()
        if mode not in ("viewer", "none"):
            raise ValueError(f"OPSREL_METRICS_AUTH must be viewer or none, got {mode!r}")
        return cls(cache_seconds=cache, require_token=mode == "viewer")
