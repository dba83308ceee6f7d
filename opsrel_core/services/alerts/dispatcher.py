"""AlertDispatcher: sends the due deliveries of the outbox, at least once, never lost.

The dispatcher claims one due delivery at a time by compare-and-set (``UPDATE ... WHERE status
= ? AND attempts = ?``: ``attempts + 1`` and ``next_attempt_at = now + claim_lease_seconds``),
so two dispatchers never send one delivery at once; it then sends outside any transaction and
records an ``alert_delivery_attempt`` with the outcome: SENT; RETRY after a backoff
(``domain.alert_delivery.retry_delay``) for transient failures; FAILED with the reason for
permanent ones and after ``max_attempts``. Reasons are prefixed with their catalog code (EXT-002
email, EXT-003 Slack, EXT-004 PagerDuty) and never hold a secret: they are redacted
(``AlertSettings.redact``) where they are recorded, and an unexpected sender error whose
traceback holds a secret is logged without it. The kinds of one alert and channel go out in
order (``domain.alert_delivery.SENT_BEFORE``); the email of a notice answers the alert's.

If the process dies after the channel accepted a message and before the outcome is recorded,
the delivery is still claimed but unrecorded; when the lease ends the next dispatcher claims it
again, first records the lost attempt as "outcome unknown", and sends again. So a crash in that
gap yields exactly one duplicate message. Email carries a stable ``Message-ID`` per delivery
(``<opsrel-alert-<alert_id>-email@opsrel>``) so mail clients can collapse the copy; Slack
incoming webhooks have no idempotency key, so the copy is posted. A crash before the send (after
the claim) just costs the lease time. ``delivery.attempts`` counts claims, so a process that dies
on every attempt still ends FAILED after ``max_attempts``.
"""

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import alert_delivery as delivery_rules
from opsrel_core.domain.alert_delivery import AlertChannel, DeliveryKind, DeliveryStatus
from opsrel_core.domain.redaction import WITHHELD
from opsrel_core.notifiers import DeliveryError, EmailSender, PagerDutySender, SlackSender
from opsrel_core.notifiers import recovery, templates
from opsrel_core.persistence.repositories.alerts import AlertRepository
from opsrel_core.persistence.retry import retry_transient
from opsrel_core.persistence.tables import utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alerts import content as contents
from opsrel_core.services.alerts.sending import send
from opsrel_core.services.alerts.views import DispatchReport

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Repository = Callable[[sa.Connection], AlertRepository]
_CLAIM_TRIES = 10


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claimed delivery with everything its send needs (read in the claim's transaction)."""

    delivery_id: int
    alert_id: int
    channel: str
    attempt: int  # the delivery's attempts after this claim
    content: templates.AlertContent
    override: templates.TemplateOverride | None
    notice: recovery.RecoveryContent | None = None  # set for a RECOVERY delivery
    kind: str = "ALERT"
    dedupe_key: str = "-"
    update: int = 0  # an incident's UPDATE delivery: the partition count it announces


class AlertDispatcher:
    """Sends due alert deliveries and records every attempt (the outbox's consumer).

    Args:
        engine: engine of the ops database.
        settings: alert settings (backoff, attempts, lease, Slack pacing, run links).
        email_sender: sends email (``SmtpEmailSender``); None: EMAIL deliveries are left pending
            for a dispatcher that has one.
        slack_sender: posts to Slack (``SlackWebhookSender``); None: likewise for SLACK.
        clock: current UTC time; injectable so tests move time instead of sleeping.
        sleep: pauses between Slack posts (seconds); injectable.
        monotonic: the pacing clock (seconds, ``time.monotonic`` by default); injectable with
            ``sleep`` so a test can read the exact pacing schedule without waiting.
        pagerduty_sender: posts PagerDuty events (``PagerDutyEventsSender``); None: likewise
            for PAGERDUTY.
        repository: the alert SQL over a connection (``AlertRepository``); injectable so the
            fast tests run the dispatcher over an in-memory fake.
    """

    def __init__(
        self,
        engine: sa.Engine,
        settings: AlertSettings,
        email_sender: EmailSender | None = None,
        slack_sender: SlackSender | None = None,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        pagerduty_sender: PagerDutySender | None = None,
        *,
        repository: Repository = AlertRepository,
    ):
        self._engine = engine
        self._settings = settings
        self._senders: dict[str, Any] = {
            ch: sender for ch, sender in ((AlertChannel.EMAIL.value, email_sender),
                                          (AlertChannel.SLACK.value, slack_sender),
                                          (AlertChannel.PAGERDUTY.value, pagerduty_sender))
            if sender
        }
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._repository = repository
        self._last_slack_post: float | None = None

    def dispatch_once(self, limit: int = 100) -> DispatchReport:
        """Send up to ``limit`` due deliveries (PENDING or RETRY with ``next_attempt_at <= now``).

        Each delivery is claimed, sent and recorded on its own, so a slow or failing channel
        never blocks the other one beyond its timeout, and a crash loses at most one outcome
        (see the module docstring).

        Returns:
            Counts of claimed, sent, retried and failed deliveries.

        Raises:
            SystemException: SYS-002 when the ops database stays unreachable.
        """
        report = DispatchReport()
        for _ in range(limit):
            claim = self._claim_next()
            if claim is None:
                break
            report.claimed += 1
            status = self._record(claim, self._send(claim))
            report.outcomes.append((claim.delivery_id, claim.channel, status))
            report.sent += status == DeliveryStatus.SENT
            report.retried += status == DeliveryStatus.RETRY
            report.failed += status == DeliveryStatus.FAILED
        return report

    @retry_transient
    def _claim_next(self) -> Claim | None:
        now = self._clock()
        if not self._senders:
            return None
        lease_until = now + dt.timedelta(seconds=self._settings.claim_lease_seconds)
        skip_locked = self._engine.dialect.name == "postgresql"
        with UnitOfWork(self._engine) as uow:
            for _ in range(_CLAIM_TRIES):
                repo = self._repository(uow.session.connection())
                delivery = repo.next_due(sorted(self._senders), now, skip_locked=skip_locked)
                if delivery is None:
                    return None
                if repo.claim(delivery, lease_until):
                    break
                uow.session.rollback()  # another dispatcher took it: look again
            else:
                return None
            if repo.recorded_attempts(delivery.delivery_id) < delivery.attempts:
                # The previous claim never recorded its outcome: its process died mid-send.
                repo.add_attempt(
                    delivery.delivery_id, now, succeeded=False,
                    error=f"outcome of attempt {delivery.attempts} unknown: the dispatcher "
                          "stopped before recording it (the message may have been sent); "
                          "sending again",
                )
            alert = repo.get(delivery.alert_id)
            content = contents.alert_content(repo, self._settings, alert)
            claim = Claim(
                delivery.delivery_id, delivery.alert_id, delivery.channel, delivery.attempts + 1,
                content, contents.template_override(repo, alert.event_kind, delivery.channel),
                contents.recovery_content(self._settings, alert, content)
                if delivery.kind == DeliveryKind.RECOVERY else None,
                delivery.kind, alert.dedupe_key,
                delivery.sequence if delivery.kind == DeliveryKind.UPDATE else 0,
            )
            uow.commit()
            return claim

    def _send(self, claim: Claim) -> DeliveryError | None:
        try:
            send(self._senders[claim.channel], claim, self._pace_slack)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a sender bug: recorded as a transient failure, and logged
            redactor = self._settings.redactor
            reason = f"unexpected {redactor.describe_exception(exc)}"
            if redactor.traceback_holds_secret(exc):
                # The traceback would print the URL or password the exception carries.
                log.error("alert delivery %s: unexpected sender error: %s [%s]",
                          claim.delivery_id, reason, WITHHELD)
            else:
                log.exception("alert delivery %s: unexpected sender error", claim.delivery_id)
            return DeliveryError(True, reason)
        return None

    def _pace_slack(self) -> None:
        interval = self._settings.slack_min_interval_seconds
        if self._last_slack_post is not None and interval > 0:
            wait = interval - (self._monotonic() - self._last_slack_post)
            if wait > 0:
                self._sleep(wait)
        self._last_slack_post = self._monotonic()

    @retry_transient
    def _record(self, claim: Claim, error: DeliveryError | None) -> str:
        s_ = self._settings
        now = self._clock()
        values: dict[str, Any]
        reason = None
        if error is None:
            status, values = DeliveryStatus.SENT, {"sent_at": now, "last_error": None}
        else:
            # The one place a delivery's error text is made for storage and the log: redacted
            # here whatever the sender did (a receiver may echo the URL or the password).
            status, reason = delivery_rules.failure_outcome(
                claim.channel, s_.redact(error.reason), transient=error.transient,
                attempt=claim.attempt, max_attempts=s_.max_attempts)
            values = {"last_error": reason}
            if status == DeliveryStatus.RETRY:
                delay = delivery_rules.retry_delay(
                    claim.attempt, base_seconds=s_.backoff_base_seconds,
                    cap_seconds=s_.backoff_cap_seconds, retry_after=error.retry_after)
                values["next_attempt_at"] = now + dt.timedelta(seconds=delay)
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session.connection())
            repo.add_attempt(claim.delivery_id, now, succeeded=error is None, error=reason)
            # Guarded by the claim: a dispatcher whose lease ran out does not overwrite the
            # outcome of the one that re-claimed the delivery.
            repo.set_outcome(claim.delivery_id, claim.attempt, status.value, **values)
            uow.commit()
        if status != DeliveryStatus.SENT:
            log.warning("alert delivery %s (%s) %s: %s", claim.delivery_id, claim.channel,
                        status.value, reason)
        return status.value
