"""A check's outcomes recorded in the ops schema: the rule version and a result per partition.

A check step records its rule's version and every outcome in one transaction
(``CheckRecorder``); when the ops schema does not know the run's execution yet, the run is
projected first, as the IO manager does.
"""

from typing import Any

import dagster as dg

from opsrel_core.services.quality import CheckRecorder, Outcome, RuleSpec
from opsrel_core.services.quality import RuleVersionView, ValidationService
from opsrel_dagster.checks.evaluation import RuleOutcome
from opsrel_dagster.checks.rules import PanderaRule
from opsrel_dagster.resources import OpsDatabase


def record_outcomes(
    context: dg.AssetCheckExecutionContext, ops_db: OpsDatabase, rule: PanderaRule,
    asset_key: str, outcomes: dict[str, RuleOutcome],
) -> RuleVersionView:
    """Record a check step's rule version and every outcome in one transaction.

    Args:
        context: the check's execution context (its run is the execution).
        ops_db: the ops database resource.
        rule: the evaluated rule.
        asset_key: the checked asset, ``"a/b"`` form.
        outcomes: ``{partition_key: outcome}``: one day, or each day of a range run.

    Returns:
        The rule's stored version. A run that is no execution of the catalog records nothing
        (a warning is logged).
    """
    spec = RuleSpec(rule_id=rule.rule_id, asset_key=asset_key, severity=rule.severity,
                    description=rule.description, definition=rule.definition,
                    alert_policy=rule.alert)
    results = [Outcome(partition_key=key, status=o.status, total_rows=o.total_rows,
                       failing_rows=o.failing_rows, measured_value=o.measured_value,
                       bound=o.bound, sample_failures=o.samples)
               for key, o in outcomes.items()]
    recorder = CheckRecorder(ops_db.engine)
    version, recorded = recorder.record(execution_id=context.run.run_id, rule=spec,
                                        outcomes=results)
    if not recorded:
        from opsrel_dagster.projection.apply import RunProjection

        # The result row refers to the execution: record the run first (as the IO manager does),
        # only when the ops schema does not know it yet.
        RunProjection(context.instance, ops_db.engine).project_run(context.run.run_id)
        version, recorded = recorder.record(execution_id=context.run.run_id, rule=spec,
                                            outcomes=results)
        if not recorded:
            context.log.warning(f"run {context.run.run_id} is no execution of the catalog: "
                                f"{rule.rule_id} not recorded")
    return version


def record_rule_outcome(engine: Any, execution_id: str, version: RuleVersionView,
                        asset_key: str, partition_key: str, outcome: RuleOutcome) -> Any:
    """Record an outcome as the ``validation_result`` of one rule version (its DQ items as the
    result's ``sample_failures``); idempotent per execution, version and partition.

    Returns:
        The stored ``ValidationResultView``.
    """
    return ValidationService(engine).record_result(
        execution_id=execution_id, rule_version_id=version.rule_version_id,
        asset_key=asset_key, partition_key=partition_key, status=outcome.status,
        total_rows=outcome.total_rows, failing_rows=outcome.failing_rows,
        measured_value=outcome.measured_value, bound=outcome.bound,
        sample_failures=outcome.samples,
    )
