"""Typed alerting settings, built at the edge from the environment and passed in.

Secrets (the SMTP password, the Slack webhook URL, whose path is the credential, and the
PagerDuty routing key) are held in
``Secret``: its ``repr`` and ``str`` are ``'***'``, so they cannot leak through a log line, an
exception message or a dataclass repr. ``AlertSettings.redact`` scrubs them, in every form the
redaction rule knows (``opsrel_core.domain.redaction``: partial, encoded, echoed, with
whitespace inside), from any text (for example an error message from a library) before it is
logged or stored.

The SMTP password never crosses the network in cleartext by default: with a user and no
``OPSREL_SMTP_SECURITY`` the connection is upgraded with STARTTLS, and a login over an
unencrypted connection (``none``) is refused unless ``OPSREL_SMTP_ALLOW_INSECURE_AUTH=true``
(``insecure_login_refusal``).
"""

import dataclasses
import functools
import urllib.parse
from collections.abc import Mapping

from opsrel_core.config.environment import number as _number, or_process, text as _text
from opsrel_core.config.secrets import PLACEHOLDER_SECRETS, Secret, SmtpSecurity
from opsrel_core.domain import console_links
from opsrel_core.domain.redaction import Redactor, base64_forms

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclasses.dataclass(frozen=True)
class AlertSettings:
    """Where and how alerts are delivered.

    Attributes:
        smtp_host: mail server host; None disables email.
        smtp_port: mail server port (default by security: 25, 587 or 465).
        smtp_security: none, starttls or ssl; when omitted (None), starttls with a user and none
            without one.
        smtp_user: login user; no login when None.
        smtp_password: login password (a ``Secret``).
        smtp_allow_insecure_auth: allow a login over an unencrypted connection (security none);
            the password then crosses the network in cleartext. False by default.
        smtp_ca_file: PEM file of the certificate authorities trusted for starttls/ssl, instead
            of the system's.
        email_from: the sender address.
        email_to: recipient addresses; email is enabled when this and ``smtp_host`` are set.
        slack_webhook_url: Slack incoming-webhook URL (a ``Secret``); None disables Slack.
        pagerduty_routing_key: the integration key of a PagerDuty service's Events API v2
            integration (a ``Secret``); None disables PagerDuty.
        pagerduty_events_url: where PagerDuty events are posted (the Events API v2 enqueue
            endpoint; overridable for a test receiver or a proxy).
        pagerduty_timeout_seconds: bound on a PagerDuty post (seconds).
        dagster_ui_url: base URL of the Dagster UI for run links, without a trailing slash.
        console_url: public base URL of ``opsrel api serve`` (which serves the console under
            ``/console``), e.g. ``https://ops.example.com``, without a trailing slash; None
            (unset): messages carry no console link.
        dedupe_window_seconds: an open alert absorbs a repeat of the same event seen within this
            many seconds of its last occurrence (the storm window).
        incident_window_seconds: an open failure incident (one job, one error code) absorbs a
            failure of any partition within this many seconds of its last failure.
        smtp_timeout_seconds, slack_timeout_seconds: bound on every network operation (seconds).
        max_attempts: a delivery is FAILED after this many attempts.
        backoff_base_seconds, backoff_cap_seconds: retry delay ``base * 2**(attempt-1)``, capped.
        slack_min_interval_seconds: pause between two Slack posts of one dispatch (Slack allows
            about one message per second per webhook).
        claim_lease_seconds: how long a claimed delivery is hidden from other dispatchers; a
            dispatcher that dies mid-send releases it when the lease ends.
        history_horizon_seconds: a failure that ended longer ago than this is recorded without
            alerting (a cold start or a reset cursor imports history silently, never re-alerting
            old failures).
    """

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: SmtpSecurity | None = None
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_allow_insecure_auth: bool = False
    smtp_ca_file: str | None = None
    email_from: str = "opsrel@localhost"
    email_to: tuple[str, ...] = ()
    slack_webhook_url: Secret | None = None
    dagster_ui_url: str = "http://127.0.0.1:3000"
    dedupe_window_seconds: float = 3600.0
    incident_window_seconds: float = 3600.0
    smtp_timeout_seconds: float = 10.0
    slack_timeout_seconds: float = 10.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    slack_min_interval_seconds: float = 1.0
    claim_lease_seconds: float = 300.0
    history_horizon_seconds: float = 86400.0
    console_url: str | None = None
    pagerduty_routing_key: Secret | None = None
    pagerduty_events_url: str = PAGERDUTY_EVENTS_URL
    pagerduty_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        security = SmtpSecurity(self.smtp_security) if self.smtp_security is not None else (
            SmtpSecurity.STARTTLS if self.smtp_user else SmtpSecurity.NONE)
        object.__setattr__(self, "smtp_security", security)
        if self.smtp_port is None:
            object.__setattr__(self, "smtp_port", security.default_port)
        object.__setattr__(self, "email_to", tuple(self.email_to))
        object.__setattr__(self, "dagster_ui_url", self.dagster_ui_url.rstrip("/"))
        if self.console_url is not None:
            parsed = urllib.parse.urlsplit(self.console_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"OPSREL_CONSOLE_URL must be an http(s) URL, got {self.console_url!r}")
            object.__setattr__(self, "console_url", self.console_url.rstrip("/"))
        if not 1 <= self.smtp_port <= 65535:
            raise ValueError(f"SMTP port must be 1..65535, got {self.smtp_port}")
        for name in (
            "dedupe_window_seconds", "incident_window_seconds", "smtp_timeout_seconds", "slack_timeout_seconds",
            "backoff_base_seconds", "backoff_cap_seconds", "claim_lease_seconds",
            "history_horizon_seconds", "pagerduty_timeout_seconds",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.slack_min_interval_seconds < 0:
            raise ValueError("slack_min_interval_seconds must be >= 0")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        for address in (self.email_from, *self.email_to):
            if "@" not in address or any(c in address for c in "\r\n,; "):
                raise ValueError(f"not an email address: {address!r}")
        for secret, name in ((self.smtp_password, "OPSREL_SMTP_PASSWORD"),
                             (self.slack_webhook_url, "OPSREL_SLACK_WEBHOOK_URL"),
                             (self.pagerduty_routing_key, "OPSREL_PAGERDUTY_ROUTING_KEY")):
            if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder value; set the real secret")
        if self.slack_webhook_url is not None:
            parsed = urllib.parse.urlsplit(self.slack_webhook_url.get_secret_value())
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                # The URL itself is the secret: the message names only the scheme.
                raise ValueError(
                    f"OPSREL_SLACK_WEBHOOK_URL must be an http(s) URL (scheme {parsed.scheme!r})"
                )
        parsed = urllib.parse.urlsplit(self.pagerduty_events_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"OPSREL_PAGERDUTY_EVENTS_URL must be an http(s) URL, got {self.pagerduty_events_url!r}"
            )
        if self.smtp_password is not None and not self.smtp_user:
            raise ValueError("OPSREL_SMTP_PASSWORD is set without OPSREL_SMTP_USER")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AlertSettings":
        """Build settings from ``OPSREL_*`` variables; empty values count as unset.

        Reads OPSREL_SMTP_HOST, OPSREL_SMTP_PORT, OPSREL_SMTP_SECURITY (none|starttls|ssl,
        default starttls with a user, none without), OPSREL_SMTP_USER, OPSREL_SMTP_PASSWORD,
        OPSREL_SMTP_ALLOW_INSECURE_AUTH (true|false, default false), OPSREL_SMTP_CA_FILE,
        OPSREL_ALERT_EMAIL_FROM,
        OPSREL_ALERT_EMAIL_TO (comma-separated), OPSREL_SLACK_WEBHOOK_URL, OPSREL_DAGSTER_UI_URL,
        OPSREL_CONSOLE_URL (unset: no console link), OPSREL_PAGERDUTY_ROUTING_KEY,
        OPSREL_PAGERDUTY_EVENTS_URL (``https://events.pagerduty.com/v2/enqueue``),
        OPSREL_PAGERDUTY_TIMEOUT_SECONDS (10),
        OPSREL_ALERT_DEDUPE_WINDOW_SECONDS (3600), OPSREL_SMTP_TIMEOUT_SECONDS (10),
        OPSREL_SLACK_TIMEOUT_SECONDS (10), OPSREL_ALERT_MAX_ATTEMPTS (8),
        OPSREL_ALERT_HISTORY_HORIZON_SECONDS (86400).

        Args:
            environ: the environment to read; the process environment when omitted.

        Raises:
            ValueError: an invalid value (unknown security mode, bad port or number, malformed
                address or webhook URL, placeholder secret). The message never holds a secret.
        """
        env = or_process(environ)

        get = functools.partial(_text, env)
        number = functools.partial(_number, env)

        user = get("OPSREL_SMTP_USER")
        raw_security = (get("OPSREL_SMTP_SECURITY") or ("starttls" if user else "none")).lower()
        try:
            security = SmtpSecurity(raw_security)
        except ValueError:
            raise ValueError(
                f"OPSREL_SMTP_SECURITY must be none, starttls or ssl, got {raw_security!r}"
            ) from None
        raw_insecure = (get("OPSREL_SMTP_ALLOW_INSECURE_AUTH") or "false").lower()
        if raw_insecure not in _BOOLEANS:
            raise ValueError(
                f"OPSREL_SMTP_ALLOW_INSECURE_AUTH must be true or false, got {raw_insecure!r}"
            )
        password = env.get("OPSREL_SMTP_PASSWORD") or None  # a password may hold spaces
        webhook = get("OPSREL_SLACK_WEBHOOK_URL")
        routing_key = get("OPSREL_PAGERDUTY_ROUTING_KEY")
        recipients = tuple(
            part.strip() for part in (get("OPSREL_ALERT_EMAIL_TO") or "").split(",") if part.strip()
        )
        return cls(
            smtp_host=get("OPSREL_SMTP_HOST"),
            smtp_port=number("OPSREL_SMTP_PORT", security.default_port, int),
            smtp_security=security,
            smtp_user=user,
            smtp_password=Secret(password) if password else None,
            smtp_allow_insecure_auth=_BOOLEANS[raw_insecure],
            smtp_ca_file=get("OPSREL_SMTP_CA_FILE"),
            email_from=get("OPSREL_ALERT_EMAIL_FROM") or "opsrel@localhost",
            email_to=recipients,
            slack_webhook_url=Secret(webhook) if webhook else None,
            dagster_ui_url=get("OPSREL_DAGSTER_UI_URL") or "http://127.0.0.1:3000",
            dedupe_window_seconds=number("OPSREL_ALERT_DEDUPE_WINDOW_SECONDS", 3600.0),
            incident_window_seconds=number("OPSREL_INCIDENT_WINDOW_SECONDS", 3600.0),
            smtp_timeout_seconds=number("OPSREL_SMTP_TIMEOUT_SECONDS", 10.0),
            slack_timeout_seconds=number("OPSREL_SLACK_TIMEOUT_SECONDS", 10.0),
            max_attempts=number("OPSREL_ALERT_MAX_ATTEMPTS", 8, int),
            history_horizon_seconds=number("OPSREL_ALERT_HISTORY_HORIZON_SECONDS", 86400.0),
            console_url=get("OPSREL_CONSOLE_URL"),
            pagerduty_routing_key=Secret(routing_key) if routing_key else None,
            pagerduty_events_url=get("OPSREL_PAGERDUTY_EVENTS_URL") or PAGERDUTY_EVENTS_URL,
            pagerduty_timeout_seconds=number("OPSREL_PAGERDUTY_TIMEOUT_SECONDS", 10.0),
        )

    @property
    def email_enabled(self) -> bool:
        """True when a mail server and at least one recipient are configured."""
        return bool(self.smtp_host and self.email_to)

    @property
    def slack_enabled(self) -> bool:
        """True when a Slack webhook URL is configured."""
        return self.slack_webhook_url is not None

    @property
    def pagerduty_enabled(self) -> bool:
        """True when a PagerDuty routing key is configured."""
        return self.pagerduty_routing_key is not None

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, ``("EMAIL", "SLACK", "PAGERDUTY")`` or a subset, in that
        order."""
        return tuple(
            name for name, on in (("EMAIL", self.email_enabled), ("SLACK", self.slack_enabled),
                                  ("PAGERDUTY", self.pagerduty_enabled)) if on
        )

    def run_link(self, execution_id: str | None) -> str | None:
        """``<dagster_ui_url>/runs/<execution_id>``, or None without an execution."""
        return f"{self.dagster_ui_url}/runs/{execution_id}" if execution_id else None

    def console_link(self, job_id: str | None, partition_key: str | None) -> str | None:
        """The partition's console page,
        ``<console_url>/console/partitions/<job_id>/<partition_key>`` (the scheme of
        ``domain.console_links``, segments quoted), or None without a console URL, a job or a
        partition."""
        if not (job_id and partition_key):
            return None
        return console_links.absolute(self.console_url,
                                      console_links.partition_path(job_id, partition_key))

    @functools.cached_property
    def redactor(self) -> Redactor:
        """The redactor of these settings' secrets: the SMTP password (and the base64 forms a
        login sends), the Slack webhook URL (a credential URL) and the PagerDuty routing key."""
        password = self.smtp_password.get_secret_value() if self.smtp_password else None
        webhook = self.slack_webhook_url.get_secret_value() if self.slack_webhook_url else None
        routing_key = (self.pagerduty_routing_key.get_secret_value()
                       if self.pagerduty_routing_key else None)
        return Redactor([password, *base64_forms(password, self.smtp_user), routing_key],
                        [webhook])

    def redact(self, text: str) -> str:
        """Return ``text`` with every form of every configured secret as ``***`` (the webhook
        URL and its secret path, the SMTP password; see ``opsrel_core.domain.redaction``)."""
        return self.redactor.redact(text)


def insecure_login_refusal(settings: AlertSettings) -> str | None:
    """Why an SMTP login must not happen with these settings, or None when it may.

    A login over an unencrypted connection (``smtp_security`` none with a user) would send the
    password in cleartext (``AUTH PLAIN`` is base64, not encryption); it is refused unless
    ``smtp_allow_insecure_auth`` is set. The reason names the settings to change, never a secret.
    """
    if settings.smtp_user and settings.smtp_security is SmtpSecurity.NONE and not (
        settings.smtp_allow_insecure_auth
    ):
        return (
            "login refused: OPSREL_SMTP_SECURITY=none would send the password of OPSREL_SMTP_USER "
            "in cleartext; set OPSREL_SMTP_SECURITY=starttls or ssl (or, on a trusted network "
            "only, OPSREL_SMTP_ALLOW_INSECURE_AUTH=true)"
        )
    return None
