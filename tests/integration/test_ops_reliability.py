"""The integration suite: run -> failure -> replay end to end, idempotency, and one test per kind
of fault operators of orchestrators have reported (re-alerted history, a stop that ends FAILED,
a late update over a terminal state, a stale partition status, replay stop races, range runs,
unnamed constraints, enum migrations, audit noise; see docs/failure-reports.md).

Real components only: the real flights pipeline through Dagster (``HeadlessRunner``), a real SMTP
receiver, the real ops database. Each test runs on SQLite and on PostgreSQL (``database_url``);
on the PostgreSQL leg Dagster's own storage is in PostgreSQL too (``opsrel_env``).
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.persistence.tables import Base
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.quality import DqReportService
from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, RESULT_ASSET_KEYS, flights_partitions
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.projection.apply import RunProjection
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures
from tests.api.conftest import api  # noqa: F401 - fixture (the admin API over HTTP)
from tests.dagster.test_alert_flow import receivers  # noqa: F401 - fixture (SMTP + Slack)
from tests.support.flights import flights_job

JOB = "flights_daily"


# -- helpers -----------------------------------------------------------------------------------


def _landing(env: dict[str, str], day: str) -> Path:
    return Path(env["OPSREL_LANDING_DIR"], f"flights_{day}.csv")


def _break(env: dict[str, str], day: str) -> None:
    """A header-only landing file: the day fails with INP-001."""
    _landing(env, day).write_text("year,month,day\n")


def _repair(env: dict[str, str], day: str) -> None:
    package_flights_for_day(dt.date.fromisoformat(day)).to_csv(_landing(env, day), index=False)


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per ops table: the fingerprint that idempotency must leave unchanged."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
            if t.name != "projection_cursor"
        }


def _active(engine: sa.Engine, day: str, asset: str = "ontime_performance") -> str | None:
    version = ResultVersionService(engine).get_active_version(asset, day)
    return None if version is None else version.execution_id


def _alerts(engine: sa.Engine) -> OpsAlertService:
    return OpsAlertService(engine, AlertSettings.from_env())


def _dagster_run_count(instance: dg.DagsterInstance) -> int:
    return len(instance.get_run_records())


# -- run -> failure -> replay ------------------------------------------------------------------


def _fail_then_replay(runner, env, smtp):  # noqa: F811 - fixture names
    """Two days run; one fails (INP-001), alerts; it is repaired and both are replayed as a range."""
    bad, good = "2013-07-01", "2013-07-02"
    _break(env, bad)
    failed, first = runner.run_partitions([bad, good])
    runner.dispatch_alerts()
    _repair(env, bad)
    replay, summaries = runner.run_replay(
        [bad, good], kind="range", operator_id="erin", reason="source re-delivered 07-01",
        request_key="ticket-7",
    )
    runner.dispatch_alerts()
    return failed, first, replay, summaries


def test_run_failure_replay_end_to_end(receivers, runner, opsrel_env):  # noqa: F811
    smtp, slack = receivers
    failed, first, replay, summaries = _fail_then_replay(runner, opsrel_env, smtp)
    bad, good = failed.partition_key, first.partition_key
    engine = runner.engine

    # executions and error codes
    assert (failed.status, failed.error_code, first.status) == ("FAILED", "INP-001", "SUCCESS")
    assert replay.status == "SUCCESS" and replay.ended_at is not None
    assert [(s.partition_key, s.status) for s in summaries] == [(bad, "SUCCESS"), (good, "SUCCESS")]
    executions = BatchExecutionService(engine)
    for summary, parent in zip(summaries, (failed, first)):
        child = executions.get_execution(summary.run_id)
        assert (child.replay_id, child.parent_execution_id, child.trigger_type) == (
            replay.replay_id, parent.run_id, "REPLAY")
        assert child.operator_id == "erin"
    assert executions.get_execution(failed.run_id).status.value == "FAILED"  # history kept

    # alerts: the failure was delivered once, by email and Slack; the replay raised nothing and
    # ended it: one recovery notice per channel, the email answering the alert's
    [(_, message), (_, notice)] = smtp.handler.messages
    assert "INP-001" in message["Subject"] and bad in message["Subject"]
    assert notice["Subject"].startswith("Resolved: ")
    assert notice["In-Reply-To"] == message["Message-ID"]
    assert len(slack.posts) == 2
    [alert] = _alerts(engine).list_alerts()
    assert (alert.error_code, alert.execution_id, alert.occurrence_count, alert.status) == (
        "INP-001", failed.run_id, 1, "RESOLVED")
    assert [d.status for d in _alerts(engine).delivery_history(alert.alert_id)] == ["SENT"] * 4

    # audit: exactly one record for the replay, with who, why and the state it created
    [record] = AuditLogService(engine).list_audit_logs(target_type="replay")
    assert (record.operator_id, record.reason, record.action, record.target_id) == (
        "erin", "source re-delivered 07-01", "REPLAY", str(replay.replay_id))
    assert record.before_state is None and record.after_state["status"] == "REQUESTED"

    # versions: the replay's results are active, the earlier good day's are kept inactive
    versions = ResultVersionService(engine)
    for asset in RESULT_ASSET_KEYS:
        assert [(v.execution_id, v.is_active) for v in versions.get_version_history(asset, good)] == [
            (summaries[1].run_id, True), (first.run_id, False)]
        assert [(v.execution_id, v.is_active) for v in versions.get_version_history(asset, bad)] == [
            (summaries[0].run_id, True)]
    assert versions.versions_of_execution(failed.run_id) == []  # a failed run activates nothing

    # the replay's data-quality report covers both days' executions, nothing failed
    report = DqReportService(engine).get_replay_report(replay.replay_id)
    assert report is not None and report.replay_id == replay.replay_id
    assert report.fail_count == 0 and report.pass_count > 0
    assert {i.partition_key for i in report.items} == {bad, good}
    assert {i.execution_id for i in report.items} == {s.run_id for s in summaries}


# -- idempotency -------------------------------------------------------------------------------


def test_events_applied_twice_cursor_reset_and_repeated_replay_change_nothing(
    receivers, runner, opsrel_env  # noqa: F811 - receivers first: the runner reads its env
):
    smtp, slack = receivers
    failed, first, replay, summaries = _fail_then_replay(runner, opsrel_env, smtp)
    engine = runner.engine
    before = _row_counts(engine)
    runs_before = _dagster_run_count(runner.instance)
    mails, posts = len(smtp.handler.messages), len(slack.posts)

    # every event applied twice: each run projected again, then a full re-read from storage id 0
    for run_id in (failed.run_id, first.run_id, *(s.run_id for s in summaries)):
        runner.projection.project_run(run_id)
    report = runner.sync(reset=True)
    assert report.runs_projected == 4
    # a fresh projection (a restarted sensor process) with its cursor reset
    fresh = RunProjection(runner.instance, engine, {JOB: flights_partitions})
    fresh.cursors.set("dagster_run_status_changes", None)
    fresh.sync(batch_size=1)
    # the same replay request (same idempotency key) sent twice more
    for _ in range(2):
        again, ran = runner.run_replay(
            [failed.partition_key, first.partition_key], kind="range", operator_id="erin",
            reason="source re-delivered 07-01", request_key="ticket-7",
        )
        assert (again.replay_id, again.status.value, ran) == (replay.replay_id, "SUCCESS", [])
    runner.dispatch_alerts()

    assert _row_counts(engine) == before
    assert _dagster_run_count(runner.instance) == runs_before  # no second launch
    assert (len(smtp.handler.messages), len(slack.posts)) == (mails, posts)  # no second alert
    [alert] = _alerts(engine).list_alerts()
    assert alert.occurrence_count == 1


# -- reported faults ----------------------------------------------------------------------------


def _pending_run(runner, day: str, **tags: str) -> dg.DagsterRun:  # noqa: F811
    """A run of the flights job created in Dagster (not started) and recorded in the ops schema."""
    run = runner.instance.create_run_for_job(
        flights_job(), status=dg.DagsterRunStatus.NOT_STARTED,
        tags={"dagster/partition": day, **tags},
    )
    runner.projection.project_run(run.run_id)
    return run


def test_cold_start_does_not_realert_history(receivers, runner, opsrel_env, api):  # noqa: F811
    """A new deployment (empty cursor) meets failed runs from two days ago: they are imported in
    bounded batches, the cursor saved after each, the lag visible in the admin API, and none is
    alerted, also after a cursor reset. A fresh failure still alerts, once."""
    from opsrel_core.persistence.tables import utcnow
    from opsrel_dagster.projection.sync import CURSOR_NAME

    smtp, slack = receivers
    history = ["2013-10-01", "2013-10-02", "2013-10-03"]
    for day in history:  # failed runs in Dagster's storage the ops schema never saw
        _break(opsrel_env, day)
        assert not dg.materialize(FLIGHT_ASSETS, partition_key=day, instance=runner.instance,
                                  resources=dict(flights_defs.resources),
                                  raise_on_error=False).success
    assert _row_counts(runner.engine)["batch_execution"] == 0

    def two_days_later() -> dt.datetime:
        return utcnow() + dt.timedelta(days=2)

    def deployed() -> RunProjection:  # a projection process started two days after the runs
        projection = RunProjection(runner.instance, runner.engine, {JOB: flights_partitions})
        projection.projector.alerts = OpsAlertService(
            runner.engine, AlertSettings.from_env(), clock=two_days_later)
        return projection

    first = deployed().sync(batch_size=1, max_batches=1)  # one bounded batch, then it stops
    assert first.cursor > 0 and first.oldest_pending_at is not None
    assert runner.projection.cursors.get(CURSOR_NAME) == str(first.cursor)  # saved per batch
    [lagging] = api.call("GET", "/admin/ingestion").body
    assert (lagging["name"], lagging["cursor"]) == (CURSOR_NAME, str(first.cursor))
    assert dt.datetime.fromisoformat(lagging["oldest_pending_at"]) == first.oldest_pending_at
    assert lagging["lag_seconds"] > 0

    rest = deployed().sync(batch_size=1)  # a restarted process goes on from the saved cursor
    assert rest.cursor > first.cursor and rest.oldest_pending_at is None
    [caught_up] = api.call("GET", "/admin/ingestion").body
    assert (caught_up["oldest_pending_at"], caught_up["lag_seconds"]) == (None, 0)
    executions, _ = ExecutionQueries(runner.engine).list_executions(ExecutionFilter())
    assert sorted((e.partition_key, e.status.value, e.error_code) for e in executions) == [
        (day, "FAILED", "INP-001") for day in history]

    def alerts() -> list[tuple[str, str, int]]:
        service = _alerts(runner.engine)
        return sorted((a.partition_key, a.status, len(service.delivery_history(a.alert_id)))
                      for a in service.list_alerts())

    # history is recorded as resolved alerts that were never sent, and stays so on a reset
    runner.sync(reset=True)
    deployed().sync()
    runner.dispatch_alerts()
    assert alerts() == [(day, "RESOLVED", 0) for day in history]
    assert smtp.handler.messages == [] and slack.posts == []

    # a fresh failure alerts, once, however often its events are applied
    _break(opsrel_env, "2013-10-04")
    runner.run_partitions(["2013-10-04"])
    runner.sync(reset=True)
    runner.dispatch_alerts()
    assert alerts() == [*((day, "RESOLVED", 0) for day in history), ("2013-10-04", "OPEN", 2)]
    [(_, message)] = smtp.handler.messages
    assert "2013-10-04" in message["Subject"] and len(slack.posts) == 1


def test_failure_after_a_stop_request_ends_stopped(receivers, runner):  # noqa: F811
    """Every failure-type end after a stop request resolves to STOPPED: a failure Dagster
    reports after CANCELING, a failure reported without CANCELING ever being seen, and a run
    lost from storage (SYS-003). None alerts, none is retried, each stop is audited."""
    from opsrel_core.services.execution_commands import ExecutionCommands

    smtp, slack = receivers
    commands = ExecutionCommands(runner.engine)
    runs = [_pending_run(runner, f"2013-08-0{i}") for i in (1, 2, 3)]
    stops = [commands.request_stop(r.run_id, operator_id="olga", reason=f"stop {i}")
             for i, r in enumerate(runs)]
    canceling, unseen, lost = runs
    runner.instance.report_run_canceling(canceling)
    runner.instance.report_run_failed(canceling, message="KeyboardInterrupt raised inside the step")
    runner.instance.report_run_failed(unseen, message="ConnectionResetError: interrupted")
    runner.instance.delete_run(lost.run_id)
    runs_before = _dagster_run_count(runner.instance)
    runner.sync()
    runner.sync(reset=True)  # applied twice: still the same
    runner.dispatch_alerts()

    executions = BatchExecutionService(runner.engine)
    ended = {r.run_id: executions.get_execution(r.run_id) for r in runs}
    assert {e.status.value for e in ended.values()} == {"STOPPED"}
    assert {e.error_code for e in ended.values()} == {"BAT-004"}
    # the exception text is kept for the operator, not turned into the status
    assert "KeyboardInterrupt" in ended[canceling.run_id].error_message
    assert "ConnectionResetError" in ended[unseen.run_id].error_message
    assert _alerts(runner.engine).list_alerts() == []
    assert smtp.handler.messages == [] and slack.posts == []
    assert ReplayService(runner.engine).list_replays() == []  # no automatic replay
    assert _dagster_run_count(runner.instance) == runs_before  # no automatic retry
    audit = AuditLogService(runner.engine).list_audit_logs(operator_id="olga")
    assert sorted((a.target_id, a.action, a.reason) for a in audit) == sorted(
        (r.run_id, "STOP_EXECUTION", f"stop {i}") for i, r in enumerate(runs))
    assert {a.audit_id for a in audit} == {s.audit_id for s in stops}


def test_a_terminal_state_is_decided_once(runner, caplog):  # noqa: F811
    """Every terminal state is final: any other terminal update is rejected (BAT-001, logged as a
    conflict by the projection), an identical one is a no-op success, and the worker-loss
    reconciler's compare-and-set fails nothing that moved since it looked."""
    import logging

    from opsrel_core.errors import BatchExecutionException
    from opsrel_core.persistence.tables import BatchExecution
    from opsrel_core.services.execution_projection import ObservedStatus

    executions = BatchExecutionService(runner.engine)
    [done] = runner.run_partitions(["2013-08-10"])
    failed, stopped = _pending_run(runner, "2013-08-11"), _pending_run(runner, "2013-08-12")
    executions.fail_execution(failed.run_id, "EXT-001", error_message="upstream API down")
    executions.stop_execution(stopped.run_id)
    ends = {
        "SUCCESS": lambda eid: executions.complete_execution(eid),
        "FAILED": lambda eid: executions.fail_execution(eid, "SYS-003", error_message="heartbeat lost"),
        "STOPPED": lambda eid: executions.stop_execution(eid),
    }

    def row(eid: str) -> tuple:
        with runner.engine.connect() as conn:
            r = conn.execute(sa.select(BatchExecution).where(BatchExecution.execution_id == eid)).one()
        return tuple(r)

    def status_history(eid: str) -> list:
        # annotations (an end ignored after a stop) move no status
        return [h for h in executions.get_history(eid) if h["event_key"].startswith("status:")]

    for eid, status in ((done.run_id, "SUCCESS"), (failed.run_id, "FAILED"), (stopped.run_id, "STOPPED")):
        before, history = row(eid), status_history(eid)
        for other, end in ends.items():
            if other == status or status == "STOPPED":
                # a repeated identical end is a no-op success; so is a failure or a success
                # after a stop, which resolves to the stop (a stop is final)
                if status != "FAILED":
                    assert end(eid).status.value == status
                continue
            with pytest.raises(BatchExecutionException) as err:
                end(eid)
            assert err.value.code == "BAT-001"
        assert (row(eid), status_history(eid)) == (before, history)

    # the same through the projection: a stale FAILED observation of the successful run is
    # logged as a conflict and changes nothing; a duplicate SUCCESS changes nothing either
    import dataclasses

    observed = runner.projection.observe(done.run_id)
    before = row(done.run_id)
    with caplog.at_level(logging.WARNING, logger="opsrel_core.services.batch_execution.projection"):
        runner.projection.projector.apply(dataclasses.replace(observed, status=ObservedStatus.FAILED))
    assert any("ignoring observed FAILED" in r.getMessage() for r in caplog.records)
    runner.projection.projector.apply(observed)
    assert row(done.run_id) == before

    # the reconciler decided from a row it read; the run moved since: nothing is failed
    live = _pending_run(runner, "2013-08-13")
    with runner.engine.connect() as conn:
        seen = conn.execute(sa.select(BatchExecution.updated_at)
                            .where(BatchExecution.execution_id == live.run_id)).scalar_one()
    executions.start_execution(live.run_id)
    executions.complete_execution(live.run_id)
    view = executions.fail_execution(live.run_id, "SYS-003", if_unchanged_since=seen)
    assert (view.status.value, view.error_code) == ("SUCCESS", None)


