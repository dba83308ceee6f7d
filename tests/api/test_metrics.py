"""``GET /metrics`` of a live API server, on SQLite and PostgreSQL: every family's values against
the ops schema, after a run that failed, a replay, open and acknowledged alerts, a run in flight,
a range run, a set-aside run and rule results; bounded labels; the token; the cache; and the
execution counters kept between reads."""

import datetime as dt
import threading
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from opsrel_core.config import AlertSettings, Secret
from opsrel_core.persistence.tables import (
    Alert, AlertDelivery, BatchExecution, Replay, ResultVersion, utcnow,
)
from opsrel_core.services.alert_silences import SilenceService
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.execution_projection import ProjectionCursorStore
from opsrel_core.services.metrics import FAMILIES, OpsMetricsCollector, OpsMetricsReader
from opsrel_core.services.projection_failures import ProjectionFailureService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.quality import ValidationService

JOB = "flights_daily"
BOUNDED_LABELS = {"job", "status", "error_code", "severity", "channel", "rule", "outcome",
                  "projection"}
PROJECTION = "dagster_run_status_changes"


def _scrape(api, token: str | None = "viewer") -> tuple[int, str, dict[str, str]]:
    headers = {} if token is None else {"Authorization": f"Bearer {api.tokens.get(token, token)}"}
    request = urllib.request.Request(api.base + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{sample name: {sorted labels: value}}`` from the text exposition."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def _run(engine, execution_id, *, partition=None, ends=None, code=None, at, replay_id=None,
         parent=None, span=None):
    service = BatchExecutionService(engine)
    service.register_execution(ExecutionSpec(
        execution_id=execution_id, job_id=JOB, partition_key=partition, partition_range=span,
        replay_id=replay_id, parent_execution_id=parent,
        trigger_type="REPLAY" if replay_id else "MANUAL",
        operator_id="alice" if replay_id else None), at=at)
    if ends is None:
        return
    service.start_execution(execution_id, at=at + dt.timedelta(seconds=1))
    if ends == "SUCCESS":
        service.complete_execution(execution_id, at=at + dt.timedelta(seconds=5))
    else:
        service.fail_execution(execution_id, code, error_message="landing folder unavailable",
                               at=at + dt.timedelta(seconds=5))


