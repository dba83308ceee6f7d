"""The redaction rule and the SMTP login rule, without a server or a database.

Every form under which a library, a receiver or a log line can carry a webhook URL or a password
is redacted; texts without a secret are left alone; log records lose their secrets and, when an
exception carries one, their traceback.
"""

import base64
import json
import logging
import urllib.parse

import pytest

from opsrel_core.config import AlertSettings, Secret, SmtpSecurity, insecure_login_refusal
from opsrel_core.domain.redaction import WITHHELD, Redactor, base64_forms, redact, url_password
from opsrel_core.log_redaction import RedactingFilter, redact_record, redactor_from_env

TOKEN = "T0001/B0001/hooktokenSECRET42"
URL = f"https://hooks.example.test:8443/services/{TOKEN}"
PASSWORD = "pw-Zq81-very-secret"
USER = "bot"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor([PASSWORD, *base64_forms(PASSWORD, USER)], [URL])


def _leaks(text: str) -> list[str]:
    """The secret forms still readable in ``text`` (case-insensitive)."""
    low = text.lower()
    forms = {
        "token segment": "hooktokensecret42", "password": PASSWORD.lower(),
        "password core": "zq81-very", "token path": TOKEN.lower(),
        "encoded path": urllib.parse.quote(TOKEN, safe="").lower(),
        "plain blob": base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode().lower(),
    }
    return [name for name, form in forms.items() if form in low]


ECHOES = {
    "exact URL": f"POST {URL} failed",
    "path only": f"no_service: /services/{TOKEN}",
    "token segment": "invalid_token hooktokenSECRET42",
    "truncated token": "invalid_token hooktokenSEC...",
    "upper case": f"NOT FOUND: /SERVICES/{TOKEN.upper()}",
    "quote": f"url={urllib.parse.quote(URL)}",
    "quote safe=''": f"url={urllib.parse.quote(URL, safe='')}",
    "quote_plus": f"url={urllib.parse.quote_plus(URL)}",
    "lower-case percent": f"url={urllib.parse.quote(URL, safe='').lower()}",
    "mixed-case percent": urllib.parse.quote(URL, safe="").replace("%2F", "%2f", 2),
    "double-encoded": urllib.parse.quote(urllib.parse.quote(URL, safe=""), safe=""),
    "json-escaped": json.dumps({"url": URL}).replace("/", "\\/"),
    "unicode-escaped": URL.replace("/", "\\u002f"),
    "tab inside, repr": repr(URL.replace("hooktoken", "hook\ttoken")),
    "tab inside, raw": URL.replace("hooktoken", "hook\ttoken"),
    "space inside": URL.replace("hooktoken", "hook token"),
    "space inside, quote_plus": urllib.parse.quote_plus(URL.replace("hooktoken", "hook token")),
    "tab inside, encoded": urllib.parse.quote(URL.replace("hooktoken", "hook\ttoken")),
    "password": f"535 authentication failed for {USER}:{PASSWORD}",
    "password, quoted": f"pw={urllib.parse.quote_plus(PASSWORD)}",
    "password, cut": f"auth {PASSWORD[2:12]}...",
    "AUTH PLAIN blob": "535 bad credentials "
                       + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    "AUTH LOGIN blob": base64.b64encode(PASSWORD.encode()).decode().rstrip("="),
}


@pytest.mark.parametrize("text", ECHOES.values(), ids=ECHOES.keys())
def test_every_form_of_a_secret_is_redacted(redactor, text):
    cleaned = redactor.redact(text)
    assert "***" in cleaned
    assert _leaks(cleaned) == [] and not redactor.finds(cleaned), cleaned


def test_what_is_no_secret_stays_readable(redactor):
    text = "Slack webhook answered HTTP 404 at hooks.example.test:8443/services/: no_service"
    assert redactor.redact(text) == text
    assert redactor.redact(f"POST /services/{TOKEN} failed") == "POST /services/*** failed"
    assert redactor.redact(f"auth {PASSWORD} at {URL}") == "auth *** at ***"
    assert Redactor().redact(f"auth {PASSWORD}") == f"auth {PASSWORD}"


def test_the_function_form_and_url_passwords():
    assert redact("login pw=abc failed", ["abc"]) == "login pw=*** failed"
    db = "postgresql+psycopg://app:s%40cret-Pass@db.internal:5432/opsrel"
    assert url_password(db) == "s%40cret-Pass"
    assert redact(db, [url_password(db)]) == "postgresql+psycopg://app:***@db.internal:5432/opsrel"
    assert redact("password s@cret-Pass was refused", [url_password(db)]) == "password *** was refused"
    assert url_password("sqlite:///tmp/ops.db") is None


def test_the_environment_names_every_secret():
    env = {
        "OPSREL_SLACK_WEBHOOK_URL": URL, "OPSREL_SMTP_PASSWORD": PASSWORD, "OPSREL_SMTP_USER": USER,
        "OPSREL_DATABASE_URL": "postgresql://app:db-Pass-77@h/opsrel",
        "OPSREL_OPENLINEAGE_API_KEY": "ol-key-0123456789", "PATH": "/usr/bin",
    }
    r = redactor_from_env(env)
    text = f"{TOKEN} {PASSWORD} db-Pass-77 ol-key-0123456789 /usr/bin opsrel"
    assert r.redact(text) == "*** *** *** *** /usr/bin opsrel"


