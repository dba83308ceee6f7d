"""Starting a replay of a range of partitions from the console's Replays page, over real HTTP and
in a real browser: the preview lists exactly the range's partitions and writes nothing; the
confirmation records one RANGE replay and one audit record however often it is sent; a viewer
has no form and a forged POST is a 403; refused requests answer as an error page with their code
and record nothing."""

import re

import pytest

from opsrel_core.domain import console_links, error_codes
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from tests.support.console_seed import DAY, JOB, audit_records, replays_of, seed_failure

PAGE = "/console/replays"
START, END = "2013-01-03", "2013-01-06"
RANGE = ["2013-01-03", "2013-01-04", "2013-01-05", "2013-01-06"]
REASON = "carrier feed re-delivered for the first week"




def _form(csrf: str, **overrides: str) -> dict[str, str]:
    return {"csrf_token": csrf, "job_id": JOB, "start": START, "end": END, "reason": REASON,
            **overrides}


def _request_key(preview_html: str) -> str:
    found = re.search(r'name="request_key" value="([^"]+)"', preview_html)
    assert found, "the preview has no confirm form"
    return found.group(1)


def _error_code(page_html: str) -> str | None:
    found = re.search(r'<p class="error" role="alert"><span class="code">([^<]+)</span>',
                      page_html)
    return found.group(1) if found else None


def test_an_operator_has_the_form_and_a_viewer_has_none(console_site):
    page = console_site.signed_in("operator").get(PAGE)
    assert page.status_code == 200
    form = page.text.split('id="start-replay"')[1].split("</form>")[0]
    assert f'<option value="{JOB}"' in form  # the job catalog's ids
    for name in ("job_id", "start", "end", "reason", "csrf_token"):
        assert f'name="{name}"' in form
    seen = console_site.signed_in("viewer").get(PAGE)
    assert seen.status_code == 200
    assert 'id="start-replay"' not in seen.text and "/console/replays/preview" not in seen.text


def test_the_preview_lists_exactly_the_range_and_writes_nothing(console_site):
    seed_failure(console_site.database_url, earlier_success="run-ok-1")
    audits_before = len(audit_records(console_site.database_url, limit=1000))
    client = console_site.signed_in("operator")
    preview = client.post(f"{PAGE}/preview", _form(client.csrf_of(PAGE)))
    assert preview.status_code == 200, preview.text
    plan = preview.text.split('id="replay-plan"')[1].split("</table>")[0]
    assert re.findall(r'<tr><td class="code">([^<]+)</td>', plan) == RANGE
    # the seeded day redoes the run whose result is active, and replaces that result
    assert f'<td class="code">{DAY}</td><td>run-ok-1</td><td>run-ok-1</td>' in plan
    assert ('<td class="code">2013-01-03</td><td>—</td><td>none (no active result)</td>'
            in plan)
    confirm = re.search(r'<form[^>]*id="confirm-replay">.*?</form>', preview.text,
                        re.S).group(0)
    assert 'action="/console/replays/start"' in confirm
    for name, value in (("job_id", JOB), ("start", START), ("end", END), ("reason", REASON)):
        assert f'name="{name}" value="{value}"' in confirm
    assert 'href="/console/replays">Cancel</a>' in confirm
    assert replays_of(console_site.database_url) == []  # a preview is not an action
    assert len(audit_records(console_site.database_url, limit=1000)) == audits_before


def test_confirming_twice_records_one_range_replay_and_one_audit_record(console_site):
    client = console_site.signed_in("operator")
    csrf = client.csrf_of(PAGE)
    key = _request_key(client.post(f"{PAGE}/preview", _form(csrf)).text)
    form = _form(csrf, request_key=key)
    first = client.post(f"{PAGE}/start", form, allow_redirects=False)
    second = client.post(f"{PAGE}/start", form, allow_redirects=False)  # a double submit
    assert first.status_code == second.status_code == 303
    [replay] = replays_of(console_site.database_url)
    assert first.headers["location"] == second.headers["location"] == (
        console_links.replay_path(replay.replay_id))
    assert (replay.replay_type.value, replay.job_id, replay.partition_start,
            replay.partition_end, replay.reason, replay.operator_id) == (
        "RANGE", JOB, START, END, REASON, "operator-op")
    assert list(replay.partition_keys) == RANGE
    audits = [a for a in audit_records(console_site.database_url, limit=1000) if a.target_type == "replay"]
    assert [(a.action, a.action_type, a.operator_id, a.target_id, a.reason) for a in audits] == [
        ("REPLAY", "BATCH_ACTION", "operator-op", str(replay.replay_id), REASON)]
    shown = client.get(first.headers["location"])
    assert shown.status_code == 200
    assert re.findall(r'<tr data-partition="([^"]+)">', shown.text) == RANGE


def test_a_viewer_and_a_post_without_csrf_are_refused(console_site):
    viewer = console_site.signed_in("viewer")
    csrf = viewer.csrf_of(PAGE)  # the sign-out form's token: the viewer's own session token
    for action in ("preview", "start"):
        reply = viewer.post(f"{PAGE}/{action}", _form(csrf, request_key="forged"),
                            allow_redirects=False)
        assert reply.status_code == 403, action
    operator = console_site.signed_in("operator")
    for action in ("preview", "start"):
        form = _form("", request_key="no-csrf")
        del form["csrf_token"]
        reply = operator.post(f"{PAGE}/{action}", form, allow_redirects=False)
        assert reply.status_code == 403, action
    assert replays_of(console_site.database_url) == []
    assert [a for a in audit_records(console_site.database_url, limit=1000) if a.target_type == "replay"] == []


