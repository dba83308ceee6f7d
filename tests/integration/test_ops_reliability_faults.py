"""Faults injected for real: killed workers, database restarts, alert channels down,
concurrent writers; each test fails when the protection it names is removed.

Real processes: run workers are ``python -m tests.support.run_worker`` subprocesses running the
flights pipeline through ``HeadlessRunner`` (the ``opsrel run`` path) against the test's ops
database and Dagster home.
"""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import Alert, AlertDelivery, AlertDeliveryAttempt, AuditLog, BatchExecution, ExecutionEvent, ResultVersion, utcnow
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.worker_reconciler import Liveness, WorkerLossReconciler, WorkerTimeouts
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures used below
from tests.support.invariants import assert_ops_invariants
from tests.support.private_pg import private_pg  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 180  # generous ceiling for a slow CI machine; never a timing assertion


def wait_for(predicate: Callable[[], object], what: str, proc: subprocess.Popen | None = None):
    """Poll ``predicate`` until truthy; fail (with the worker's output) after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"worker exited ({proc.returncode}) before {what}:\n{out}\n{err[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def start_worker(env: dict[str, str], keys: list[str], **extra_env: str) -> subprocess.Popen:
    """Start a run worker subprocess for ``keys`` with the test's environment."""
    full_env = {**os.environ, **env, **extra_env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.run_worker", *keys],
        cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish_worker(proc: subprocess.Popen) -> list[dict]:
    """Wait for a worker; return its summaries (fails with its stderr when it crashed)."""
    out, err = proc.communicate(timeout=WAIT_SECONDS)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def active_versions(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ResultVersion.asset_key, ResultVersion.partition_key, ResultVersion.version_id)
            .where(ResultVersion.is_active.is_(True))
        ).all()
    return sorted(tuple(r) for r in rows)


def alerts_with_code(engine: sa.Engine, code: str) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(
                sa.select(Alert.execution_id, Alert.occurrence_count).where(Alert.error_code == code)
            )
        ]


def _flights_job() -> dg.JobDefinition:
    from opsrel_dagster.defs.flights import FLIGHT_ASSETS, FLIGHT_CHECKS
    from opsrel_dagster.defs.flights import defs as flights_defs

    return dg.Definitions(
        assets=[*FLIGHT_ASSETS], asset_checks=[*FLIGHT_CHECKS], resources=dict(flights_defs.resources)
    ).resolve_implicit_global_asset_job_def()


# -- a worker killed with SIGKILL writes no terminal event -----------------------------------


