"""C1-T09: the integration suite. Run -> failure -> replay end to end, idempotency, and one test per
field report of this file's share (RB-02, RB-05, RB-06, RB-10, RB-11, RB-12, RB-20, RB-21, RB-24).

Real components only: the real flights pipeline through Dagster (``HeadlessRunner``), a real SMTP
receiver, the real ops database. Each test runs on SQLite and on PostgreSQL (``database_url``);
on the PostgreSQL leg Dagster's own storage is in PostgreSQL too (``opsrel_env``).
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from opsrel_core.alert_settings import AlertSettings
from opsrel_core.persistence.tables import Base
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.dq_reports import DqReportService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.result_versions import ResultVersionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, RESULT_ASSET_KEYS, flights_partitions
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.projection import RunProjection
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures
from tests.dagster.test_alert_flow import receivers  # noqa: F401 - fixture (SMTP + Slack)

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

    # alerts: the failure was delivered once, by email and Slack; the replay alerted nothing
    [(recipients, message)] = smtp.handler.messages
    assert "INP-001" in message["Subject"] and bad in message["Subject"]
    assert len(slack.posts) == 1
    [alert] = _alerts(engine).list_alerts()
    assert (alert.error_code, alert.execution_id, alert.occurrence_count) == (
        "INP-001", failed.run_id, 1)
    assert [d.status for d in _alerts(engine).delivery_history(alert.alert_id)] == ["SENT", "SENT"]

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
