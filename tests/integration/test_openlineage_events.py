"""OpenLineage run events through the outbox, on both backends, to a real receiver on loopback.

The projection's services record the events in the transactions of what they report (start,
end, activation); the dispatcher sends them with retries. Every event received is validated
against the OpenLineage JSON schemas. Time moves through an injected clock; nothing sleeps.
"""

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from opsrel_core.config import Secret
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.notifiers.openlineage_http import OpenLineageHttpSender
from opsrel_core.config import OpenLineageSettings
from opsrel_core.persistence.tables import LineageEvent, utcnow
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.execution_projection import (
    ExecutionProjector,
    ObservedFailure,
    ObservedStatus,
    RunObservation,
)
from opsrel_core.services.provenance import RUN_ID_NAMESPACE, run_uuid
from opsrel_core.services.provenance import (
    LineageDispatcher,
    LineageEventService,
    LineageOutbox,
)
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.results import SnapshotRecord, SnapshotService
from opsrel_core.services.quality import ValidationService
from tests.support.openlineage import LineageReceiver, validate_event

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
SNAPSHOT = "sha256:" + "ab" * 32
API_KEY = "ol-key-Zq81-very-secret"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow() + dt.timedelta(seconds=1)  # what is recorded now is due

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def receiver():
    peer = LineageReceiver()
    yield peer
    peer.down()


def _settings(receiver: LineageReceiver, **kw) -> OpenLineageSettings:
    return OpenLineageSettings(url=receiver.url, namespace="opsrel-test", **kw)


def _dispatcher(engine, settings, clock) -> LineageDispatcher:
    return LineageDispatcher(engine, settings, OpenLineageHttpSender(settings), clock=clock)


def _observation(execution_id: str, status: ObservedStatus, **kw) -> RunObservation:
    spec_kw = {k: kw.pop(k) for k in ("parent_execution_id", "operator_id", "run_tags")
               if k in kw}
    return RunObservation(
        spec=ExecutionSpec(execution_id=execution_id, job_id="flights_daily",
                           partition_key="2013-02-01", **spec_kw),
        status=status, created_at=T0, started_at=T0 + dt.timedelta(seconds=1),
        ended_at=T0 + dt.timedelta(seconds=9), **kw)


def test_settings_from_the_environment():
    settings = OpenLineageSettings.from_env({
        "OPSREL_OPENLINEAGE_URL": "http://marquez:5000", "OPSREL_OPENLINEAGE_API_KEY": API_KEY,
        "OPSREL_OPENLINEAGE_NAMESPACE": "prod"})
    assert settings.url == "http://marquez:5000/api/v1/lineage"  # Marquez's path when none given
    assert (settings.namespace, settings.enabled) == ("prod", True)
    assert API_KEY not in repr(settings)
    kept = OpenLineageSettings.from_env({"OPSREL_OPENLINEAGE_URL": "https://ol.example/x/lineage"})
    assert kept.url == "https://ol.example/x/lineage"
    with pytest.raises(ValueError, match="OPSREL_OPENLINEAGE_URL"):
        OpenLineageSettings.from_env({"OPSREL_OPENLINEAGE_URL": "marquez:5000"})


def test_off_when_no_endpoint_is_configured(engine):
    assert not OpenLineageSettings.from_env({}).enabled
    with pytest.raises(ValueError):
        LineageOutbox(OpenLineageSettings.from_env({}))
    ExecutionProjector(engine).apply(_observation("run-off", ObservedStatus.SUCCESS))
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(LineageEvent.__table__)) == 0


