"""The OpenLineage outbox and dispatcher over the in-memory tables: one event per run and type,
events built from the run's records, sent in order per run, retried with backoff, given up after
the last attempt, and re-sent when a dispatcher died mid-send. No database server: the unit of
work runs on an empty in-memory SQLite the fakes never query."""

import datetime as dt
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from opsrel_core.domain.openlineage_events import RUN_ID_NAMESPACE, RunRecords, run_uuid
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.notifiers import DeliveryError
from opsrel_core.config import OpenLineageSettings
from opsrel_core.persistence.repositories.openlineage_outbox import (
    LineageEventRepository,
    RunRecordReader,
)
from opsrel_core.services.provenance import LineageDispatcher, LineageEventService, LineageOutbox
from tests.support.fakes.provenance import (
    FakeLineageEventRepository,
    FakeRunRecordReader,
    OutboxStore,
)

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)
SETTINGS = OpenLineageSettings(url="http://receiver.test/api/v1/lineage", max_attempts=3,
                               backoff_base_seconds=30.0, backoff_cap_seconds=3600.0,
                               claim_lease_seconds=300.0)


def _execution(execution_id: str, **kw) -> SimpleNamespace:
    values = dict(
        execution_id=execution_id, job_id="flights_daily", status="FAILED",
        trigger_type="SCHEDULE", partition_key="2013-02-08", partition_range_start=None,
        partition_range_end=None, replay_id=None, parent_execution_id=None, operator_id=None,
        error_code="DQ-001", error_message="rule failed", run_tags={}, started_at=T0,
        created_at=T0, ended_at=T0 + dt.timedelta(minutes=5), updated_at=T0)
    return SimpleNamespace(**{**values, **kw})


class Sender:
    """Answers each send with the next outcome (an int status or a ``DeliveryError``)."""

    def __init__(self, *outcomes):
        self.outcomes, self.sent = list(outcomes), []

    def send(self, event):
        self.sent.append((event["eventType"], event["run"]["runId"]))
        outcome = self.outcomes.pop(0) if self.outcomes else 201
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> OutboxStore:
    store = OutboxStore()
    store.records["run-1"] = RunRecords(_execution("run-1"))
    store.records["run-2"] = RunRecords(_execution("run-2", status="RUNNING"))
    return store


@pytest.fixture
def outbox(store) -> LineageOutbox:
    return LineageOutbox(SETTINGS, repository=store.repository, reader=store.reader)


def _later() -> dt.datetime:
    # The outbox stamps events with the real clock; the dispatcher's clock starts after it.
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)


def _dispatcher(engine, store, sender, clock):
    return LineageDispatcher(engine, SETTINGS, sender, clock=clock, repository=store.repository)


def test_the_fakes_have_every_method_of_the_repositories():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeLineageEventRepository) == public(LineageEventRepository)
    assert public(FakeRunRecordReader) == public(RunRecordReader)


def test_a_failure_records_start_and_fail_once(outbox, store, engine):
    session = SimpleNamespace(flush=lambda: None)
    outbox.on_transition(session, "run-1", ExecutionStatus.FAILED)
    outbox.on_transition(session, "run-1", ExecutionStatus.FAILED)
    assert outbox.record(session, "run-1", "START") is False
    assert [(e["event_type"], e["status"], e["attempts"]) for e in store.events] == [
        ("START", "PENDING", 0), ("FAIL", "PENDING", 0)]
    fail = store.events[1]["payload"]
    expected_run_id = str(uuid.uuid5(RUN_ID_NAMESPACE, "run-1"))
    assert fail["run"]["runId"] == store.events[1]["run_id"] == expected_run_id
    assert fail["run"]["facets"]["errorMessage"]["message"] == "DQ-001: rule failed"
    assert fail["run"]["facets"]["opsrel"]["executionId"] == "run-1"
    assert fail["eventTime"] == "2024-03-01T10:05:00+00:00"
    assert store.events[0]["payload"]["eventTime"] == "2024-03-01T10:00:00+00:00"
    views = LineageEventService(engine, repository=store.repository).events("run-1")
    assert [(v.event_type, v.attempt_history) for v in views] == [("START", ()), ("FAIL", ())]