def test_partition_status_comes_from_the_active_version(runner, opsrel_env, api):  # noqa: F811
    """E1 fails a blocking data-quality rule, a replay E2 succeeds: every summary shows the
    partition good (E2's active version), E1 stays in history as FAILED."""
    day = "2013-08-20"
    flights = package_flights_for_day(dt.date.fromisoformat(day))
    flights.loc[10, "carrier"] = "ZZ"  # an unknown carrier fails the blocking rule carrier_known
    flights.to_csv(_landing(opsrel_env, day), index=False)
    [e1] = runner.run_partitions([day])
    assert (e1.status, e1.error_code) == ("FAILED", "DQ-001")
    assert DqReportService(runner.engine).get_daily_report(day).fail_count == 1
    _repair(opsrel_env, day)
    replay, [e2] = runner.run_replay([day], kind="single", operator_id="pia", reason="carrier fixed")
    assert (replay.status.value, e2.status) == ("SUCCESS", "SUCCESS")

    daily = api.call("GET", f"/admin/reports/daily/{day}").body
    replay_report = api.call("GET", f"/admin/reports/replay/{replay.replay_id}").body
    history = api.call("GET", f"/admin/versions?asset=ontime_performance&partition={day}").body
    listed = api.call("GET", f"/admin/batch/executions?partition_from={day}&partition_to={day}")
    listed = listed.body["items"]
    for report in (daily, replay_report):
        assert report["fail_count"] == 0 and report["pass_count"] > 0
        assert {i["execution_id"] for i in report["items"]} == {e2.run_id}
        assert "FAIL" not in {i["status"] for i in report["items"]}
    assert [(v["execution_id"], v["is_active"]) for v in history] == [(e2.run_id, True)]
    assert {(e["execution_id"], e["status"]) for e in listed} == {
        (e1.run_id, "FAILED"), (e2.run_id, "SUCCESS")}  # E1 stays in history
    assert all(r.fail_count == 0 for r in DqReportService(runner.engine).list_reports())