def _world(engine) -> dict[str, object]:
    """The ops schema after a day that succeeded, a day that failed (alerted), a replay of the
    good day that failed its rules, a range run, a run in flight and a set-aside run."""
    t0 = utcnow() - dt.timedelta(hours=1)
    settings = AlertSettings(slack_webhook_url=Secret("http://127.0.0.1:9/hook"))
    alerts = OpsAlertService(engine, settings)
    versions = ResultVersionService(engine)
    rules = ValidationService(engine)
    unique = rules.register_rule("flight_key_unique", "clean_flights", "FAIL", "one row a flight",
                                 {"columns": ["flight"]})
    late = rules.register_rule("arrival_delay_bound", "clean_flights", "WARN", "delays < 10 h",
                               {"max": 600})

    _run(engine, "run-good", partition="2013-01-01", ends="SUCCESS", at=t0)
    for asset in ("clean_flights", "ontime_performance"):
        versions.create_version(asset_key=asset, partition_key="2013-01-01",
                                execution_id="run-good", content_hash=f"sha256:{asset}",
                                row_count=842, storage_uri=None)
    versions.activate_execution_versions("run-good")
    rules.record_result(execution_id="run-good", rule_version_id=unique.rule_version_id,
                        asset_key="clean_flights", partition_key="2013-01-01", status="PASS")
    rules.record_result(execution_id="run-good", rule_version_id=late.rule_version_id,
                        asset_key="clean_flights", partition_key="2013-01-01", status="WARN")

    _run(engine, "run-bad", partition="2013-01-02", ends="FAILED", code="EXT-001",
         at=t0 + dt.timedelta(minutes=1))
    failed = BatchExecutionService(engine).get_execution("run-bad")
    open_alert = alerts.raise_for_failed_execution(failed)
    seen = alerts.send_alert("execution_failed", severity="WARNING", title="earlier",
                             message="an earlier failure", error_code="INP-001", job_id=JOB,
                             dedupe_key="earlier")
    alerts.acknowledge_alert(seen.alert_id, operator_id="bob", reason="known, file re-sent")

    replay = ReplayService(engine).replay_single(
        job_id=JOB, partition_key="2013-01-01", operator_id="alice", reason="carrier file fixed")
    _run(engine, "run-replay", partition="2013-01-01", ends="FAILED", code="DQ-001",
         at=t0 + dt.timedelta(minutes=2), replay_id=replay.replay_id, parent="run-good")
    rules.record_result(execution_id="run-replay", rule_version_id=unique.rule_version_id,
                        asset_key="clean_flights", partition_key="2013-01-01", status="FAIL")

    _run(engine, "run-range", span=("2013-01-04", "2013-01-05"), ends="SUCCESS",
         at=t0 + dt.timedelta(minutes=3))
    _run(engine, "run-now", partition="2013-01-03", at=t0 + dt.timedelta(minutes=4))
    BatchExecutionService(engine).start_execution("run-now", at=t0 + dt.timedelta(minutes=4))

    store = ProjectionCursorStore(engine)
    store.set(PROJECTION, "1234")
    store.record_backlog(PROJECTION, utcnow() - dt.timedelta(seconds=90))
    ProjectionFailureService(engine).set_aside("run-lost", "SYS-002", "database unreachable")
    # Silences: one in force, one ended early, one created two hours ago for an hour (expired).
    silences = SilenceService(engine)
    silences.create_silence(operator_id="alice", reason="known", job_id=JOB, duration_seconds=3600)
    ended = silences.create_silence(operator_id="alice", reason="known", error_code="INP-001",
                                    duration_seconds=3600)
    silences.end_silence(ended.silence_id, operator_id="alice", reason="over")
    SilenceService(engine, clock=lambda: utcnow() - dt.timedelta(hours=2)).create_silence(
        operator_id="alice", reason="known", rule_id="dest_known", duration_seconds=3600)
    return {"alert": open_alert, "replay": replay, "ids": {
        "run-good", "run-bad", "run-replay", "run-range", "run-now", "run-lost",
        "2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04", "2013-01-05",
        str(replay.replay_id)}}


def _expected_partitions(engine) -> tuple[int, int]:
    """Plain reading of the rule: each partition's newest execution (range runs cover their
    days), and whether it has an active version."""
    with engine.connect() as conn:
        runs = conn.execute(sa.select(
            BatchExecution.partition_key, BatchExecution.partition_range_start,
            BatchExecution.partition_range_end, BatchExecution.created_at,
            BatchExecution.execution_id, BatchExecution.status)
            .where(BatchExecution.job_id == JOB)).all()
        active = set(conn.scalars(sa.select(ResultVersion.partition_key)
                                  .where(ResultVersion.is_active.is_(True))))
    latest: dict[str, tuple] = {}
    for key, first, last, created, execution_id, status in runs:
        days = [key] if key else [
            (dt.date.fromisoformat(first) + dt.timedelta(days=i)).isoformat()
            for i in range((dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1)]
        for day in days:
            if day not in latest or (created, execution_id) > latest[day][:2]:
                latest[day] = (created, execution_id, status)
    without = sum(1 for day in latest if day not in active)
    failed = sum(1 for day, (_, _, s) in latest.items() if day in active and s == "FAILED")
    return without, failed


def _group(engine, *columns, where=(), table=None) -> dict[tuple, float]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns, sa.func.count()).select_from(table)
                            .where(*where).group_by(*columns))
        return {tuple("" if v is None else v for v in row[:-1]): float(row[-1]) for row in rows}


def _by(samples: dict, name: str, *labels: str) -> dict[tuple, float]:
    return {tuple(dict(key)[label] for label in labels): value
            for key, value in samples.get(name, {}).items() if value}


