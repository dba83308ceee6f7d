"""OpsAlertService on both backends: outbox rows, storm dedupe, once per execution,
acknowledgement with its audit record, listing; settings and secrets; templates (pure).

Also: a unique dedupe key, so a recorded run is never alerted again (a cold start or a reset
cursor must not re-alert history); a stopped run does not alert; a failure alerts exactly once.
"""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from opsrel_core.config import AlertSettings, Secret, SmtpSecurity
from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, ConflictException
from opsrel_core.notifiers import templates
from opsrel_core.persistence.tables import Alert, AlertDelivery, AuditLog
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

T0 = dt.datetime(2024, 3, 1, 2, 0, 0, tzinfo=dt.timezone.utc)
PASSWORD = "s3cr3t-pa55word"
WEBHOOK = "http://127.0.0.1:9/services/T000/B000/XXXXsecretXXXX"


def _settings(**kw) -> AlertSettings:
    base = dict(
        smtp_host="127.0.0.1", smtp_port=2525, email_to=("oncall@example.com",),
        slack_webhook_url=Secret(WEBHOOK), dagster_ui_url="http://dagster.local:3000/",
    )
    base.update(kw)
    return AlertSettings(**base)


class Clock:
    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts(engine, clock) -> OpsAlertService:
    return OpsAlertService(engine, _settings(), clock=clock)


@pytest.fixture
def executions(engine) -> BatchExecutionService:
    return BatchExecutionService(engine)


def _fail(executions: BatchExecutionService, run_id: str, *, at: dt.datetime,
          code: str = error_codes.INP_EMPTY_FILE, partition: str = "2013-01-05"):
    executions.register_execution(
        ExecutionSpec(execution_id=run_id, job_id="flights_daily", partition_key=partition), at=at
    )
    executions.start_execution(run_id, at=at)
    return executions.fail_execution(
        run_id, code, error_message=f"landing file for {partition} has 0 rows",
        failed_asset_key="raw_flights", failed_partition_key=partition, at=at,
    )


def _count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# -- send_alert: outbox and storm --------------------------------------------------------------


def test_send_alert_writes_alert_and_one_pending_delivery_per_channel(alerts, engine):
    view = alerts.send_alert(
        "DQ_FAIL", severity="ERROR", title="rule failed", message="3 rows null",
        error_code="DQ-001", job_id="flights_daily", asset_key="clean_flights",
        partition_key="2013-01-05", at=T0,
    )
    assert view.status == "OPEN" and view.occurrence_count == 1
    assert view.dedupe_key == "DQ_FAIL:DQ-001:flights_daily:2013-01-05"
    history = alerts.delivery_history(view.alert_id)
    assert [(d.channel, d.status, d.attempts) for d in history] == [
        ("EMAIL", "PENDING", 0), ("SLACK", "PENDING", 0)
    ]


def test_only_configured_channels_get_deliveries(engine, clock):
    email_only = OpsAlertService(engine, _settings(slack_webhook_url=None), clock=clock)
    view = email_only.send_alert("X", severity="INFO", title="t", message="m", at=T0)
    assert [d.channel for d in email_only.delivery_history(view.alert_id)] == ["EMAIL"]
    nothing = OpsAlertService(engine, AlertSettings(), clock=clock)
    view = nothing.send_alert("Y", severity="INFO", title="t", message="m", at=T0)
    assert nothing.delivery_history(view.alert_id) == []


def test_repeat_within_window_increments_and_sends_nothing_new(alerts, engine):
    first = alerts.send_alert("DQ_FAIL", severity="ERROR", title="t", message="m",
                              error_code="DQ-001", job_id="flights_daily", partition_key="p", at=T0)
    later = T0 + dt.timedelta(minutes=30)
    second = alerts.send_alert("DQ_FAIL", severity="ERROR", title="t", message="m",
                               error_code="DQ-001", job_id="flights_daily", partition_key="p", at=later)
    assert second.alert_id == first.alert_id
    assert second.occurrence_count == 2
    assert second.last_seen_at == later and second.first_seen_at == T0
    assert _count(engine, AlertDelivery) == 2  # still one per channel


def test_repeat_after_window_resolves_the_quiet_alert_and_opens_a_new_one(alerts, engine):
    first = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    second = alerts.send_alert("K", severity="ERROR", title="t", message="m",
                               at=T0 + dt.timedelta(seconds=3601))
    assert second.alert_id != first.alert_id and second.occurrence_count == 1
    assert alerts.get_alert(first.alert_id).status == "RESOLVED"
    assert _count(engine, AlertDelivery) == 4
    assert [a.alert_id for a in alerts.list_alerts(status="OPEN")] == [second.alert_id]