def test_an_unknown_event_type_or_run_is_refused(outbox):
    session = SimpleNamespace(flush=lambda: None)
    with pytest.raises(ValueError):
        outbox.record(session, "run-1", "DONE")
    with pytest.raises(LookupError):
        outbox.record(session, "run-9", "START")
    assert run_uuid("6F0C5D1E-4B0A-5C51-9A53-6F7073726C01") == \
        "6f0c5d1e-4b0a-5c51-9a53-6f7073726c01"


def test_events_go_out_in_order_per_run_and_retry_with_backoff(outbox, store, engine):
    session = SimpleNamespace(flush=lambda: None)
    outbox.on_transition(session, "run-1", ExecutionStatus.FAILED)
    outbox.record(session, "run-2", "START")
    base = _later()
    now = [base]
    sender = Sender(DeliveryError(True, "HTTP 503"), 201, 201, 201)
    dispatcher = _dispatcher(engine, store, sender, lambda: now[0])
    first = dispatcher.dispatch_once()
    # run-1's FAIL waits behind its START, which is to be retried; run-2 goes on.
    assert first.outcomes == [(1, "START", "RETRY"), (3, "START", "SENT")]
    assert store.events[0]["next_attempt_at"] == base + dt.timedelta(seconds=30)
    assert store.events[0]["last_error"] == "EXT-003: HTTP 503"
    now[0] = base + dt.timedelta(seconds=30)
    second = dispatcher.dispatch_once()
    assert second.outcomes == [(1, "START", "SENT"), (2, "FAIL", "SENT")]
    assert (second.claimed, second.sent, second.retried, second.failed) == (2, 2, 0, 0)
    history = [(a["event_id"], a["succeeded"]) for a in store.attempts]
    assert history == [(1, False), (3, True), (1, True), (2, True)]


def test_a_permanent_refusal_fails_at_once_and_a_transient_one_after_the_last_attempt(
        outbox, store, engine):
    session = SimpleNamespace(flush=lambda: None)
    outbox.record(session, "run-1", "START")
    outbox.record(session, "run-2", "START")
    base = _later()
    now = [base]
    sender = Sender(DeliveryError(False, "HTTP 400"), *[DeliveryError(True, "timeout")] * 3)
    dispatcher = _dispatcher(engine, store, sender, lambda: now[0])
    assert dispatcher.dispatch_once().outcomes == [(1, "START", "FAILED"), (2, "START", "RETRY")]
    for _ in range(2):
        now[0] += dt.timedelta(hours=2)
        dispatcher.dispatch_once()
    assert [(e["status"], e["attempts"]) for e in store.events] == [("FAILED", 1), ("FAILED", 3)]
    assert store.events[1]["last_error"] == "EXT-003: timeout (gave up after 3 attempts)"


def test_a_claim_whose_outcome_was_never_recorded_is_sent_again_after_the_lease(
        outbox, store, engine):
    outbox.record(SimpleNamespace(flush=lambda: None), "run-1", "START")
    base = _later()
    now = [base]
    dispatcher = _dispatcher(engine, store, Sender(201), lambda: now[0])
    repo = store.repository()
    assert repo.claim(repo.next_due(base), base + dt.timedelta(seconds=300))  # then it died
    assert dispatcher.dispatch_once().claimed == 0  # leased
    now[0] = base + dt.timedelta(seconds=300)
    assert dispatcher.dispatch_once().outcomes == [(1, "START", "SENT")]
    assert [(a["succeeded"], a["error"][:26] if a["error"] else None)
            for a in store.attempts] == [(False, "outcome of attempt 1 unkno"), (True, None)]
    assert store.events[0]["attempts"] == 2
