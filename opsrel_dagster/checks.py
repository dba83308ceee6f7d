"""Pandera rules as Dagster asset checks, recorded in the ops schema (C2-T02).

A ``PanderaRule`` is a named pandera schema with a severity. ``pandera_asset_checks`` turns rules
into ``@dg.asset_check`` definitions on one asset: a FAIL rule is a blocking check with ERROR
severity (a failure fails the run and skips the partition's downstream steps), a WARN rule a
non-blocking check with WARN severity. Each check validates with ``lazy=True``, turns
``SchemaErrors.failure_cases`` into failing rows and samples, registers the rule's version and
records a ``validation_result`` row through ``ValidationService``, and returns an
``AssetCheckResult`` whose metadata shows the same figures in the Dagster UI.

A failed FAIL rule's check result carries ``error_code`` = ``DQ-001`` in its metadata; a check
that cannot evaluate records ERROR and raises ``dg.Failure`` with ``DQ-003``.
"""

import dataclasses
import functools
import hashlib
import json
import math
import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from opsrel_core.domain import error_codes
from opsrel_core.errors import DataQualityException
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.validation import RuleVersionView, ValidationService, rule_version_hash
from opsrel_dagster.failures import ERROR_CODE_KEY, as_failure
from opsrel_dagster.resources import OpsDatabase

MAX_SAMPLES = 5
_LONG_LIST = 20  # longer value lists enter a rule's definition as a hash and a size
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}
_STRUCTURAL = {"column_in_dataframe", "column_in_schema", "dataframe_not_empty"}


@dataclasses.dataclass(frozen=True)
class TableMeasure:
    """A table-level figure and its bound, e.g. the share of cancelled flights ``<= 0.5``.

    Attributes:
        name: what is measured, e.g. ``"cancelled_share"``.
        fn: computes the figure from the whole frame.
        op: ``"<="``, ``"<"``, ``">="`` or ``">"``; the rule holds when ``fn(frame) op bound``.
        bound: the bound.
    """

    name: str
    fn: Callable[[pd.DataFrame], float]
    op: str
    bound: float

    @property
    def bound_text(self) -> str:
        """The bound as stored, e.g. ``"<= 0.5"``."""
        return f"{self.op} {self.bound:g}"

    def holds(self, value: float) -> bool:
        """Whether a measured value satisfies the bound (NaN never does)."""
        return not math.isnan(value) and _OPERATORS[self.op](value, self.bound)


@dataclasses.dataclass(frozen=True)
class PanderaRule:
    """A named validation rule: a pandera schema (row-level) or a table-level measure.

    Attributes:
        rule_id: the rule's name; also the asset check's name.
        severity: ``"FAIL"`` (blocking) or ``"WARN"``.
        description: what the rule asserts.
        schema: the pandera schema, or a zero-argument function building it (for schemas that
            read reference data: built on first use, not at import). None for a table-level rule.
        measure: the table-level figure and bound; its pandera check is built from it.
        sample_columns: columns shown with each failing row in the samples.
        code_version: bump when code the definition cannot see changes (a measure's function).
    """

    rule_id: str
    severity: str
    description: str
    schema: "pa.DataFrameSchema | Callable[[], pa.DataFrameSchema] | None" = None
    measure: TableMeasure | None = None
    sample_columns: tuple[str, ...] = ()
    code_version: str = "1"

    def __post_init__(self) -> None:
        if self.severity not in ("FAIL", "WARN"):
            raise ValueError(f"rule {self.rule_id}: severity must be FAIL or WARN")
        if (self.schema is None) == (self.measure is None):
            raise ValueError(f"rule {self.rule_id}: give exactly one of schema and measure")
        if self.measure is not None and self.measure.op not in _OPERATORS:
            raise ValueError(f"rule {self.rule_id}: unknown operator {self.measure.op!r}")

    @functools.cached_property
    def pandera_schema(self) -> pa.DataFrameSchema:
        """The schema validated (built once)."""
        if self.measure is not None:
            m = self.measure
            return pa.DataFrameSchema(
                checks=[pa.Check(lambda df: m.holds(float(m.fn(df))), name=m.name,
                                 statistics={"op": m.op, "bound": m.bound})]
            )
        if isinstance(self.schema, pa.DataFrameSchema):  # a schema is callable itself
            return self.schema
        return self.schema()  # type: ignore[misc]

    @functools.cached_property
    def definition(self) -> dict[str, Any]:
        """The rule's serialized form (plain JSON); its hash is the rule version."""
        return {
            "kind": "table" if self.measure is not None else "row",
            "schema": describe_schema(self.pandera_schema),
            "code_version": self.code_version,
        }

    @property
    def version_hash(self) -> str:
        """``sha256:<hex>`` of the definition and severity (``ValidationService``'s hash)."""
        return rule_version_hash(self.definition, self.severity)


@dataclasses.dataclass(frozen=True)
class RuleOutcome:
    """What one rule found on one frame (see ``evaluate_rule``)."""

    status: str  # PASS, WARN, FAIL or ERROR
    total_rows: int
    failing_rows: int | None
    measured_value: float | None
    bound: str | None
    samples: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        """True when the rule held."""
        return self.status == "PASS"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _compact(value: Any) -> Any:
    # Long reference lists (every airport) would bloat each version row: hash them instead.
    if isinstance(value, list) and len(value) > _LONG_LIST:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "size": len(value)}
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    return value


def _describe_checks(checks: Sequence[pa.Check]) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "statistics": _compact(_jsonable(c.statistics or {})),
         "ignore_na": bool(c.ignore_na)}
        for c in checks
    ]


