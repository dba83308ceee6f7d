"""One rule's evaluation of one frame: pandera's lazy failure cases as DQ items.

``evaluate_rule`` validates with ``lazy=True`` in one pass and turns ``SchemaErrors.failure_cases``
into a ``RuleOutcome``: its status, failing rows and DQ items (``failure_items``), and for a
table-level rule the measured value and bound.
"""

import dataclasses
from typing import Any

import pandas as pd
import pandera.pandas as pa

from opsrel_dagster.checks.rule_codec import jsonable, normalize_frame
from opsrel_dagster.checks.rules import PanderaRule

MAX_SAMPLES = 5  # failure items kept per column (every column-level item is kept)
_STRUCTURAL = {"column_in_dataframe", "column_in_schema", "dataframe_not_empty"}


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
