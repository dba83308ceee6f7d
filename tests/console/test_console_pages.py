"""Console pages over real HTTP on both backends: the execution list (filters, keyset paging)
and detail, replays (list, detail, stop), the audit log with its diff, the data-quality
calendar and the ingestion banner. Data is made through the real services."""

import re

import pytest

from opsrel_core.domain.status import TriggerType
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.execution_projection import ProjectionCursorStore
from opsrel_core.services.projection_failures import ProjectionFailureService

JOB = "flights_daily"


def _rows(html: str) -> list[str]:
    """The execution ids listed on an execution page, in order."""
    return re.findall(r'<tr data-execution="([^"]+)">', html)


def _execution(engine, execution_id: str, day: str, *, operator: str = "op",
               fail: str | None = None, trigger=TriggerType.MANUAL) -> str:
    service = BatchExecutionService(engine)
    service.register_execution(ExecutionSpec(execution_id, JOB, partition_key=day,
                                             trigger_type=trigger, operator_id=operator))
    service.start_execution(execution_id)
    if fail:
        service.fail_execution(execution_id, fail)
    else:
        service.complete_execution(execution_id)
    return execution_id


def test_execution_list_filters_and_pages(console_site, engine, monkeypatch):
    from opsrel_core.entrypoints.console import routes_executions

    for n in range(5):
        _execution(engine, f"run-ok-{n}", f"2013-02-0{n + 1}", operator="alice")
    _execution(engine, "run-bad", "2013-02-03", operator="bob", fail="DQ-001")
    client = console_site.signed_in("viewer")

    failed = client.get("/console/executions?status=FAILED&job_id=flights_daily")
    assert failed.status_code == 200 and _rows(failed.text) == ["run-bad"]
    assert 'href="/console/executions/run-bad"' in failed.text
    assert 'href="/console/partitions/flights_daily/2013-02-03"' in failed.text
    assert "DQ-001" in failed.text
    by_day = _rows(client.get("/console/executions?partition_from=2013-02-03"
                              "&partition_to=2013-02-03").text)
    assert sorted(by_day) == ["run-bad", "run-ok-2"]
    assert _rows(client.get("/console/executions?operator_id=bob&status=").text) == ["run-bad"]
    assert _rows(client.get("/console/executions?error_code=DQ-001").text) == ["run-bad"]
    assert _rows(client.get("/console/executions?since=2999-01-01").text) == []

    # keyset paging: the server's page size is 50; a small one shows the next link
    monkeypatch.setattr(routes_executions, "PAGE_SIZE", 4)  # same process: the server thread
    first = client.get("/console/executions?operator_id=alice")
    assert len(_rows(first.text)) == 4
    found = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert found, first.text
    second = client.get(found.group(1).replace("&amp;", "&"))
    assert len(_rows(second.text)) == 1 and 'rel="next"' not in second.text
    assert set(_rows(first.text)) | set(_rows(second.text)) == {f"run-ok-{n}" for n in range(5)}


def test_execution_detail_shows_history_and_report_link(console_site, engine):
    _execution(engine, "run-bad", "2013-02-03", fail="DQ-001")
    client = console_site.signed_in("viewer")
    page = client.get("/console/executions/run-bad")
    assert page.status_code == 200
    assert '<span class="status FAILED">FAILED</span>' in page.text
    assert 'id="history"' in page.text and "RUNNING" in page.text
    assert 'href="/console/reports/2013-02-03"' in page.text
    assert client.get("/console/executions/no-such-run").status_code == 404

    from opsrel_core.services.execution_commands import ExecutionCommands

    BatchExecutionService(engine).register_execution(ExecutionSpec(
        "run-stopped", JOB, partition_key="2013-02-04", trigger_type=TriggerType.MANUAL))
    BatchExecutionService(engine).start_execution("run-stopped")
    ExecutionCommands(engine).request_stop("run-stopped", operator_id="op", reason="bad input")
    stopped = client.get("/console/executions/run-stopped").text
    assert 'id="stop">Stop requested' in stopped


def test_execution_detail_shows_each_version_with_its_backtrace(console_site, engine):
    from opsrel_core.services.provenance import LineageService, NodeRef
    from opsrel_core.services.results import ResultVersionService

    day = "2013-02-05"
    BatchExecutionService(engine).register_execution(ExecutionSpec(
        "run-v", JOB, partition_key=day, trigger_type=TriggerType.MANUAL, operator_id="op"))
    ResultVersionService(engine).create_version(
        asset_key="ontime_performance", partition_key=day, execution_id="run-v",
        content_hash="sha256:x", row_count=42, storage_uri=None)
    snapshot = NodeRef.snapshot("flights_snapshot", day, f"sha256:snap{day}")
    clean = NodeRef.versioned("TRANSFORM", "clean_flights", day, 1)
    result = NodeRef.versioned("RESULT", "ontime_performance", day, 1)
    LineageService(engine).record_execution_lineage("run-v", [(snapshot, clean), (clean, result)])
    page = console_site.signed_in("viewer").get("/console/executions/run-v").text
    versions = page.split('id="versions"')[1]
    assert "ontime_performance" in versions and "v1" in versions and "42" in versions
    assert "TRANSFORM clean_flights 2013-02-05 v1" in versions
    assert f"SNAPSHOT flights_snapshot 2013-02-05 sha256:snap{day}" in versions


