"""Staging a rule's version and its results in the caller's transaction.

``ValidationService`` stages and commits one write at a time; ``CheckRecorder`` stages a check
step's rule version and its results together and commits once. Both go through here, so the
rules of what is stored (the version a definition implies, a result's values) are one.
"""

from collections.abc import Callable
from typing import Any

from opsrel_core.domain import rule_versions as rules
from opsrel_core.persistence.repositories.validation import ValidationRepository

Repository = Callable[[Any], ValidationRepository]


def stage_rule(repo: ValidationRepository, rule_id: str, asset_key: str, severity: str,
               description: str, definition: dict[str, Any], alert_policy: str,
               ) -> tuple[Any, Any]:
    """Add a rule and the version its definition implies unless stored (the rule row takes the
    given severity, description and alert policy); nothing is committed.

    A concurrent registration of the same rule or version surfaces as ``IntegrityError`` at the
    caller's commit, which then reads theirs.

    Args:
        repo: the validation SQL over the caller's session.

    Returns:
        (the rule row, the version row; a new version has no id until the session flushes).

    Raises:
        ValueError: unknown severity or alert policy, or a definition that is not plain JSON.
    """
    rules.check_rule(severity, alert_policy)
    version_hash = rules.rule_version_hash(definition, severity)
    rule = repo.rule(rule_id)
    if rule is None:
        rule = repo.add_rule(rule_id=rule_id, asset_key=asset_key, severity=severity,
                             description=description, alert_policy=alert_policy)
    elif (rule.asset_key, rule.severity, rule.description, rule.alert_policy) != (
        asset_key, severity, description, alert_policy
    ):
        rule.asset_key, rule.severity = asset_key, severity
        rule.description, rule.alert_policy = description, alert_policy
    version = repo.stored_version(rule_id, version_hash)
    if version is None:
        # Stored as it hashes: a JSON round trip, so the row reads back equal to what was hashed.
        version = repo.add_version(rule_id, version_hash, rules.as_stored(definition))
    return rule, version


def result_values(*, execution_id: str, rule_version_id: int, asset_key: str,
                  partition_key: str, status: str, total_rows: int | None,
                  failing_rows: int | None, measured_value: float | None, bound: str | None,
                  sample_failures: list[Any] | None) -> dict[str, Any]:
    """The columns of a ``validation_result`` row (the samples as canonical JSON).

    Raises:
        ValueError: unknown status; TypeError, ValueError: samples that are not plain JSON.
    """
    rules.check_status(status)
    return dict(
        execution_id=execution_id, rule_version_id=rule_version_id, asset_key=asset_key,
        partition_key=partition_key, status=status, total_rows=total_rows,
        failing_rows=failing_rows, measured_value=measured_value, bound=bound,
        sample_failures=None if sample_failures is None else rules.as_stored(sample_failures),
    )
