"""What the audit log returns: ``AuditLogView``, one record as read back."""

import dataclasses
import datetime as dt
from typing import Any

from opsrel_core.domain.audit_redaction import redact_state, redact_text
from opsrel_core.domain.instants import to_utc


@dataclasses.dataclass(frozen=True)
class AuditLogView:
    """One audit record as read back. Times are UTC; states are JSON dicts or None, with
    credentials masked (``redact_state``). ``principal`` says who was authenticated for the
    action, beside the operator name: ``token:<id>`` (admin API), ``os:<user>`` (CLI),
    ``sensor:<name>`` (a Dagster sensor); None on records written before it was recorded."""

    audit_id: int
    occurred_at: dt.datetime
    operator_id: str
    action_type: str
    action: str
    target_type: str
    target_id: str
    reason: str
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    execution_id: str | None
    principal: str | None = None

    @classmethod
    def of(cls, row: Any) -> "AuditLogView":
        """Build the view from an ORM ``AuditLog`` or a Core row of the ``audit_log`` table
        (any object with the table's columns as attributes).

        The reason and the states pass through the redaction rule again: a record written
        before a form of credential was kept out of the log is shown with it masked, never as
        stored.
        """
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values["occurred_at"] = to_utc(row.occurred_at)
        values["reason"] = redact_text(values["reason"])
        values["before_state"] = redact_state(values["before_state"])
        values["after_state"] = redact_state(values["after_state"])
        return cls(**values)
