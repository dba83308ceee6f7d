"""The families ``GET /metrics`` serves, and how it is served (``MetricsSettings``).

Names carry the ``opsrel_`` prefix, ``_total`` for the counter, seconds as the unit. Labels are
bounded: job, status, error code, severity, channel, rule, outcome, projection name. Never a
partition key, run id, execution id or replay id: their number grows without bound.
"""

from opsrel_core.config.metrics import (  # noqa: F401 - served from here too
    DEFAULT_CACHE_SECONDS, MAX_CACHE_SECONDS, MetricsSettings,
)

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
