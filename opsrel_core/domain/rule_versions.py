"""What names a rule's version, and what a rule and its results may say (pure, no database).

A rule is named (``rule_id``), belongs to one asset and has a severity, FAIL or WARN. Its version
is derived from its definition: ``version_hash`` is ``sha256:`` of the canonical JSON of the
definition together with the severity, so changing a rule (a bound, a reference list, the
severity) makes a new version by itself and registering an unchanged rule again is a no-op.

A result's status is PASS, WARN, FAIL or ERROR (a rule that could not run). Only the latest
result of a rule on a partition counts (a replay's result replaces the earlier run's); of a
WARN result, its failing rows count (``warn_count``).
"""

import hashlib
import json
from typing import Any

from opsrel_core.domain.dq_baseline import ALERT_BASELINE, ALERT_POLICIES

HASH_PREFIX = "sha256:"
RULE_SEVERITIES = ("FAIL", "WARN")
RULE_ALERT_POLICIES = ALERT_POLICIES
VALIDATION_STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
# The policy of a rule that was never registered (its warnings are weighed against a baseline).
DEFAULT_ALERT_POLICY = ALERT_BASELINE


def canonical_json(value: Any) -> str:
    """Render ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def as_stored(value: Any) -> Any:
    """``value`` after a canonical JSON round trip: what a JSON column reads back, so a stored
    definition reads back equal to what was hashed.

    Raises:
        TypeError, ValueError: the value is not plain JSON (no NaN, no objects).
    """
    return json.loads(canonical_json(value))


def rule_version_hash(definition: dict[str, Any], severity: str) -> str:
    """The version hash of a rule: ``sha256:<hex>`` of ``{"definition": ..., "severity": ...}``.

    Raises:
        TypeError, ValueError: the definition is not plain JSON (no NaN, no objects).
    """
    text = canonical_json({"definition": definition, "severity": severity})
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_rule(severity: str, alert_policy: str) -> None:
    """Refuse a rule's severity or alert policy outside the known values.

    Raises:
        ValueError: unknown severity (FAIL, WARN) or alert policy (always, baseline, never).
    """
    if severity not in RULE_SEVERITIES:
        raise ValueError(f"severity must be one of {RULE_SEVERITIES}, got {severity!r}")
    if alert_policy not in RULE_ALERT_POLICIES:
        raise ValueError(
            f"alert policy must be one of {RULE_ALERT_POLICIES}, got {alert_policy!r}"
        )


def check_status(status: str) -> None:
    """Refuse a result status outside PASS, WARN, FAIL and ERROR.

    Raises:
        ValueError: unknown status.
    """
    if status not in VALIDATION_STATUSES:
        raise ValueError(f"status must be one of {VALIDATION_STATUSES}, got {status!r}")


def warn_count(status: str, failing_rows: int | None) -> int:
    """What a partition's latest result of a rule adds to its warnings.

    Returns:
        0 unless the result is a WARN; of a WARN, its failing rows, or 1 when it records none
        (a table-level rule).
    """
    if status != "WARN":
        return 0
    return int(failing_rows) if failing_rows is not None else 1