def test_a_different_partition_is_a_different_alert(alerts):
    a = alerts.send_alert("K", severity="ERROR", title="t", message="m", partition_key="p1", at=T0)
    b = alerts.send_alert("K", severity="ERROR", title="t", message="m", partition_key="p2", at=T0)
    assert a.alert_id != b.alert_id


def test_concurrent_duplicates_end_in_one_open_alert(engine, clock):
    service = OpsAlertService(engine, _settings(), clock=clock)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def raise_one() -> None:
        try:
            barrier.wait()
            service.send_alert("STORM", severity="ERROR", title="t", message="m",
                               job_id="flights_daily", partition_key="p", at=T0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=raise_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    (alert,) = service.list_alerts()
    assert alert.occurrence_count == 6
    assert _count(engine, AlertDelivery) == 2


def test_send_alert_validates_before_writing(alerts, engine):
    with pytest.raises(ValueError):
        alerts.send_alert("K", severity="LOUD", title="t", message="m")
    with pytest.raises(ValueError):
        alerts.send_alert("K", severity="ERROR", title="t", message="m", error_code="NOPE-1")
    with pytest.raises(BatchExecutionException) as info:
        alerts.send_alert("K", severity="ERROR", title="t", message="m", execution_id="ghost")
    assert info.value.code == error_codes.BAT_EXECUTION_NOT_FOUND
    assert _count(engine, Alert) == 0


# -- automatic alerts for failed executions --------------------------------------------------------


def test_failed_execution_with_auto_alert_code_raises_one_alert(alerts, executions):
    failed = _fail(executions, "run-1", at=T0)
    view = alerts.raise_for_failed_execution(failed)
    assert view is not None
    assert (view.event_kind, view.error_code, view.job_id, view.execution_id) == (
        "EXECUTION_FAILED", "INP-001", "flights_daily", "run-1"
    )
    assert (view.asset_key, view.partition_key, view.severity) == ("raw_flights", "2013-01-05", "ERROR")
    assert "Re-deliver the file" in view.message  # the catalog's operator message
    assert "has 0 rows" in view.message  # the execution's own error message
    assert view.first_seen_at == T0


def test_reapplying_the_same_execution_does_not_count_again(alerts, executions, engine):
    e1 = _fail(executions, "run-1", at=T0)
    e2 = _fail(executions, "run-2", at=T0 + dt.timedelta(minutes=10))
    first = alerts.raise_for_failed_execution(e1)
    assert alerts.raise_for_failed_execution(e2).occurrence_count == 2
    for again in (e1, e2, e1, e2):
        assert alerts.raise_for_failed_execution(again).occurrence_count == 2
    # Still idempotent after the alert was acknowledged: no new alert for an old execution.
    alerts.acknowledge_alert(first.alert_id, operator_id="kim")
    assert alerts.raise_for_failed_execution(e1).alert_id == first.alert_id
    assert _count(engine, Alert) == 1


def test_concurrent_application_of_one_execution_counts_it_once(engine, executions, clock):
    service = OpsAlertService(engine, _settings(), clock=clock)
    service.raise_for_failed_execution(_fail(executions, "run-0", at=T0))
    e1 = _fail(executions, "run-1", at=T0 + dt.timedelta(minutes=5))
    barrier = threading.Barrier(5)
    threads = [
        threading.Thread(target=lambda: (barrier.wait(), service.raise_for_failed_execution(e1)))
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (alert,) = service.list_alerts()
    assert alert.occurrence_count == 2


def test_no_alert_for_success_stop_or_codes_without_auto_alert(alerts, executions):
    executions.register_execution(ExecutionSpec(execution_id="ok", job_id="flights_daily"), at=T0)
    executions.start_execution("ok", at=T0)
    assert alerts.raise_for_failed_execution(executions.complete_execution("ok", at=T0)) is None
    # A failure after a stop request ends STOPPED and never alerts: the operator stopped it.
    executions.register_execution(ExecutionSpec(execution_id="st", job_id="flights_daily"), at=T0)
    executions.start_execution("st", at=T0)
    executions.request_stop("st", at=T0)
    stopped = executions.fail_execution("st", error_codes.INP_EMPTY_FILE, at=T0)
    assert alerts.raise_for_failed_execution(stopped) is None
    quiet = _fail(executions, "quiet", at=T0, code=error_codes.INP_NO_SOURCE_DATA)  # auto_alert off
    assert alerts.raise_for_failed_execution(quiet) is None
    assert alerts.list_alerts() == []


# -- acknowledgement -------------------------------------------------------------------------------


def test_acknowledge_writes_one_audit_record_and_twice_changes_nothing(alerts, engine):
    view = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    at = T0 + dt.timedelta(minutes=3)
    acked = alerts.acknowledge_alert(view.alert_id, operator_id="kim", reason="looking", at=at)
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == ("ACKNOWLEDGED", "kim", at)
    again = alerts.acknowledge_alert(view.alert_id, operator_id="kim", reason="again",
                                     at=at + dt.timedelta(minutes=1))
    assert again == acked
    with pytest.raises(ConflictException) as other:  # another operator: a conflict naming kim
        alerts.acknowledge_alert(view.alert_id, operator_id="lee", reason="me too")
    assert other.value.code == error_codes.BAT_ALREADY_ACKNOWLEDGED
    assert "acknowledged by kim" in other.value.operator_message
    with engine.connect() as conn:
        rows = conn.execute(sa.select(AuditLog)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row["action"], row["operator_id"], row["reason"], row["target_type"], row["target_id"]) == (
        "ACKNOWLEDGE_ALERT", "kim", "looking", "alert", str(view.alert_id)
    )
    assert row["before_state"]["status"] == "OPEN" and row["after_state"]["status"] == "ACKNOWLEDGED"


def test_acknowledge_without_operator_is_refused_and_changes_nothing(alerts, engine):
    view = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    for operator in (None, "", "   "):
        with pytest.raises(BatchExecutionException) as info:
            alerts.acknowledge_alert(view.alert_id, operator_id=operator)
        assert info.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED
    assert alerts.get_alert(view.alert_id) == view
    assert _count(engine, AuditLog) == 0


def test_acknowledge_default_reason_and_unknown_alert(alerts, engine):
    view = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    alerts.acknowledge_alert(view.alert_id, operator_id="kim")
    with engine.connect() as conn:
        assert conn.scalar(sa.select(AuditLog.reason)) == "alert acknowledged"
    with pytest.raises(LookupError):
        alerts.acknowledge_alert(9999, operator_id="kim")


def test_concurrent_acknowledgements_write_one_record(alerts, engine):
    view = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    barrier, refused = threading.Barrier(4), []

    def ack(op: str) -> None:
        barrier.wait()
        try:
            alerts.acknowledge_alert(view.alert_id, operator_id=op)
        except ConflictException as exc:  # the others: BAT-013, acknowledged by the first
            refused.append(exc.code)

    threads = [threading.Thread(target=ack, args=(op,)) for op in ("a", "b", "c", "d")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _count(engine, AuditLog) == 1
    assert refused == [error_codes.BAT_ALREADY_ACKNOWLEDGED] * 3
    assert alerts.get_alert(view.alert_id).status == "ACKNOWLEDGED"


def test_after_acknowledgement_a_repeat_is_absorbed_until_resolved(alerts):
    # Acknowledged means known: the repeat counts on it; after resolution a repeat is news.
    first = alerts.send_alert("K", severity="ERROR", title="t", message="m", at=T0)
    alerts.acknowledge_alert(first.alert_id, operator_id="kim")
    second = alerts.send_alert("K", severity="ERROR", title="t", message="m",
                               at=T0 + dt.timedelta(minutes=1))
    assert (second.alert_id, second.occurrence_count) == (first.alert_id, 2)
    alerts.resolve_alert(first.alert_id, operator_id="kim", reason="fixed the feed")
    third = alerts.send_alert("K", severity="ERROR", title="t", message="m",
                              at=T0 + dt.timedelta(minutes=2))
    assert third.alert_id != first.alert_id and third.status == "OPEN"


# -- listing -----------------------------------------------------------------------------------


def test_list_alerts_pages_newest_first_and_filters(alerts):
    ids = [alerts.send_alert(f"K{i}", severity="INFO", title="t", message="m", at=T0).alert_id
           for i in range(5)]
    alerts.acknowledge_alert(ids[0], operator_id="kim")
    page = alerts.list_alerts(limit=2)
    assert [a.alert_id for a in page] == ids[:-3:-1]
    assert [a.alert_id for a in alerts.list_alerts(limit=2, before_alert_id=page[-1].alert_id)] == [ids[2], ids[1]]
    assert [a.alert_id for a in alerts.list_alerts(status="ACKNOWLEDGED")] == [ids[0]]
    with pytest.raises(ValueError):
        alerts.list_alerts(status="NOPE")
    with pytest.raises(ValueError):
        alerts.list_alerts(limit=0)
    with pytest.raises(LookupError):
        alerts.get_alert(12345)
    with pytest.raises(LookupError):
        alerts.delivery_history(12345)


# -- settings and secrets (no database) ----------------------------------------------------------


def test_settings_from_env_parses_and_hides_secrets():
    env = {
        "OPSREL_SMTP_HOST": "mail.example.com", "OPSREL_SMTP_SECURITY": "STARTTLS",
        "OPSREL_SMTP_USER": "bot", "OPSREL_SMTP_PASSWORD": PASSWORD,
        "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.com",
        "OPSREL_ALERT_EMAIL_TO": "a@example.com, b@example.com,",
        "OPSREL_SLACK_WEBHOOK_URL": WEBHOOK, "OPSREL_DAGSTER_UI_URL": "http://d:3000/",
        "OPSREL_ALERT_DEDUPE_WINDOW_SECONDS": "600",
    }
    s = AlertSettings.from_env(env)
    assert s.smtp_security is SmtpSecurity.STARTTLS and s.smtp_port == 587
    assert s.email_to == ("a@example.com", "b@example.com")
    assert s.channels == ("EMAIL", "SLACK")
    assert s.dedupe_window_seconds == 600 and s.smtp_timeout_seconds == 10
    assert s.run_link("r1") == "http://d:3000/runs/r1"
    text = repr(s) + str(s)
    assert PASSWORD not in text and "XXXXsecretXXXX" not in text and "'***'" in text
    assert s.redact(f"auth {PASSWORD} at {WEBHOOK}") == "auth *** at ***"
    assert AlertSettings.from_env({}).channels == ()


@pytest.mark.parametrize("env, fragment", [
    ({"OPSREL_SMTP_SECURITY": "tls"}, "none, starttls or ssl"),
    ({"OPSREL_SMTP_PORT": "abc"}, "OPSREL_SMTP_PORT"),
    ({"OPSREL_SMTP_PORT": "70000"}, "port"),
    ({"OPSREL_ALERT_EMAIL_TO": "not-an-address"}, "not an email address"),
    ({"OPSREL_SLACK_WEBHOOK_URL": "file:///etc/passwd"}, "http(s)"),
    ({"OPSREL_SMTP_USER": "bot", "OPSREL_SMTP_PASSWORD": "changeme"}, "placeholder"),
])
def test_settings_refuse_bad_values_without_echoing_secrets(env, fragment):
    with pytest.raises(ValueError) as info:
        AlertSettings.from_env(env)
    assert fragment in str(info.value)
    assert "/etc/passwd" not in str(info.value) and "changeme" not in str(info.value)


# -- templates (pure) ----------------------------------------------------------------------------


def _content(**kw) -> templates.AlertContent:
    base = dict(alert_id="7", event_kind="EXECUTION_FAILED", severity="ERROR",
                title="Empty input file in flights_daily", message="landing file has 0 rows",
                error_code="INP-001", operator_message="Re-deliver the file, then replay it.",
                job_id="flights_daily", execution_id="run-1", asset_key="raw_flights",
                partition_key="2013-01-05", run_link="http://d:3000/runs/run-1")
    base.update(kw)
    return templates.AlertContent(**base)


@pytest.mark.parametrize("kind", ["EXECUTION_FAILED", "DQ_FAIL", "DQ_WARN_ACCUMULATED", "CUSTOM_THING"])
def test_every_kind_renders_code_message_asset_partition_and_link(kind):
    content = _content(event_kind=kind)
    subject, body = templates.render_email(content)
    slack = templates.render_slack(content)
    assert "INP-001" in subject and "\n" not in subject
    for text in (body, slack):
        for part in ("INP-001", "Re-deliver the file", "raw_flights", "2013-01-05",
                     "http://d:3000/runs/run-1", "landing file has 0 rows"):
            assert part in text, (kind, part)


def test_slack_text_escapes_control_characters_and_overrides_apply():
    slack = templates.render_slack(_content(message="a <!channel> & b"))
    assert "<!channel>" not in slack and "&lt;!channel&gt; &amp; b" in slack
    override = templates.TemplateOverride("ALERT $error_code $partition_key", "run: $run_link $unknown")
    subject, body = templates.render_email(_content(), override)
    assert subject == "ALERT INP-001 2013-01-05"
    assert body == "run: http://d:3000/runs/run-1 $unknown"


def test_alerts_of_a_partition_are_its_own_and_the_incidents_listing_it(database_url):
    from opsrel_core.config import AlertSettings
    from opsrel_core.persistence.engine import make_engine
    from opsrel_core.services.alerts import OpsAlertService
    from tests.support.console_seed import seed_failure

    incident = seed_failure(database_url, "run-a", "2013-01-05")
    assert seed_failure(database_url, "run-b", "2013-01-06") == incident  # one incident
    engine = make_engine(database_url)
    try:
        alerts = OpsAlertService(engine, AlertSettings.from_env({}))
        # the incident was raised for 01-05 and lists 01-06 too
        assert [a.alert_id for a in alerts.alerts_of_partition("flights_daily", "2013-01-06")] == [
            incident]
        assert [a.alert_id for a in alerts.alerts_of_partition("flights_daily", "2013-01-05")] == [
            incident]
        assert alerts.alerts_of_partition("flights_daily", "2013-01-07") == []
        assert alerts.alerts_of_partition("another_job", "2013-01-05") == []
        with pytest.raises(ValueError, match="limit must be"):
            alerts.alerts_of_partition("flights_daily", "2013-01-05", limit=0)
    finally:
        engine.dispose()