def test_sigkilled_worker_ends_failed_sys003_after_timeout(runner, opsrel_env, tmp_path, monkeypatch):
    key = "2013-01-02"
    [first] = runner.run_partitions([key])  # an active result the killed re-run must not touch
    assert first.status == "SUCCESS", first
    versions_before = active_versions(runner.engine)
    gate = tmp_path / "gate"
    gate.mkdir()
    worker = start_worker(opsrel_env, [key], OPSREL_TEST_GATE_DIR=str(gate))
    try:
        wait_for(lambda: (gate / f"started-{key}").exists(), "the step to start", worker)
        # Mid-step, within the timeouts: the projection records it RUNNING and leaves it so.
        report = runner.sync()
        assert report.workers_lost == 0
        run_id = BatchExecutionService(runner.engine).latest_execution_id("flights_daily", key)
        assert run_id != first.run_id
        svc = BatchExecutionService(runner.engine)
        assert svc.get_execution(run_id).status == ExecutionStatus.RUNNING
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
    assert worker.returncode == -signal.SIGKILL
    # Killed hard: Dagster still says STARTED and writes nothing more; within the (default)
    # timeout the execution stays RUNNING.
    assert runner.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert runner.sync().workers_lost == 0
    assert svc.get_execution(run_id).status == ExecutionStatus.RUNNING

    monkeypatch.setenv("OPSREL_WORKER_TIMEOUT_SECONDS", "1")
    time.sleep(1.2)  # let the configured timeout pass (a fault set-up, not an assertion)
    assert runner.sync().workers_lost == 1
    execution = svc.get_execution(run_id)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_code == "SYS-003"
    assert "timeout 1 s" in execution.error_message
    assert [h["to_status"] for h in svc.get_history(run_id)] == ["READY", "RUNNING", "FAILED"]
    assert alerts_with_code(runner.engine, "SYS-003") == [(run_id, 1)]
    assert active_versions(runner.engine) == versions_before
    # Dagster's view agrees: the run is failed, not started for ever.
    assert runner.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE

    # A late RUN_SUCCESS from the dead worker, further syncs and late service calls revive nothing.
    runner.instance.report_dagster_event(
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_SUCCESS.value,
            job_name=runner.instance.get_run_by_id(run_id).job_name,
            message="late success from the lost worker",
        ),
        run_id=run_id,
    )
    assert runner.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
    assert runner.sync(reset=True).workers_lost == 0
    with pytest.raises(BatchExecutionException) as info:
        svc.complete_execution(run_id)
    assert info.value.code == "BAT-001"
    svc.update_progress(run_id, steps_done=9)
    after = svc.get_execution(run_id)
    assert (after.status, after.error_code, after.steps_done) == (
        ExecutionStatus.FAILED, "SYS-003", execution.steps_done,
    )
    assert len(svc.get_history(run_id)) == 3
    assert alerts_with_code(runner.engine, "SYS-003") == [(run_id, 1)]
    assert active_versions(runner.engine) == versions_before


def test_launched_run_that_never_starts_fails_after_start_timeout(runner, monkeypatch):
    # The launcher's container exited at start-up: Dagster says STARTING for ever.
    job = _flights_job()
    starting = runner.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.STARTING, tags={"dagster/partition": "2013-01-05"}
    )
    runner.projection.project_run(starting.run_id)  # seen at launch by the sensor
    assert runner.sync().workers_lost == 0
    svc = BatchExecutionService(runner.engine)
    assert svc.get_execution(starting.run_id).status == ExecutionStatus.READY
    monkeypatch.setenv("OPSREL_START_TIMEOUT_SECONDS", "1")
    time.sleep(1.2)
    assert runner.sync().workers_lost == 1
    failed = svc.get_execution(starting.run_id)
    assert (failed.status, failed.error_code) == (ExecutionStatus.FAILED, "SYS-003")
    assert "did not start" in failed.error_message
    assert alerts_with_code(runner.engine, "SYS-003") == [(starting.run_id, 1)]
    assert runner.instance.get_run_by_id(starting.run_id).status == dg.DagsterRunStatus.FAILURE


def test_queued_executions_have_no_start_timeout(engine):
    svc = BatchExecutionService(engine)
    long_ago = utcnow() - dt.timedelta(hours=3)
    for eid in ("launched", "queued"):
        svc.register_execution(ExecutionSpec(eid, "flights_daily"), at=long_ago)
    with engine.begin() as conn:
        conn.execute(sa.update(BatchExecution).values(updated_at=long_ago))
    reconciler = WorkerLossReconciler(engine, WorkerTimeouts(60, 60))
    ended = reconciler.reconcile(lambda eid: Liveness(queued=eid == "queued"))
    assert [(v.execution_id, v.status, v.error_code) for v in ended] == [
        ("launched", ExecutionStatus.FAILED, "SYS-003")
    ]
    assert "did not start" in ended[0].error_message
    assert svc.get_execution("queued").status == ExecutionStatus.READY
    # a run that shows recent activity in the orchestrator's log is not lost either
    assert reconciler.reconcile(lambda _id: Liveness(last_seen_at=utcnow())) == []


