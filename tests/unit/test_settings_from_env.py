"""``OpsrelSettings.from_env`` on a plain dict: the defaults, each section, and a bad value of
each section failing with the message that names its variable."""

from pathlib import Path

import pytest

from opsrel_core.config import (
    AlertSettings, ApiLimits, ConsoleSettings, MetricsSettings, OpenLineageSettings,
    OpsrelSettings, OpsSettings, RuntimeSettings, SmtpSecurity, WarnPolicy, WorkerTimeouts,
)
from opsrel_core.domain.dq_baseline import BaselinePolicy


def test_an_empty_environment_gives_the_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = OpsrelSettings.from_env({})
    assert settings.home == tmp_path / ".opsrel"
    assert settings.database_url == f"sqlite:///{tmp_path / '.opsrel' / 'ops.db'}"
    assert settings.ops == OpsSettings(settings.database_url, settings.home)
    assert settings.ops.dagster_home == tmp_path / ".opsrel" / "dagster_home"
    assert settings.alerts == AlertSettings() and settings.alerts.channels == ()
    assert settings.console == ConsoleSettings()
    assert settings.openlineage == OpenLineageSettings() and not settings.openlineage.enabled
    assert settings.api_limits == ApiLimits()
    assert settings.metrics == MetricsSettings()
    assert settings.dq_policy == WarnPolicy(BaselinePolicy())
    assert settings.worker == WorkerTimeouts()
    assert settings.runtime == RuntimeSettings()
    assert not settings.redactor
    # The defaults of the constructor are the defaults of an empty environment.
    assert OpsrelSettings() == settings


def test_empty_values_count_as_unset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blank = {name: "" for name in (
        "OPSREL_HOME", "OPSREL_DATABASE_URL", "OPSREL_SMTP_HOST", "OPSREL_CONSOLE_URL",
        "OPSREL_OPENLINEAGE_URL", "OPSREL_API_MAX_BODY_BYTES", "OPSREL_METRICS_AUTH",
        "OPSREL_DQ_BASELINE_WINDOW", "OPSREL_WORKER_TIMEOUT_SECONDS", "OPSREL_LANDING_DIR")}
    assert OpsrelSettings.from_env(blank) == OpsrelSettings.from_env({})


def test_the_ops_section(tmp_path):
    settings = OpsrelSettings.from_env({
        "OPSREL_HOME": str(tmp_path / "h"), "OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR": "3",
        "OPSREL_CONSOLE_URL": "https://ops.example.com/"})
    assert settings.home == tmp_path / "h"
    assert settings.database_url == f"sqlite:///{tmp_path / 'h' / 'ops.db'}"
    assert settings.ops.max_pending_replays_per_operator == 3
    assert settings.ops.console_url == "https://ops.example.com"
    url = "postgresql+psycopg://app@db/ops"
    assert OpsrelSettings.from_env({"OPSREL_DATABASE_URL": url}).database_url == url


def test_the_alert_section():
    alerts = OpsrelSettings.from_env({
        "OPSREL_SMTP_HOST": "mail", "OPSREL_SMTP_USER": "ops", "OPSREL_SMTP_PASSWORD": "pw 1",
        "OPSREL_ALERT_EMAIL_TO": "a@x.org, b@x.org", "OPSREL_SLACK_WEBHOOK_URL":
        "https://hooks.example/T/B/xyz", "OPSREL_PAGERDUTY_ROUTING_KEY": "R0UTINGKEY0123",
        "OPSREL_ALERT_MAX_ATTEMPTS": "3", "OPSREL_INCIDENT_WINDOW_SECONDS": "60",
    }).alerts
    assert alerts.smtp_security is SmtpSecurity.STARTTLS and alerts.smtp_port == 587
    assert alerts.email_to == ("a@x.org", "b@x.org")
    assert alerts.channels == ("EMAIL", "SLACK", "PAGERDUTY")
    assert alerts.max_attempts == 3 and alerts.incident_window_seconds == 60.0
    assert "pw 1" not in repr(alerts) and "xyz" not in repr(alerts)


def test_the_console_openlineage_and_runtime_sections(tmp_path):
    settings = OpsrelSettings.from_env({
        "OPSREL_CONSOLE_SESSION_SECONDS": "600", "OPSREL_DAGSTER_URL": "http://dagster:3000/",
        "OPSREL_OPENLINEAGE_URL": "http://marquez:5000", "OPSREL_OPENLINEAGE_API_KEY": "k3y-abcdef",
        "OPSREL_DEFINITIONS": "my_location.definitions", "OPSREL_LANDING_DIR": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    })
    assert settings.console == ConsoleSettings(600, "http://dagster:3000", None)
    assert settings.openlineage.url == "http://marquez:5000/api/v1/lineage"
    assert settings.runtime == RuntimeSettings(
        definitions="my_location.definitions", landing_dir=tmp_path,
        dagster_url="http://dagster:3000/", dagster_home=tmp_path / "dh")
    # Every configured secret is redacted by the one redactor of the settings.
    assert settings.redactor.redact("key k3y-abcdef") == "key ***"


