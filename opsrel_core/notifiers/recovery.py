"""Recovery notices: the short message that an alert is over. Pure functions.

The email answers the alert's own email (``In-Reply-To`` and ``References`` carry its
``Message-ID``, ``alert_message_id``) so mail clients thread them; its subject starts with
``Resolved:``. The Slack post names the alert id and the recovering execution.
"""

import dataclasses

from opsrel_core.notifiers.templates import AlertContent, headline


@dataclasses.dataclass(frozen=True)
class RecoveryContent:
    """An alert's fields plus how it ended (strings; ``"-"`` when unknown).

    Attributes:
        alert: the alert's content (as its own message showed it).
        resolved_by_execution_id: the execution whose success resolved it.
        resolved_at: ISO 8601 UTC.
        recovery_link: the recovering run in the Dagster UI, or ``"-"``.
    """

    alert: AlertContent
    resolved_by_execution_id: str
    resolved_at: str
    recovery_link: str = "-"


def alert_message_id(alert_id: int | str) -> str:
    """The ``Message-ID`` of an alert's email: stable per alert, so a re-send is collapsible
    and its recovery notice can answer it."""
    return f"<opsrel-alert-{alert_id}-email@opsrel>"


def recovery_message_id(alert_id: int | str) -> str:
    """The ``Message-ID`` of an alert's recovery email."""
    return f"<opsrel-alert-{alert_id}-recovery@opsrel>"


def render_recovery_email(content: RecoveryContent) -> tuple[str, str]:
    """Render the recovery email: ``(subject, body)``, subject ``Resolved: <alert subject>``."""
    a = content.alert
    subject = f"Resolved: [opsrel {a.severity}] {a.error_code} {headline(a.event_kind)}: {a.title}"
    lines = [
        f"Resolved: {a.title}",
        "",
        f"Alert {a.alert_id} is resolved: execution {content.resolved_by_execution_id} of job "
        f"{a.job_id} succeeded for partition {a.partition_key} and its result is in service.",
        "",
        f"Resolved at:  {content.resolved_at}",
        f"Recovered by: {content.resolved_by_execution_id}",
        f"Run:          {content.recovery_link}",
        f"Failed run:   {a.execution_id} ({a.run_link})",
        f"Occurrences:  {a.occurrence_count} (first {a.first_seen_at}, last {a.last_seen_at})",
    ]
    return " ".join(subject.split()), "\n".join(lines) + "\n"


def render_recovery_slack(content: RecoveryContent) -> str:
    """Render the recovery Slack post (mrkdwn, values escaped)."""
    a = content.alert
    execution = _slack_escape(content.resolved_by_execution_id)
    link = (f"<{content.recovery_link}|run {execution}>" if content.recovery_link != "-"
            else f"execution `{execution}`")
    return (
        f":white_check_mark: *Resolved* alert {_slack_escape(a.alert_id)}: "
        f"{_slack_escape(a.title)}\n"
        f"job `{_slack_escape(a.job_id)}` · partition `{_slack_escape(a.partition_key)}` · "
        f"recovered by {link}"
    )


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
