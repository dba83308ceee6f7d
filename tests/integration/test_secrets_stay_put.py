"""No secret leaves its place: after provoked delivery failures of every kind, nothing opsrel
wrote holds the webhook secret or the SMTP password, in any form.

Real receivers on loopback: an HTTP server standing in for Slack that echoes the URL (plain,
URL-encoded, JSON-escaped) or answers 500 with it, a closed port, an aiosmtpd server that echoes
the credentials in its 535 answer, one with STARTTLS and a self-signed certificate. Faults:
a webhook URL with a tab or a space inside, echoes, a 500, connection refused, a sender bug
whose exception carries the URL, an SMTP login failure, a login over an unencrypted connection
(refused). Then everything opsrel wrote is read back and searched: every table of the ops
database (SQLite and PostgreSQL), DAGSTER_HOME, the log records, and the stdout and stderr of
the ``opsrel`` CLI, the dispatch sensor and the admin API process.
"""

import base64
import contextlib
import io
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from opsrel_core.config import AlertSettings
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.services.alerts import AlertDispatcher, OpsAlertService
from tests.support.receivers import MailHandler, SlackServer, free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "T0042/B0042/hooktokenSECRETzq81"
SEGMENT = "hooktokenSECRETzq81"
USER = "alerts-bot"
PASSWORD = "smtp-Pw-4711-not-for-logs"


def _forms() -> dict[str, str]:
    """Every form of the two secrets a leak could take, lower case (searched case-insensitively)."""
    path = f"/services/{TOKEN}"
    blob = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    forms = {
        "token segment": SEGMENT, "token path": TOKEN,
        "token segment, cut": SEGMENT[4:14], "password": PASSWORD, "password, cut": PASSWORD[3:13],
        "path, quoted": urllib.parse.quote(path, safe=""), "token, quoted": urllib.parse.quote(TOKEN, safe=""),
        "token, quote_plus": urllib.parse.quote_plus(TOKEN), "password, quoted": urllib.parse.quote_plus(PASSWORD),
        "AUTH PLAIN blob": blob.rstrip("="),
        "AUTH LOGIN blob": base64.b64encode(PASSWORD.encode()).decode().rstrip("="),
        "token, JSON-escaped": TOKEN.replace("/", "\\/"),
    }
    return {name: form.lower() for name, form in forms.items()}


FORMS = _forms()


def assert_no_secret(where: str, text: str) -> None:
    low = text.lower()
    found = [name for name, form in FORMS.items() if form in low]
    # whitespace-damaged forms: the segment with a tab or space inside, raw or escaped
    squeezed = "".join(low.replace("\\t", "").split())
    if SEGMENT.lower() in squeezed:
        found.append("token segment with whitespace inside")
    assert not found, f"{where} holds {found}"


# -- reading back everything opsrel wrote --------------------------------------------------------