def test_a_failure_and_its_replay_are_sent_valid_with_their_facts(engine, receiver):
    settings = _settings(receiver, api_key=Secret(API_KEY))
    outbox = LineageOutbox(settings)
    projector = ExecutionProjector(engine, lineage=outbox)
    failed_id = str(uuid.uuid4())
    projector.apply(_observation(
        failed_id, ObservedStatus.FAILED,
        failure=ObservedFailure("INP-001", "the landing file holds a header only",
                                "raw_flights", "2013-02-01")))

    replay_id = "replay-run-7"  # not a UUID: its runId is derived, the id is in the facet
    SnapshotService(engine).record_snapshot(SnapshotRecord(
        SNAPSHOT, "flights_snapshot", "2013-02-01", "file:///landing/flights_2013-02-01.csv",
        "file:///snapshots/x.csv.gz", 900, None))
    BatchExecutionService(engine).register_execution(ExecutionSpec(
        execution_id=replay_id, job_id="flights_daily", partition_key="2013-02-01",
        parent_execution_id=failed_id, operator_id="erin",
        run_tags={"opsrel/reason": "landing file re-delivered"}))
    rules = ValidationService(engine)
    unique = rules.register_rule("flight_key_unique", "clean_flights", "FAIL", "keys unique",
                                 {"kind": "schema", "schema": {"columns": {"flight": {}}}})
    share = rules.register_rule("cancelled_share_max", "clean_flights", "WARN", "share",
                                {"kind": "table", "measure": {"name": "share"}})
    rules.record_result(execution_id=replay_id, rule_version_id=unique.rule_version_id,
                        asset_key="clean_flights", partition_key="2013-02-01", status="PASS")
    rules.record_result(execution_id=replay_id, rule_version_id=share.rule_version_id,
                        asset_key="clean_flights", partition_key="2013-02-01", status="WARN")
    ResultVersionService(engine).create_version(
        asset_key="clean_flights", partition_key="2013-02-01", execution_id=replay_id,
        content_hash="sha256:" + "cd" * 32, row_count=900, storage_uri=None)
    projector.apply(_observation(
        replay_id, ObservedStatus.SUCCESS, parent_execution_id=failed_id, operator_id="erin",
        run_tags={"opsrel/reason": "landing file re-delivered"},
        snapshots={"2013-02-01": SNAPSHOT}))
    projector.apply(_observation(replay_id, ObservedStatus.SUCCESS))  # catch-up: no new event

    report = _dispatcher(engine, settings, Clock()).dispatch_once()
    assert (report.sent, report.retried, report.failed) == (4, 0, 0)
    got = [(e["run"]["runId"], e["eventType"]) for e in receiver.events]
    assert got == [(failed_id, "START"), (failed_id, "FAIL"),
                   (run_uuid(replay_id), "START"), (run_uuid(replay_id), "COMPLETE")]
    assert run_uuid(replay_id) == str(uuid.uuid5(RUN_ID_NAMESPACE, replay_id))  # stable
    checked = [validate_event(e) for e in receiver.events]
    assert "run.errorMessage" in checked[1] and "run.parent" in checked[3]
    assert {path for path, _h, _b in receiver.requests} == {"/api/v1/lineage"}
    assert {h["Authorization"] for _p, h, _b in receiver.requests} == {f"Bearer {API_KEY}"}

    fail, complete = receiver.events[1], receiver.events[3]
    assert (fail["job"]["namespace"], fail["job"]["name"]) == ("opsrel-test", "flights_daily")
    assert fail["run"]["facets"]["errorMessage"]["message"] == (
        "INP-001: the landing file holds a header only")
    assert fail["run"]["facets"]["opsrel"]["errorCode"] == "INP-001"
    assert fail["outputs"] == [] and "parent" not in fail["run"]["facets"]

    facets = complete["run"]["facets"]
    assert facets["parent"]["run"]["runId"] == failed_id
    assert (facets["parent"]["job"]["namespace"], facets["parent"]["job"]["name"]) == (
        "opsrel-test", "flights_daily")
    assert "errorMessage" not in facets
    opsrel = facets["opsrel"]
    assert (opsrel["executionId"], opsrel["operator"], opsrel["reason"]) == (
        replay_id, "erin", "landing file re-delivered")
    assert opsrel["parentExecutionId"] == failed_id and opsrel["resultActive"] is True
    assert opsrel["ruleVersions"] == {"cancelled_share_max": share.version_hash,
                                      "flight_key_unique": unique.version_hash}
    assert opsrel["versions"][0]["active"] is True
    [snapshot] = complete["inputs"]
    assert snapshot["name"] == "flights_snapshot/2013-02-01"
    assert snapshot["facets"]["version"]["datasetVersion"] == SNAPSHOT
    [output] = complete["outputs"]
    assert output["name"] == "clean_flights/2013-02-01"
    assert output["facets"]["version"]["datasetVersion"] == "v1"
    assert output["facets"]["dataQualityAssertions"]["assertions"] == [
        {"assertion": "flight_key_unique", "success": True, "column": "flight",
         "severity": "error"},
        {"assertion": "cancelled_share_max", "success": False, "severity": "warn"},
    ]
    history = LineageEventService(engine).events(replay_id)
    assert [(e.event_type, e.status, e.attempts) for e in history] == [
        ("START", "SENT", 1), ("COMPLETE", "SENT", 1)]
    assert [(a.succeeded, a.http_status) for a in history[1].attempt_history] == [(True, 201)]