def test_banner_appears_when_runs_are_set_aside(console_site, engine):
    client = console_site.signed_in("viewer")
    ProjectionCursorStore(engine).record_backlog("dagster_run_status_changes", None)
    assert 'id="ingestion-banner"' not in client.get("/console/executions").text
    ProjectionFailureService(engine).set_aside("run-lost", "SYS-002", "database unreachable")
    page = client.get("/console/executions").text
    assert 'id="ingestion-banner"' in page
    assert "1 run set aside (oldest run-lost, SYS-002)" in page


def test_banner_appears_when_the_projection_lags(console_site, engine):
    import datetime as dt

    store = ProjectionCursorStore(engine)
    now = dt.datetime.now(dt.timezone.utc)
    store.record_backlog("dagster_run_status_changes", now - dt.timedelta(seconds=60))
    client = console_site.signed_in("viewer")
    assert 'id="ingestion-banner"' not in client.get("/console/audit").text  # within 300 s
    store.record_backlog("dagster_run_status_changes", now - dt.timedelta(seconds=900))
    page = client.get("/console/audit").text
    assert re.search(r"dagster_run_status_changes lags 9\d\d s", page), page


def _replay_with_runs(engine) -> int:
    from opsrel_core.services.replays import ReplayService

    replay = ReplayService(engine).replay_range(
        job_id=JOB, start="2013-02-01", end="2013-02-03", operator_id="op", reason="late file",
        partition_keys=["2013-02-01", "2013-02-02", "2013-02-03"])
    service = BatchExecutionService(engine)
    service.register_execution(ExecutionSpec("rp-1", JOB, partition_key="2013-02-01",
                                             trigger_type=TriggerType.REPLAY,
                                             replay_id=replay.replay_id, operator_id="op"))
    service.start_execution("rp-1")
    service.complete_execution("rp-1")
    service.register_execution(ExecutionSpec("rp-2", JOB, partition_key="2013-02-02",
                                             trigger_type=TriggerType.REPLAY,
                                             replay_id=replay.replay_id, operator_id="op"))
    service.start_execution("rp-2")
    service.fail_execution("rp-2", "DQ-001")
    return replay.replay_id


