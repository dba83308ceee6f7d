"""Alert message rendering: pure functions, testable without a server.

Each kind of event (EXECUTION_FAILED, DQ_FAIL, DQ_WARN_ACCUMULATED, anything else is generic)
has a built-in email subject, plain-text email body and Slack text, each carrying the alert id,
the error code, the operator message and the catalog's operator action (what to do first), the
asset and partition, the run link ``<OPSREL_DAGSTER_UI_URL>/runs/<execution_id>``, the console
link of the partition ``<OPSREL_CONSOLE_URL>/console/partitions/<job>/<partition_key>`` (left
out when no console URL is set) and the exact command that acknowledges the alert.

A row of the ``alert_template`` table for (event kind, channel) overrides the built-in text. Its
templates use ``string.Template`` placeholders (``$error_code``, ``${run_link}``; the names are
the fields of ``AlertContent``); an unknown placeholder is left as written, so a typo in a
template cannot stop an alert. ``string.Template`` does no attribute or index lookups, so a
template cannot reach into objects.
"""

import dataclasses
import string

EXECUTION_FAILED = "EXECUTION_FAILED"
DQ_FAIL = "DQ_FAIL"
DQ_WARN_ACCUMULATED = "DQ_WARN_ACCUMULATED"

_HEADLINES = {
    EXECUTION_FAILED: "Batch execution failed",
    DQ_FAIL: "Data-quality rule failed",
    DQ_WARN_ACCUMULATED: "Data-quality warnings accumulated",
}


@dataclasses.dataclass(frozen=True)
class AlertContent:
    """Everything a template may show about one alert (strings; ``"-"`` when unknown).

    Attributes:
        alert_id, event_kind, severity, title, message: from the alert.
        error_code: catalog code, e.g. ``"INP-001"``.
        operator_message: the catalog's operator message (what to check and do), or ``""`` when
            the alert's message already holds it.
        job_id, execution_id, asset_key, partition_key: where it happened.
        run_link: the run in the Dagster UI, or ``"-"``.
        console_link: the partition in the opsrel console, or ``"-"`` (no console URL set).
        operator_action: the catalog's operator action for the code (what to do first), or
            ``""``.
        ack_command: the CLI command that acknowledges the alert.
        occurrence_count: how many times it happened in the open alert (a string).
        first_seen_at, last_seen_at: ISO 8601 UTC.
    """

    alert_id: str
    event_kind: str
    severity: str
    title: str
    message: str
    error_code: str = "-"
    operator_message: str = ""
    job_id: str = "-"
    execution_id: str = "-"
    asset_key: str = "-"
    partition_key: str = "-"
    run_link: str = "-"
    console_link: str = "-"
    operator_action: str = ""
    ack_command: str = ""
    occurrence_count: str = "1"
    first_seen_at: str = "-"
    last_seen_at: str = "-"


def ack_command(alert_id: str) -> str:
    """The exact ``opsrel`` command that acknowledges alert ``alert_id`` (a reason is required)."""
    return f'opsrel alerts ack {alert_id} --reason "..."'


@dataclasses.dataclass(frozen=True)
class TemplateOverride:
    """An ``alert_template`` row: ``subject_template`` (email only) and ``body_template``."""

    subject_template: str | None
    body_template: str


def headline(event_kind: str) -> str:
    """A short human name for the kind of event (generic kinds use the kind itself)."""
    return _HEADLINES.get(event_kind, event_kind.replace("_", " ").capitalize())


def render_email(content: AlertContent, override: TemplateOverride | None = None) -> tuple[str, str]:
    """Render an email.

    Args:
        content: the alert's fields.
        override: the ``alert_template`` row for (event kind, EMAIL), if any.

    Returns:
        ``(subject, body)``: a one-line subject and a plain-text body.
    """
    values = dataclasses.asdict(content)
    subject = (
        _substitute(override.subject_template, values)
        if override is not None and override.subject_template
        else f"[opsrel {content.severity}] {content.error_code} {headline(content.event_kind)}: "
        f"{content.title}"
    )
    if override is not None:
        body = _substitute(override.body_template, values)
    else:
        lines = [
            f"{headline(content.event_kind)}: {content.title}",
            "",
            f"Alert:       {content.alert_id}",
            f"Error code:  {content.error_code}",
            f"Severity:    {content.severity}",
            f"Job:         {content.job_id}",
            f"Asset:       {content.asset_key}",
            f"Partition:   {content.partition_key}",
            f"Execution:   {content.execution_id}",
            f"Run:         {content.run_link}",
            *([f"Console:     {content.console_link}"] if content.console_link != "-" else []),
            f"Occurrences: {content.occurrence_count} (first {content.first_seen_at}, "
            f"last {content.last_seen_at})",
            "",
            content.message,
        ]
        if content.operator_action:
            lines += ["", f"First step: {content.operator_action}"]
        if content.operator_message:
            lines += ["", f"What to do: {content.operator_message}"]
        lines += ["", f"Acknowledge alert {content.alert_id}: "
                  f"{content.ack_command or ack_command(content.alert_id)}"]
        body = "\n".join(lines) + "\n"
    return " ".join(subject.split()), body


def render_slack(content: AlertContent, override: TemplateOverride | None = None) -> str:
    """Render a Slack message (mrkdwn). Values are escaped for Slack (``&``, ``<``, ``>``).

    Args:
        content: the alert's fields.
        override: the ``alert_template`` row for (event kind, SLACK), if any.

    Returns:
        The message text.
    """
    safe = {k: _slack_escape(v) for k, v in dataclasses.asdict(content).items()}
    if override is not None:
        return _substitute(override.body_template, safe)
    link = (
        f"<{content.run_link}|run {safe['execution_id']}>" if content.run_link != "-" else "no run"
    )
    console = (
        f" · <{content.console_link}|console>" if content.console_link != "-" else ""
    )
    lines = [
        f":rotating_light: *{headline(content.event_kind)}* [{safe['severity']}] "
        f"`{safe['error_code']}` {safe['title']} (alert {safe['alert_id']})",
        f"job `{safe['job_id']}` · asset `{safe['asset_key']}` · partition `{safe['partition_key']}`"
        f" · {link}{console}",
        safe["message"],
    ]
    if content.operator_action:
        lines.append(f"_First step:_ {safe['operator_action']}")
    if content.operator_message:
        lines.append(f"_What to do:_ {safe['operator_message']}")
    if content.occurrence_count != "1":
        lines.append(f"Seen {safe['occurrence_count']} times since {safe['first_seen_at']}.")
    command = content.ack_command or ack_command(content.alert_id)
    lines.append(f"Acknowledge: `{_slack_escape(command)}`")
    return "\n".join(lines)


def _substitute(template: str, values: dict[str, str]) -> str:
    return string.Template(template).safe_substitute(values)


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