def dump_database(database_url: str) -> str:
    """Every value of every table of the database (all schemas), as text."""
    engine = sa.create_engine(database_url)
    out: list[str] = []
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                tables = conn.execute(sa.text(
                    "SELECT table_schema, table_name FROM information_schema.tables WHERE "
                    "table_schema NOT IN ('pg_catalog', 'information_schema') "
                    "AND table_type = 'BASE TABLE'")).all()
                names = [f'"{schema}"."{name}"' for schema, name in tables]
            else:
                names = [f'"{n}"' for n in conn.execute(sa.text(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()]
            for name in names:
                for row in conn.execute(sa.text(f"SELECT * FROM {name}")):
                    out.append(f"{name}: " + " | ".join(map(str, row)))
    finally:
        engine.dispose()
    assert any("alert_delivery_attempt" in line for line in out), "no attempt was recorded"
    return "\n".join(out)


def dump_folder(folder: Path) -> str:
    """Every file under ``folder`` (SQLite files included), as text."""
    return "\n".join(
        f"{p}: " + p.read_bytes().decode("utf-8", "replace")
        for p in sorted(folder.rglob("*")) if p.is_file()
    )


# -- receivers ---------------------------------------------------------------------------------


class EchoingAuth:
    """An aiosmtpd authenticator that refuses every login and echoes the credentials (as a
    careless server does), recording whether each login came over TLS."""

    def __init__(self, accept: bool = False) -> None:
        self.accept = accept
        self.logins: list[bool] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append(session.ssl is not None)
        if self.accept:
            return AuthResult(success=True)
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        blob = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 credentials {login}:{password} ({blob}) rejected")


@contextlib.contextmanager
def smtp_server(**kwargs) -> Iterator[tuple[int, MailHandler]]:
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (``openssl``)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer(TOKEN)
    yield server
    server.close()


def _base(**kw) -> dict:
    return dict(email_from="opsrel@example.org", smtp_timeout_seconds=3, slack_timeout_seconds=3,
                slack_min_interval_seconds=0, **kw)


class RaisingSender:
    """A Slack sender with a bug: its exception carries the URL (the dispatcher's catch-all)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, text: str) -> None:
        raise RuntimeError(f"cannot post to {self.url}")


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record of the process but the test receivers' own (aiosmtpd logs what it
    receives), as a plain handler prints it (no redacting filter: the core must not log a
    secret on its own), with the default record factory."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(lambda record: not record.name.startswith("mail."))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    factory, level = logging.getLogRecordFactory(), root.level
    logging.setLogRecordFactory(logging.LogRecord)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)


# -- the dispatcher, every kind of failure -----------------------------------------------------


def test_every_failure_kind_leaves_no_secret_in_the_database_or_the_logs(
        engine, database_url, slack, capfd):
    """Each kind on its own alert and settings; then the database and the logs are searched."""
    alerts_done: dict[str, tuple[str, str]] = {}
    closed = free_port()

    def run(kind: str, settings: AlertSettings, **senders) -> tuple[str, str]:
        alert = OpsAlertService(engine, settings).send_alert(
            "DQ_FAIL", severity="ERROR", title=f"rule failed ({kind})", message="3 null carriers",
            error_code="DQ-001", job_id="flights_daily", partition_key=kind)
        if not senders:
            senders = {
                "email_sender": SmtpEmailSender(settings) if settings.email_enabled else None,
                "slack_sender": SlackWebhookSender(settings) if settings.slack_enabled else None,
            }
        AlertDispatcher(engine, settings, **senders).dispatch_once()
        [delivery] = OpsAlertService(engine, settings).delivery_history(alert.alert_id)
        alerts_done[kind] = (delivery.status, delivery.last_error or "")
        return alerts_done[kind]

    def slack_settings(url: str) -> AlertSettings:
        return AlertSettings(**_base(slack_webhook_url=_secret(url)))

    with captured_logs() as logs:
        for kind, url in [("tab in the URL", slack.url.replace("hooktoken", "hook\ttoken")),
                          ("space in the URL", slack.url.replace("hooktoken", "hook token"))]:
            status, error = run(kind, slack_settings(url))
            assert status == "FAILED" and "whitespace or a control character" in error
        assert slack.posts == []  # never sent anywhere

        slack.script = [(404, {}, f"no_service: /services/{TOKEN}".encode())]
        status, error = run("echo of the path", slack_settings(slack.url))
        assert status == "FAILED" and "HTTP 404: no_service: /services/***" in error
        slack.script = [(403, {}, urllib.parse.quote(slack.url, safe="").lower().encode())]
        status, error = run("URL-encoded echo", slack_settings(slack.url))
        assert status == "FAILED" and error.endswith("HTTP 403: ***")
        slack.script = [(500, {}, json.dumps({"error": "boom", "hook": slack.url}).replace(
            "/", "\\/").encode())]
        status, error = run("500 with the URL", slack_settings(slack.url))
        assert status == "RETRY" and "HTTP 500" in error and "***" in error
        status, error = run("connection refused", slack_settings(
            f"http://127.0.0.1:{closed}/services/{TOKEN}"))
        assert status == "RETRY" and "Connection" in error
        status, error = run("sender bug", slack_settings(slack.url),
                            slack_sender=RaisingSender(slack.url))
        assert status == "RETRY" and error == "EXT-003: unexpected RuntimeError: cannot post to ***"

        login = dict(smtp_host="127.0.0.1", email_to=("oncall@example.org",), smtp_user=USER,
                     smtp_password=_secret(PASSWORD))
        echoing = EchoingAuth()
        with smtp_server(authenticator=echoing, auth_require_tls=False) as (port, handler):
            status, error = run("SMTP login failure, echoed", AlertSettings(**_base(
                smtp_port=port, smtp_security="none", smtp_allow_insecure_auth=True, **login)))
            assert status == "FAILED" and "535" in error and "credentials alerts-bot:***" in error
            tried = len(echoing.logins)  # smtplib tries AUTH PLAIN, then AUTH LOGIN
            assert tried >= 1 and not any(echoing.logins)
            status, error = run("SMTP login over a plain connection", AlertSettings(**_base(
                smtp_port=port, smtp_security="none", **login)))
            assert status == "FAILED" and "login refused" in error
            assert "OPSREL_SMTP_ALLOW_INSECURE_AUTH" in error
            assert len(echoing.logins) == tried and handler.messages == []  # refused before connecting
        status, error = run("SMTP connection refused", AlertSettings(**_base(smtp_port=closed, **login)))
        assert status == "RETRY" and "ConnectionRefusedError" in error

    out, err = capfd.readouterr()
    logged = logs.getvalue()
    assert "Traceback" not in logged and "traceback withheld" in logged
    assert "over an unencrypted connection" in logged  # the allowed insecure login warned
    assert_no_secret("the log records", logged)
    assert_no_secret("stdout and stderr", out + err)
    assert_no_secret("the ops database", dump_database(database_url))
    assert len(alerts_done) == 10


def test_starttls_is_the_default_with_a_user(engine, certificate, capfd):
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    auth = EchoingAuth(accept=True)
    with smtp_server(tls_context=server_context, require_starttls=True, authenticator=auth,
                     auth_require_tls=True) as (port, handler):
        settings = AlertSettings.from_env({
            "OPSREL_SMTP_HOST": "127.0.0.1", "OPSREL_SMTP_PORT": str(port),
            "OPSREL_SMTP_USER": USER, "OPSREL_SMTP_PASSWORD": PASSWORD,
            "OPSREL_SMTP_CA_FILE": str(cert), "OPSREL_ALERT_EMAIL_TO": "oncall@example.org",
        })
        assert settings.smtp_security.value == "starttls"
        alert = OpsAlertService(engine, settings).send_alert(
            "DQ_FAIL", severity="ERROR", title="rule failed", message="m", error_code="DQ-001")
        report = AlertDispatcher(engine, settings, SmtpEmailSender(settings)).dispatch_once()
        assert report.sent == 1, OpsAlertService(engine, settings).delivery_history(alert.alert_id)
    assert auth.logins == [True]  # the password went only over TLS
    assert len(handler.messages) == 1
    out, err = capfd.readouterr()
    assert_no_secret("stdout and stderr", out + err)


def _secret(value: str):
    from opsrel_core.config import Secret

    return Secret(value)


# -- the CLI, the dispatch sensor and DAGSTER_HOME -----------------------------------------------


def test_the_cli_and_the_sensor_write_no_secret(database_url, engine, tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "opsrel_home", tmp_path / "opsrel_home" / "dagster_home"
    dagster_home.mkdir(parents=True)
    slack = SlackServer(TOKEN)
    echoing = EchoingAuth()
    try:
        with smtp_server(authenticator=echoing, auth_require_tls=False) as (port, _):
            env = {
                "OPSREL_HOME": str(home), "DAGSTER_HOME": str(dagster_home),
                "OPSREL_DATABASE_URL": database_url,
                "OPSREL_SLACK_WEBHOOK_URL": slack.url.replace("hooktoken", "hook\ttoken"),
                "OPSREL_SMTP_HOST": "127.0.0.1", "OPSREL_SMTP_PORT": str(port),
                "OPSREL_SMTP_SECURITY": "none", "OPSREL_SMTP_ALLOW_INSECURE_AUTH": "true",
                "OPSREL_SMTP_USER": USER, "OPSREL_SMTP_PASSWORD": PASSWORD,
                "OPSREL_ALERT_EMAIL_FROM": "opsrel@example.org",
                "OPSREL_ALERT_EMAIL_TO": "oncall@example.org", "OPSREL_SMTP_TIMEOUT_SECONDS": "3",
            }
            settings = AlertSettings.from_env(env)
            OpsAlertService(engine, settings).send_alert(
                "DQ_FAIL", severity="ERROR", title="rule failed", message="m", error_code="DQ-001",
                partition_key="cli")
            cli = subprocess.run(
                [sys.executable, "-c", "from opsrel_dagster.app.cli import main; main()",
                 "alerts", "dispatch"],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **env},
                capture_output=True, text=True, timeout=120,
            )
            assert cli.returncode == 0, cli.stderr
            assert "sent 0, retrying 0, failed 2" in cli.stdout
            assert "FAILED: EXT-002" in cli.stderr and "FAILED: EXT-003" in cli.stderr
            tried = len(echoing.logins)
            assert tried >= 1 and not any(echoing.logins)
            assert_no_secret("the CLI's stdout", cli.stdout)
            assert_no_secret("the CLI's stderr", cli.stderr)

            # The dispatch sensor, evaluated on the Dagster instance of DAGSTER_HOME: the
            # receiver echoes the URL-encoded path, the mail server is asked for a plain login.
            import dagster as dg

            from opsrel_dagster.sensors.alert_dispatch import make_alert_dispatch_sensor
            from opsrel_dagster.resources import OpsDatabase

            sensor_env = {**env, "OPSREL_SLACK_WEBHOOK_URL": slack.url,
                          "OPSREL_SMTP_ALLOW_INSECURE_AUTH": "false"}
            for name, value in sensor_env.items():
                monkeypatch.setenv(name, value)
            slack.script = [(404, {}, urllib.parse.quote(f"/services/{TOKEN}", safe="").encode())]
            alert = OpsAlertService(engine, AlertSettings.from_env()).send_alert(
                "DQ_FAIL", severity="ERROR", title="rule failed", message="m",
                error_code="DQ-001", partition_key="sensor")
            stream = io.StringIO()
            handler = logging.StreamHandler(stream)
            logging.getLogger().addHandler(handler)
            try:
                with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
                    context = dg.build_sensor_context(
                        instance=instance, resources={"ops_db": OpsDatabase(database_url=database_url)})
                    result = make_alert_dispatch_sensor()(context)
            finally:
                logging.getLogger().removeHandler(handler)
            assert "failed 2" in str(result)
            history = OpsAlertService(engine, settings).delivery_history(alert.alert_id)
            errors = {d.channel: d.last_error for d in history}
            assert "login refused" in errors["EMAIL"]
            assert errors["SLACK"].endswith("HTTP 404: %2Fservices%2F***")
            assert len(echoing.logins) == tried  # no further login: refused before connecting
            assert_no_secret("the sensor's log records", stream.getvalue())
    finally:
        slack.close()
    assert_no_secret("DAGSTER_HOME", dump_folder(dagster_home))
    assert_no_secret("OPSREL_HOME", dump_folder(home))
    assert_no_secret("the ops database", dump_database(database_url))


# -- the admin API process ---------------------------------------------------------------------


def test_the_api_process_logs_no_secret(sqlite_database_url, tmp_path):
    """``opsrel api serve`` with the secrets in its environment; a request whose URL carries
    the webhook URL (a client pasting it) is logged by the access log without it."""
    port = free_port()
    webhook = f"https://hooks.example.test/services/{TOKEN}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPSREL_HOME": str(tmp_path),
           "OPSREL_DATABASE_URL": sqlite_database_url, "OPSREL_SLACK_WEBHOOK_URL": webhook,
           "OPSREL_SMTP_USER": USER, "OPSREL_SMTP_PASSWORD": PASSWORD}
    out_path, err_path = tmp_path / "api.out", tmp_path / "api.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", "from opsrel_core.entrypoints.cli import cli; cli()",
             "api", "serve", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=err, start_new_session=True,
        )
        try:
            statuses = []
            deadline = time.monotonic() + 60
            for query in (urllib.parse.quote(webhook, safe=""), urllib.parse.quote_plus(PASSWORD),
                          urllib.parse.quote(TOKEN.replace("hooktoken", "hook\ttoken"), safe="")):
                while True:
                    try:
                        urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/admin/alerts?probe={query}", timeout=5)
                    except urllib.error.HTTPError as exc:
                        statuses.append(exc.code)
                        break
                    except OSError:
                        assert process.poll() is None and time.monotonic() < deadline, \
                            err_path.read_text()
                        time.sleep(0.2)
            assert statuses == [401, 401, 401]
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
    logged = out_path.read_text() + err_path.read_text()
    assert logged.count("/admin/alerts?probe=***") == 3, logged
    assert_no_secret("the API's stdout and stderr", logged)


def test_an_error_stored_before_the_rule_knew_it_is_masked_on_read(engine):
    settings = AlertSettings(**_base(slack_webhook_url=_secret(f"http://127.0.0.1:9/services/{TOKEN}")))
    alert = OpsAlertService(engine, settings).send_alert(
        "DQ_FAIL", severity="ERROR", title="rule failed", message="m", error_code="DQ-001")
    from opsrel_core.persistence.tables import AlertDelivery, AlertDeliveryAttempt

    damaged = TOKEN.replace("hooktoken", "hook\\ttoken")  # as repr() prints a tab
    old = f"EXT-003: http.client.InvalidURL: '/services/{damaged}'"
    with engine.begin() as conn:
        delivery_id = conn.execute(sa.update(AlertDelivery.__table__).values(
            status="FAILED", last_error=old).returning(AlertDelivery.__table__.c.delivery_id)).scalar_one()
        conn.execute(sa.insert(AlertDeliveryAttempt.__table__).values(
            delivery_id=delivery_id, attempted_at=sa.func.current_timestamp(), succeeded=False,
            error=old))
    [delivery] = OpsAlertService(engine, settings).delivery_history(alert.alert_id)
    assert delivery.last_error == "EXT-003: http.client.InvalidURL: '/services/***'"
    assert [a.error for a in delivery.attempt_history] == [delivery.last_error]


def test_a_sensor_failure_carrying_a_secret_is_raised_redacted(sqlite_database_url, monkeypatch):
    """Dagster stores a sensor's error with its traceback in its instance: what the dispatch
    sensor raises must hold no secret, its chain included."""
    import traceback

    import dagster as dg

    from opsrel_core.services.alerts import AlertDispatcher
    from opsrel_dagster.sensors import alert_dispatch
    from opsrel_dagster.resources import OpsDatabase

    url = f"http://127.0.0.1:9/services/{TOKEN}"
    monkeypatch.setenv("OPSREL_SLACK_WEBHOOK_URL", url)

    def broken(self, limit=100):
        raise ConnectionError(f"proxy refused {urllib.parse.quote(url, safe='')}")

    monkeypatch.setattr(AlertDispatcher, "dispatch_once", broken)
    context = dg.build_sensor_context(
        resources={"ops_db": OpsDatabase(database_url=sqlite_database_url)})
    with pytest.raises(Exception) as info:
        alert_dispatch.make_alert_dispatch_sensor()(context)
    formatted = "".join(traceback.format_exception(info.value))
    assert "ConnectionError: proxy refused ***" in formatted
    assert_no_secret("the sensor's error", formatted)