def test_replay_pages_show_each_partition_and_stop_is_audited(console_site, engine):
    replay_id = _replay_with_runs(engine)
    viewer = console_site.signed_in("viewer")
    listing = viewer.get("/console/replays").text
    assert f'<tr data-replay="{replay_id}">' in listing and "late file" in listing
    assert "No replay matches." in viewer.get("/console/replays?status=SUCCESS").text
    assert f'data-replay="{replay_id}"' in viewer.get(
        "/console/replays?job_id=flights_daily&status=requested").text
    page = viewer.get(f"/console/replays/{replay_id}").text
    rows = dict(re.findall(
        r'<tr data-partition="([^"]+)">.*?<span class="status [A-Z_]+">([^<]+)</span>', page, re.S))
    assert rows == {"2013-02-01": "SUCCESS", "2013-02-02": "FAILED", "2013-02-03": "NOT LAUNCHED"}
    assert 'id="stop-replay"' not in page  # a viewer sees no action

    operator = console_site.signed_in("operator")
    path = f"/console/replays/{replay_id}"
    assert 'id="stop-replay"' in operator.get(path).text
    csrf = operator.csrf_of(path)
    assert operator.post(f"{path}/stop", {"csrf_token": csrf, "reason": " "}).status_code == 422
    refused = viewer.post(f"{path}/stop", {"csrf_token": viewer.csrf_of(path), "reason": "x"})
    assert refused.status_code == 403
    done = operator.post(f"{path}/stop", {"csrf_token": csrf, "reason": "wrong window"},
                         allow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == path
    after = operator.get(path).text
    assert re.search(r'id="replay-status">(STOPPING|STOPPED)<', after)
    audit = operator.get(f"/console/audit?target_type=replay&target_id={replay_id}").text
    assert "wrong window" in audit
    assert viewer.get("/console/replays/99999").status_code == 404


def test_audit_log_filters_and_shows_the_change_as_a_diff(console_site, engine):
    from opsrel_core.services.audit_log import AuditLogService

    audit = AuditLogService(engine)

    def raise_threshold(c: dict) -> None:
        c["warn_threshold"] = 5
        c["channels"].append("SLACK")

    audit.log_config_change(
        operator_id="park", reason="too many alerts", action="SET_WARN_THRESHOLD",
        target={"warn_threshold": 3, "channels": ["EMAIL"], "owner": "ops"},
        target_id="alert_policy", mutate=raise_threshold)
    audit.log_config_change(
        operator_id="kim", reason="quiet hours", action="SET_QUIET", target={"quiet": False},
        target_id="quiet_hours", mutate=lambda c: c.update(quiet=True))
    client = console_site.signed_in("viewer")

    page = client.get("/console/audit?operator_id=park").text
    assert "too many alerts" in page and "quiet hours" not in page
    assert ('<div data-key="warn_threshold"><b>warn_threshold</b>: <del>3</del> <ins>5</ins>'
            in page)
    assert '<del>[&#34;EMAIL&#34;]</del> <ins>[&#34;EMAIL&#34;, &#34;SLACK&#34;]</ins>' in page
    assert 'data-key="owner"' not in page  # unchanged keys are left out
    assert "quiet hours" in client.get("/console/audit?target_id=quiet_hours").text
    assert "too many alerts" not in client.get("/console/audit?since=2999-01-01").text
    assert "quiet hours" in client.get("/console/audit?action_type=CONFIG_CHANGE").text
    assert "quiet hours" not in client.get("/console/audit?action_type=BATCH_ACTION").text


def test_quality_calendar_colours_days_and_marks_new_warnings(console_site, engine):
    from opsrel_core.services.quality import DqReportService
    from opsrel_core.services.quality import ValidationService

    validation = ValidationService(engine)
    rules = {rule_id: validation.register_rule(rule_id, asset, severity, rule_id, {"r": rule_id})
             for rule_id, asset, severity in [("flight_key_unique", "clean_flights", "FAIL"),
                                              ("dest_known", "clean_flights", "WARN"),
                                              ("tailnum_known", "clean_flights", "WARN")]}
    # dest_known warns on most days (no news); tailnum_known warns once (news on 02-03)
    days = {
        "2013-02-01": {"dest_known": "WARN"},
        "2013-02-02": {"dest_known": "WARN"},
        "2013-02-03": {"dest_known": "WARN", "tailnum_known": "WARN"},
        "2013-02-04": {"dest_known": "WARN", "flight_key_unique": "FAIL"},
        "2013-02-05": {"dest_known": "WARN"},
        "2013-02-06": {},
    }
    reports = DqReportService(engine)
    for n, (day, statuses) in enumerate(days.items()):
        execution_id = f"dq-{n}"
        BatchExecutionService(engine).register_execution(
            ExecutionSpec(execution_id, JOB, partition_key=day, trigger_type=TriggerType.MANUAL,
                          operator_id="op"))
        for rule_id, rule in rules.items():
            validation.record_result(
                execution_id=execution_id, rule_version_id=rule.rule_version_id,
                asset_key=rule.asset_key, partition_key=day,
                status=statuses.get(rule_id, "PASS"), total_rows=1000,
                failing_rows=3 if rule_id in statuses else 0)
        reports.build_daily_report(day)

    client = console_site.signed_in("viewer")
    page = client.get("/console/quality?job=flights_daily&month=2013-02").text
    cells = {day: cls for cls, day in re.findall(r'<div class="(cell[^"]*)" data-day="([^"]+)">',
                                                 page)}
    assert len(cells) == 28
    assert cells["2013-02-01"] == "cell WARN"
    assert cells["2013-02-03"] == "cell WARN news"
    assert cells["2013-02-04"] == "cell FAIL"
    assert cells["2013-02-06"] == "cell PASS"
    assert cells["2013-02-07"] == "cell"
    day3 = page.split('data-day="2013-02-03"')[1].split('data-day="2013-02-04"')[0]
    assert 'href="/console/reports/2013-02-03"' in day3
    assert '<div class="rule">dest_known</div>' in day3
    assert '<div class="rule">tailnum_known</div>' in day3
    assert '<div class="muted basis">latest attempt</div>' in day3  # no version is active

    report = client.get("/console/reports/2013-02-04")
    assert report.status_code == 200
    assert 'id="outcome">FAIL<' in report.text
    assert re.search(r'<tr data-rule="flight_key_unique">.*?<span class="status FAIL">',
                     report.text, re.S)
    assert client.get("/console/reports/2013-02-20").status_code == 404
    assert client.get("/console/quality?month=2013-13").status_code == 422
    # without a month the calendar opens on the month of the report built last (2013-02-06)
    opened = client.get("/console/quality").text
    assert 'data-day="2013-02-06"' in opened and 'data-day="2013-03-01"' not in opened
    # the partition page links its data-quality line to the report
    partition = client.get("/console/partitions/flights_daily/2013-02-03").text
    assert 'id="report-link">the report</a>' in partition
    assert 'href="/console/reports/2013-02-03" id="report-link"' in partition
