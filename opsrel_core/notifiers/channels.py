"""The senders of the channels that alert settings configure, one per enabled channel."""

import dataclasses

from opsrel_core.config.alerts import AlertSettings
from opsrel_core.notifiers.email import SmtpEmailSender
from opsrel_core.notifiers.pagerduty import PagerDutyEventsSender
from opsrel_core.notifiers.slack import SlackWebhookSender


@dataclasses.dataclass(frozen=True)
class Senders:
    """Attributes:
        email: the SMTP sender, None when email is not configured.
        slack: the Slack webhook sender, None when Slack is not configured.
        pagerduty: the PagerDuty Events API sender, None when PagerDuty is not configured.
    """

    email: SmtpEmailSender | None = None
    slack: SlackWebhookSender | None = None
    pagerduty: PagerDutyEventsSender | None = None


def senders_for(settings: AlertSettings) -> Senders:
    """One sender for each channel ``settings`` enables (a channel without settings keeps its
    deliveries pending instead of failing them)."""
    return Senders(
        email=SmtpEmailSender(settings) if settings.email_enabled else None,
        slack=SlackWebhookSender(settings) if settings.slack_enabled else None,
        pagerduty=PagerDutyEventsSender(settings) if settings.pagerduty_enabled else None,
    )
