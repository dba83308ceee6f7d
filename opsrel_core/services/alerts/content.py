"""What a delivery says: the alert's content for the templates, from its stored row.

The operator's message of the alert's error code is added when the alert's own message does
not already hold it, with the code's operator action; the links to the run and the console come
from the settings. A bad landing file's alert also says what its re-delivery does.
"""

from typing import Any

from opsrel_core.config import AlertSettings
from opsrel_core.domain import error_codes
from opsrel_core.domain.instants import utc_if_instant
from opsrel_core.notifiers import recovery, templates
from opsrel_core.persistence.repositories.alerts import AlertRepository

# A bad landing file: say what its re-delivery does, so the day is not run twice (the landing
# sensor's rerun and an operator's replay of the same file).
LANDING_FILE_CODES = frozenset({
    error_codes.INP_EMPTY_FILE, error_codes.INP_MALFORMED_FILE, error_codes.INP_MISSING_COLUMN,
    error_codes.INP_WRONG_PARTITION,
})
LANDING_REDELIVERY_NOTE = (
    "When the Dagster daemon runs, re-delivering the fixed file to the landing folder is enough: "
    "the landing sensor reruns the day by itself; do not also replay it (a replay while that run "
    "is in flight is refused with BAT-012). Without the daemon, replay the day after "
    "re-delivering the file."
)


def alert_content(repo: AlertRepository, settings: AlertSettings, alert: Any) -> templates.AlertContent:
    """The template fields of ``alert`` (a row of the ``alert`` table); ``"-"`` for a missing
    value."""
    operator_message = operator_action = ""
    if alert.error_code:
        code = repo.error_code(alert.error_code)
        if code is not None and code.operator_message not in alert.message:
            operator_message = code.operator_message
        if code is not None:
            operator_action = code.operator_action or ""
    if alert.error_code in LANDING_FILE_CODES:
        operator_message = f"{operator_message} {LANDING_REDELIVERY_NOTE}".strip()
    return templates.AlertContent(
        alert_id=str(alert.alert_id), event_kind=alert.event_kind, severity=alert.severity,
        title=alert.title, message=alert.message, error_code=alert.error_code or "-",
        operator_message=operator_message, job_id=alert.job_id or "-",
        execution_id=alert.execution_id or "-", asset_key=alert.asset_key or "-",
        partition_key=alert.partition_key or "-",
        run_link=settings.run_link(alert.execution_id) or "-",
        console_link=settings.console_link(alert.job_id, alert.partition_key) or "-",
        operator_action=operator_action,
        ack_command=templates.ack_command(str(alert.alert_id)),
        occurrence_count=str(alert.occurrence_count),
        first_seen_at=utc_if_instant(alert.first_seen_at).isoformat(),
        last_seen_at=utc_if_instant(alert.last_seen_at).isoformat(),
    )


def recovery_content(settings: AlertSettings, alert: Any,
                     content: templates.AlertContent) -> recovery.RecoveryContent:
    """The fields of the notice that ``alert`` was resolved (by which execution, when)."""
    by = alert.resolved_by_execution_id
    return recovery.RecoveryContent(
        alert=content, resolved_by_execution_id=by or "-",
        resolved_at=utc_if_instant(alert.resolved_at).isoformat() if alert.resolved_at else "-",
        recovery_link=settings.run_link(by) or "-",
    )


def template_override(repo: AlertRepository, event_kind: str,
                      channel: str) -> templates.TemplateOverride | None:
    """The operator's template of this event kind on this channel, or None for the default."""
    row = repo.template(event_kind, channel)
    return None if row is None else templates.TemplateOverride(row.subject_template, row.body_template)
