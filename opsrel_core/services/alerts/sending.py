"""How one claimed delivery is rendered and handed to its channel's sender.

PagerDuty gets an event whose action follows the delivery's kind (ALERT triggers, ACKNOWLEDGE
acknowledges, RECOVERY resolves the incident). Email and Slack get the alert, an incident's
update (its current text, the email answering the alert's) or the recovery notice (the email
answering the alert's ``Message-ID``). Slack posts are paced by the caller's ``pace_slack``.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsrel_core.domain.alert_delivery import AlertChannel
from opsrel_core.notifiers import EmailMessageSpec
from opsrel_core.notifiers import pagerduty, recovery, templates

if TYPE_CHECKING:
    from opsrel_core.services.alerts.dispatcher import Claim


def send(sender: Any, claim: "Claim", pace_slack: Callable[[], None]) -> None:
    """Render ``claim`` for its channel and send it with ``sender``.

    Raises:
        DeliveryError: the channel refused or did not answer (``transient`` says whether
            trying again may succeed); any other exception is a sender bug.
    """
    if claim.channel == AlertChannel.PAGERDUTY:
        # ALERT triggers, ACKNOWLEDGE acknowledges, RECOVERY resolves the incident.
        sender.send(pagerduty.build_event(
            pagerduty.ACTION_OF_KIND[claim.kind], claim.content, claim.dedupe_key,
            claim.override))
    elif claim.notice is not None and claim.channel == AlertChannel.EMAIL:
        subject, body = recovery.render_recovery_email(claim.notice)
        sender.send(EmailMessageSpec(
            subject, body, recovery.recovery_message_id(claim.alert_id),
            in_reply_to=recovery.alert_message_id(claim.alert_id),
        ))
    elif claim.notice is not None:
        pace_slack()
        sender.send(recovery.render_recovery_slack(claim.notice))
    elif claim.update and claim.channel == AlertChannel.EMAIL:
        # An incident grew: the alert's current text, answering the alert's email.
        subject, body = templates.render_email(claim.content, claim.override)
        sender.send(EmailMessageSpec(
            f"Update: {subject}", body,
            f"<opsrel-alert-{claim.alert_id}-update-{claim.update}@opsrel>",
            in_reply_to=recovery.alert_message_id(claim.alert_id),
        ))
    elif claim.update:
        pace_slack()
        sender.send(f"*Update*: {templates.render_slack(claim.content, claim.override)}")
    elif claim.channel == AlertChannel.EMAIL:
        subject, body = templates.render_email(claim.content, claim.override)
        sender.send(EmailMessageSpec(
            subject, body, recovery.alert_message_id(claim.alert_id)
        ))
    else:
        pace_slack()
        sender.send(templates.render_slack(claim.content, claim.override))
