"""The console's inbox over real HTTP: open alerts with their code, partition, count and links;
acknowledgement by an operator through the API's service call (same audit record), refused for
a viewer and without the form's CSRF token."""

import re

from opsrel_core.config import DEFAULT_DAGSTER_URL
from opsrel_core.domain import console_links, error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from tests.support.console_seed import DAY, JOB, alert_of, seed_failure



def _row(html: str, alert_id: int) -> str:
    found = re.search(rf'<tr id="alert-{alert_id}".*?</tr>', html, re.S)
    assert found, f"no row of alert {alert_id}"
    return found.group(0)


def test_inbox_shows_the_open_alert_with_code_partition_count_and_links(console_site):
    alert_id = seed_failure(console_site.database_url)
    page = console_site.signed_in("operator").get("/console/inbox")
    assert page.status_code == 200
    open_section = page.text.split('id="acknowledged-alerts"')[0]
    assert f'data-code="{error_codes.INP_EMPTY_FILE}"' in open_section
    row = _row(open_section, alert_id)
    assert f'href="{console_links.partition_path(JOB, DAY)}">{DAY}</a>' in row
    assert '<td class="count">1</td>' in row
    assert "Re-deliver the file" in row  # the catalog's operator message
    run = f"{DEFAULT_DAGSTER_URL.rstrip('/')}/runs/run-fail-1"
    assert f'class="run-link" href="{run}"' in row
    assert f'action="/console/alerts/{alert_id}/acknowledge"' in row
    assert 'name="reason"' in row and 'name="csrf_token"' in row


def test_an_operator_acknowledges_with_a_reason_and_the_api_audit_record(console_site):
    alert_id = seed_failure(console_site.database_url)
    client = console_site.signed_in("operator")
    csrf = client.csrf_of("/console/inbox")
    reply = client.post(f"/console/alerts/{alert_id}/acknowledge",
                        {"csrf_token": csrf, "reason": "landing re-delivered by the vendor"},
                        allow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/console/inbox?acknowledged={alert_id}"
    after = client.get(reply.headers["location"])
    assert f"Alert #{alert_id} acknowledged." in after.text
    acked_section = after.text.split('id="acknowledged-alerts"')[1]
    assert f'data-alert-id="{alert_id}"' in acked_section
    assert f'action="/console/alerts/{alert_id}/acknowledge"' not in after.text
    alert = alert_of(console_site.database_url, alert_id)
    assert (alert.status, alert.acknowledged_by) == ("ACKNOWLEDGED", "operator-op")
    engine = make_engine(console_site.database_url)
    try:
        records = AuditLogService(engine).list_audit_logs(target_type="alert",
                                                          target_id=str(alert_id))
    finally:
        engine.dispose()
    assert [(r.action, r.operator_id, r.reason) for r in records] == [
        ("ACKNOWLEDGE_ALERT", "operator-op", "landing re-delivered by the vendor")]
    assert records[0].principal and records[0].principal.startswith("token:")


def test_a_blank_reason_is_refused_and_changes_nothing(console_site):
    alert_id = seed_failure(console_site.database_url)
    client = console_site.signed_in("operator")
    reply = client.post(f"/console/alerts/{alert_id}/acknowledge",
                        {"csrf_token": client.csrf_of("/console/inbox"), "reason": "  "},
                        allow_redirects=False)
    assert reply.status_code == 422 and "reason is required" in reply.text
    assert alert_of(console_site.database_url, alert_id).status == "OPEN"


def test_a_viewer_sees_no_form_and_may_not_acknowledge(console_site):
    alert_id = seed_failure(console_site.database_url)
    viewer = console_site.signed_in("viewer")
    page = viewer.get("/console/inbox")
    assert page.status_code == 200 and f'data-alert-id="{alert_id}"' in page.text
    assert "/acknowledge" not in page.text and 'name="reason"' not in page.text
    csrf = viewer.csrf_of("/console/inbox")  # the sign-out form's token: valid for the session
    reply = viewer.post(f"/console/alerts/{alert_id}/acknowledge",
                        {"csrf_token": csrf, "reason": "not mine to do"}, allow_redirects=False)
    assert reply.status_code == 403 and "operator is required" in reply.text
    assert alert_of(console_site.database_url, alert_id).acknowledged_at is None


def test_acknowledging_without_the_csrf_token_is_refused(console_site):
    alert_id = seed_failure(console_site.database_url)
    client = console_site.signed_in("operator")
    reply = client.post(f"/console/alerts/{alert_id}/acknowledge", {"reason": "forged"},
                        allow_redirects=False)
    assert reply.status_code == 403 and "security token" in reply.text
    wrong = client.post(f"/console/alerts/{alert_id}/acknowledge",
                        {"reason": "forged", "csrf_token": "x" * 43}, allow_redirects=False)
    assert wrong.status_code == 403
    assert alert_of(console_site.database_url, alert_id).status == "OPEN"


def test_another_operators_acknowledgement_is_a_conflict_page(console_site):
    alert_id = seed_failure(console_site.database_url)
    first = console_site.signed_in("admin")
    assert first.post(f"/console/alerts/{alert_id}/acknowledge",
                      {"csrf_token": first.csrf_of("/console/inbox"), "reason": "mine"},
                      allow_redirects=False).status_code == 303
    second = console_site.signed_in("operator")
    reply = second.post(f"/console/alerts/{alert_id}/acknowledge",
                        {"csrf_token": second.csrf_of("/console/inbox"), "reason": "me too"},
                        allow_redirects=False)
    assert reply.status_code == 409 and "admin-op" in reply.text
    assert alert_of(console_site.database_url, alert_id).acknowledged_by == "admin-op"


def test_an_incident_over_two_partitions_is_one_row_listing_both(console_site):
    first = seed_failure(console_site.database_url, "run-a", "2013-01-05")
    second = seed_failure(console_site.database_url, "run-b", "2013-01-06")
    assert first == second  # one incident per code and job
    page = console_site.signed_in("operator").get("/console/inbox")
    row = _row(page.text, first)
    for day in ("2013-01-05", "2013-01-06"):
        assert f'href="{console_links.partition_path(JOB, day)}">{day}</a>' in row
    assert '<td class="count">2</td>' in row
    assert page.text.count('class="card alert-group"') == 1
