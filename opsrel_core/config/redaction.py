"""The secrets the ``OPSREL_*`` environment configures, as one redactor for the entry points'
log redaction (``opsrel_core.log_redaction``)."""

from collections.abc import Mapping

from opsrel_core.config.environment import or_process
from opsrel_core.domain.redaction import Redactor, base64_forms, url_password

_SECRET_SUFFIXES = ("PASSWORD", "TOKEN", "SECRET", "API_KEY", "ROUTING_KEY")


def redactor_from_env(environ: Mapping[str, str] | None = None) -> Redactor:
    """The redactor for every secret the ``OPSREL_*`` environment configures; never raises.

    Secrets: ``OPSREL_SLACK_WEBHOOK_URL`` and any ``OPSREL_*WEBHOOK_URL`` (credential URLs);
    variables named ``OPSREL_*PASSWORD``, ``*TOKEN``, ``*SECRET``, ``*API_KEY``, ``*ROUTING_KEY``
    (the PagerDuty routing key); the password of
    every ``OPSREL_*_URL`` (``OPSREL_DATABASE_URL``); the base64 login forms of
    ``OPSREL_SMTP_PASSWORD`` with ``OPSREL_SMTP_USER``.

    Args:
        environ: the environment to read; the process environment when omitted.
    """
    env = or_process(environ)
    secrets: list[str] = []
    urls: list[str] = []
    for name, value in env.items():
        if not name.startswith("OPSREL_") or not value or not value.strip():
            continue
        if name.endswith("WEBHOOK_URL"):
            urls.append(value)
        elif name.endswith(_SECRET_SUFFIXES):
            secrets += [value, value.strip()]
        elif name.endswith("_URL"):
            secrets.append(url_password(value.strip()) or "")
    secrets += base64_forms(env.get("OPSREL_SMTP_PASSWORD"), (env.get("OPSREL_SMTP_USER") or "").strip())
    return Redactor(secrets, urls)