def test_reconciler_is_compare_and_set_on_the_row_it_read(engine):
    # The reconciler decided from a stale read; the worker reported in between, and must win:
    # a stale "heartbeat lost" may never overwrite what the worker recorded.
    svc = BatchExecutionService(engine)
    long_ago = utcnow() - dt.timedelta(hours=3)
    for eid in ("alive", "lost", "done"):
        svc.register_execution(ExecutionSpec(eid, "flights_daily"), at=long_ago)
        svc.start_execution(eid, at=long_ago)
    with engine.begin() as conn:  # their last change was long ago too
        conn.execute(sa.update(BatchExecution).values(updated_at=long_ago))

    def probe(execution_id: str) -> Liveness:
        # Called after the open rows were read, before the write: the worker of "alive"
        # reports progress and the one of "done" completes right now.
        if execution_id == "alive":
            svc.update_progress("alive", steps_done=1, steps_total=5)
        if execution_id == "done":
            svc.complete_execution("done")
        return Liveness()

    reconciler = WorkerLossReconciler(engine, WorkerTimeouts(60, 60))
    ended = reconciler.reconcile(probe)
    assert [v.execution_id for v in ended] == ["lost"]
    assert svc.get_execution("alive").status == ExecutionStatus.RUNNING
    assert svc.get_execution("done").status == ExecutionStatus.SUCCESS
    lost = svc.get_execution("lost")
    assert (lost.status, lost.error_code) == (ExecutionStatus.FAILED, "SYS-003")
    # a second pass, and a stale one, change nothing
    assert reconciler.reconcile(lambda _id: Liveness()) == []
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(ExecutionEvent)).scalar_one()
    assert events == 3 * 2 + 2  # READY+RUNNING each, then SUCCESS and FAILED once


@pytest.mark.parametrize(
    "env, message",
    [
        ({"OPSREL_WORKER_TIMEOUT_SECONDS": "soon"}, "OPSREL_WORKER_TIMEOUT_SECONDS must be a number"),
        ({"OPSREL_START_TIMEOUT_SECONDS": "0"}, "OPSREL_START_TIMEOUT_SECONDS must be > 0"),
    ],
)
def test_worker_timeouts_refuse_bad_settings(env, message):
    with pytest.raises(ValueError, match=message):
        WorkerTimeouts.from_env(env)
    assert WorkerTimeouts.from_env({}) == WorkerTimeouts(1800, 600)


# -- eight processes writing lifecycle rows at once (SQLite locking) -------------------------

WRITERS = 8
EXECUTIONS_PER_WRITER = 25


def test_eight_concurrent_lifecycle_writers_lose_nothing(database_url, tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.lifecycle_writer", database_url, str(w),
             str(EXECUTIONS_PER_WRITER), str(go)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(WRITERS)
    ]
    time.sleep(1.0)  # let every writer import and wait at the gate, then release them together
    go.touch()
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=WAIT_SECONDS)
        assert "database is locked" not in err
        assert proc.returncode == 0, out + err[-3000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted((o["writer"], o["done"], o["errors"]) for o in outcomes) == [
        (w, EXECUTIONS_PER_WRITER, []) for w in range(WRITERS)
    ]
    engine = make_engine(database_url)
    statuses = assert_ops_invariants(engine)
    expected = {
        f"w{w}-{i}": "FAILED" if i % 3 == 2 else "SUCCESS"
        for w in range(WRITERS) for i in range(EXECUTIONS_PER_WRITER)
    }
    assert statuses == expected
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(ExecutionEvent)).scalar_one()
        versions = conn.execute(sa.select(sa.func.count()).select_from(ResultVersion)).scalar_one()
        progress = set(conn.execute(sa.select(BatchExecution.steps_done, BatchExecution.rows_written)))
    assert events == 3 * len(expected)  # READY, RUNNING and the terminal status, each once
    assert versions == len(expected)
    assert progress == {(4, 40)}
    engine.dispose()


# -- PostgreSQL restarted while runs are in flight and the projection runs -------------------