def test_a_stopped_execution_emits_its_abort(engine, receiver):
    settings = _settings(receiver)
    projector = ExecutionProjector(engine, lineage=LineageOutbox(settings))
    projector.apply(_observation("run-stopped", ObservedStatus.STOPPED))
    never_started = RunObservation(
        spec=ExecutionSpec(execution_id="run-never", job_id="flights_daily"),
        status=ObservedStatus.STOPPED, created_at=T0, ended_at=T0)
    projector.apply(never_started)
    # A stop is final: the worker's SUCCESS after the stop request ends the execution STOPPED.
    svc = projector.executions
    svc.register_execution(ExecutionSpec(execution_id="run-late", job_id="flights_daily"))
    svc.start_execution("run-late")
    svc.request_stop("run-late")
    assert svc.complete_execution("run-late").status == ExecutionStatus.STOPPED
    _dispatcher(engine, settings, Clock()).dispatch_once()
    by_run = {}
    for event in receiver.events:
        validate_event(event)
        by_run.setdefault(event["run"]["facets"]["opsrel"]["executionId"], []).append(event)
    for execution_id in ("run-stopped", "run-never", "run-late"):
        start, abort = by_run[execution_id]
        assert (start["eventType"], abort["eventType"]) == ("START", "ABORT")
        assert abort["run"]["facets"]["errorMessage"]["message"].startswith("BAT-004")
        assert abort["run"]["facets"]["opsrel"]["status"] == "STOPPED"


def test_the_receiver_down_for_a_while_loses_no_event_and_keeps_run_order(engine, receiver):
    settings = _settings(receiver, backoff_base_seconds=30, max_attempts=8)
    svc = BatchExecutionService(engine, LineageOutbox(settings))
    clock = Clock()
    dispatcher = _dispatcher(engine, settings, clock)
    for name in ("a", "b"):
        svc.register_execution(ExecutionSpec(execution_id=f"run-{name}", job_id="flights_daily"))
        svc.start_execution(f"run-{name}")
    receiver.down()  # refusing connections
    report = dispatcher.dispatch_once()
    assert (report.claimed, report.retried, report.sent) == (2, 2, 0)
    svc.fail_execution("run-a", "INP-001", error_message="header only")
    svc.complete_execution("run-b")
    ResultVersionService(engine, LineageOutbox(settings)).activate_execution_versions("run-b")
    # Nothing is due: the STARTs wait for their backoff, the ends wait behind their STARTs.
    assert dispatcher.dispatch_once().claimed == 0
    receiver.up()
    receiver.script = [(503, b"Service Unavailable")]
    clock.now += dt.timedelta(seconds=31)
    report = dispatcher.dispatch_once()
    # run-a's START got the 503 and its FAIL waits behind it; run-b went on.
    assert (report.sent, report.retried) == (2, 1)
    assert [e["eventType"] for e in receiver.events] == ["START", "COMPLETE"]
    clock.now += dt.timedelta(seconds=61)
    report = dispatcher.dispatch_once()
    assert report.sent == 2 and dispatcher.dispatch_once().claimed == 0

    events = LineageEventService(engine).events()
    assert {e.status for e in events} == {"SENT"} and len(events) == 4
    for execution_id in ("run-a", "run-b"):
        received = [e["eventType"] for e in receiver.events
                    if e["run"]["runId"] == run_uuid(execution_id)]
        assert received == ["START", "FAIL" if execution_id == "run-a" else "COMPLETE"]
    failed_first = next(e for e in events if e.attempts == 3)
    assert [(a.succeeded, a.http_status) for a in failed_first.attempt_history] == [
        (False, None), (False, 503), (True, 201)]
    assert failed_first.attempt_history[0].error.startswith("EXT-003: OpenLineage endpoint: ")
    assert "HTTP 503" in failed_first.attempt_history[1].error
    for event in receiver.events:
        validate_event(event)


def test_a_permanent_refusal_fails_the_event_and_the_run_goes_on(engine, receiver):
    settings = _settings(receiver, api_key=Secret(API_KEY))
    svc = BatchExecutionService(engine, LineageOutbox(settings))
    svc.register_execution(ExecutionSpec(execution_id="run-c", job_id="flights_daily"))
    svc.start_execution("run-c")
    svc.stop_execution("run-c")
    receiver.script = [(400, f"bad event, key {API_KEY}".encode())]
    report = _dispatcher(engine, settings, Clock()).dispatch_once()
    assert (report.failed, report.sent) == (1, 1)
    start, abort = LineageEventService(engine).events("run-c")
    assert (start.status, abort.status) == ("FAILED", "SENT")
    assert API_KEY not in start.last_error and "***" in start.last_error
    assert ExecutionStatus.STOPPED.value == svc.get_execution("run-c").status.value