def _record(msg, args=(), exc=None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("opsrel_core.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - give it a traceback
        return caught


def test_a_log_record_loses_its_secrets_and_a_secret_traceback(redactor):
    record = redact_record(_record("post to %s failed: %s", (URL, 404)), redactor)
    assert record.getMessage() == "post to *** failed: 404" and isinstance(record.args, tuple)

    exc = _raised(ValueError(f"URL can't contain control characters. {URL!r}"))
    record = redact_record(_record("send failed for %s", ("delivery 3",), exc), redactor)
    assert record.exc_info is None and record.exc_text is None
    assert WITHHELD in record.getMessage() and "ValueError" in record.getMessage()
    assert _leaks(logging.Formatter().format(record)) == []

    plain = _raised(RuntimeError("mail server down"))
    record = redact_record(_record("send failed", (), plain), redactor)
    formatted = logging.Formatter().format(record)
    assert "Traceback (most recent call last)" in formatted and "mail server down" in formatted


def test_the_filter_on_a_handler_of_ones_own(redactor):
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    log = logging.getLogger("opsrel_core.test_redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("echoed %s", urllib.parse.quote(URL, safe="").lower())
        try:
            raise ConnectionError(f"refused {URL}")
        except ConnectionError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    out = stream.getvalue()
    assert out.count("***") >= 2 and "Traceback" not in out and _leaks(out) == []


# -- the SMTP login rule -----------------------------------------------------------------------


def test_a_user_means_starttls_by_default():
    s = AlertSettings.from_env({"OPSREL_SMTP_HOST": "mail.example.com", "OPSREL_SMTP_USER": USER,
                                "OPSREL_SMTP_PASSWORD": PASSWORD})
    assert s.smtp_security is SmtpSecurity.STARTTLS and s.smtp_port == 587
    assert insecure_login_refusal(s) is None
    assert AlertSettings(smtp_host="h", smtp_user=USER).smtp_security is SmtpSecurity.STARTTLS
    without_user = AlertSettings.from_env({"OPSREL_SMTP_HOST": "mail.example.com"})
    assert without_user.smtp_security is SmtpSecurity.NONE and without_user.smtp_port == 25


def test_a_login_over_a_plain_connection_needs_the_insecure_setting():
    env = {"OPSREL_SMTP_HOST": "mail.example.com", "OPSREL_SMTP_USER": USER,
           "OPSREL_SMTP_PASSWORD": PASSWORD, "OPSREL_SMTP_SECURITY": "none"}
    refused = insecure_login_refusal(AlertSettings.from_env(env))
    assert refused is not None and "OPSREL_SMTP_ALLOW_INSECURE_AUTH" in refused
    assert "OPSREL_SMTP_SECURITY=starttls" in refused and PASSWORD not in refused
    allowed = AlertSettings.from_env({**env, "OPSREL_SMTP_ALLOW_INSECURE_AUTH": "true"})
    assert allowed.smtp_allow_insecure_auth and insecure_login_refusal(allowed) is None
    with pytest.raises(ValueError, match="OPSREL_SMTP_ALLOW_INSECURE_AUTH must be true or false"):
        AlertSettings.from_env({**env, "OPSREL_SMTP_ALLOW_INSECURE_AUTH": "maybe"})


def test_settings_redact_their_own_secrets():
    s = AlertSettings(smtp_host="h", smtp_user=USER, smtp_password=Secret(PASSWORD),
                      slack_webhook_url=Secret(URL.replace("hooktoken", "hook\ttoken")))
    text = f"{URL!r} {base64.b64encode(PASSWORD.encode()).decode()} {PASSWORD.upper()}"
    assert s.redact(text) == "'***' *** ***"


def test_installed_redaction_covers_every_record_and_uncaught_exceptions(redactor, capsys):
    import io
    import sys

    from opsrel_core import log_redaction

    factory, hook, installed = logging.getLogRecordFactory(), sys.excepthook, log_redaction._installed
    log_redaction._installed = None
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a handler added later, without any filter
    log = logging.getLogger("uvicorn.test_redaction")
    try:
        log_redaction.install_log_redaction(Redactor())
        assert log_redaction.install_log_redaction(redactor).redactor is redactor  # replaced
        log.addHandler(handler)
        log.propagate = False
        log.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/x?u={URL}", "1.1", 401)
        try:
            raise ValueError(f"bad {URL}")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        logging.setLogRecordFactory(factory)
        sys.excepthook, log_redaction._installed = hook, installed
        log.removeHandler(handler)
        log.propagate = True
    assert stream.getvalue() == '127.0.0.1:5000 - "GET /x?u=*** HTTP/1.1" 401\n'
    err = capsys.readouterr().err
    assert err == f"ValueError: bad *** [{WITHHELD}]\n"