def test_postgres_restart_mid_run_loses_and_duplicates_nothing(private_pg, tmp_path, monkeypatch):
    keys = ["2013-01-03", "2013-01-04"]
    gate = tmp_path / "gate"
    gate.mkdir()
    (tmp_path / "landing").mkdir()
    env = {
        "OPSREL_HOME": str(tmp_path / "home"),
        "OPSREL_DATABASE_URL": private_pg.url,  # the ops schema on the cluster we restart
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster_home"),  # Dagster's storage: SQLite
        "OPSREL_LANDING_DIR": str(tmp_path / "landing"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from opsrel_dagster.app.runner import HeadlessRunner

    projector = HeadlessRunner.from_env()  # migrates the ops schema
    worker = start_worker(env, keys, OPSREL_TEST_GATE_DIR=str(gate))
    wait_for(lambda: (gate / f"started-{keys[0]}").exists(), "the first run's step", worker)

    private_pg.stop()  # a crash: every connection is cut
    sync_outcome: dict[str, object] = {}

    def project() -> None:  # the projection runs during the outage (retries, then lands)
        try:
            sync_outcome["report"] = projector.sync()
        except Exception as exc:  # noqa: BLE001 - asserted below
            sync_outcome["error"] = exc

    import threading

    syncing = threading.Thread(target=project)
    syncing.start()
    (gate / "release").touch()  # the run goes on and writes its snapshot row while it is down
    time.sleep(2.0)  # the outage lasts a while (set-up, not an assertion)
    private_pg.start()
    syncing.join(WAIT_SECONDS)
    summaries = finish_worker(worker)
    assert [(s["partition_key"], s["status"], s["error_code"]) for s in summaries] == [
        (key, "SUCCESS", None) for key in keys
    ]
    assert "error" not in sync_outcome, sync_outcome.get("error")
    projector.sync(reset=True)  # a catch-up after the fact adds nothing
    statuses = assert_ops_invariants(projector.engine)
    assert statuses == {s["run_id"]: "SUCCESS" for s in summaries}
    with projector.engine.connect() as conn:
        snapshots = conn.execute(sa.text("SELECT partition_key FROM ops.snapshot ORDER BY 1")).scalars().all()
        active = conn.execute(
            sa.select(ResultVersion.partition_key, sa.func.count())
            .where(ResultVersion.is_active.is_(True))
            .group_by(ResultVersion.partition_key).order_by(ResultVersion.partition_key)
        ).all()
    assert snapshots == keys
    assert [(p, n > 0) for p, n in active] == [(key, True) for key in keys]
    projector.engine.dispose()


# -- Concurrency: many runs at once on PostgreSQL --------------------------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_parallel_run_workers_on_postgres_keep_the_ops_invariants(runner, opsrel_env):
    # Three run workers at once, Dagster's storage and the ops schema in one PostgreSQL, two
    # of them re-running partitions the others run too, while the projection syncs beside them.
    plans = [["2013-01-07", "2013-01-08"], ["2013-01-08"], ["2013-01-07"]]
    workers = [start_worker(opsrel_env, keys) for keys in plans]
    while any(w.poll() is None for w in workers):
        runner.sync()  # a projection racing the workers' own recording
        time.sleep(1.0)
    summaries = [s for w in workers for s in finish_worker(w)]
    outcomes = [(s["partition_key"], s["status"], s["error_code"], s["error_message"]) for s in summaries]
    failures = [o for o in outcomes if o[1] != "SUCCESS"]
    assert not failures, "\n".join(map(str, failures))
    assert len(outcomes) == 4
    runner.sync()
    statuses = assert_ops_invariants(runner.engine)
    assert statuses == {s["run_id"]: "SUCCESS" for s in summaries}
    with runner.engine.connect() as conn:
        audited = conn.execute(
            sa.select(AuditLog.execution_id, sa.func.count())
            .where(AuditLog.action == "MANUAL_RUN").group_by(AuditLog.execution_id)
        ).all()
        active = conn.execute(
            sa.select(ResultVersion.asset_key, ResultVersion.partition_key, ResultVersion.execution_id)
            .where(ResultVersion.is_active.is_(True))
        ).all()
    assert sorted(audited) == sorted((s["run_id"], 1) for s in summaries)  # every audit row, once
    # every asset of each partition has one active version, from a run of that partition
    by_partition = {s["run_id"]: s["partition_key"] for s in summaries}
    assert {p for _a, p, _e in active} == {"2013-01-07", "2013-01-08"}
    assert all(by_partition[e] == p for _a, p, e in active)
    assert len(active) == len({(a, p) for a, p, _e in active})


# -- Alert channels down or slow during a real run --------------------------------------------


def test_smtp_down_and_webhook_slow_block_no_run_and_deliveries_catch_up(runner, opsrel_env, monkeypatch):
    from click.testing import CliRunner

    from opsrel_core.config import AlertSettings
    from opsrel_core.notifiers.email import SmtpEmailSender
    from opsrel_core.notifiers.slack import SlackWebhookSender
    from opsrel_core.services.alerts import AlertDispatcher
    from opsrel_dagster.app.cli import cli
    from tests.support.receivers import SlackServer, SmtpServer, free_port

    smtp_port = free_port()  # nothing listens there yet: the mail server is down
    slack = SlackServer()
    slack.script = [("hang", 3)]  # the webhook answers only after the 1 s timeout
    env = {
        "OPSREL_SMTP_HOST": "127.0.0.1", "OPSREL_SMTP_PORT": str(smtp_port),
        "OPSREL_SMTP_SECURITY": "none", "OPSREL_SMTP_TIMEOUT_SECONDS": "1",
        "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.org", "OPSREL_ALERT_EMAIL_TO": "oncall@example.org",
        "OPSREL_SLACK_WEBHOOK_URL": slack.url, "OPSREL_SLACK_TIMEOUT_SECONDS": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bad, good = "2013-06-03", "2013-06-04"
    Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{bad}.csv").write_text("year,month,day\n")
    smtp = SmtpServer(smtp_port)
    try:
        result = CliRunner().invoke(cli, ["run", "--from", bad, "--to", good, "--json"])
        assert result.exit_code == 1, result.output  # one partition failed; the run went on
        summaries = {s["partition_key"]: s for s in json.loads(result.stdout)}
        assert (summaries[bad]["status"], summaries[bad]["error_code"]) == ("FAILED", "INP-001")
        assert summaries[good]["status"] == "SUCCESS"
        svc = BatchExecutionService(runner.engine)
        assert svc.get_execution(summaries[good]["run_id"]).status == ExecutionStatus.SUCCESS

        def deliveries() -> list[tuple]:
            tried = (
                sa.select(sa.func.count()).select_from(AlertDeliveryAttempt)
                .where(AlertDeliveryAttempt.delivery_id == AlertDelivery.delivery_id)
                .scalar_subquery()
            )
            with runner.engine.connect() as conn:
                return sorted(tuple(r) for r in conn.execute(
                    sa.select(AlertDelivery.channel, AlertDelivery.status, AlertDelivery.attempts, tried)
                ))

        # `opsrel run` tried once: both channels failed transiently and wait for a retry
        assert deliveries() == [("EMAIL", "RETRY", 1, 1), ("SLACK", "RETRY", 1, 1)]
        assert len(smtp.handler.messages) == 0

        smtp.start()  # the mail server is back; the webhook answers at once now
        later = utcnow() + dt.timedelta(hours=2)  # past the retry back-off
        settings = AlertSettings.from_env()
        dispatcher = AlertDispatcher(
            runner.engine, settings, SmtpEmailSender(settings), SlackWebhookSender(settings),
            clock=lambda: later, sleep=lambda _s: None,
        )
        report = dispatcher.dispatch_once()
        assert report.sent == 2
        assert deliveries() == [("EMAIL", "SENT", 2, 2), ("SLACK", "SENT", 2, 2)]
        [(recipients, message)] = smtp.handler.messages
        assert recipients == ["oncall@example.org"] and "INP-001" in message["Subject"]
        # the timed-out post may have been posted (webhooks are not idempotent): at most once more
        assert [("INP-001" in p["text"]) for p in slack.posts] == [True, True]
        assert dispatcher.dispatch_once().sent == 0  # caught up: nothing is sent twice
    finally:
        smtp.stop()
        slack.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_runs_registering_the_same_rule_at_once_both_succeed(engine, monkeypatch):
    # Found by the parallel-workers test: two runs of a fresh deployment register the rule
    # set at once; the loser's insert must be caught and the winner's row read, not fail the run.
    from opsrel_core.persistence.repositories.validation import ValidationRepository
    from opsrel_core.services.quality import ValidationService

    mine, theirs = ValidationService(engine), ValidationService(engine)
    original = ValidationRepository.stored_version
    raced = []

    def version_after_a_concurrent_commit(repo, rule_id, version_hash):
        if not raced:
            raced.append(True)  # the other run commits between our read and our insert
            theirs.register_rule("tailnum_present", "clean_flights", "WARN", "tail numbers", {"k": 1})
        return original(repo, rule_id, version_hash)

    monkeypatch.setattr(ValidationRepository, "stored_version", version_after_a_concurrent_commit)
    view = mine.register_rule("tailnum_present", "clean_flights", "WARN", "tail numbers", {"k": 1})
    assert raced == [True]
    monkeypatch.setattr(ValidationRepository, "stored_version", original)
    assert view == theirs.register_rule("tailnum_present", "clean_flights", "WARN", "tail numbers", {"k": 1})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_check_steps_recording_the_same_rule_at_once_both_succeed(engine, monkeypatch):
    # A check step registers its rule and records its result in one transaction; when another
    # step of a fresh deployment commits the same rule between our read and our commit, ours
    # fails on the unique keys and is recorded again, reading theirs: one rule version, one
    # result per step, and neither step fails.
    from opsrel_core.persistence.repositories.validation import ValidationRepository
    from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
    from opsrel_core.services.quality import CheckRecorder, Outcome, RuleSpec, ValidationService

    executions = BatchExecutionService(engine)
    for run in ("run-a", "run-b"):
        executions.register_execution(ExecutionSpec(run, "flights_daily"))
    spec = RuleSpec(rule_id="tailnum_present", asset_key="clean_flights", severity="WARN",
                    description="tail numbers", definition={"k": 1})
    outcome = [Outcome(partition_key="2013-01-01", status="WARN", total_rows=10, failing_rows=2)]
    original = ValidationRepository.stored_version
    raced = []

    def version_after_a_concurrent_commit(repo, rule_id, version_hash):
        if not raced:
            raced.append(True)
            CheckRecorder(engine).record(execution_id="run-b", rule=spec, outcomes=outcome)
        return original(repo, rule_id, version_hash)

    monkeypatch.setattr(ValidationRepository, "stored_version", version_after_a_concurrent_commit)
    version, recorded = CheckRecorder(engine).record(execution_id="run-a", rule=spec,
                                                     outcomes=outcome)
    assert raced == [True] and recorded
    monkeypatch.setattr(ValidationRepository, "stored_version", original)
    service = ValidationService(engine)
    assert [v.rule_version_id for v in service.get_rule_versions("tailnum_present")] == [
        version.rule_version_id]
    results = service.results_for_partition("2013-01-01", "clean_flights")
    assert sorted((r.execution_id, r.status, r.failing_rows) for r in results) == [
        ("run-a", "WARN", 2), ("run-b", "WARN", 2)]
