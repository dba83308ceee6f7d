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


def _execution(engine, execution_id: str, day: str, *, operator: str = "op", fail: str | None = None,
               trigger=TriggerType.MANUAL) -> str:
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


def test_banner_appears_when_runs_are_set_aside(console_site, engine):
    client = console_site.signed_in("viewer")
    ProjectionCursorStore(engine).record_backlog("dagster_run_status_changes", None)
    assert 'id="ingestion-banner"' not in client.get("/console/executions").text
    ProjectionFailureService(engine).set_aside("run-lost", "SYS-002", "database unreachable")
    page = client.get("/console/executions").text
    assert 'id="ingestion-banner"' in page
    assert "1 run set aside (oldest run-lost, SYS-002)" in page