def test_every_family_matches_the_ops_schema(api, engine, monkeypatch):
    monkeypatch.setenv("OPSREL_METRICS_CACHE_SECONDS", "0")
    world = _world(engine)
    status, text, headers = _scrape(api)
    assert status == 200, text
    assert headers["content-type"].startswith("text/plain")
    samples = _samples(text)
    e = BatchExecution

    assert _by(samples, "opsrel_executions_total", "job", "status", "error_code") == _group(
        engine, e.job_id, e.status, e.error_code, table=e.__table__,
        where=[e.status.in_(("SUCCESS", "FAILED", "STOPPED"))])
    assert _by(samples, "opsrel_executions_total", "job", "status", "error_code") == {
        (JOB, "SUCCESS", ""): 2.0, (JOB, "FAILED", "EXT-001"): 1.0, (JOB, "FAILED", "DQ-001"): 1.0}
    assert _by(samples, "opsrel_executions_in_flight", "job", "status") == _group(
        engine, e.job_id, e.status, table=e.__table__, where=[e.status.in_(("READY", "RUNNING"))])
    assert samples["opsrel_executions_in_flight"][(("job", JOB), ("status", "READY"))] == 0.0

    without, failed = _expected_partitions(engine)
    assert (without, failed) == (4, 1)  # 01-02, 01-03 (in flight), 01-04, 01-05; 01-01 replayed
    assert samples["opsrel_partitions_without_active_version"] == {(("job", JOB),): without}
    assert samples["opsrel_partitions_latest_attempt_failed"] == {(("job", JOB),): failed}

    a = Alert
    assert _by(samples, "opsrel_alerts_open", "severity", "error_code") == _group(
        engine, a.severity, a.error_code, table=a.__table__, where=[a.status == "OPEN"])
    assert world["alert"].error_code == "EXT-001"
    assert _by(samples, "opsrel_alerts_open", "severity", "error_code") == {("ERROR", "EXT-001"): 1}
    assert _by(samples, "opsrel_alerts_acknowledged", "severity", "error_code") == _group(
        engine, a.severity, a.error_code, table=a.__table__, where=[a.status == "ACKNOWLEDGED"])
    assert _by(samples, "opsrel_alerts_acknowledged", "severity", "error_code") == {
        ("WARNING", "INP-001"): 1}
    d = AlertDelivery
    assert _by(samples, "opsrel_alert_deliveries", "channel", "status") == _group(
        engine, d.channel, d.status, table=d.__table__,
        where=[d.status.in_(("PENDING", "RETRY", "FAILED"))])
    assert _by(samples, "opsrel_alert_deliveries", "channel", "status") == {("SLACK", "PENDING"): 2}
    # One silence in force, one ended, one expired: only the first counts.
    assert samples["opsrel_silences_active"][()] == 1

    [lag] = samples["opsrel_projection_lag_seconds"].items()
    assert lag[0] == (("projection", PROJECTION),)
    [ingestion] = ProjectionCursorStore(engine).ingestion_status()
    assert ingestion.lag_seconds - 5 <= lag[1] <= ingestion.lag_seconds
    assert lag[1] >= 90  # the backlog's oldest run waits 90 s; the set-aside run less
    [tick] = samples["opsrel_projection_last_check_timestamp_seconds"].values()
    assert tick == pytest.approx(ingestion.checked_at.timestamp(), abs=0.001)
    assert samples["opsrel_projection_runs_set_aside"] == {(): 1.0}

    # The latest partition with results is 2013-01-01; what it is comes from its active version
    # (run-good: PASS and WARN), not from the replay that failed the rule after it.
    assert _by(samples, "opsrel_data_quality_results", "job", "rule", "outcome") == {
        (JOB, "flight_key_unique", "PASS"): 1, (JOB, "arrival_delay_bound", "WARN"): 1}
    assert samples["opsrel_data_quality_results"][
        (("job", JOB), ("outcome", "FAIL"), ("rule", "flight_key_unique"))] == 0.0

    r = Replay
    assert _by(samples, "opsrel_replays", "job", "status") == _group(
        engine, r.job_id, r.status, table=r.__table__)
    assert _by(samples, "opsrel_replays", "job", "status") == {(JOB, "REQUESTED"): 1}

    # Bounded labels only; no partition key, run id or replay id anywhere in a label.
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("opsrel_"), family.name
        assert family.name in FAMILIES, family.name
        for s in family.samples:
            assert set(s.labels) <= BOUNDED_LABELS, (s.name, s.labels)
            assert not set(s.labels.values()) & world["ids"], (s.name, s.labels)
    assert set(FAMILIES) == {f.name for f in text_string_to_metric_families(text)}
    assert samples["opsrel_metrics_read_duration_seconds"][()] > 0


