"""OpenLineage events of the real flights pipeline: a day that fails on a bad landing file, then
its replay that succeeds, sent to a real receiver on loopback that is down for a while.

Every event received is validated against the OpenLineage JSON schemas; the facets carry the
ops schema's facts: the error code, the snapshot hash as the input version, the pandera rule
results, the replay's parent and attribution.
"""

import datetime as dt
from pathlib import Path

import pytest

from opsrel_core.config import OpenLineageSettings
from opsrel_core.notifiers.openlineage_http import OpenLineageHttpSender
from opsrel_core.persistence.tables import utcnow
from opsrel_core.services.provenance import ExecutionContextService
from opsrel_core.services.provenance import LineageDispatcher, LineageEventService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.app.runner import HeadlessRunner
from tests.support.openlineage import LineageReceiver, validate_event

DAY = "2013-02-01"
API_KEY = "marquez-key-Hq27"


@pytest.fixture
def receiver():
    peer = LineageReceiver()
    yield peer
    peer.down()


@pytest.fixture
def lineage_runner(opsrel_env, monkeypatch, receiver):
    monkeypatch.setenv("OPSREL_OPENLINEAGE_URL", receiver.url)
    monkeypatch.setenv("OPSREL_OPENLINEAGE_API_KEY", API_KEY)
    runner = HeadlessRunner.from_env()
    yield runner
    runner.engine.dispose()


def test_a_failed_day_and_its_replay_reach_the_receiver_with_their_facts(
    lineage_runner, opsrel_env, receiver
):
    runner = lineage_runner
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"], f"flights_{DAY}.csv")
    receiver.down()  # the lineage endpoint refuses connections while the day fails and is replayed
    landing.write_text("year,month,day\n")  # header only
    [failed] = runner.run_partitions([DAY])
    assert (failed.status, failed.error_code) == ("FAILED", "INP-001")
    runner.dispatch_lineage()  # as `opsrel run` does: nothing reaches the receiver
    package_flights_for_day(dt.date(2013, 2, 1)).to_csv(landing, index=False)
    replay, [done] = runner.run_replay([DAY], kind="single", operator_id="erin",
                                       reason="landing file re-delivered by the source")
    assert done.status == "SUCCESS"
    runner.dispatch_lineage()
    assert receiver.events == []

    receiver.up()
    settings = OpenLineageSettings.from_env()
    later = utcnow() + dt.timedelta(hours=1)  # past every backoff, without sleeping
    report = LineageDispatcher(runner.engine, settings, OpenLineageHttpSender(settings),
                               clock=lambda: later).dispatch_once()
    assert (report.sent, report.failed) == (4, 0)

    by_run: dict[str, list[dict]] = {}
    for event in receiver.events:
        validate_event(event)
        by_run.setdefault(event["run"]["runId"], []).append(event)
    assert set(by_run) == {failed.run_id, done.run_id}  # Dagster run ids are UUIDs
    assert [e["eventType"] for e in by_run[failed.run_id]] == ["START", "FAIL"]
    assert [e["eventType"] for e in by_run[done.run_id]] == ["START", "COMPLETE"]
    assert all(h["Authorization"] == f"Bearer {API_KEY}" for _p, h, _b in receiver.requests)
    assert {e["job"]["name"] for e in receiver.events} == {"flights_daily"}

    fail = by_run[failed.run_id][1]
    assert fail["run"]["facets"]["errorMessage"]["message"].startswith("INP-001: ")
    assert fail["run"]["facets"]["opsrel"]["errorCode"] == "INP-001"
    assert fail["inputs"] == [] and fail["outputs"] == []  # nothing was read or written

    start, complete = by_run[done.run_id]
    for event in (start, complete):  # both point to the execution whose result they replace
        assert event["run"]["facets"]["parent"]["run"]["runId"] == failed.run_id
    [snapshot] = complete["inputs"]
    assert snapshot["name"] == f"flights_snapshot/{DAY}"
    assert snapshot["facets"]["version"]["datasetVersion"] == done.snapshot_id
    assert done.snapshot_id.startswith("sha256:")

    versions = ResultVersionService(runner.engine).versions_of_execution(done.run_id)
    outputs = {o["name"]: o for o in complete["outputs"]}
    assert set(outputs) == {f"{v.asset_key}/{v.partition_key}" for v in versions}
    for version in versions:
        facet = outputs[f"{version.asset_key}/{version.partition_key}"]["facets"]["version"]
        assert facet["datasetVersion"] == f"v{version.version_number}"
    results = ValidationService(runner.engine).results_for_execution(done.run_id)
    assert results
    for asset_key in {r.asset_key for r in results}:
        got = outputs[f"{asset_key}/{DAY}"]["facets"]["dataQualityAssertions"]["assertions"]
        want = [(r.rule_id, r.status == "PASS") for r in results if r.asset_key == asset_key]
        assert sorted((a["assertion"], a["success"]) for a in got) == sorted(want)

    opsrel = complete["run"]["facets"]["opsrel"]
    assert opsrel["replayId"] == replay.replay_id
    assert (opsrel["operator"], opsrel["reason"]) == (
        "erin", "landing file re-delivered by the source")
    assert opsrel["resultActive"] is True and all(v["active"] for v in opsrel["versions"])
    context = ExecutionContextService(runner.engine).get_context(done.run_id)
    assert opsrel["ruleVersions"] == context.rule_versions

    # The delivery history: each START was tried while the receiver was down; each end waited
    # behind its run's START (order per run), then everything was sent once.
    history = {(e.execution_id, e.event_type): e for e in LineageEventService(runner.engine).events()}
    assert {e.status for e in history.values()} == {"SENT"} and len(history) == 4
    for run_id, end in ((failed.run_id, "FAIL"), (done.run_id, "COMPLETE")):
        tries = history[(run_id, "START")].attempt_history
        assert [(a.succeeded, a.http_status) for a in tries] == [(False, None), (True, 201)]
        assert "Connection refused" in tries[0].error
        assert [a.succeeded for a in history[(run_id, end)].attempt_history] == [True]
