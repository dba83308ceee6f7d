"""Pandera rules as Dagster asset checks, recorded in the ops schema.

A ``PanderaRule`` is a named pandera schema with a severity. ``pandera_asset_checks`` turns rules
into ``@dg.asset_check`` definitions on one asset: a FAIL rule is a blocking check with ERROR
severity (a failure fails the run and skips the partition's downstream steps), a WARN rule a
non-blocking check with WARN severity. Each check validates with ``lazy=True``, turns
``SchemaErrors.failure_cases`` into failing rows and DQ items, registers the rule's version and
records a ``validation_result`` row through ``ValidationService``, and returns an
``AssetCheckResult`` whose metadata shows the same figures in the Dagster UI.

A failed FAIL rule's check result carries ``error_code`` = ``DQ-001`` in its metadata; a check
that cannot evaluate records ERROR and raises ``dg.Failure`` with ``DQ-003``.
"""

import dataclasses
import functools
import math
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from opsrel_core.domain import error_codes
from opsrel_core.domain.dq_baseline import ALERT_BASELINE, ALERT_POLICIES
from opsrel_core.errors import DataQualityException, OpsException
from opsrel_core.services.quality import CheckRecorder, Outcome, RuleSpec
from opsrel_core.services.quality import RuleVersionView, ValidationService, rule_version_hash
from opsrel_dagster.failures import ERROR_CODE_KEY, as_failure
from opsrel_dagster.launch_facts import FAILED_PARTITIONS_KEY
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.rule_codec import (
    function_ref, jsonable, normalize_frame, nullable_dtypes, resolve_ref, schema_from_json,
    schema_to_json,
)