# -- migrations: named constraints, explicit enum changes --------------------------------------


def _operations(conn: sa.Connection):
    """Alembic operations on an open connection: what a later migration script would run."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    return Operations(MigrationContext.configure(conn))


def _ops_schema(url: str) -> str | None:
    return "ops" if url.startswith("postgresql") else None


def test_every_constraint_is_named_and_a_later_migration_can_drop_one(empty_database_url):
    from opsrel_core.persistence import migrate
    from opsrel_core.persistence.tables import NAMING_CONVENTION

    url, schema = empty_database_url, _ops_schema(empty_database_url)
    # the full chain from an empty database, down to base and up again
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        names = []
        for table in insp.get_table_names(schema=schema):
            if table == "ops_alembic_version":
                continue
            found = [
                *(("uq", c["name"]) for c in insp.get_unique_constraints(table, schema=schema)),
                *(("fk", c["name"]) for c in insp.get_foreign_keys(table, schema=schema)),
                *(("ix", c["name"]) for c in insp.get_indexes(table, schema=schema)),
                *(("ck", c["name"]) for c in insp.get_check_constraints(table, schema=schema)),
            ]
            names += [(table, kind, name) for kind, name in found]
        assert names and all(name for _, _, name in names), [n for n in names if not n[2]]
        # the convention's prefixes: the names a later migration will refer to are predictable
        # (a partial unique index is named uq_ like a unique constraint)
        assert all(name.startswith((f"{kind}_{table}", f"uq_{table}")) for table, kind, name in names)
        assert set(NAMING_CONVENTION) >= {"ix", "uq", "ck", "fk", "pk"}
        # a later migration dropping a constraint by name, in batch mode (SQLite recreates the table)
        with engine.begin() as conn:
            with _operations(conn).batch_alter_table("replay", schema=schema) as batch:
                batch.drop_constraint("uq_replay_request_key", type_="unique")
        assert "uq_replay_request_key" not in {
            c["name"] for c in sa.inspect(engine).get_unique_constraints("replay", schema=schema)}
    finally:
        engine.dispose()
    migrate.downgrade(url, "base")  # and the chain still goes down cleanly


def test_a_new_state_needs_an_explicit_migration_and_a_new_code_needs_none(empty_database_url):
    from opsrel_core.errors import BatchExecutionException
    from opsrel_core.persistence import migrate
    from opsrel_core.persistence.engine import make_engine
    from opsrel_core.persistence.tables import EXECUTION_STATUSES, ErrorCode
    from tests.integration.test_migrations import _insert_execution
    from tests.support.catalog import register_flights

    url, schema = empty_database_url, _ops_schema(empty_database_url)
    migrate.upgrade(url)
    raw = sa.create_engine(url, poolclass=sa.pool.NullPool)  # what a migration script gets
    engine = make_engine(url)  # what the services use (schema ops translated)
    register_flights(engine)
    try:
        if schema:  # no native enum type anywhere in the ops schema
            with raw.connect() as conn:
                assert conn.execute(sa.text(
                    "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE t.typtype = 'e' AND n.nspname = 'ops'")).scalar_one() == 0
        with pytest.raises(sa.exc.IntegrityError):  # rejected before the migration
            with engine.begin() as conn:
                _insert_execution(conn, "stopping-1", "STOPPING")
        # the explicit migration: replace the named CHECK constraint with the wider list
        allowed = ", ".join(f"'{s}'" for s in (*EXECUTION_STATUSES, "STOPPING"))
        with raw.begin() as conn:
            with _operations(conn).batch_alter_table("batch_execution", schema=schema) as batch:
                batch.drop_constraint("ck_batch_execution_status", type_="check")
                batch.create_check_constraint("ck_batch_execution_status", f"status IN ({allowed})")
        with engine.begin() as conn:  # accepted after it
            _insert_execution(conn, "stopping-1", "STOPPING")

        # error codes are data: a new code is one row, no DDL, and is usable at once
        executions = BatchExecutionService(engine)
        from opsrel_core.services.batch_execution import ExecutionSpec

        executions.register_execution(ExecutionSpec(execution_id="e-1", job_id=JOB))
        with pytest.raises(BatchExecutionException) as err:
            executions.fail_execution("e-1", "EXT-042")
        assert err.value.code == "BAT-001"
        with engine.begin() as conn:
            conn.execute(sa.insert(ErrorCode.__table__).values(
                code="EXT-042", category="EXT", title="Partner feed late",
                user_message="The data is late.", operator_message="Partner feed missed its SLA.",
                severity="ERROR", retryable=True, auto_alert=True))
        assert executions.fail_execution("e-1", "EXT-042").error_code == "EXT-042"
    finally:
        raw.dispose()
        engine.dispose()


# -- replays: stop races and derived status ----------------------------------------------------


def _launch_tick(runner) -> dg.SensorResult:  # noqa: F811
    """One tick of the replay launch sensor, as the daemon runs it."""
    from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

    sensor = make_replay_launch_sensor(JOB, dg.AssetSelection.groups("flights"), flights_partitions)
    return sensor(dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]}))


def _replay_tags(replay) -> dict[str, str]:
    return {"opsrel/trigger": "CLI", "opsrel/operator": replay.operator_id,
            "opsrel/reason": replay.reason, "opsrel/replay_id": str(replay.replay_id)}


def test_stopping_a_replay_derives_the_parent_from_its_children(runner):  # noqa: F811
    """replay_range over 10 days, stopped while 3 children are in flight (one of them then
    succeeds) and 7 are still queued: STOPPING until every child ended, then STOPPED; the queued
    children never run; the child that succeeded keeps its version active."""
    engine, instance = runner.engine, runner.instance
    days = [f"2013-09-{d:02d}" for d in range(1, 11)]
    originals = {s.partition_key: s.run_id for s in runner.run_partitions(days[:3])}
    replays = ReplayService(engine)
    replay = replays.replay_range(job_id=JOB, start=days[0], end=days[-1], partition_keys=days,
                                  operator_id="lee", reason="rule change")
    requests = _launch_tick(runner).run_requests
    assert [r.partition_key for r in requests] == days
    # the daemon submitted them: days 2 and 3 are in flight, days 4..10 not started yet
    job = flights_job()
    submitted = {
        r.partition_key: instance.create_run_for_job(
            job, status=dg.DagsterRunStatus.NOT_STARTED,
            tags={**r.tags, "dagster/partition": r.partition_key})
        for r in requests[1:]
    }
    for day in days[1:3]:
        instance.report_dagster_event(dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name=job.name,
            message="run worker started"), run_id=submitted[day].run_id)
    replays.request_stop(replay.replay_id, operator_id="lee", reason="wrong rule version")
    # the in-flight child of day 1 finishes successfully during the stop
    [survivor] = runner.run_partitions(days[:1], run_tags=_replay_tags(replay))
    assert survivor.status == "SUCCESS"
    runner.sync()
    assert replays.get_replay(replay.replay_id).status.value == "STOPPING"  # children still live

    assert _launch_tick(runner).run_requests == []  # nothing more is launched, ever
    for run in submitted.values():  # what each run worker reports once canceled
        if instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run)
    assert {instance.get_run_by_id(r.run_id).status for r in submitted.values()} == {
        dg.DagsterRunStatus.CANCELED}
    runner.sync()
    view = replays.get_replay(replay.replay_id)
    assert view.status.value == "STOPPED" and view.ended_at is not None
    executions = BatchExecutionService(engine)
    children = {e.execution.partition_key: e.execution
                for e in replays.replay_history(replay.replay_id).executions}
    assert children[days[0]].status.value == "SUCCESS"
    assert {children[d].status.value for d in days[1:]} == {"STOPPED"}
    assert all(children[d].started_at is None for d in days[3:])  # never ran a step
    assert all(ResultVersionService(engine).versions_of_execution(children[d].execution_id) == []
               for d in days[1:])
    assert _active(engine, days[0]) == survivor.run_id  # kept by the stop
    assert [_active(engine, d) for d in days[1:3]] == [originals[d] for d in days[1:3]]
    assert [_active(engine, d) for d in days[3:]] == [None] * 7
    assert executions.get_execution(originals[days[0]]).status.value == "SUCCESS"
    assert _launch_tick(runner).run_requests == []


def test_a_stop_during_a_headless_replay_launches_no_further_child(runner):  # noqa: F811
    days = [f"2013-09-{d:02d}" for d in range(11, 15)]
    replays = ReplayService(runner.engine)
    runs_before = _dagster_run_count(runner.instance)

    def stop_after_first(done: int, total: int, key: str | None) -> None:
        if done == 1:  # another operator stops the replay from the API
            [replay] = replays.list_replays(status="RUNNING")
            replays.request_stop(replay.replay_id, operator_id="mo", reason="stop it")

    replay, summaries = runner.run_replay(days, kind="range", operator_id="lee",
                                          reason="backfill", on_progress=stop_after_first)
    assert [(s.partition_key, s.status) for s in summaries] == [(days[0], "SUCCESS")]
    assert replay.status.value == "STOPPED"
    assert _dagster_run_count(runner.instance) == runs_before + 1
    assert _active(runner.engine, days[0]) == summaries[0].run_id
    assert [_active(runner.engine, d) for d in days[1:]] == [None] * 3


def test_a_transient_error_while_evaluating_never_fails_a_successful_replay(
    runner, database_url, monkeypatch  # noqa: F811
):
    from opsrel_core.errors import SystemException
    from opsrel_core.persistence import retry
    from opsrel_core.persistence.engine import make_engine

    monkeypatch.setattr(retry, "BACKOFF_SECONDS", (0.0, 0.0, 0.0))
    days = ["2013-09-20", "2013-09-21"]
    replays = ReplayService(runner.engine)
    replay = replays.replay_range(job_id=JOB, start=days[0], end=days[-1], partition_keys=days,
                                  operator_id="lee", reason="recompute")
    replays.mark_launched(replay.replay_id)
    assert [s.status for s in runner.run_partitions(days, run_tags=_replay_tags(replay))] == [
        "SUCCESS"] * 2

    # a restarted sensor process evaluates the parent while the database drops connections
    flaky = make_engine(database_url)
    failures: list[int] = []

    def drop(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if failures and "replay" in statement:
            failures.pop()
            raise sa.exc.OperationalError(statement, parameters,
                                          ConnectionResetError("server closed the connection"))

    sa.event.listen(flaky, "before_cursor_execute", drop)
    try:
        restarted = RunProjection(runner.instance, flaky, {JOB: flights_partitions})
        failures.extend([1] * 100)  # down for longer than the retries
        with pytest.raises(SystemException) as err:
            restarted.refresh_replays()
        assert err.value.code == "SYS-002"
        assert replays.get_replay(replay.replay_id).status.value == "RUNNING"  # not FAILED
        failures[:] = [1, 1]  # a blip: retried
        assert restarted.refresh_replays() == 1
    finally:
        flaky.dispose()
    assert replays.get_replay(replay.replay_id).status.value == "SUCCESS"


# -- audit: performed actions only -------------------------------------------------------------


def test_only_performed_actions_are_audited(runner, api):  # noqa: F811
    """Reads and previews write no audit row; a request without a reason is a 4xx and never
    logged; the real replay writes exactly one row (who, why, before/after), also when retried;
    audit rows cannot be changed."""
    from opsrel_core.persistence.tables import AuditLog

    day = "2013-10-10"
    [done] = runner.run_partitions([day])
    live = _pending_run(runner, "2013-10-11")
    body = {"type": "single", "job_id": JOB, "partitions": [day], "reason": "rule fix"}
    before = _row_counts(runner.engine)

    preview = api.call("POST", "/admin/batch/replay/preview", token="operator", body=body)
    assert preview.status == 200
    assert (preview.body["partitions"], preview.body["replaces"]) == ([day], {day: done.run_id})
    reads = ["/admin/batch/executions", f"/admin/batch/executions/{done.run_id}",
             "/admin/audit-logs", "/admin/alerts", "/admin/ingestion", "/admin/error-codes",
             f"/admin/versions?asset=ontime_performance&partition={day}"]
    assert [api.call("GET", path).status for path in reads] == [200] * len(reads)
    refused = [
        api.call("POST", "/admin/batch/replay/preview", token="operator", body={**body, "reason": ""}),
        api.call("POST", "/admin/batch/replay", token="operator", body={**body, "reason": "   "}),
        api.call("POST", "/admin/batch/replay", token="operator",
                 body={k: v for k, v in body.items() if k != "reason"}),
        api.call("POST", f"/admin/batch/executions/{live.run_id}/stop", token="operator", body={}),
        api.call("POST", f"/admin/batch/executions/{live.run_id}/stop", token="operator",
                 body={"reason": ""}),
    ]
    assert [r.status for r in refused] == [422] * len(refused)
    assert _row_counts(runner.engine) == before  # nothing written: no audit, no replay, no stop
    assert BatchExecutionService(runner.engine).get_execution(live.run_id).stop_requested_at is None

    for _ in range(2):  # the real replay, retried with the same key: performed once
        accepted = api.call("POST", "/admin/batch/replay", token="operator", body=body,
                            headers={"Idempotency-Key": "ticket-24"})
        assert accepted.status == 202
    assert _row_counts(runner.engine)["audit_log"] == before["audit_log"] + 1
    [record] = api.call("GET", "/admin/audit-logs?target_type=replay").body["items"]
    assert (record["audit_id"], record["operator_id"], record["reason"], record["action"]) == (
        accepted.body["audit_id"], "operator-op", "rule fix", "REPLAY")
    assert record["before_state"] is None
    assert record["after_state"]["status"] == "REQUESTED"
    assert record["after_state"]["partition_start"] == day

    # append-only: no API path alters it, and the database refuses an UPDATE or DELETE
    for method in ("PUT", "PATCH", "DELETE"):
        assert api.call(method, "/admin/audit-logs", token="admin").status == 405
    for statement in (sa.update(AuditLog).values(reason="rewritten"), sa.delete(AuditLog)):
        with pytest.raises(sa.exc.DBAPIError):
            with runner.engine.begin() as conn:
                conn.execute(statement)
    [unchanged] = AuditLogService(runner.engine).list_audit_logs(target_type="replay")
    assert (unchanged.audit_id, unchanged.reason) == (record["audit_id"], "rule fix")
    assert _row_counts(runner.engine)["audit_log"] == before["audit_log"] + 1


# -- range runs: one run, many partitions ------------------------------------------------------


def _range_run(runner, days: list[str], tags: dict[str, str]) -> dg.ExecuteInProcessResult:  # noqa: F811
    """One Dagster run over ``days`` (what a single-run backfill launches): range tags, no key."""
    from opsrel_dagster.defs.flights.ingest_assets import flights_snapshot, raw_flights
    from opsrel_dagster.app.runner import QUIET_RUN_CONFIG

    result = dg.materialize(
        [raw_flights, flights_snapshot], instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET_RUN_CONFIG, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": days[0],
              "dagster/asset_partition_range_end": days[-1], **tags},
    )
    runner.sync()
    return result


def test_a_range_replay_in_one_run_versions_every_partition(runner, opsrel_env):  # noqa: F811
    from opsrel_core.services.provenance import ExecutionContextService
    from opsrel_core.services.provenance import LineageService, NodeRef

    engine = runner.engine
    days = [f"2013-11-{d:02d}" for d in range(1, 8)]
    [earlier] = runner.run_partitions(days[2:3])  # one day of the range had a result
    replays = ReplayService(engine)
    replay = replays.replay_range(job_id=JOB, start=days[0], end=days[-1], partition_keys=days,
                                  operator_id="ray", reason="the week in one run")
    replays.mark_launched(replay.replay_id)
    run = _range_run(runner, days, _replay_tags(replay))
    assert run.success

    execution = BatchExecutionService(engine).get_execution(run.run_id)
    assert (execution.status.value, execution.partition_key, execution.replay_id) == (
        "SUCCESS", None, replay.replay_id)
    assert (execution.partition_range_start, execution.partition_range_end) == (days[0], days[-1])
    versions = ResultVersionService(engine)
    made = versions.versions_of_execution(run.run_id)
    for asset in ("raw_flights", "flights_snapshot"):
        assert sorted((v.partition_key, v.is_active) for v in made if v.asset_key == asset) == [
            (day, True) for day in days]  # 7 rows, one execution, each active
        for day in days:
            assert [v.execution_id for v in versions.get_version_history(asset, day)
                    if v.is_active] == [run.run_id]
    assert [(v.execution_id, v.is_active) for v in versions.get_version_history("raw_flights", days[2])
            ] == [(run.run_id, True), (earlier.run_id, False)]
    assert replays.get_replay(replay.replay_id).status.value == "SUCCESS"

    # the context records the whole range and each day's snapshot; lineage links each day
    context = ExecutionContextService(engine).get_context(run.run_id)
    assert context.parameters["partition_range"] == [days[0], days[-1]]
    assert context.parameters["partition_key"] is None
    lineage = LineageService(engine)
    snapshot_of = {v.partition_key: v for v in made if v.asset_key == "flights_snapshot"}
    assert len(context.snapshot_ids) == len(days)
    for day in days:
        [snapshot] = [s for s in context.snapshot_ids
                      if lineage.sources_of(NodeRef.snapshot("flights_snapshot", day, s))]
        [source] = lineage.sources_of(NodeRef.snapshot("flights_snapshot", day, snapshot))
        assert (source.asset_key, source.partition_key) == ("raw_flights", day)
        assert snapshot_of[day].execution_id == run.run_id

    # a range run that fails on one day: FAILED with that day, nothing of it becomes active
    _break(opsrel_env, days[3])
    failed = _range_run(runner, days, {"opsrel/operator": "ray", "opsrel/reason": "again"})
    assert not failed.success
    view = BatchExecutionService(engine).get_execution(failed.run_id)
    assert (view.status.value, view.error_code, view.failed_partition_key) == (
        "FAILED", "INP-001", days[3])
    assert versions.versions_of_execution(failed.run_id) == []
    assert all(_active(engine, day, "raw_flights") == run.run_id for day in days)
    # a range run replacing results needs attribution, for every day of the range (BAT-007)
    bare = _range_run(runner, days[4:], {})
    assert BatchExecutionService(engine).get_execution(bare.run_id).error_code == "BAT-007"


def test_b2_a_range_replay_runs_the_whole_pipeline_in_one_run(runner):  # noqa: F811
    """Every flights asset and check computes a range in one run (single-run backfill policy):
    one execution, one version per asset and day, one check result per rule and day, each day
    with exactly the values of the same day run alone; context, lineage and DQ report per day."""
    from opsrel_core.services.provenance import ExecutionContextService
    from opsrel_core.services.provenance import LineageService, NodeRef
    from opsrel_core.services.quality import ValidationService
    from opsrel_dagster.result_files import read_version

    engine = runner.engine
    days = [f"2013-01-{d:02d}" for d in range(1, 6)]
    [alone] = runner.run_partitions(days[:1])
    final, summaries = runner.run_replay(days, kind="range", operator_id="ray",
                                         reason="the week in one run", range_size=7)
    assert final.status.value == "SUCCESS"
    [run_id] = {s.run_id for s in summaries}
    assert [(s.partition_key, s.status) for s in summaries] == [(d, "SUCCESS") for d in days]
    assert (summaries[0].summary_figure, summaries[0].rows["clean_flights"]) == (842, 842)
    assert summaries[0].snapshot_id == alone.snapshot_id
    execution = BatchExecutionService(engine).get_execution(run_id)
    assert (execution.partition_key, execution.partition_range_start,
            execution.partition_range_end, execution.replay_id) == (
        None, days[0], days[-1], final.replay_id)

    versions = ResultVersionService(engine)
    made = versions.versions_of_execution(run_id)
    assets = [a.key.to_user_string() for a in FLIGHT_ASSETS]
    assert sorted((v.asset_key, v.partition_key, v.is_active) for v in made) == sorted(
        (a, d, True) for a in assets for d in days)
    for asset in assets:  # the range's first day holds what the day's own run made
        [mine] = [v for v in made if (v.asset_key, v.partition_key) == (asset, days[0])]
        [theirs] = [v for v in versions.get_version_history(asset, days[0])
                    if v.execution_id == alone.run_id]
        ours, before = read_version(mine), read_version(theirs)
        frame = "flights" if asset == "raw_flights" else "frame"
        assert getattr(ours, frame).equals(getattr(before, frame)), asset

    # one check result per rule and day in ops; the first day's equal its own run's
    validation = ValidationService(engine)
    results = validation.results_for_execution(run_id)
    assert sorted((r.rule_id, r.partition_key) for r in results) == sorted(
        (rule, d) for rule in {r.rule_id for r in results} for d in days)
    assert len({r.rule_id for r in results}) == 8

    def figures(rows):
        return {r.rule_id: (r.status, r.total_rows, r.failing_rows, r.measured_value)
                for r in rows if r.partition_key == days[0]}

    assert figures(results) == figures(validation.results_for_execution(alone.run_id))
    assert figures(results)["dest_known"] == ("WARN", 842, 26, None)

    # in Dagster: one evaluation per check, with each day's figures
    records = runner.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = {r.event_log_entry.dagster_event.event_specific_data.check_name:
                   r.event_log_entry.dagster_event.event_specific_data for r in records}
    assert len(evaluations) == 8
    dest = evaluations["dest_known"]
    assert not dest.passed and dest.severity == dg.AssetCheckSeverity.WARN
    per_day = dest.metadata["opsrel/partitions"].value
    assert sorted(per_day) == days
    assert per_day[days[0]] == {"status": "WARN", "total_rows": 842, "failing_rows": 26}
    assert dest.metadata["failing_rows"].value == sum(d["failing_rows"] for d in per_day.values())
    assert evaluations["flight_key_unique"].passed

    # context, lineage and the DQ report of every day
    context = ExecutionContextService(engine).get_context(run_id)
    assert context.parameters["partition_range"] == [days[0], days[-1]]
    assert len(context.snapshot_ids) == len(days) and len(context.rule_versions) == 8
    lineage, reports = LineageService(engine), DqReportService(engine)
    for day in days:
        [result] = [v for v in made if (v.asset_key, v.partition_key) == ("ontime_performance", day)]
        [source] = lineage.backtrace_version("ontime_performance", day,
                                             result.version_number).of_type("SOURCE")
        assert (source.asset_key, source.partition_key) == ("raw_flights", day)
        report = reports.get_daily_report(day)
        assert {(i.partition_key, i.execution_id) for i in report.items} == {(day, run_id)}


def test_b2_a_fail_rule_on_one_day_blocks_the_range_run(runner, opsrel_env):  # noqa: F811
    """A range run whose third day breaks a FAIL rule: every day is validated and recorded, the
    check names the day, the run ends FAILED with DQ-001 and no result of the range is made."""
    from opsrel_core.services.quality import ValidationService

    days = [f"2013-02-{d:02d}" for d in range(1, 5)]
    flights = package_flights_for_day(dt.date.fromisoformat(days[2]))
    # one flight twice: flight_key_unique (FAIL) fails on that day with 2 rows
    flights.iloc[list(range(len(flights))) + [10]].to_csv(_landing(opsrel_env, days[2]), index=False)
    summaries = runner.run_partitions(days, range_size=4)
    [run_id] = {s.run_id for s in summaries}
    assert [(s.status, s.error_code) for s in summaries] == [("FAILED", "DQ-001")] * 4
    results = ValidationService(runner.engine).results_for_execution(run_id)
    assert sorted((r.partition_key, r.status, r.failing_rows) for r in results
                  if r.rule_id == "flight_key_unique") == [
        (days[0], "PASS", 0), (days[1], "PASS", 0), (days[2], "FAIL", 2), (days[3], "PASS", 0)]
    [record] = [r for r in runner.instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        if r.event_log_entry.dagster_event.event_specific_data.check_name == "flight_key_unique"]
    evaluation = record.event_log_entry.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["opsrel/failed_partitions"].value == [days[2]]
    assert evaluation.metadata["error_code"].value == "DQ-001"
    made = ResultVersionService(runner.engine).versions_of_execution(run_id)
    assert {v.asset_key for v in made} == {"raw_flights", "flights_snapshot", "clean_flights"}
    assert not any(v.is_active for v in made)
