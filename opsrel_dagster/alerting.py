"""Alert delivery from Dagster and the CLI: the dispatch sensor and ``dispatch_alerts``.

The outbox (``alert_delivery`` rows) is written with each alert; this module only sends what is
pending, with the channels the environment configures (``OPSREL_SMTP_*``,
``OPSREL_ALERT_EMAIL_*``, ``OPSREL_SLACK_WEBHOOK_URL``, ``OPSREL_PAGERDUTY_ROUTING_KEY``). A channel without settings keeps its
deliveries pending instead of failing them.
"""

import dagster as dg
import sqlalchemy as sa

from opsrel_core.alert_settings import AlertSettings
from opsrel_core.log_redaction import install_log_redaction, redactor_from_env
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.pagerduty import PagerDutyEventsSender
from opsrel_core.notifiers.slack import SlackWebhookSender
from opsrel_core.services.alerts import AlertDispatcher, DispatchReport
from opsrel_dagster.acting import acts_as_sensor
from opsrel_dagster.resources import OpsDatabase

DISPATCH_INTERVAL_SECONDS = 30


class DispatchSensorError(RuntimeError):
    """The dispatch sensor failed; the message is redacted and the original chain is dropped."""


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
    # Sensors run in Dagster's processes, not behind the CLI: redact their log records too.
    install_log_redaction(redactor_from_env() | settings.redactor)
    email = SmtpEmailSender(settings) if settings.email_enabled else None
    slack = SlackWebhookSender(settings) if settings.slack_enabled else None
    pagerduty = PagerDutyEventsSender(settings) if settings.pagerduty_enabled else None
    return AlertDispatcher(engine, settings, email, slack,
                           pagerduty_sender=pagerduty).dispatch_once(limit=limit)


def make_alert_dispatch_sensor(
    name: str = "opsrel_alert_dispatch_sensor",
    minimum_interval_seconds: int = DISPATCH_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """Build the sensor that sends pending alert deliveries each tick (requires ``ops_db``)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends pending alert deliveries (email, Slack, PagerDuty) and retries failed ones.",
    )
    @acts_as_sensor(name)
    def _dispatch_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        try:
            report = dispatch_alerts(ops_db.engine)
        except Exception as exc:
            # Dagster stores a sensor's error with its traceback in the instance (DAGSTER_HOME
            # or its database): raise only the redacted text, without the chain.
            redactor = redactor_from_env()
            if not redactor.traceback_holds_secret(exc):
                raise
            raise DispatchSensorError(redactor.describe_exception(exc)) from None
        return dg.SkipReason(
            f"sent {report.sent}, retrying {report.retried}, failed {report.failed}"
        )

    return _dispatch_sensor
