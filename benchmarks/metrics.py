"""B10: a Prometheus scrape of ``GET /metrics`` at N executions on PostgreSQL.

The ops schema is filled in the database: N executions as B4 makes them (day ``i mod 365``, 1 in
97 failed, 1 in 991 stopped), ended long ago; 300 more that ended within the last five minutes
(the counters' unsettled window); active result versions of the seven flights assets for each
day's newest successful execution; 8 rule results for each day's 10 newest executions; an alert
for every failed execution (most resolved, some open or acknowledged) with its email and Slack
deliveries; a replay per 1,000 executions; a projection cursor and a few runs set aside.

The figure is the p99 of a scrape over HTTP (a live API server on loopback, a viewer token,
``prometheus_client`` text format) with the default settings: the metrics are read ahead every
5 s in the background while scraped. Also measured: a scrape that reads the ops schema itself
(cache 0), the reader alone, the process's first read (the one full count of ended executions),
and the plain ``GROUP BY`` over every execution that the counters avoid. No baseline (absolute).
"""

import json
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from benchmarks.api import generate
from benchmarks.common import Figure, pg_database, summary, upgrade_and_register
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.metrics import MetricsSettings, OpsMetricsReader

ASSETS = ("raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
          "ontime_performance", "delay_explanation", "delay_simulation")
RULES = 8

WORLD = [
    # executions that ended within the last five minutes
    """INSERT INTO ops.batch_execution (execution_id, job_id, status, trigger_type, partition_key,
        run_tags, steps_total, steps_done, rows_written, created_at, started_at, ended_at,
        updated_at)
    SELECT 'recent-' || g, 'flights_daily', 'SUCCESS', 'SENSOR',
        to_char(DATE '2013-01-01' + CAST(g % 365 AS integer), 'YYYY-MM-DD'), '{}'::jsonb,
        15, 15, 1000,
        now() - g * interval '1 second', now() - g * interval '1 second',
        now() - g * interval '1 second', now() - g * interval '1 second'
    FROM generate_series(1, 300) AS g""",
    # active versions: each day's newest successful execution
    f"""INSERT INTO ops.result_version (asset_key, partition_key, version_number, execution_id,
        content_hash, row_count, is_active, created_at)
    SELECT a.asset, e.partition_key, 1, e.execution_id, 'sha256:' || md5(e.execution_id), 1000,
        true, e.created_at
    FROM (SELECT DISTINCT ON (partition_key) partition_key, execution_id, created_at
          FROM ops.batch_execution WHERE status = 'SUCCESS'
          ORDER BY partition_key, created_at DESC, execution_id DESC) e
    CROSS JOIN (VALUES {", ".join(f"('{a}')" for a in ASSETS)}) AS a(asset)""",
    f"""INSERT INTO ops.validation_rule (rule_id, asset_key, severity, description, created_at)
    SELECT 'rule_' || r, 'clean_flights', CASE WHEN r % 2 = 0 THEN 'FAIL' ELSE 'WARN' END,
        'benchmark rule', now() FROM generate_series(1, {RULES}) AS r""",
    """INSERT INTO ops.validation_rule_version (rule_id, version_hash, definition, created_at)
    SELECT rule_id, md5(rule_id), '{}'::jsonb, now() FROM ops.validation_rule""",
    # 8 rule results for each day's 10 newest executions
    """INSERT INTO ops.validation_result (execution_id, rule_version_id, asset_key, partition_key,
        status, total_rows, failing_rows, created_at)
    SELECT e.execution_id, v.rule_version_id, 'clean_flights', e.partition_key,
        CASE WHEN e.status = 'FAILED' AND v.rule_version_id % 2 = 0 THEN 'FAIL'
             WHEN v.rule_version_id % 3 = 0 THEN 'WARN' ELSE 'PASS' END, 1000, 0, e.created_at
    FROM (SELECT execution_id, partition_key, status, created_at, row_number() OVER (
              PARTITION BY partition_key ORDER BY created_at DESC) AS n
          FROM ops.batch_execution) e
    CROSS JOIN ops.validation_rule_version v WHERE e.n <= 10""",
    # an alert per failed execution: every 50th open, every 70th acknowledged, the rest resolved
    """INSERT INTO ops.alert (event_kind, severity, status, dedupe_key, error_code, job_id,
        execution_id, partition_key, title, message, occurrence_count, first_seen_at,
        last_seen_at)
    SELECT 'execution_failed', 'ERROR',
        CASE WHEN n % 50 = 0 THEN 'OPEN' WHEN n % 70 = 0 THEN 'ACKNOWLEDGED' ELSE 'RESOLVED' END,
        'execution_failed:' || n, e.error_code, e.job_id, e.execution_id, e.partition_key,
        'failed', 'failed', 1, e.ended_at, e.ended_at
    FROM (SELECT *, row_number() OVER (ORDER BY execution_id) AS n FROM ops.batch_execution
          WHERE status = 'FAILED') e""",
    """INSERT INTO ops.alert_delivery (alert_id, channel, status, attempts, next_attempt_at,
        created_at)
    SELECT a.alert_id, c.channel,
        CASE WHEN a.status = 'OPEN' AND a.alert_id % 3 = 0 THEN 'RETRY'
             WHEN a.status = 'OPEN' THEN 'PENDING'
             WHEN a.alert_id % 101 = 0 THEN 'FAILED' ELSE 'SENT' END, 1, now(), now()
    FROM ops.alert a CROSS JOIN (VALUES ('EMAIL'), ('SLACK')) AS c(channel)""",
    """INSERT INTO ops.replay (request_key, replay_type, job_id, partition_start, partition_end,
        status, reason, operator_id, requested_at)
    SELECT 'bench-' || g, 'SINGLE', 'flights_daily',
        to_char(DATE '2013-01-01' + CAST(g % 365 AS integer), 'YYYY-MM-DD'),
        to_char(DATE '2013-01-01' + CAST(g % 365 AS integer), 'YYYY-MM-DD'),
        CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'SUCCESS' END, 'benchmark', 'op', now()
    FROM generate_series(1, CAST(:replays AS bigint)) AS g""",
    """INSERT INTO ops.projection_cursor (name, cursor, updated_at, oldest_pending_at)
    VALUES ('dagster_run_status_changes', '123456', now(), now() - interval '20 seconds')""",
    """INSERT INTO ops.projection_failure (run_id, attempts, error_code, error_message,
        first_failed_at, last_failed_at, next_attempt_at, alerted)
    SELECT 'lost-' || g, 2, 'SYS-002', 'database unreachable', now() - interval '1 hour',
        now(), now() + interval '1 minute', false FROM generate_series(1, 3) AS g""",
]

