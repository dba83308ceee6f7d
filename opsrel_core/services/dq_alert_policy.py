"""The alert policy for accumulated data-quality warnings (C2-T06, C1-T07).

A WARN rule never blocks, but a rule that keeps warning is a trend an operator should hear of:
when a rule's latest result is WARN in at least ``threshold`` of the last ``window`` partitions
(default: 3 of 7), an alert of kind DQ_WARN_ACCUMULATED with code DQ-002 is raised, deduplicated
per rule (the open alert counts the repeats instead of sending again). Settings:
``OPSREL_DQ_WARN_THRESHOLD`` and ``OPSREL_DQ_WARN_WINDOW``.
"""

import dataclasses
import os

from opsrel_core.domain import error_codes
from opsrel_core.services.alerts import AlertView, OpsAlertService
from opsrel_core.services.validation import ValidationService

DQ_WARN_ACCUMULATED = "DQ_WARN_ACCUMULATED"


@dataclasses.dataclass(frozen=True)
class WarnPolicy:
    """``threshold`` WARNs among the last ``window`` partitions raise an alert."""

    threshold: int = 3
    window: int = 7

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "WarnPolicy":
        """Read ``OPSREL_DQ_WARN_THRESHOLD`` / ``OPSREL_DQ_WARN_WINDOW`` (defaults 3 and 7).

        Raises:
            ValueError: a value that is not a positive integer, or a threshold above the window.
        """
        env = os.environ if environ is None else environ
        threshold = int(env.get("OPSREL_DQ_WARN_THRESHOLD") or cls.threshold)
        window = int(env.get("OPSREL_DQ_WARN_WINDOW") or cls.window)
        if threshold < 1 or window < 1 or threshold > window:
            raise ValueError(
                f"need 1 <= OPSREL_DQ_WARN_THRESHOLD ({threshold}) <= OPSREL_DQ_WARN_WINDOW ({window})"
            )
        return cls(threshold, window)


def evaluate_warn_policy(
    validation: ValidationService,
    alerts: OpsAlertService,
    execution_id: str,
    job_id: str,
    policy: WarnPolicy,
) -> list[AlertView]:
    """Raise DQ-002 alerts for the rules that warned in this execution and keep warning.

    Call once per execution, when it ends (the projection does).

    Returns:
        The alerts raised or counted, one per rule over the threshold.
    """
    raised = []
    for result in validation.results_for_execution(execution_id):
        if result.status != "WARN":
            continue
        recent = validation.recent_statuses(result.rule_id, result.partition_key, policy.window)
        warned = [key for key, status in recent if status == "WARN"]
        if len(warned) < policy.threshold:
            continue
        raised.append(
            alerts.send_alert(
                DQ_WARN_ACCUMULATED,
                severity="WARNING",
                title=f"{result.rule_id} warned on {len(warned)} of the last {len(recent)} partitions",
                message=(
                    f"Rule {result.rule_id} on {result.asset_key} warned on {len(warned)} of the "
                    f"last {len(recent)} partitions up to {result.partition_key} (policy: "
                    f"{policy.threshold} of {policy.window}): {', '.join(sorted(warned))}."
                ),
                error_code=error_codes.DQ_WARN_ACCUMULATED,
                job_id=job_id,
                execution_id=execution_id,
                asset_key=result.asset_key,
                partition_key=result.partition_key,
                dedupe_key=f"{DQ_WARN_ACCUMULATED}:{job_id}:{result.rule_id}",
            )
        )
    return raised
