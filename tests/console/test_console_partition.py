"""The console's partition page over real HTTP: its executions, result versions (the active one
marked), alerts and replays; an operator's replay in two steps, preview (writes nothing) then
confirmation, recorded once however often the confirmation is sent."""

import re

from opsrel_core.domain import console_links, error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.replays import ReplayService
from tests.console.test_console_inbox import DAY, JOB, seed_failure

PATH = console_links.partition_path(JOB, DAY)


def _replays(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        return ReplayService(engine).list_replays(job_id=JOB)
    finally:
        engine.dispose()


def _replay_audits(database_url: str) -> list:  # type: ignore[type-arg]
    engine = make_engine(database_url)
    try:
        return [r for r in AuditLogService(engine).list_audit_logs(target_type="replay")]
    finally:
        engine.dispose()


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
    assert _replays(console_site.database_url) == []  # a preview writes nothing
    assert _replay_audits(console_site.database_url) == []
    key = re.search(r'name="request_key" value="([^"]+)"', preview.text).group(1)
    form = {"csrf_token": csrf, "reason": "vendor re-delivered the file", "request_key": key}
    first = client.post(f"{PATH}/replay", form, allow_redirects=False)
    second = client.post(f"{PATH}/replay", form, allow_redirects=False)  # a double submit
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    replays = _replays(console_site.database_url)
    assert len(replays) == 1
    replay = replays[0]
    assert (replay.operator_id, replay.reason, replay.partition_keys) == (
        "operator-op", "vendor re-delivered the file", (DAY,))
    assert first.headers["location"] == f"{PATH}?replayed={replay.replay_id}"
    audits = _replay_audits(console_site.database_url)
    assert [(a.action, a.operator_id, a.target_id) for a in audits] == [
        ("REPLAY", "operator-op", str(replay.replay_id))]
    after = client.get(first.headers["location"])
    assert f"Replay #{replay.replay_id} requested." in after.text
    assert f'data-replay-id="{replay.replay_id}"' in after.text


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
    assert _replays(console_site.database_url) == []


def test_a_partition_key_with_a_slash_and_colon_has_its_page(console_site):
    key = "2013-11-03-01:00/eu"
    path = console_links.partition_path("some_job", key)
    assert "%2F" in path
    page = console_site.signed_in("viewer").get(path)
    assert page.status_code == 200 and key in page.text
    assert "this partition key is not a date" in page.text
