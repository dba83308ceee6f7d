"""Send the pending alert deliveries once, with the channels the environment configures.

The outbox (``alert_delivery`` rows) is written with each alert; this only sends what is due
(``OPSREL_SMTP_*``, ``OPSREL_ALERT_EMAIL_*``, ``OPSREL_SLACK_WEBHOOK_URL``,
``OPSREL_PAGERDUTY_ROUTING_KEY``). A channel without settings keeps its deliveries pending
instead of failing them. Called by the dispatch sensor, the runner and ``opsrel alerts
dispatch``, which needs no Dagster for it.
"""

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.log_redaction import install_log_redaction, redactor_from_env
from opsrel_core.notifiers.channels import senders_for
from opsrel_core.services.alerts import AlertDispatcher, DispatchReport


def dispatch_alerts(
    engine: sa.Engine, settings: AlertSettings | None = None, limit: int = 100
) -> DispatchReport:
    """Send the due deliveries once.

    Args:
        engine: engine of the ops database.
        settings: channel settings; from the environment when omitted.
        limit: at most this many deliveries in this call.

    Returns:
        The dispatcher's report (claimed, sent, retried, failed).

    Raises:
        ValueError: the alert settings in the environment are invalid (the message names the
            variable, never a secret).
    """
    settings = settings or AlertSettings.from_env()
    # The sensor runs in Dagster's processes, not behind the CLI: redact its log records too.
    install_log_redaction(redactor_from_env() | settings.redactor)
    senders = senders_for(settings)
    return AlertDispatcher(engine, settings, senders.email, senders.slack,
                           pagerduty_sender=senders.pagerduty).dispatch_once(limit=limit)
