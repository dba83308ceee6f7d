"""What an audit record says, before it is stored: its kind, its attribution and its states.

No I/O here. Every manual action is refused before anything runs unless it names who acts and
why (``require_attribution``); an unattributed action is refused with BAT-008 ("Operator and
reason required", added to the catalog by migration 0003). Its user message says the action was
refused, which holds for configuration changes and corrections too; no older code fitted
(INP-003 "Required column missing" is about landing files and alerts automatically, BAT-001
means a state-machine violation).

The operator id is recorded in its NFKC form and refused (BAT-008 too) when it is not a usable
name (invisible, control or bidi characters, surrounding spaces, mixed scripts:
``operator_names``); a reason needs a visible character.

States are JSON (``json_safe``): what the database held, converted column by column, so that a
record reads the same whatever the column types.
"""

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from opsrel_core.domain import error_codes, operator_names
from opsrel_core.domain.audit_redaction import redact_text
from opsrel_core.domain.instants import to_utc

# The code of a refused, unattributed action (see the module docstring).
MISSING_REQUIRED_FIELD_CODE = error_codes.BAT_ATTRIBUTION_REQUIRED
CONFIG_TARGET_TYPE = "config"
MAX_ACTION_LENGTH = 50

Derived = Callable[[dict[str, Any] | None], dict[str, Any]]


class AuditActionType(str, enum.Enum):
    """What kind of manual action an audit record describes."""

    BATCH_ACTION = "BATCH_ACTION"
    DATA_CORRECTION = "DATA_CORRECTION"
    CONFIG_CHANGE = "CONFIG_CHANGE"


def require_attribution(operator_id: object, reason: object) -> tuple[str, str]:
    """Check an action's operator id and reason before anything runs.

    Returns:
        (operator_id in its NFKC form, reason with credentials masked by ``redact_text``):
        record these.

    Raises:
        BatchExecutionException: BAT-008 when either is missing or blank, the reason has no
            visible character, or the operator id is not a usable name
            (``operator_names.normalize_operator_name``: longer than 100 characters, surrounding
            spaces, invisible, control or bidi characters, mixed scripts).
    """
    # A reason is free text an operator types or pastes; a credential in it (a plaintext token,
    # a URL's password) would stay in the append-only log, readable by every viewer: masked here,
    # where every audited action's reason passes, as states are.
    return (operator_names.normalize_operator_name(operator_id, "operator_id"),
            redact_text(operator_names.require_reason(reason, "reason")))


def action_kind(action_type: "AuditActionType | str", action: object) -> AuditActionType:
    """The kind of an action, after checking the action's name.

    Args:
        action_type: BATCH_ACTION, DATA_CORRECTION or CONFIG_CHANGE (the enum or its value).
        action: what was done, e.g. ``"STOP_EXECUTION"``: a string of 1..50 characters, not
            blank.

    Raises:
        ValueError: an unknown action type, or a blank, too long or non-string action.
    """
    kind = AuditActionType(action_type)
    if not isinstance(action, str) or not action.strip() or len(action) > MAX_ACTION_LENGTH:
        raise ValueError(f"action must be 1..{MAX_ACTION_LENGTH} characters, got {action!r}")
    return kind


def json_safe(value: Any) -> Any:
    """Convert a column value to JSON: datetimes ISO 8601 UTC (naive read as UTC), dates ISO,
    decimals and UUIDs as strings, enums by value, mappings and sequences recursively."""
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    return str(value)


def with_derived(state: dict[str, Any] | None, derived: Derived | None) -> dict[str, Any] | None:
    """``state`` with the fields ``derived`` computes from it added (as JSON), for what the
    columns alone do not say; ``state`` unchanged when it is None (no row) or ``derived`` is."""
    if state is None or derived is None:
        return state
    return {**state, **json_safe(derived(state))}