MAX_SAMPLES = 5  # failure items kept per column (every column-level item is kept)
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
        alert: how a WARN rule's warnings raise DQ-002: ``"baseline"`` (default: when they rise
            above the rule's own recent history), ``"always"`` or ``"never"``
            (``opsrel_core.domain.dq_baseline``). Not part of the rule version.
    """

    rule_id: str
    severity: str
    description: str
    schema: "pa.DataFrameSchema | Callable[[], pa.DataFrameSchema] | None" = None
    measure: TableMeasure | None = None
    sample_columns: tuple[str, ...] = ()
    code_version: str = "1"
    alert: str = ALERT_BASELINE

    def __post_init__(self) -> None:
        if self.severity not in ("FAIL", "WARN"):
            raise ValueError(f"rule {self.rule_id}: severity must be FAIL or WARN")
        if self.alert not in ALERT_POLICIES:
            raise ValueError(f"rule {self.rule_id}: alert must be one of {ALERT_POLICIES}")
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
            return nullable_dtypes(self.schema)
        return nullable_dtypes(self.schema())  # type: ignore[misc]

    @functools.cached_property
    def definition(self) -> dict[str, Any]:
        """The rule's serialized form (plain JSON, loadable by ``load_rule``); its hash (with the
        severity) is the rule version.

        Raises:
            LogicException: LOG-001 when a check or the measure cannot be serialized, so a
                rule is never stored without one of its checks.
        """
        common = {"code_version": self.code_version, "sample_columns": list(self.sample_columns)}
        if self.measure is not None:
            m = self.measure
            return {"kind": "table", **common, "measure": {
                "name": m.name, "fn": function_ref(m.fn, self.rule_id), "op": m.op,
                "bound": m.bound,
            }}
        return {"kind": "row", **common, "schema": schema_to_json(self.pandera_schema, self.rule_id)}

    @property
    def version_hash(self) -> str:
        """``sha256:<hex>`` of the definition and severity (``ValidationService``'s hash)."""
        return rule_version_hash(self.definition, self.severity)


@dataclasses.dataclass(frozen=True)
class RuleOutcome:
    """What one rule found on one frame (see ``evaluate_rule``).

    ``samples`` are the DQ items of ``failure_items`` (stored as the result's
    ``sample_failures``): every column-level failure and up to ``MAX_SAMPLES`` cells per column.
    """

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


def load_rule(
    rule_id: str, severity: str, description: str, definition: dict[str, Any]
) -> PanderaRule:
    """Rebuild a rule from its stored version (``PanderaRule.definition``), e.g. to validate the
    next execution with exactly the rules a version names (severity and every check included).

    Raises:
        LogicException: LOG-001 when a check method or measure function is not available here.
    """
    common = dict(rule_id=rule_id, severity=severity, description=description,
                  sample_columns=tuple(definition.get("sample_columns", ())),
                  code_version=definition["code_version"])
    if definition["kind"] == "table":
        m = definition["measure"]
        return PanderaRule(**common, measure=TableMeasure(
            name=m["name"], fn=resolve_ref(m["fn"]), op=m["op"], bound=m["bound"]))
    return PanderaRule(**common, schema=schema_from_json(definition["schema"]))


def register_pandera_rule(engine: Any, rule: PanderaRule, asset_key: str) -> RuleVersionView:
    """Register a rule's version in the ops schema (``ValidationService.register_rule``).

    Raises:
        LogicException: LOG-001 when the rule cannot be serialized; nothing is written then.
    """
    definition = rule.definition  # serialize first: a rule is never stored without a check
    return ValidationService(engine).register_rule(
        rule.rule_id, asset_key, rule.severity, rule.description, definition,
        alert_policy=rule.alert,
    )


def _check_name(value: Any) -> str:
    # pandera names a check with its arguments (all allowed values): keep the name only. The
    # name ends at the first "(": cut there without splitting (copying) the long argument text.
    text = str(value or "")
    cut = text.find("(")
    return text if cut < 0 else text[:cut]


def failure_items(
    rule: PanderaRule, frame: pd.DataFrame, cases: pd.DataFrame
) -> tuple[list[dict[str, Any]], int]:
    """Turn pandera's lazy ``failure_cases`` into DQ items, every failure of one pass.

    Every failure is reported at once, so an operator never needs a re-run to find the next one.

    An item is ``{"row", "column", "check": [names], "value", **sample column values}`` for a
    failing cell (one item per cell, whatever number of checks it broke), ``{"row": None,
    "column", "check": ["column_in_dataframe"], "value": None}`` for a missing column and
    ``{"row": None, "column", "check": ["dtype"], "expected", "actual"}`` for a dtype mismatch
    (an item, never an exception). Nulls of nullable columns never fail, so they are never
    items. Cell items are kept up to ``MAX_SAMPLES`` per column, in row order; column-level
    items are all kept.

    Returns:
        ``(items, failing_rows)``: failing rows are the distinct rows among cell failures.
    """
    schema = rule.pandera_schema
    columns = schema.columns
    column_items: dict[tuple[str, str], dict[str, Any]] = {}
    cells: dict[tuple[Any, str | None], dict[str, Any]] = {}
    cell_cases = _cell_cases(schema, cases)
    failing = cases.loc[cell_cases, "index"].nunique()
    # Only the cells that can be kept as samples are turned into items one by one: a year of
    # flights has tens of thousands of failing cells, and a Python loop over all of them cost
    # several times pandera's own validation (benchmark B5).
    selected = ~cell_cases | _sampled_cells(cases, cell_cases)
    for case in cases.loc[selected].to_dict("records"):
        check = _check_name(case["check"])
        column = None if pd.isna(case["column"]) else str(case["column"])
        if check in _STRUCTURAL:
            missing = str(case["failure_case"])
            column_items[(missing, check)] = {
                "row": None, "column": missing, "check": [check], "value": None}
        elif check == "dtype" and not (
            pd.notna(case["index"]) and (schema.coerce or getattr(columns.get(column), "coerce", False))
        ):  # a column of the wrong dtype; under coercion, the cell that did not coerce is an item
            declared = columns[column].dtype if column in columns else None
            column_items[(str(column), check)] = {
                "row": None, "column": column, "check": [check],
                "expected": None if declared is None else str(declared),
                "actual": str(frame[column].dtype) if column in frame.columns else None,
            }
        elif pd.isna(case["index"]):
            column_items[(str(column), check)] = {
                "row": None, "column": column, "check": [check],
                "value": jsonable(case["failure_case"])}
        else:
            item = cells.setdefault((case["index"], column), {
                "row": case["index"], "column": column, "check": [],
                "value": jsonable(case["failure_case"])})
            if check not in item["check"]:
                item["check"].append(check)
    failing_rows = int(failing)
    kept: list[dict[str, Any]] = []
    per_column: dict[str | None, int] = {}
    for (label, column), item in sorted(cells.items(), key=lambda kv: (
            str(type(kv[0][0])), kv[0][0], str(kv[0][1]))):
        if per_column.get(column, 0) >= MAX_SAMPLES:
            continue
        per_column[column] = per_column.get(column, 0) + 1
        extra = {c: frame.at[label, c] for c in rule.sample_columns if c in frame.columns}
        kept.append(jsonable({**extra, **item}))
    return [jsonable(i) for i in column_items.values()] + kept, failing_rows


def _cell_cases(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> "pd.Series[bool]":
    # The failure cases ``failure_items`` makes cell items of: a row label, a check that is not
    # structural, and for a dtype check only a cell that did not coerce.
    checks = cases["check"].map(_check_name)
    cell = cases["index"].notna() & ~checks.isin(_STRUCTURAL)
    dtype = cell & (checks == "dtype")
    if dtype.any():
        def coerced(column: Any) -> bool:
            name = None if pd.isna(column) else str(column)
            return bool(schema.coerce or getattr(schema.columns.get(name), "coerce", False))

        cell &= ~dtype | cases["column"].map(coerced).astype(bool)
    return cell


def _sampled_cells(cases: pd.DataFrame, cell_cases: "pd.Series[bool]") -> "pd.Series[bool]":
    # The cell cases whose (row, column) is among the first MAX_SAMPLES per column in
    # ``failure_items``'s order (type of row label, row label, column name).
    cells = cases.loc[cell_cases, ["index", "column"]]
    column = cells["column"].map(lambda c: "None" if pd.isna(c) else str(c))
    pairs = pd.DataFrame({"index": cells["index"], "column": column}).drop_duplicates()
    if pairs["index"].map(type).nunique() <= 1:
        pairs = pairs.sort_values(["index", "column"], kind="stable")
    else:  # mixed label types: order as Python does
        order = sorted(range(len(pairs)), key=lambda i: (
            str(type(pairs["index"].iat[i])), pairs["index"].iat[i], pairs["column"].iat[i]))
        pairs = pairs.iloc[order]
    kept = pairs.groupby("column", sort=False).head(MAX_SAMPLES)
    wanted = pd.MultiIndex.from_frame(kept[["index", "column"]])
    mask = pd.MultiIndex.from_arrays([cells["index"], column]).isin(wanted)
    return pd.Series(mask, index=cells.index).reindex(cases.index, fill_value=False)


def evaluate_rule(rule: PanderaRule, frame: pd.DataFrame) -> RuleOutcome:
    """Validate ``frame`` against a rule with pandera (``lazy=True``), in one pass.

    String and pyarrow-backed columns are normalized first (``normalize_frame``), so the result
    does not depend on the dtype backend that loaded the frame.

    Returns:
        PASS; or the rule's severity with failing rows and every failure as DQ items
        (``failure_items``: cells, dtype mismatches); ERROR when the frame lacks a column the
        rule needs, with the missing columns and every other failure found in the same pass.
        A table-level rule adds its measured value and bound.
    """
    total = len(frame)
    measured = bound = None
    if rule.measure is not None:
        measured = jsonable(float(rule.measure.fn(frame)))
        bound = rule.measure.bound_text
    schema = rule.pandera_schema
    frame = normalize_frame(frame, schema)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return RuleOutcome("PASS", total, None if rule.measure else 0, measured, bound, [])
    items, failing_rows = failure_items(rule, frame, cases)
    if cases["check"].astype(str).isin(_STRUCTURAL).any():
        return RuleOutcome("ERROR", total, None, measured, bound, items)
    if rule.measure is not None:
        return RuleOutcome(rule.severity, total, None, measured, bound, [])
    return RuleOutcome(rule.severity, total, failing_rows, measured, bound, items)


def _frame_of(obj: Any) -> pd.DataFrame:
    # The value is the frame; a domain whose values wrap a frame passes its own ``frame_of``.
    return obj


def _record(context: dg.AssetCheckExecutionContext, ops_db: OpsDatabase, rule: PanderaRule,
            asset_key: str, outcomes: dict[str, RuleOutcome]) -> RuleVersionView:
    # ``outcomes``: {partition_key: outcome}, one day, or each day of a range run. The rule
    # version and every result are recorded in one transaction per check step.
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
        from opsrel_dagster.projection import RunProjection

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


_STATUS_ORDER = ("PASS", "WARN", "FAIL", "ERROR")


def _range_check_result(
    rule: PanderaRule, version: RuleVersionView, outcomes: dict[str, RuleOutcome]
) -> dg.AssetCheckResult:
    # A range run's one result per check (Dagster records one evaluation per check and run): it
    # passes when every day passed; the worst day's status sets severity and error code, and
    # ``opsrel/partitions`` shows each day's figures (the ops schema has a result row per day).
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
    result = _check_result(rule, version, summary)
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
                _record(context, ops_db, rule, asset_key, outcomes)
                raise as_failure(
                    DataQualityException(
                        error_codes.DQ_CHECK_ERRORED,
                        f"rule {rule.rule_id} on {asset_key} {partition_key} could not be "
                        f"evaluated: {type(exc).__name__}: {exc}",
                    ),
                    asset_key=asset_key, partition_key=partition_key,
                ) from exc
        version = _record(context, ops_db, rule, asset_key, outcomes)
        if context.has_partition_key or not context.has_partition_key_range:
            return _check_result(rule, version, next(iter(outcomes.values())))
        return _range_check_result(rule, version, outcomes)

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
