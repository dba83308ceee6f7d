"""Email over SMTP with the standard library, never hanging on a silent server.

Every network operation is bounded by the configured timeout (``smtplib`` has none by default,
so a server that accepts the connection and never answers would hang the dispatcher). Failures
are classified for the dispatcher:

* transient (retry later): connection refused or reset, timeout, the server dropping the
  session, an SMTP 4xx reply;
* permanent (FAILED with the reason): an SMTP 5xx reply (recipient or sender refused,
  authentication failed), STARTTLS not offered, a TLS certificate that does not verify.

A login happens only when a user is configured, and never over an unencrypted connection unless
``OPSREL_SMTP_ALLOW_INSECURE_AUTH=true`` says so (``insecure_login_refusal``: refused before
connecting, a permanent failure naming the settings; allowed, a warning is logged). Reasons are
redacted (``AlertSettings.redact``): a server that echoes the password or the base64 login blob
gives nothing away.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from opsrel_core.config import AlertSettings, SmtpSecurity, insecure_login_refusal
from opsrel_core.notifiers import DeliveryError, EmailMessageSpec

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 200


class SmtpEmailSender:
    """Sends alert emails to ``settings.email_to`` through ``settings.smtp_host``.

    Args:
        settings: the alert settings (host, port, security, user, password, from, to, timeout).
        ssl_context: TLS context for starttls/ssl; when None, the default verification against
            ``settings.smtp_ca_file`` or, without one, the system's certificate authorities.
    """

    def __init__(self, settings: AlertSettings, ssl_context: ssl.SSLContext | None = None):
        if not settings.email_enabled:
            raise ValueError("email is not configured (OPSREL_SMTP_HOST and OPSREL_ALERT_EMAIL_TO)")
        self._settings = settings
        self._ssl_context = ssl_context

    def build(self, message: EmailMessageSpec) -> EmailMessage:
        """Return the ``EmailMessage`` that ``send`` would send (plain text, UTF-8)."""
        s = self._settings
        msg = EmailMessage()
        msg["From"] = s.email_from
        msg["To"] = ", ".join(s.email_to)
        msg["Subject"] = " ".join(message.subject.split())[:MAX_SUBJECT_CHARS]
        msg["Date"] = formatdate(usegmt=True)
        if message.message_id:
            msg["Message-ID"] = message.message_id
        if message.in_reply_to:
            msg["In-Reply-To"] = message.in_reply_to
            msg["References"] = message.in_reply_to
        msg.set_content(message.body)
        return msg

    def send(self, message: EmailMessageSpec) -> None:
        """Send one email; returns once the server accepted it for at least one recipient.

        Raises:
            DeliveryError: transient or permanent, as classified in the module docstring;
                permanent, before connecting, when a login would send the password in cleartext.
                Recipients refused while others were accepted are not an error (a retry would
                duplicate the mail for the accepted ones).
        """
        s = self._settings
        assert s.smtp_host is not None
        refusal = insecure_login_refusal(s)
        if refusal is not None:
            raise DeliveryError(False, f"SMTP {s.smtp_host}:{s.smtp_port}: {refusal}")
        msg = self.build(message)
        try:
            context = self._ssl_context or ssl.create_default_context(cafile=s.smtp_ca_file)
        except OSError as exc:  # an unreadable or malformed CA file: a misconfiguration
            raise _error(False, f"SMTP {s.smtp_host}:{s.smtp_port}: OPSREL_SMTP_CA_FILE cannot be "
                                f"used ({type(exc).__name__}: {exc})", s) from None
        try:
            if s.smtp_security is SmtpSecurity.SSL:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            with client:
                if s.smtp_security is SmtpSecurity.STARTTLS:
                    client.starttls(context=context)
                if s.smtp_user:
                    if s.smtp_security is SmtpSecurity.NONE:
                        log.warning(
                            "SMTP login to %s:%s over an unencrypted connection "
                            "(OPSREL_SMTP_ALLOW_INSECURE_AUTH=true): the password crosses the "
                            "network in cleartext", s.smtp_host, s.smtp_port,
                        )
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    client.login(s.smtp_user, password)
                client.send_message(msg)
        except DeliveryError:
            raise
        except Exception as exc:  # classified below; nothing is swallowed
            raise classify(exc, s) from None


def classify(exc: BaseException, settings: AlertSettings) -> DeliveryError:
    """Map an ``smtplib``/socket/TLS exception to a ``DeliveryError`` with a redacted reason."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        detail = "; ".join(f"{rcpt}: {code}" for rcpt, (code, _) in exc.recipients.items())
        return _error(transient, f"SMTP {where} refused every recipient ({detail})", settings)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        kind = type(exc).__name__
        return _error(400 <= code < 500, f"SMTP {where} answered {code} ({kind}): {text[:300]}", settings)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _error(False, f"SMTP {where}: {exc} (check OPSREL_SMTP_SECURITY)", settings)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _error(False, f"SMTP {where}: TLS certificate not trusted: {exc.verify_message}", settings)
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib reports a read timeout as SMTPServerDisconnected("... timed out").
        return _error(True, f"SMTP {where}: no answer within {settings.smtp_timeout_seconds:g} s", settings)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
        return _error(True, f"SMTP {where}: {type(exc).__name__}: {exc}", settings)
    if isinstance(exc, smtplib.SMTPException):
        return _error(False, f"SMTP {where}: {type(exc).__name__}: {exc}", settings)
    return _error(False, f"SMTP {where}: unexpected {type(exc).__name__}: {exc}", settings)


def _error(transient: bool, reason: str, settings: AlertSettings) -> DeliveryError:
    return DeliveryError(transient, settings.redact(reason))
