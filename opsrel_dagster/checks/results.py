"""A check's outcome as Dagster's ``AssetCheckResult``: the figures the Dagster UI shows.

The metadata carries the rule, its version, the status and the figures; a failed FAIL rule's
result carries ``error_code`` = ``DQ-001``, a rule that could not be evaluated ``DQ-003``. A
range run gets one result per check whose ``opsrel/partitions`` shows each day.
"""

from typing import Any

import dagster as dg

from opsrel_core.domain import error_codes
from opsrel_core.services.quality import RuleVersionView
from opsrel_dagster.checks.evaluation import MAX_SAMPLES, RuleOutcome
from opsrel_dagster.checks.rules import PanderaRule
from opsrel_dagster.failures import ERROR_CODE_KEY
from opsrel_dagster.projection.launch_facts import FAILED_PARTITIONS_KEY


def check_result(
    rule: PanderaRule, version: RuleVersionView, outcome: RuleOutcome
) -> dg.AssetCheckResult:
    """The ``AssetCheckResult`` of one outcome: passed, severity (ERROR for a FAIL rule, else
    WARN), the rule and version ids, the figures, and ``error_code`` (DQ-003 when the rule could
    not be evaluated, DQ-001 when a FAIL rule failed) in its metadata."""
    metadata: dict[str, Any] = {
        "opsrel/rule_id": rule.rule_id,
        "opsrel/rule_version": version.version_hash,
        "opsrel/rule_version_id": version.rule_version_id,
        "opsrel/severity": rule.severity,
        "opsrel/status": outcome.status,
        "total_rows": outcome.total_rows,
        "sample_failures": dg.MetadataValue.json(outcome.samples),
    }
    if outcome.failing_rows is not None:
        metadata["failing_rows"] = outcome.failing_rows
    if outcome.bound is not None:
        metadata["measured_value"] = dg.MetadataValue.float(
            float("nan") if outcome.measured_value is None else float(outcome.measured_value)
        )
        metadata["bound"] = outcome.bound
    if outcome.status == "ERROR":  # the rule could not be evaluated (a column is missing)
        metadata[ERROR_CODE_KEY] = error_codes.DQ_CHECK_ERRORED
    elif not outcome.passed and rule.severity == "FAIL":
        metadata[ERROR_CODE_KEY] = error_codes.DQ_FAIL_RULE
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=(
            dg.AssetCheckSeverity.ERROR if rule.severity == "FAIL" else dg.AssetCheckSeverity.WARN
        ),
        metadata=metadata,
        description=None if outcome.passed else f"{rule.rule_id}: {rule.description}",
    )


_STATUS_ORDER = ("PASS", "WARN", "FAIL", "ERROR")


def range_check_result(
    rule: PanderaRule, version: RuleVersionView, outcomes: dict[str, RuleOutcome]
) -> dg.AssetCheckResult:
    """A range run's one result per check (Dagster records one evaluation per check and run).

    Args:
        outcomes: ``{partition_key: outcome}``, each day of the range.

    Returns:
        A result that passes when every day passed; the worst day's status sets severity and
        error code, ``opsrel/partitions`` shows each day's figures (the ops schema has a result
        row per day) and ``opsrel/failed_partitions`` lists the days that failed.
    """
    worst = max(outcomes.values(), key=lambda o: _STATUS_ORDER.index(o.status))
    failing = [o.failing_rows for o in outcomes.values() if o.failing_rows is not None]
    summary = RuleOutcome(
        status=worst.status,
        total_rows=sum(o.total_rows for o in outcomes.values()),
        failing_rows=sum(failing) if failing else None,
        measured_value=None, bound=None,
        samples=[{"partition_key": key, **item} for key, o in outcomes.items()
                 for item in o.samples][: MAX_SAMPLES * 4],
    )
    result = check_result(rule, version, summary)
    days = {
        key: {"status": o.status, "total_rows": o.total_rows, "failing_rows": o.failing_rows,
              **({"measured_value": o.measured_value, "bound": o.bound} if o.bound else {})}
        for key, o in outcomes.items()
    }
    metadata = {
        **result.metadata,
        "opsrel/partitions": dg.MetadataValue.json(days),
        FAILED_PARTITIONS_KEY: dg.MetadataValue.json(
            [key for key, o in outcomes.items() if not o.passed]),
    }
    return result.with_metadata(metadata)
