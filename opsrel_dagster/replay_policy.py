"""Who may re-materialize a partition that already has a result (C1-T04, C1-T05).

Policy: a run that would replace an active result must say who and why. It passes when

- its tags carry a non-blank ``opsrel/operator`` and ``opsrel/reason`` (a replay launched by
  opsrel, ``opsrel run``, or an operator who added both tags in the Dagster UI's launch dialog), or
- it was requested by a sensor or a schedule: the automatic reason names it, the operator is
  ``sensor:<name>`` / ``schedule:<name>``.

Otherwise the run fails at its first step with BAT-007, whose message says how to add the tags;
nothing is written and the active result stays. A partition without a result needs no reason.
"""

import dataclasses

import dagster as dg

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException
from opsrel_core.services.result_versions import ResultVersionService
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.failures import as_failure
from opsrel_dagster.resources import OpsDatabase


@dataclasses.dataclass(frozen=True)
class Attribution:
    """Who launched a run and why (operator id, reason)."""

    operator_id: str
    reason: str


def attribution_of(run_tags: dict[str, str]) -> Attribution | None:
    """The run's attribution from its tags, or None when it has none.

    Args:
        run_tags: the Dagster run's tags.

    Returns:
        Explicit ``opsrel/operator`` + ``opsrel/reason`` first; else an automatic attribution for
        sensor and schedule runs; else None.
    """
    operator = (run_tags.get(opsrel_tags.OPERATOR) or "").strip()
    reason = (run_tags.get(opsrel_tags.REASON) or "").strip()
    if operator and reason:
        return Attribution(operator, reason)
    for tag, kind in (("dagster/sensor_name", "sensor"), ("dagster/schedule_name", "schedule")):
        name = run_tags.get(tag)
        if name:
            return Attribution(f"{kind}:{name}", reason or f"automatic run requested by {kind} {name}")
    return None


def require_attribution_to_replace(
    context: dg.AssetExecutionContext, ops_db: OpsDatabase
) -> Attribution | None:
    """Fail the step with BAT-007 when it would replace an active result without attribution.

    Returns:
        The run's attribution (None for a first materialization without one).

    Raises:
        dg.Failure: BAT-007, carrying the error code, when the partition of this asset has an
            active result version and the run has no attribution.
    """
    attribution = attribution_of(dict(context.run.tags))
    partitioned = context.has_partition_key or context.has_partition_key_range
    if attribution is not None or not partitioned:
        return attribution
    asset_key = context.asset_key.to_user_string()
    versions = ResultVersionService(ops_db.engine)
    # Every partition of the run: one, or each day of a range run (RB-12).
    for partition_key in context.partition_keys:
        active = versions.get_active_version(asset_key, partition_key)
        if active is not None:
            break
    else:
        return None
    raise as_failure(
        BatchExecutionException(
            error_codes.BAT_REPLAY_REASON_REQUIRED,
            f"{asset_key} {partition_key} already has an active result (version "
            f"{active.version_number}, execution {active.execution_id}). Re-running it replaces "
            "that result, so it needs an operator and a reason: launch it as a replay "
            "(`opsrel replay ...`), or add the tags opsrel/operator=<your id> and "
            "opsrel/reason=<why> in the Dagster UI's launch dialog.",
            {"version_number": active.version_number, "execution_id": active.execution_id},
        ),
        asset_key=asset_key,
        partition_key=partition_key,
    )