@pytest.mark.parametrize("overrides, code", [
    ({"reason": "   "}, error_codes.BAT_ATTRIBUTION_REQUIRED),
    ({"start": "2013-01-06", "end": "2013-01-03"}, error_codes.BAT_REPLAY_INVALID),
    ({"end": "2014-01-02"}, error_codes.BAT_REPLAY_INVALID),  # past the job's partitions
    ({"job_id": "no_such_job"}, error_codes.BAT_REPLAY_INVALID),
], ids=["blank-reason", "end-before-start", "outside-the-partitions", "unknown-job"])
def test_a_refused_range_is_an_error_page_and_records_nothing(console_site, overrides, code):
    client = console_site.signed_in("operator")
    csrf = client.csrf_of(PAGE)
    for action in ("preview", "start"):
        reply = client.post(f"{PAGE}/{action}", _form(csrf, request_key="refused", **overrides),
                            allow_redirects=False)
        assert reply.status_code == 422, (action, reply.status_code)
        assert _error_code(reply.text) == code, (action, reply.text)
        assert "Nothing was changed." in reply.text
    assert replays_of(console_site.database_url) == []
    assert [a for a in audit_records(console_site.database_url, limit=1000) if a.target_type == "replay"] == []


def test_a_run_in_flight_in_the_range_refuses_the_confirmation(console_site):
    engine = make_engine(console_site.database_url)
    try:
        executions = BatchExecutionService(engine)
        executions.register_execution(ExecutionSpec(execution_id="run-live-1", job_id=JOB,
                                                     partition_key="2013-01-04"))
        executions.start_execution("run-live-1")
    finally:
        engine.dispose()
    client = console_site.signed_in("operator")
    csrf = client.csrf_of(PAGE)
    key = _request_key(client.post(f"{PAGE}/preview", _form(csrf)).text)
    reply = client.post(f"{PAGE}/start", _form(csrf, request_key=key), allow_redirects=False)
    assert reply.status_code == 409
    assert _error_code(reply.text) == error_codes.BAT_PARTITION_BUSY
    assert replays_of(console_site.database_url) == []
    assert [a for a in audit_records(console_site.database_url, limit=1000) if a.target_type == "replay"] == []


def test_start_a_range_replay_in_the_browser(console_site, loopback_page):
    page = loopback_page.page
    page.goto(console_site.url(PAGE))
    assert "/console/sign-in" in page.url
    page.fill("#token", console_site.tokens["operator"])
    page.click("button[type=submit]")
    page.wait_for_url("**/console/replays")
    page.select_option("#r-job", JOB)
    page.fill("#r-start", START)
    page.fill("#r-end", END)
    page.fill("#r-reason", REASON)
    page.click("text=Preview the replay")
    page.wait_for_url("**/console/replays/preview")
    assert page.locator("#replay-plan tbody tr").all_inner_texts()[0].startswith(START)
    assert page.locator("#replay-plan tbody tr").count() == 4
    page.click("text=Confirm the replay")
    page.wait_for_url(re.compile(r".*/console/replays/\d+$"))
    rows = page.locator("#partitions tbody tr")
    assert [rows.nth(i).get_attribute("data-partition") for i in range(rows.count())] == RANGE
    assert "RANGE replay of" in page.inner_text("main")
    assert loopback_page.blocked == []
    [replay] = replays_of(console_site.database_url)
    assert (replay.partition_start, replay.partition_end, replay.reason) == (START, END, REASON)


def test_a_range_over_the_fall_back_day_of_an_hourly_job(console_site):
    """An hourly job the application registered: the form takes Dagster's keys, the preview
    lists the day's 25 hours (its repeated hour twice) and the confirmation records them."""
    from opsrel_core.services.batch_jobs import BatchJobCatalog, JobRegistration
    from tests.support.hourly_keys import day_of, hourly_keys

    hours = hourly_keys()
    engine = make_engine(console_site.database_url)
    try:
        BatchJobCatalog(engine).register(JobRegistration(
            "weather_hourly", "Weather per hour", "hourly", ("weather_observations",), "hourly",
            hours))
    finally:
        engine.dispose()
    client = console_site.signed_in("operator")
    csrf = client.csrf_of(PAGE)
    form = _form(csrf, job_id="weather_hourly", start="2013-11-03-00:00", end="2013-11-03-23:00")
    preview = client.post(f"{PAGE}/preview", form)
    assert preview.status_code == 200, preview.text
    plan = preview.text.split('id="replay-plan"')[1].split("</table>")[0]
    assert re.findall(r'<tr><td class="code">([^<]+)</td>', plan) == day_of(hours, "2013-11-03")
    assert "This replay runs 25 partitions" in preview.text
    started = client.post(f"{PAGE}/start", {**form, "request_key": _request_key(preview.text)},
                          allow_redirects=False)
    assert started.status_code == 303, started.text
    [replay] = replays_of(console_site.database_url, job_id="weather_hourly")
    assert replay.partition_keys == tuple(day_of(hours, "2013-11-03"))
    refused = client.post(f"{PAGE}/preview", {**form, "start": "2013-03-10-02:00",
                                              "end": "2013-03-10-05:00"})
    assert refused.status_code == 422 and _error_code(refused.text) == error_codes.BAT_REPLAY_INVALID
