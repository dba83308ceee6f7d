"""The console's partition page over real HTTP: its executions, result versions (the active one
marked), alerts and replays; an operator's replay in two steps, preview (writes nothing) then
confirmation, recorded once however often the confirmation is sent."""

import re

from opsrel_core.domain import console_links, error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.audit_log import AuditLogService
from tests.support.console_seed import DAY, JOB, alert_of, audit_records, replays_of, seed_failure

PATH = console_links.partition_path(JOB, DAY)




def test_partition_page_lists_executions_versions_and_alerts(console_site):
    alert_id = seed_failure(console_site.database_url, earlier_success="run-ok-1")
    page = console_site.signed_in("viewer").get(PATH)
    assert page.status_code == 200
    executions = page.text.split('id="versions"')[0]
    # newest first: the failure, then the success whose result is active
    assert executions.index('data-execution-id="run-fail-1"') < executions.index(
        'data-execution-id="run-ok-1"')
    failed = executions.split('data-execution-id="run-fail-1"')[1].split(
        'data-execution-id="run-ok-1"')[0]
    assert error_codes.INP_EMPTY_FILE in failed and "FAILED" in failed
    assert "Re-deliver the file" in failed and "has 0 rows" in failed
    assert "/runs/run-fail-1" in failed and "RUNNING → FAILED" in failed
    versions = page.text.split('id="versions"')[1].split('id="alerts"')[0]
    assert "raw_flights" in versions
    active = re.findall(r'<tr class="version active" data-version="(\d+)">', versions)
    assert active == ["1"] and "run-ok-1" in versions
    alerts = page.text.split('id="alerts"')[1].split('id="replays"')[0]
    assert f'data-alert-id="{alert_id}"' in alerts
    assert "No data-quality report was built for this day yet." in page.text
    assert "/replay/preview" not in page.text  # a viewer has no action


def test_preview_then_confirm_records_exactly_one_replay(console_site):
    seed_failure(console_site.database_url)
    client = console_site.signed_in("operator")
    page = client.get(PATH)
    assert f'action="{PATH}/replay/preview"' in page.text
    csrf = client.csrf_of(PATH)
    preview = client.post(f"{PATH}/replay/preview",
                          {"csrf_token": csrf, "reason": "vendor re-delivered the file"})
    assert preview.status_code == 200
    assert f'<td class="code">{DAY}</td><td>run-fail-1</td>' in preview.text  # the redone run
    assert replays_of(console_site.database_url) == []  # a preview writes nothing
    assert audit_records(console_site.database_url, target_type="replay") == []
    key = re.search(r'name="request_key" value="([^"]+)"', preview.text).group(1)
    form = {"csrf_token": csrf, "reason": "vendor re-delivered the file", "request_key": key}
    first = client.post(f"{PATH}/replay", form, allow_redirects=False)
    second = client.post(f"{PATH}/replay", form, allow_redirects=False)  # a double submit
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    replays = replays_of(console_site.database_url)
    assert len(replays) == 1
    replay = replays[0]
    assert (replay.operator_id, replay.reason, replay.partition_keys) == (
        "operator-op", "vendor re-delivered the file", (DAY,))
    assert first.headers["location"] == f"{PATH}?replayed={replay.replay_id}"
    audits = audit_records(console_site.database_url, target_type="replay")
    assert [(a.action, a.operator_id, a.target_id) for a in audits] == [
        ("REPLAY", "operator-op", str(replay.replay_id))]
    after = client.get(first.headers["location"])
    flash = after.text.split('id="replay-flash"')[1].split("</div>")[0]
    assert f"#{replay.replay_id}</a>" in flash and 'status REQUESTED">REQUESTED' in flash
    # a replay not ended yet: the page reloads itself until it ends (no JavaScript)
    assert '<meta http-equiv="refresh" content="3">' in after.text
    assert f'data-replay-id="{replay.replay_id}"' in after.text
    assert '<meta http-equiv="refresh"' not in client.get(PATH).text  # only while following


def test_the_replay_acknowledges_the_chosen_open_alert_with_its_reason(console_site):
    alert_id = seed_failure(console_site.database_url, earlier_success="run-ok-1")
    client = console_site.signed_in("operator")
    page = client.get(PATH)
    # the replay form offers the partition's open alert, checked
    assert (f'<input type="checkbox" name="acknowledge" value="{alert_id}" checked>'
            in page.text.split('id="replay-action"')[1].split("</section>")[0])
    csrf = client.csrf_of(PATH)
    reason = "landing file re-delivered by the vendor"
    preview = client.post(f"{PATH}/replay/preview",
                          {"csrf_token": csrf, "reason": reason, "acknowledge": str(alert_id)})
    assert f"Confirming also acknowledges alert #{alert_id} with this reason." in preview.text
    assert alert_of(console_site.database_url, alert_id).status == "OPEN"  # preview writes nothing
    key = re.search(r'name="request_key" value="([^"]+)"', preview.text).group(1)
    confirmed = client.post(f"{PATH}/replay", {"csrf_token": csrf, "reason": reason,
                                                "request_key": key,
                                                "acknowledge": str(alert_id)},
                            allow_redirects=False)
    assert confirmed.status_code == 303
    [replay] = replays_of(console_site.database_url)
    assert confirmed.headers["location"] == (
        f"{PATH}?replayed={replay.replay_id}&acknowledged={alert_id}")
    assert alert_of(console_site.database_url, alert_id).status == "ACKNOWLEDGED"
    engine = make_engine(console_site.database_url)
    try:
        audits = AuditLogService(engine).list_audit_logs(limit=10)
    finally:
        engine.dispose()
    # the same two records as the two API calls: the replay and the acknowledgement
    assert sorted((a.action, a.target_id, a.reason) for a in audits) == sorted([
        ("REPLAY", str(replay.replay_id), reason),
        ("ACKNOWLEDGE_ALERT", str(alert_id), reason)])
    shown = client.get(confirmed.headers["location"]).text
    assert f"Acknowledged alert #{alert_id}." in shown.split('id="replay-flash"')[1]
    # the partition page now has no open alert to offer
    assert 'name="acknowledge"' not in shown



def test_replay_is_refused_for_a_viewer_and_without_csrf(console_site):
    seed_failure(console_site.database_url)
    viewer = console_site.signed_in("viewer")
    csrf = viewer.csrf_of(PATH)
    for action in ("replay/preview", "replay"):
        reply = viewer.post(f"{PATH}/{action}", {"csrf_token": csrf, "reason": "x",
                                                  "request_key": "k"}, allow_redirects=False)
        assert reply.status_code == 403
    operator = console_site.signed_in("operator")
    reply = operator.post(f"{PATH}/replay", {"reason": "x", "request_key": "k"},
                          allow_redirects=False)
    assert reply.status_code == 403
    assert replays_of(console_site.database_url) == []


def test_a_partition_key_with_a_slash_and_colon_has_its_page(console_site):
    key = "2013-11-03-01:00/eu"
    path = console_links.partition_path("some_job", key)
    assert "%2F" in path
    page = console_site.signed_in("viewer").get(path)
    assert page.status_code == 200 and key in page.text
    assert "this partition key is not a date" in page.text
