"""The alert policy for data-quality warnings: DQ-002 when a rule warns above its baseline.

A WARN rule never blocks. Its warning on a partition raises an alert of kind
DQ_WARN_ACCUMULATED with code DQ-002 when the rule's declared policy and its own recent history
say it is news (``opsrel_core.domain.dq_baseline.decide_warning``): a rule that warns on (nearly)
every partition stays quiet unless its figure rises well above its usual level; a rule that
seldom warns alerts when it does; no warning alerts before the rule has a baseline. This module
reads the history (the rule's latest result on each of the previous partitions, by partition
order) and raises the alert, deduplicated per job and rule: the open alert counts the repeats,
and its title and message name the current count and the latest partition.

Settings: ``OPSREL_DQ_BASELINE_WINDOW`` (14 partitions), ``OPSREL_DQ_BASELINE_MIN_HISTORY`` (7),
``OPSREL_DQ_NOISY_SHARE`` (0.8), ``OPSREL_DQ_RISE_FACTOR`` (3).
"""


from opsrel_core.config.dq_policy import WarnPolicy
from opsrel_core.domain import error_codes
from opsrel_core.domain.dq_baseline import (
    BaselineDecision, RuleOutcomeFigure, decide_warning, figure_of,
)
from opsrel_core.services.alerts import AlertView, OpsAlertService
from opsrel_core.services.validation import ValidationResultView, ValidationService

DQ_WARN_ACCUMULATED = "DQ_WARN_ACCUMULATED"


def _figure(result: ValidationResultView) -> RuleOutcomeFigure:
    return RuleOutcomeFigure(
        result.partition_key, result.status,
        figure_of(result.failing_rows, result.total_rows, result.measured_value),
    )


def warning_decision(
    validation: ValidationService, result: ValidationResultView, policy: WarnPolicy
) -> BaselineDecision:
    """Whether one recorded WARN result raises DQ-002, from the rule's stored history.

    Args:
        validation: reads the rule's declared policy and its previous results.
        result: the result decided.
        policy: the baseline's parameters.

    Returns:
        The decision and its reason.
    """
    history = validation.previous_results(result.rule_id, result.partition_key,
                                          policy.baseline.window)
    return decide_warning(
        _figure(result), [_figure(h) for h in history],
        alert_policy=validation.alert_policy_of(result.rule_id), policy=policy.baseline,
    )


def evaluate_warn_policy(
    validation: ValidationService,
    alerts: OpsAlertService,
    execution_id: str,
    job_id: str,
    policy: WarnPolicy,
) -> list[AlertView]:
    """Raise DQ-002 alerts for the rules whose warnings in this execution are news.

    Call once per execution, when it ends (the projection does). A range run's results are
    decided partition by partition, oldest first, each against the partitions before it.

    Returns:
        The alerts raised or counted, one entry per alerting result.
    """
    raised = []
    results = sorted(
        (r for r in validation.results_for_execution(execution_id) if r.status == "WARN"),
        key=lambda r: (r.partition_key, r.rule_id),
    )
    # Every result's history and every rule's policy in one read: the results are recorded
    # before the execution ends and alerts do not change them, so deciding from one read is
    # deciding each in turn.
    policies, histories = validation.warning_history(results, policy.baseline.window)
    for result in results:
        decision = decide_warning(
            _figure(result), [_figure(h) for h in histories[result.result_id]],
            alert_policy=policies[result.rule_id], policy=policy.baseline)
        if not decision.alert:
            continue

        def describe(count: int, r: ValidationResultView = result,
                     d: BaselineDecision = decision) -> tuple[str, str]:
            times = "once" if count == 1 else f"{count} times"
            figure = _figure(r).figure
            shown = f"{r.failing_rows} of {r.total_rows} rows" if r.failing_rows is not None \
                else f"measured {figure:.4g} (bound {r.bound})" if figure is not None else "warned"
            return (
                f"DQ-002 {r.rule_id} warned {times} above its baseline, latest {r.partition_key}",
                f"Rule {r.rule_id} on {r.asset_key} warned {times} above its baseline; latest "
                f"partition {r.partition_key}: {shown}. Why it alerts: {d.reason}.",
            )

        title, message = describe(1)
        raised.append(
            alerts.send_alert(
                DQ_WARN_ACCUMULATED,
                severity="WARNING",
                title=title,
                message=message,
                error_code=error_codes.DQ_WARN_ACCUMULATED,
                job_id=job_id,
                execution_id=execution_id,
                asset_key=result.asset_key,
                partition_key=result.partition_key,
                dedupe_key=f"{DQ_WARN_ACCUMULATED}:{job_id}:{result.rule_id}",
                describe=describe,
                rule_id=result.rule_id,
            )
        )
    return raised
