"""The audit log: append-only records of manual actions.

The core is ``audit_change`` (and ``AuditLogService.record`` built on it): it runs inside the
caller's open ``Session``, so that an action and its audit record are one transaction and land
together or not at all. It reads the target's *before* state from the database itself, lets the
caller apply the change, flushes, re-reads the *after* state from the database and adds the
``audit_log`` row on the session's connection; the caller commits once. Callers never pass
states: what is recorded is what the database held. The ``log_*`` methods of
``AuditLogService`` are the standalone form: each opens its own unit of work, loads the target
by (model, primary key) or takes a plain key/value dict (a configuration), and commits.

Operator id and reason are required. Missing, None, not a string or blank (whitespace only) raises
``BatchExecutionException`` with BAT-008 ("Operator and reason required") before anything runs, so
neither the action nor a record is written (``opsrel_core.domain.audit_records``). The operator id
is recorded in its NFKC form and refused (BAT-008 too) when it is not a usable name; a reason
needs a visible character.

Each record also names its acting principal (``acting_principal``, set by the entry point: the
admin API's token, the CLI's OS user, a sensor), and its states never hold a credential: states
pass through ``redact_state`` when written and again when read, so records written before that
rule are shown masked (``opsrel_core.domain.audit_redaction``).

The modules: ``principal`` (who is authenticated now), ``capture`` (a target's state as the
database holds it), ``change`` (``audit_change``, the record in the caller's transaction),
``views`` (what is returned), ``service`` (``AuditLogService``). The pure rules are
``opsrel_core.domain.audit_records`` and ``opsrel_core.domain.audit_redaction``; the SQL is
``opsrel_core.persistence.repositories.audit``.
"""

from opsrel_core.domain.audit_records import (
    CONFIG_TARGET_TYPE, MAX_ACTION_LENGTH, MISSING_REQUIRED_FIELD_CODE, AuditActionType,
    json_safe, require_attribution,
)
from opsrel_core.domain.audit_redaction import REDACTED, is_secret_key, redact_state, redact_text
from opsrel_core.services.audit_log.capture import capture_state
from opsrel_core.services.audit_log.change import PendingAudit, audit_change
from opsrel_core.services.audit_log.principal import (
    MAX_PRINCIPAL_LENGTH, acting_as, acting_principal, current_principal,
)
from opsrel_core.services.audit_log.service import MAX_LIST_LIMIT, AuditLogService, EntityRef
from opsrel_core.services.audit_log.views import AuditLogView

__all__ = [
    "CONFIG_TARGET_TYPE", "MAX_ACTION_LENGTH", "MAX_LIST_LIMIT", "MAX_PRINCIPAL_LENGTH",
    "MISSING_REQUIRED_FIELD_CODE", "REDACTED", "AuditActionType", "AuditLogService",
    "AuditLogView", "EntityRef", "PendingAudit", "acting_as", "acting_principal", "audit_change",
    "capture_state", "current_principal", "is_secret_key", "json_safe", "redact_state",
    "redact_text", "require_attribution",
]
