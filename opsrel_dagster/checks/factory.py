"""Pandera rules as Dagster asset checks on one asset.

``pandera_asset_checks`` turns rules into ``@dg.asset_check`` definitions: a FAIL rule is a
blocking check with ERROR severity (a failure fails the run and skips the partition's downstream
steps), a WARN rule a non-blocking check with WARN severity. Each check evaluates its partition
(or each day of a range run), records the rule version and results in the ops schema and returns
an ``AssetCheckResult`` whose metadata shows the same figures in the Dagster UI. A check that
cannot evaluate records ERROR and raises ``dg.Failure`` with ``DQ-003``.
"""

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from opsrel_core.domain import error_codes
from opsrel_core.errors import DataQualityException, OpsException
from opsrel_dagster.checks.evaluation import RuleOutcome, evaluate_rule
from opsrel_dagster.checks.recording import record_outcomes
from opsrel_dagster.checks.results import check_result, range_check_result
from opsrel_dagster.checks.rules import PanderaRule
from opsrel_dagster.failures import as_failure
from opsrel_dagster.resources import OpsDatabase


def _frame_of(obj: Any) -> pd.DataFrame:
    # The value is the frame; a domain whose values wrap a frame passes its own ``frame_of``.
    return obj


def _one_check(asset: Any, rule: PanderaRule, partitions_def: Any,
               frame_of: Callable[[Any], pd.DataFrame]) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        # A partitioned check (preview in dagster 1.13) is what lets each run validate its own
        # partition and record the result against it; the warning would repeat per rule.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _decorate(asset, rule, partitions_def, frame_of)


def _decorate(asset: Any, rule: PanderaRule, partitions_def: Any,
              frame_of: Callable[[Any], pd.DataFrame]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=rule.rule_id,
        description=f"[{rule.severity}] {rule.description}",
        blocking=rule.severity == "FAIL",
        partitions_def=partitions_def,
        metadata={"opsrel/severity": rule.severity, "opsrel/alert": rule.alert},
    )
    def _check(  # type: ignore[no-untyped-def]
        context: dg.AssetCheckExecutionContext, ops_db: OpsDatabase, data
    ) -> dg.AssetCheckResult:
        asset_key = context.check_specs[0].asset_key.to_user_string()
        if context.has_partition_key:
            frames = {context.partition_key: data}
        elif context.has_partition_key_range:  # a range run: {partition_key: value} (B2)
            frames = dict(data) if isinstance(data, Mapping) else {context.partition_keys[0]: data}
        else:
            frames = {"__all__": data}
        try:
            rule.definition  # noqa: B018 - a rule that cannot be stored fails coded (LOG-001)
        except OpsException as exc:
            raise as_failure(exc, asset_key=asset_key, partition_key=next(iter(frames))) from exc
        outcomes: dict[str, RuleOutcome] = {}
        for partition_key, value in frames.items():
            try:
                outcomes[partition_key] = evaluate_rule(rule, frame_of(value))
            except Exception as exc:  # noqa: BLE001 - recorded as ERROR and raised coded
                outcomes[partition_key] = RuleOutcome(
                    "ERROR", -1, None, None, None, [{"error": f"{type(exc).__name__}: {exc}"[:500]}])
                record_outcomes(context, ops_db, rule, asset_key, outcomes)
                raise as_failure(
                    DataQualityException(
                        error_codes.DQ_CHECK_ERRORED,
                        f"rule {rule.rule_id} on {asset_key} {partition_key} could not be "
                        f"evaluated: {type(exc).__name__}: {exc}",
                    ),
                    asset_key=asset_key, partition_key=partition_key,
                ) from exc
        version = record_outcomes(context, ops_db, rule, asset_key, outcomes)
        if context.has_partition_key or not context.has_partition_key_range:
            return check_result(rule, version, next(iter(outcomes.values())))
        return range_check_result(rule, version, outcomes)

    return _check


def pandera_asset_checks(
    asset: Any,
    rules: Sequence[PanderaRule],
    *,
    partitions_def: dg.PartitionsDefinition | None = None,
    frame_of: Callable[[Any], pd.DataFrame] = _frame_of,
) -> list[dg.AssetChecksDefinition]:
    """Build one asset check per rule on ``asset``.

    Args:
        asset: the checked asset (its definition, or its key when ``partitions_def`` is given).
        rules: the rules; names must be unique.
        partitions_def: the checks' partitions; by default the asset definition's.
        frame_of: gets the frame to validate from the loaded asset value (default: the value
            itself, a DataFrame).

    Returns:
        The checks: FAIL rules blocking with ERROR severity, WARN rules non-blocking. Each needs
        the ``ops_db`` resource and loads the asset through its IO manager.

    Raises:
        ValueError: two rules share a name.
    """
    names = [r.rule_id for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"rule names must be unique: {names}")
    if partitions_def is None:
        partitions_def = getattr(asset, "partitions_def", None)
    return [_one_check(asset, rule, partitions_def, frame_of) for rule in rules]
