"""One run never stalls the others: a run whose projection raises is set aside, on SQLite and
PostgreSQL (Dagster's storage and the ops schema both real).

The run's record is made unreadable in Dagster's own run storage (its serialized body replaced
by text that does not deserialize), as a record written by an incompatible version would be.
"""

import datetime as dt
import json

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.persistence.tables import Alert, ProjectionFailure, utcnow
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.app.cli import cli
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, FLIGHT_CHECKS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.app.runner import QUIET_RUN_CONFIG
from opsrel_dagster.projection.events import STATUS_EVENT_TYPES
from opsrel_dagster.sensors.projection import make_projection_sensor
from tests.api.conftest import api  # noqa: F401 - fixture (the admin API over HTTP)

DAYS = ["2013-02-01", "2013-02-02", "2013-02-03"]


def _unrecorded_run(runner, day: str) -> str:
    # As from the UI's Materialize (assets with their checks): the IO manager records the
    # execution RUNNING as it goes; its end is recorded only by the projection.
    result = dg.materialize(
        [*FLIGHT_ASSETS, *FLIGHT_CHECKS], partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET_RUN_CONFIG,
    )
    assert result.success
    return result.run_id


def _set_run_body(instance: dg.DagsterInstance, run_id: str, body: str | None = None) -> str:
    """Replace the run's serialized body in Dagster's run storage; returns the previous one."""
    from dagster._core.storage.runs.schema import RunsTable

    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        old = conn.execute(
            sa.select(RunsTable.c.run_body).where(RunsTable.c.run_id == run_id)
        ).scalar_one()
        if body is not None:
            conn.execute(RunsTable.update().where(RunsTable.c.run_id == run_id)
                         .values(run_body=body))
            if conn.in_transaction():
                conn.commit()
    return old


def _last_status_change(instance: dg.DagsterInstance) -> int:
    ids = []
    for event_type in STATUS_EVENT_TYPES:
        records = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type=event_type), limit=1, ascending=False
        ).records
        ids += [r.storage_id for r in records]
    return max(ids)


def _status(engine, run_id: str) -> str:
    return BatchExecutionService(engine).get_execution(run_id).status.value


def _active_execution(engine, day: str) -> str | None:
    active = ResultVersionService(engine).get_active_version("ontime_performance", day)
    return active.execution_id if active else None


def _failure(engine, run_id: str) -> tuple | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(ProjectionFailure.attempts, ProjectionFailure.error_code,
                                     ProjectionFailure.alerted)
                           .where(ProjectionFailure.run_id == run_id)).first()
    return tuple(row) if row else None


def _set_aside_alerts(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(Alert.error_code, Alert.execution_id, Alert.status)
            .where(Alert.event_kind == "RUN_SET_ASIDE"))]


def test_setaside_a_raising_run_among_others_in_one_tick(runner, api):  # noqa: F811
    good_first, bad, good_last = (_unrecorded_run(runner, day) for day in DAYS)
    assert {_status(runner.engine, r) for r in (good_first, bad, good_last)} == {"RUNNING"}
    body = _set_run_body(runner.instance, bad, '{"__class__": "NotARun", "broken": ')

    # one sensor tick: it does not raise; the other runs are recorded, the cursor moves past all
    sensor = make_projection_sensor()
    context = dg.build_sensor_context(
        instance=runner.instance, resources={"ops_db": flights_defs.resources["ops_db"]})
    skip = sensor(context)
    assert "1 run(s) set aside" in skip.skip_message and bad in skip.skip_message
    for run_id, day in ((good_first, DAYS[0]), (good_last, DAYS[2])):
        assert _status(runner.engine, run_id) == "SUCCESS"
        assert _active_execution(runner.engine, day) == run_id
    assert _status(runner.engine, bad) == "RUNNING"
    assert _active_execution(runner.engine, DAYS[1]) is None
    assert _failure(runner.engine, bad) == (1, "SYS-001", False)
    cursor = int(runner.projection.cursors.get("dagster_run_status_changes"))
    assert cursor == _last_status_change(runner.instance)

    [status] = api.call("GET", "/admin/ingestion").body
    assert (status["set_aside"], status["oldest_set_aside_run_id"],
            status["oldest_set_aside_error_code"]) == (1, bad, "SYS-001")
    assert status["oldest_pending_at"] is None  # the cursor is caught up ...
    assert status["lag_seconds"] > 0  # ... and still the lag is not 0

    # not due yet (backoff): `opsrel sync` does not try it again, and says it is set aside
    out = CliRunner().invoke(cli, ["sync"])
    assert out.exit_code == 0, out.output
    assert f"set aside: 1 run(s) could not be recorded" in out.output
    assert f"oldest {bad} [SYS-001]" in out.output
    report = json.loads(CliRunner().invoke(cli, ["sync", "--json"]).output)
    assert (report["set_aside"], report["set_aside_now"], report["oldest_set_aside_run_id"]) == (
        1, 0, bad)
    assert _failure(runner.engine, bad) == (1, "SYS-001", False)

    # retried when due (the clock moved on past the backoff), on the default policy: after 5
    # failed attempts exactly one SYS-004 alert
    projection = runner.projection
    hours = iter(range(1, 100))
    projection.failures.clock = lambda: utcnow() + dt.timedelta(hours=next(hours))
    for attempts in (2, 3, 4, 5, 6):
        report = projection.sync()
        assert (report.set_aside_retried, report.set_aside_now, report.set_aside) == (1, 1, 1)
        assert _failure(runner.engine, bad) == (attempts, "SYS-001", attempts >= 5)
    assert _set_aside_alerts(runner.engine) == [("SYS-004", bad, "OPEN")]

    # the cause goes away: the next due sync records it and clears it
    _set_run_body(runner.instance, bad, body)
    report = projection.sync()
    assert (report.set_aside_retried, report.set_aside_cleared, report.set_aside) == (1, 1, 0)
    assert _status(runner.engine, bad) == "SUCCESS"
    assert _active_execution(runner.engine, DAYS[1]) == bad
    assert _failure(runner.engine, bad) is None
    [status] = api.call("GET", "/admin/ingestion").body
    assert (status["set_aside"], status["oldest_set_aside_run_id"], status["lag_seconds"]) == (
        0, None, 0)
    assert len(_set_aside_alerts(runner.engine)) == 1


def test_setaside_a_coded_write_failure_keeps_its_code(runner, monkeypatch):
    from opsrel_core.domain import error_codes
    from opsrel_core.errors import SystemException
    from opsrel_dagster.projection.apply import RunProjection

    ok, failing = (_unrecorded_run(runner, day) for day in DAYS[:2])
    original = RunProjection.project_run

    def write_keeps_failing(self, run_id, record=None):
        if run_id == failing:
            raise SystemException(error_codes.SYS_DATABASE_UNAVAILABLE,
                                  "apply failed after 4 attempts: OperationalError: " + "x" * 5000)
        return original(self, run_id, record)

    monkeypatch.setattr(RunProjection, "project_run", write_keeps_failing)
    report = runner.sync()
    assert (report.runs_projected, report.set_aside, report.oldest_set_aside_error_code) == (
        1, 1, "SYS-002")
    assert _status(runner.engine, ok) == "SUCCESS"
    view = runner.projection.failures.get(failing)
    assert view.error_message.startswith("SystemException: apply failed after 4 attempts")
    assert len(view.error_message) == 2000
    # the run-failure sensor's path sets aside too instead of raising
    assert runner.projection.project_or_set_aside(failing) is None
    assert runner.projection.failures.get(failing).attempts == 2