def test_the_api_metrics_dq_and_worker_sections():
    settings = OpsrelSettings.from_env({
        "OPSREL_API_MAX_BODY_BYTES": "2048", "OPSREL_API_AUTH_FAILURES": "4",
        "OPSREL_API_AUTH_WINDOW_SECONDS": "30", "OPSREL_METRICS_CACHE_SECONDS": "0",
        "OPSREL_METRICS_AUTH": "none", "OPSREL_DQ_BASELINE_WINDOW": "10",
        "OPSREL_DQ_BASELINE_MIN_HISTORY": "5", "OPSREL_DQ_NOISY_SHARE": "0.5",
        "OPSREL_DQ_RISE_FACTOR": "2", "OPSREL_WORKER_TIMEOUT_SECONDS": "90",
        "OPSREL_START_TIMEOUT_SECONDS": "30",
    })
    assert settings.api_limits == ApiLimits(2048, 4, 30.0)
    assert settings.metrics == MetricsSettings(cache_seconds=0.0, require_token=False)
    assert settings.dq_policy == WarnPolicy(BaselinePolicy(10, 5, 0.5, 2.0))
    assert settings.worker == WorkerTimeouts(90.0, 30.0)


@pytest.mark.parametrize("name, value, message", [
    ("OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR", "0",
     "OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR must be a whole number >= 1"),
    ("OPSREL_CONSOLE_URL", "ftp://x", "OPSREL_CONSOLE_URL must be an http(s) URL"),
    ("OPSREL_SMTP_PORT", "many", "OPSREL_SMTP_PORT must be a number, got 'many'"),
    ("OPSREL_SMTP_SECURITY", "tls", "OPSREL_SMTP_SECURITY must be none, starttls or ssl"),
    ("OPSREL_SMTP_ALLOW_INSECURE_AUTH", "maybe",
     "OPSREL_SMTP_ALLOW_INSECURE_AUTH must be true or false"),
    ("OPSREL_SLACK_WEBHOOK_URL", "changeme", "OPSREL_SLACK_WEBHOOK_URL is a placeholder value"),
    ("OPSREL_ALERT_EMAIL_FROM", "nobody", "not an email address: 'nobody'"),
    ("OPSREL_CONSOLE_SESSION_SECONDS", "59",
     "OPSREL_CONSOLE_SESSION_SECONDS must be a whole number of seconds >= 60"),
    ("OPSREL_OPENLINEAGE_URL", "http://u:pw@marquez",
     "OPSREL_OPENLINEAGE_URL must not carry a user or password"),
    ("OPSREL_OPENLINEAGE_MAX_ATTEMPTS", "x", "OPSREL_OPENLINEAGE_MAX_ATTEMPTS must be a number"),
    ("OPSREL_API_MAX_BODY_BYTES", "big", "OPSREL_API_MAX_BODY_BYTES must be a positive number"),
    ("OPSREL_API_AUTH_WINDOW_SECONDS", "inf", "API limits must be positive (the window finite)"),
    ("OPSREL_METRICS_AUTH", "sometimes", "OPSREL_METRICS_AUTH must be viewer or none"),
    ("OPSREL_METRICS_CACHE_SECONDS", "7200", "OPSREL_METRICS_CACHE_SECONDS must be 0..3600"),
    ("OPSREL_DQ_BASELINE_WINDOW", "ten", "invalid literal for int()"),
    ("OPSREL_WORKER_TIMEOUT_SECONDS", "0", "OPSREL_WORKER_TIMEOUT_SECONDS must be > 0 seconds"),
    ("OPSREL_START_TIMEOUT_SECONDS", "soon",
     "OPSREL_START_TIMEOUT_SECONDS must be a number of seconds"),
])
def test_a_bad_value_names_its_variable(name, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OpsrelSettings.from_env({name: value})


def test_a_bad_secret_is_never_in_the_message():
    with pytest.raises(ValueError) as raised:
        OpsrelSettings.from_env({"OPSREL_SLACK_WEBHOOK_URL": "ftp://hooks/T/B/s3cr3tpath"})
    assert "s3cr3tpath" not in str(raised.value)
    with pytest.raises(ValueError) as raised:
        OpsrelSettings.from_env({"OPSREL_SMTP_PASSWORD": "hunter2-pw"})
    assert "hunter2-pw" not in str(raised.value)


def test_settings_are_frozen():
    settings = OpsrelSettings.from_env({})
    with pytest.raises(AttributeError):
        settings.alerts = AlertSettings()  # type: ignore[misc]


def test_the_process_environment_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "proc"))
    assert OpsrelSettings.from_env().home == Path(tmp_path / "proc")