def describe_schema(schema: pa.DataFrameSchema) -> dict[str, Any]:
    """Serialize what a schema asserts: columns (dtype, nullable, unique, checks), table checks.

    Check statistics (``isin``'s allowed values, ``le``'s bound) are included, long lists as a
    hash and a size, so a changed bound or reference list gives a different definition.
    """
    columns = {
        name: {
            "dtype": None if col.dtype is None else str(col.dtype),
            "nullable": bool(col.nullable),
            "unique": bool(col.unique),
            "required": bool(col.required),
            "checks": _describe_checks(col.checks),
        }
        for name, col in schema.columns.items()
    }
    unique = schema.unique
    return {
        "columns": columns,
        "checks": _describe_checks(schema.checks),
        "unique": (
            None if unique is None else sorted([unique] if isinstance(unique, str) else unique)
        ),
        "strict": _jsonable(schema.strict),
    }


def evaluate_rule(rule: PanderaRule, frame: pd.DataFrame) -> RuleOutcome:
    """Validate ``frame`` against a rule with pandera (``lazy=True``).

    Returns:
        PASS, or the rule's severity with failing rows (distinct row labels among the failure
        cases) and up to ``MAX_SAMPLES`` samples (the row's ``sample_columns`` and failing
        columns); a table-level rule adds its measured value and bound. ERROR when the frame
        lacks a column the rule needs.
    """
    total = len(frame)
    measured = bound = None
    if rule.measure is not None:
        measured = _jsonable(float(rule.measure.fn(frame)))
        bound = rule.measure.bound_text
    try:
        rule.pandera_schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return RuleOutcome("PASS", total, None if rule.measure else 0, measured, bound, [])
    if cases["check"].astype(str).isin(_STRUCTURAL).any():
        samples = [_jsonable(r) for r in cases.head(MAX_SAMPLES).to_dict("records")]
        for sample in samples:
            sample["check"] = str(sample.get("check") or "").split("(", 1)[0]
        return RuleOutcome("ERROR", total, None, measured, bound, samples)
    if rule.measure is not None:
        return RuleOutcome(rule.severity, total, None, measured, bound, [])
    rows = cases.loc[cases["index"].notna()]
    labels = sorted(rows["index"].unique(), key=lambda v: (str(type(v)), v))
    samples = []
    for label in labels[:MAX_SAMPLES]:
        mine = rows.loc[rows["index"] == label]
        columns = list(dict.fromkeys([*rule.sample_columns, *mine["column"].dropna().astype(str)]))
        values = {c: frame.at[label, c] for c in columns if c in frame.columns}
                # pandera names a check with its arguments (all allowed values): keep the name only.
        checks = sorted({str(c).split("(", 1)[0] for c in mine["check"]})
        samples.append(_jsonable({"row": label, "check": checks, **values}))
    return RuleOutcome(rule.severity, total, len(labels), measured, bound, samples)


def _frame_of(obj: Any) -> pd.DataFrame:
    # Stamped (.frame), SourceBatch (.flights) or a bare frame.
    for attribute in ("frame", "flights"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return obj


def _record(context: dg.AssetCheckExecutionContext, ops_db: OpsDatabase, rule: PanderaRule,
            asset_key: str, partition_key: str, outcome: RuleOutcome) -> RuleVersionView:
    service = ValidationService(ops_db.engine)
    version = service.register_rule(
        rule.rule_id, asset_key, rule.severity, rule.description, rule.definition
    )
    if BatchExecutionService(ops_db.engine).find_execution(context.run.run_id) is None:
        from opsrel_dagster.projection import RunProjection

        # The result row refers to the execution: record the run first (as the IO manager does).
        RunProjection(context.instance, ops_db.engine).project_run(context.run.run_id)
    if BatchExecutionService(ops_db.engine).find_execution(context.run.run_id) is None:
        context.log.warning(f"run {context.run.run_id} is no execution of the catalog: "
                            f"{rule.rule_id} not recorded")
        return version
    service.record_result(
        execution_id=context.run.run_id, rule_version_id=version.rule_version_id,
        asset_key=asset_key, partition_key=partition_key, status=outcome.status,
        total_rows=outcome.total_rows, failing_rows=outcome.failing_rows,
        measured_value=outcome.measured_value, bound=outcome.bound,
        sample_failures=outcome.samples,
    )
    return version


def _check_result(
    rule: PanderaRule, version: RuleVersionView, outcome: RuleOutcome
) -> dg.AssetCheckResult:
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
        metadata={"opsrel/severity": rule.severity},
    )
    def _check(  # type: ignore[no-untyped-def]
        context: dg.AssetCheckExecutionContext, ops_db: OpsDatabase, data
    ) -> dg.AssetCheckResult:
        asset_key = context.check_specs[0].asset_key.to_user_string()
        partition_key = context.partition_key if context.has_partition_key else "__all__"
        try:
            outcome = evaluate_rule(rule, frame_of(data))
        except Exception as exc:  # noqa: BLE001 - recorded as ERROR and raised coded
            outcome = RuleOutcome("ERROR", -1, None, None, None,
                                  [{"error": f"{type(exc).__name__}: {exc}"[:500]}])
            _record(context, ops_db, rule, asset_key, partition_key, outcome)
            raise as_failure(
                DataQualityException(
                    error_codes.DQ_CHECK_ERRORED,
                    f"rule {rule.rule_id} on {asset_key} {partition_key} could not be evaluated: "
                    f"{type(exc).__name__}: {exc}",
                ),
                asset_key=asset_key, partition_key=partition_key,
            ) from exc
        version = _record(context, ops_db, rule, asset_key, partition_key, outcome)
        return _check_result(rule, version, outcome)

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
        frame_of: gets the frame to validate from the loaded asset value (default: ``.frame``
            of a ``Stamped``, ``.flights`` of a ``SourceBatch``, or the value itself).

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