def test_a_scrape_needs_a_viewer_token_unless_configured_open(api, engine, monkeypatch):
    monkeypatch.setenv("OPSREL_METRICS_CACHE_SECONDS", "0")
    status, body, headers = _scrape(api, token=None)
    assert status == 401 and headers.get("www-authenticate", headers.get("WWW-Authenticate"))
    assert _scrape(api, token="not-a-token")[0] == 401
    for role in ("viewer", "operator", "admin"):
        assert _scrape(api, token=role)[0] == 200, role
    assert "/metrics" not in api.call("GET", "/openapi.json", token=None).body["paths"]
    # Prometheus asks for OpenMetrics first; the same families come back in that format.
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

    request = urllib.request.Request(api.base + "/metrics", headers={
        "Authorization": f"Bearer {api.tokens['viewer']}",
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.headers["content-type"].startswith("application/openmetrics-text")
        families = {f.name: f for f in om_parse(resp.read().decode())}
    assert set(families) == set(FAMILIES)
    assert families["opsrel_executions"].type == "counter"


def test_open_scrapes_and_the_cache(api, engine, monkeypatch):
    monkeypatch.setenv("OPSREL_METRICS_AUTH", "none")
    monkeypatch.setenv("OPSREL_METRICS_CACHE_SECONDS", "3600")
    t0 = utcnow() - dt.timedelta(minutes=5)
    _run(engine, "run-1", partition="2013-01-01", ends="SUCCESS", at=t0)
    status, text, _ = _scrape(api, token=None)
    assert status == 200, text
    key = (("error_code", ""), ("job", JOB), ("status", "SUCCESS"))
    assert _samples(text)["opsrel_executions_total"][key] == 1.0
    _run(engine, "run-2", partition="2013-01-02", ends="SUCCESS", at=t0)
    # Within the cache's hour the same read is served; a new reader sees the new run.
    assert _samples(_scrape(api, token=None)[1])["opsrel_executions_total"][key] == 1.0
    fresh = OpsMetricsReader(engine).read()
    assert fresh.executions_ended[(JOB, "SUCCESS", "")] == 2
    # No range run: each partition's own newest execution decides; neither has a version.
    assert fresh.partitions_without_active_version == {JOB: 2} == dict(
        zip([JOB], [_expected_partitions(engine)[0]]))


def test_execution_counters_are_kept_between_reads(engine):
    """The counts of ended executions are taken once and then only the executions that ended
    since are added: they stay equal to a full count as executions end, fail, are stopped."""
    now = [utcnow()]
    reader = OpsMetricsReader(engine, clock=lambda: now[0], settle_seconds=60)
    e = BatchExecution

    def full() -> dict[tuple, float]:
        return _group(engine, e.job_id, e.status, e.error_code, table=e.__table__,
                      where=[e.status.in_(("SUCCESS", "FAILED", "STOPPED"))])

    def read() -> dict[tuple, float]:
        return {k: float(v) for k, v in reader.read().executions_ended.items() if v}

    t0 = utcnow() - dt.timedelta(hours=1)
    _run(engine, "a", partition="2013-01-01", ends="SUCCESS", at=t0)
    _run(engine, "b", partition="2013-01-02", ends="FAILED", code="EXT-001", at=t0)
    _run(engine, "c", partition="2013-01-03", at=t0)  # in flight: not counted yet
    assert read() == full() == {(JOB, "SUCCESS", ""): 1.0, (JOB, "FAILED", "EXT-001"): 1.0}
    for step in range(1, 4):
        now[0] += dt.timedelta(seconds=45)  # some reads fold ended executions into the kept counts
        if step == 1:
            BatchExecutionService(engine).start_execution("c")
            BatchExecutionService(engine).request_stop("c")
            BatchExecutionService(engine).fail_execution("c", "EXT-001")  # ends STOPPED
        if step == 2:
            _run(engine, f"d{step}", partition="2013-01-04", ends="FAILED", code="INP-001",
                 at=t0)
        assert read() == full(), step
    with engine.begin() as conn:
        assert conn.scalar(sa.select(e.status).where(e.execution_id == "c")) == "STOPPED"
    now[0] += dt.timedelta(hours=1)
    assert read() == full() == {(JOB, "SUCCESS", ""): 1.0, (JOB, "FAILED", "EXT-001"): 1.0,
                                (JOB, "STOPPED", "BAT-004"): 1.0, (JOB, "FAILED", "INP-001"): 1.0}


def test_the_dashboard_and_alerting_rules_use_only_exposed_families():
    import json
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[2] / "docs"
    exposed = {name + "_total" if kind == "counter" else name
               for name, (kind, _, _) in FAMILIES.items()}
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert [v["type"] for v in dashboard["templating"]["list"]][:1] == ["datasource"]
    rules = yaml.safe_load((docs / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    exprs += [r["expr"] for r in rules]
    used = {name for e in exprs for name in re.findall(r"\bopsrel_[a-z_]+", e)}
    assert used and used <= exposed, used - exposed
    assert len(rules) >= 5 and all(r["annotations"]["summary"] for r in rules)


def test_a_bad_metrics_setting_is_named(api, monkeypatch):
    monkeypatch.setenv("OPSREL_METRICS_AUTH", "sometimes")
    status, body, _ = _scrape(api)
    assert status == 500 and "OPSREL_METRICS_AUTH must be viewer or none" in body


def test_scrapes_are_served_from_reads_made_ahead_of_them(engine):
    """While scraped, the collector reads in the background and a scrape does not read; once
    background reading failed and the last read went stale, the scrape reads itself and fails."""
    reads: list[str] = []
    failing = threading.Event()
    offset = [0.0]
    me = threading.current_thread().name

    class Reader(OpsMetricsReader):
        def read(self):  # type: ignore[no-untyped-def]
            reads.append(threading.current_thread().name)
            if failing.is_set():
                raise sa.exc.OperationalError("SELECT 1", {}, Exception("database unreachable"))
            return super().read()

    def until(condition) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, reads
            time.sleep(0.02)

    collector = OpsMetricsCollector(Reader(engine), cache_seconds=0.2, idle_seconds=1.0,
                                    monotonic=lambda: time.monotonic() + offset[0])
    key = (JOB, "SUCCESS", "")
    assert collector.snapshot().executions_ended.get(key, 0) == 0
    assert reads == [me]  # the first scrape reads itself
    _run(engine, "ended", partition="2013-01-01", ends="SUCCESS",
         at=utcnow() - dt.timedelta(minutes=1))
    until(lambda: collector.snapshot().executions_ended.get(key, 0) == 1)
    assert set(reads[1:]) == {"opsrel-metrics-refresh"}  # every later read was made ahead

    time.sleep(1.6)  # no scrape for longer than idle_seconds: the background reads stop
    stopped = len(reads)
    time.sleep(0.5)
    assert len(reads) == stopped
    collector.snapshot()  # a scrape starts them again
    until(lambda: len(reads) > stopped)
    assert reads[stopped:] and set(reads[stopped:]) == {"opsrel-metrics-refresh"}

    failing.set()
    failed_at = len(reads)
    until(lambda: len(reads) > failed_at)  # the background read failed, and stopped
    offset[0] += 10  # the last good read is now older than 2 x 0.2 + 5 s
    with pytest.raises(sa.exc.OperationalError):
        collector.snapshot()
    assert reads[-1] == me


def test_background_reads_end_with_the_server(database_url, tmp_path):
    import uvicorn

    from opsrel_core.entrypoints.api import create_app
    from opsrel_core.services.metrics import MetricsSettings
    from opsrel_core.config import OpsSettings
    from tests.support.receivers import free_port

    app = create_app(OpsSettings(database_url=database_url, home=tmp_path))
    app.state.metrics_settings = MetricsSettings(cache_seconds=0.2, require_token=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)

    def refreshers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "opsrel-metrics-refresh"]

    before = set(refreshers())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        assert resp.status == 200
    started = set(refreshers()) - before
    assert len(started) == 1
    server.should_exit = True
    thread.join(timeout=20)
    assert not [t for t in started if t.is_alive()]
