"""What ``ValidationService`` returns: a rule version and a validation result, as stored."""

import dataclasses
import datetime as dt
from typing import Any

from opsrel_core.domain.instants import utc_if_instant


@dataclasses.dataclass(frozen=True)
class RuleVersionView:
    """One registered version of a rule.

    Attributes:
        rule_version_id: the version's key (what results refer to).
        rule_id, asset_key, severity, description: the rule as it stands now (the severity
            a version was registered with is part of its hash).
        version_hash: ``sha256:<hex>`` of its definition and severity.
        definition: the definition as registered.
        created_at: when this version was first registered (UTC).
    """

    rule_version_id: int
    rule_id: str
    asset_key: str
    severity: str
    description: str
    version_hash: str
    definition: dict[str, Any]
    created_at: dt.datetime

    @classmethod
    def of(cls, rule: Any, version: Any) -> "RuleVersionView":
        """The view of a stored rule and one of its versions (rows of one session)."""
        return cls(
            rule_version_id=version.rule_version_id,
            rule_id=rule.rule_id,
            asset_key=rule.asset_key,
            severity=rule.severity,
            description=rule.description,
            version_hash=version.version_hash,
            definition=version.definition,
            created_at=utc_if_instant(version.created_at),
        )


@dataclasses.dataclass(frozen=True)
class ValidationResultView:
    """One rule version's outcome on one asset partition in one execution.

    Attributes:
        status: PASS, WARN, FAIL or ERROR.
        total_rows: rows validated; failing_rows: rows that broke the rule (row-level rules).
        measured_value, bound: the measured figure and its bound (table-level rules), e.g.
            ``0.56`` and ``"<= 0.5"``.
        sample_failures: up to a few failure cases (JSON objects).
    """

    result_id: int
    execution_id: str
    rule_id: str
    rule_version_id: int
    version_hash: str
    severity: str
    asset_key: str
    partition_key: str
    status: str
    total_rows: int | None
    failing_rows: int | None
    measured_value: float | None
    bound: str | None
    sample_failures: list[Any] | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Any) -> "ValidationResultView":
        """The view of a result read as ``(ValidationResult, rule_id, version_hash, severity)``
        (``ValidationRepository``)."""
        result, rule_id, version_hash, severity = row
        return cls(
            result_id=result.result_id,
            execution_id=result.execution_id,
            rule_id=rule_id,
            rule_version_id=result.rule_version_id,
            version_hash=version_hash,
            severity=severity,
            asset_key=result.asset_key,
            partition_key=result.partition_key,
            status=result.status,
            total_rows=result.total_rows,
            failing_rows=result.failing_rows,
            measured_value=result.measured_value,
            bound=result.bound,
            sample_failures=result.sample_failures,
            created_at=utc_if_instant(result.created_at),
        )