NAIVE = ("SELECT job_id, status, error_code, count(*) FROM ops.batch_execution "
         "WHERE status IN ('SUCCESS', 'FAILED', 'STOPPED') GROUP BY 1, 2, 3")


def fill(url: str, count: int) -> float:
    """Generate the ops schema described above; returns seconds taken."""
    began = time.perf_counter()
    generate(url, count)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for statement in WORLD:
            conn.execute(sa.text(statement), {"replays": max(1, count // 1000)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - began


def _serve(url: str, home: Path, cache_seconds: float):  # type: ignore[no-untyped-def]
    import uvicorn

    from opsrel_core.entrypoints.api import create_app
    from opsrel_core.config import OpsSettings
    app = create_app(OpsSettings(database_url=url, home=home))
    app.state.metrics_settings = MetricsSettings(cache_seconds=cache_seconds)
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("B10: the API server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/metrics"


def _scrapes(endpoint: str, token: str, samples: int, pause: float) -> tuple[list[float], bytes]:
    times, body = [], b""
    request = urllib.request.Request(endpoint, headers={"Authorization": f"Bearer {token}"})
    for i in range(samples + 3):  # three warm-up scrapes (the first makes the full count)
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as resp:
            body = resp.read()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
        time.sleep(pause)
    return times, body


def b10(count: int, samples: int) -> Figure:
    """B10 at ``count`` executions; ``samples`` timed scrapes per leg.

    Target: p99 of a scrape with the default settings <= 20 ms.
    """
    from opsrel_core.services.api_tokens import ApiTokenService

    with pg_database() as url, tempfile.TemporaryDirectory(prefix="opsrel-b10-") as tmp:
        upgrade_and_register(url)
        fill_s = fill(url, count)
        engine = make_engine(url)
        token = ApiTokenService(engine).create(
            "prometheus", "viewer", by="benchmark", reason="scrape benchmark")[0]
        reader = OpsMetricsReader(engine)
        t0 = time.perf_counter()
        first = reader.read()
        first_ms = (time.perf_counter() - t0) * 1000
        reads = []
        for _ in range(samples):
            t0 = time.perf_counter()
            reader.read()
            reads.append((time.perf_counter() - t0) * 1000)
        with engine.connect() as conn:
            naive = []
            for _ in range(5):
                t0 = time.perf_counter()
                conn.execute(sa.text(NAIVE)).all()
                naive.append((time.perf_counter() - t0) * 1000)
            executions = conn.scalar(sa.text("SELECT count(*) FROM ops.batch_execution"))
        legs = {}
        # default: the settings' 5 s, read ahead in the background while the scrapes (50 ms
        # apart, so that background reads happen among them) are served; each_scrape: cache 0,
        # every scrape reads the ops schema itself.
        for leg, cache, pause in (("default", 5.0, 0.05), ("each_scrape", 0.0, 0.0)):
            server, thread, endpoint = _serve(url, Path(tmp), cache)
            try:
                times, body = _scrapes(endpoint, token, samples, pause)
            finally:
                server.should_exit = True
                thread.join(timeout=30)
            legs[leg] = {"ms": summary(times), "bytes": len(body),
                         "series": sum(1 for line in body.splitlines()
                                       if line and not line.startswith(b"#"))}
        engine.dispose()
    ended = sum(first.executions_ended.values())
    if ended != executions:
        raise RuntimeError(f"B10: the counters saw {ended} ended executions of {executions}")
    stats = legs["default"]["ms"]
    return Figure(
        "B10", "GET /metrics scrape (HTTP, viewer token, default settings: reads made ahead "
        "every 5 s) p99 on PG",
        stats["p99"], "ms", "<=", 20.0, stats, None,
        sizes={"executions": executions, "samples": samples, "fill_s": round(fill_s, 1)},
        details={"scrape_reading_ms": legs["each_scrape"]["ms"], "reader_ms": summary(reads),
                 "first_read_ms": round(first_ms, 1), "naive_group_by_ms": summary(naive),
                 "series": legs["default"]["series"], "bytes": legs["default"]["bytes"],
                 "partitions_without_active_version":
                     first.partitions_without_active_version,
                 "partitions_latest_attempt_failed": first.partitions_latest_attempt_failed,
                 "path": "GET /metrics -> opsrel_core.services.metrics.OpsMetricsCollector"},
    )


if __name__ == "__main__":  # pragma: no cover - manual run
    print(json.dumps(b10(20_000, 20).as_json(), indent=1, default=str))
